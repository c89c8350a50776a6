"""A task over the user's own CSV, TSV or JSON Lines files.

`make_file_task` reads the training and validation files once, checks all of
them (columns, texts, labels, encoding, JSON, ragged rows) and returns a
`FileTask`: a `GlueTask` whose splits are the files. Everything that takes a
GLUE task (`load_examples`, `encode_examples`, `load_dataset`,
`compute_glue_metrics`, int8 calibration) takes a `FileTask` too.

Problem types are Hugging Face's:

- `single_label_classification`: one label per row, a string or integer;
- `regression`: a number per row (one output, squared error);
- `multi_label_classification`: any number of labels per row, given as a
  JSON list (`["billing", "urgent"]`) or a delimiter-separated string
  (`billing,urgent`); sigmoid outputs and binary cross-entropy.

The label set and its order are described in `label_vocabulary`.
"""

import dataclasses
import json
import math
import pathlib
from typing import Optional, Tuple

from theseus_tf.data.glue_reader import GlueExample
from theseus_tf.data.glue_tasks import GlueTask
from theseus_tf.data.label_vocabulary import (LabelVocabulary,
                                              canonical_label)
from theseus_tf.data.text_files import RowReader, TextFileError

PROBLEM_TYPES = ("single_label_classification", "regression",
                 "multi_label_classification")

# Metrics reported for each problem type; the first is the default that picks
# the best checkpoint. Binary "f1" (of label id 1) only with two labels.
METRIC_NAMES = {
    "single_label_classification": ("accuracy", "f1", "f1_macro", "f1_micro",
                                    "matthews_correlation"),
    "regression": ("pearson", "spearmanr"),
    "multi_label_classification": ("f1_micro", "f1_macro", "accuracy"),
}

# Columns tried, in order, when --text-columns is not given.
DEFAULT_TEXT_COLUMNS = (("text",), ("sentence1", "sentence2"), ("sentence",))
DEFAULT_LABEL_COLUMN = "label"
DEFAULT_LABEL_DELIMITER = ","


@dataclasses.dataclass(frozen=True)
class FileTask(GlueTask):
  """A `GlueTask` read from files: `train` and `validation` splits.

  Attributes (beyond `GlueTask`'s):
    files: `(split, path)` pairs.
    file_format: Format of every file, or None for each file's extension.
    problem_type: One of `PROBLEM_TYPES` (a field here: GLUE tasks derive
      it from their labels).
    label_delimiter: Separator of multi-label strings.
  """
  files: Tuple[Tuple[str, str], ...] = ()
  file_format: Optional[str] = None
  # Overrides `GlueTask.problem_type` (a property) with a field.
  problem_type: str = "single_label_classification"
  label_delimiter: str = DEFAULT_LABEL_DELIMITER

  @property
  def is_regression(self):
    return self.problem_type == "regression"

  @property
  def is_multi_label(self):
    return self.problem_type == "multi_label_classification"

  @property
  def id2label(self):
    """Label id -> name (`{0: "LABEL_0"}` for regression, as Hugging Face)."""
    if self.labels is None:
      return {0: "LABEL_0"}
    return dict(enumerate(self.labels))

  def path_of(self, split):
    return dict(self.files)[split]

  @property
  def splits(self):
    return tuple(split for split, _ in self.files)

  def read_split(self, split):
    """The `GlueExample`s of `split`, in file order.

    Labels are ids (classification), floats (regression) or multi-hot tuples
    of floats (multi-label).
    """
    vocabulary = (None if self.labels is None
                  else LabelVocabulary(self.labels))
    return [GlueExample(texts[0], texts[1] if self.is_pair else None,
                        _label_value(self, vocabulary, label))
            for _, texts, label in iter_rows(self, self.path_of(split))]


def _label_value(task, vocabulary, label):
  if task.is_regression:
    return label
  if task.is_multi_label:
    hot = [0.0] * len(vocabulary)
    for name in label:
      hot[vocabulary.id_of(name)] = 1.0
    return tuple(hot)
  return vocabulary.id_of(label)


def iter_rows(task, path, with_labels=True):
  """`(line, texts, label)` of each row of `path`, checked.

  `label` is a string (single-label), float (regression) or tuple of strings
  (multi-label); None when `with_labels` is False. Texts are not stripped.

  Raises:
    TextFileError: A missing column, empty text or label, or a bad label
      (non-numeric regression target, label outside `task.labels`).
  """
  reader = RowReader(path, task.file_format)
  check_columns(reader, task.text_columns,
                task.label_column if with_labels else None)
  known = None if task.labels is None else set(task.labels)
  for line, row in reader:
    texts = tuple(_text(path, line, row, column)
                  for column in task.text_columns)
    label = None
    if with_labels:
      label = _parse_label(task, path, line, row)
      if known is not None:
        missing = ([label] if not task.is_multi_label else
                   [name for name in label if name not in known])
        for name in missing:
          if name not in known:
            raise TextFileError(
                f"{path}:{line}: label {name!r} is not one of the task's "
                f"labels {sorted(known)}; fix the label, or add training "
                "rows with it (or list every label with --labels)")
    yield line, texts, label


def check_columns(reader, text_columns, label_column):
  """Raises `TextFileError` naming the columns that are there if one is not."""
  wanted = list(text_columns) + ([label_column] if label_column else [])
  missing = [column for column in wanted if column not in reader.columns]
  if missing:
    flag = ("--label-column" if missing == [label_column] else
            "--text-columns")
    raise TextFileError(
        f"{reader.path}: no column {missing[0]!r}; the file has columns "
        f"{reader.columns}: pass the right one with {flag}")


def default_text_columns(reader):
  """The first of `DEFAULT_TEXT_COLUMNS` the file has."""
  for columns in DEFAULT_TEXT_COLUMNS:
    if all(column in reader.columns for column in columns):
      return columns
  raise TextFileError(
      f"{reader.path}: no 'text' (or 'sentence1','sentence2') column; the "
      f"file has columns {reader.columns}: name the text column(s) with "
      "--text-columns, e.g. --text-columns question,sentence")


def _text(path, line, row, column):
  value = row.get(column)
  if value is None and column not in row:
    raise TextFileError(
        f"{path}:{line}: no {column!r} in this row (it has {list(row)}); "
        "add it to every row")
  if not isinstance(value, str) or not value.strip():
    raise TextFileError(
        f"{path}:{line}: empty text in column {column!r}; fill it in or "
        "remove the row")
  return value


def _parse_label(task, path, line, row):
  column = task.label_column
  if column not in row:
    raise TextFileError(
        f"{path}:{line}: no {column!r} in this row (it has {list(row)}); "
        "add it to every row")
  value = row[column]
  if task.is_multi_label:
    return _multi_label(task, path, line, column, value)
  if value is None or (isinstance(value, str) and not value.strip()):
    raise TextFileError(
        f"{path}:{line}: empty label in column {column!r}; fill it in or "
        "remove the row")
  if task.is_regression:
    try:
      number = float(value) if not isinstance(value, bool) else math.nan
    except (TypeError, ValueError):
      number = math.nan
    if not math.isfinite(number):
      raise TextFileError(
          f"{path}:{line}: label {value!r} in column {column!r} is not a "
          "number; regression needs numeric labels: fix the row, or pick "
          "another --label-column or --problem-type")
    return number
  if isinstance(value, (list, dict)):
    raise TextFileError(
        f"{path}:{line}: label {value!r} in column {column!r} is a JSON "
        f"{type(value).__name__}; use --problem-type "
        "multi_label_classification for lists of labels")
  return canonical_label(value)


def _multi_label(task, path, line, column, value):
  if isinstance(value, str) and value.strip().startswith("["):
    try:
      value = json.loads(value)
    except json.JSONDecodeError:
      raise TextFileError(
          f"{path}:{line}: label {value!r} in column {column!r} is not a "
          "valid JSON list; write it as [\"a\", \"b\"] or as "
          f"a{task.label_delimiter}b") from None
  if isinstance(value, str):
    items = value.split(task.label_delimiter)
  elif isinstance(value, list):
    items = value
  elif value is None:
    items = []
  elif isinstance(value, (int, float)) and not isinstance(value, bool):
    items = [value]
  else:
    items = [None]
  if any(isinstance(item, (list, dict, type(None))) for item in items):
    raise TextFileError(
        f"{path}:{line}: labels {value!r} in column {column!r} are not a "
        "list of names; write a JSON list of strings or a "
        f"{task.label_delimiter!r}-separated string")
  names = [canonical_label(item) for item in items]
  return tuple(dict.fromkeys(name for name in names if name))


def make_file_task(train_file=None, validation_file=None, *,
                   file_format=None, text_columns=None, label_column=None,
                   labels=None, problem_type=None,
                   label_delimiter=DEFAULT_LABEL_DELIMITER,
                   metric_for_best=None, force_labels=False,
                   known_labels=None, known_labels_source=None):
  """Checks the files and returns their `FileTask`.

  Reads every file once, completely, before returning, so bad input is
  found before any model is loaded.

  Args:
    train_file: The training file, or None (evaluation only).
    validation_file: The validation file, or None.
    file_format: `"csv"`, `"tsv"` or `"jsonl"`; default: each file's
      extension.
    text_columns: One or two text column names; default the first of
      `text`, `sentence1`+`sentence2`, `sentence` the first file has.
    label_column: Default `label`.
    labels: Explicit label names in id order; default `known_labels`, else
      the training file's labels in `label_vocabulary` order.
    problem_type: One of `PROBLEM_TYPES`; default single-label.
    label_delimiter: Separator of multi-label strings.
    metric_for_best: The metric that is the task's `score`; default the
      first of `METRIC_NAMES[problem_type]`.
    force_labels: Accept a single-label column with more distinct values
      than half the training rows (normally a sign of the wrong column).
    known_labels: Label names a trained model already has (its
      `id2label`), used when `labels` is not given.
    known_labels_source: Where `known_labels` come from, for messages.

  Returns:
    A `FileTask`.

  Raises:
    TextFileError: Any bad input, as one line naming file, line or column.

  Example:

  ```python
  task = make_file_task("train.csv", "dev.csv", text_columns=["review"],
                        label_column="stars")
  examples = load_examples(task, "train")
  ```
  """
  files = [(split, str(path)) for split, path in
           (("train", train_file), ("validation", validation_file))
           if path is not None]
  if not files:
    raise TextFileError("no data file: pass --train-file and/or "
                        "--validation-file")
  problem_type = problem_type or "single_label_classification"
  if problem_type not in PROBLEM_TYPES:
    raise TextFileError(f"unknown problem type {problem_type!r}: use one of "
                        f"{', '.join(PROBLEM_TYPES)}")
  metric_names = METRIC_NAMES[problem_type]
  if metric_for_best is not None and metric_for_best not in metric_names:
    raise TextFileError(
        f"metric {metric_for_best!r} does not apply to {problem_type}: use "
        f"one of {', '.join(metric_names)}")
  # Fail on a missing file or unknown extension before reading any file.
  readers = {split: RowReader(path, file_format) for split, path in files}
  first = readers[files[0][0]]
  text_columns = tuple(text_columns or default_text_columns(first))
  if len(text_columns) not in (1, 2):
    raise TextFileError(
        f"--text-columns names {len(text_columns)} columns; give one, or two "
        "for sentence pairs")
  label_column = label_column or DEFAULT_LABEL_COLUMN
  del readers  # Only opened for the early checks; iter_rows re-reads.

  name = pathlib.Path(files[0][1]).name
  draft = FileTask(
      name=name, folder="", text_columns=text_columns,
      label_column=label_column, labels=None, dev_splits=(),
      metric_names=(), score_metrics=(), tfds_config="",
      tfds_text_features=(), tfds_label_names=None, files=tuple(files),
      file_format=file_format, problem_type=problem_type,
      label_delimiter=label_delimiter)

  # Pass 1: every row of every file, labels as found.
  found, counts = {}, {}
  for split, path in files:
    found[split] = set()
    counts[split] = 0
    for _, _, label in iter_rows(draft, path):
      counts[split] += 1
      if problem_type == "multi_label_classification":
        found[split].update(label)
      elif problem_type == "single_label_classification":
        found[split].add(label)

  vocabulary = None
  if problem_type != "regression":
    if labels:
      try:
        vocabulary = LabelVocabulary(labels)
      except ValueError as error:
        raise TextFileError(
            f"--labels: {error}; list each label once") from None
      source = "--labels"
    elif known_labels:
      vocabulary = LabelVocabulary(known_labels)
      source = known_labels_source or "the model"
    else:
      split = "train" if "train" in found else "validation"
      vocabulary = LabelVocabulary.from_labels(found[split])
      source = f"the training file {dict(files)[split]}"
    if "train" in found and problem_type == "single_label_classification" \
        and not labels and not force_labels:
      distinct, rows = len(found["train"]), counts["train"]
      if distinct > max(2, rows / 2):
        raise TextFileError(
            f"{dict(files)['train']}: column {label_column!r} has {distinct} "
            f"distinct labels in {rows} rows, more than half the rows, so it "
            "is likely not a label column; pick the label column with "
            "--label-column, use --problem-type regression for numeric "
            "targets, or pass --force-labels to train on it anyway")
    if not len(vocabulary) or (
        problem_type == "single_label_classification" and len(vocabulary) < 2):
      raise TextFileError(
          f"{files[0][1]}: column {label_column!r} has "
          f"{len(vocabulary)} distinct label(s); classification needs at "
          "least two: check --label-column, or list the labels with --labels")
    for split, path in files:
      unknown = sorted(found[split] - set(vocabulary.names))
      if unknown:
        # Find the first line with an unknown label, for the message.
        line = _first_line_with(draft, path, set(unknown))
        raise TextFileError(
            f"{path}:{line}: label {unknown[0]!r} is not in the label set "
            f"from {source} {list(vocabulary.names)}; fix the label, add "
            "training rows with it, or list every label with --labels")

  reported = _reported_metrics(problem_type, vocabulary)
  if metric_for_best is not None and metric_for_best not in reported:
    raise TextFileError(
        f"metric {metric_for_best!r} needs exactly two labels, the task has "
        f"{len(vocabulary)}: use one of {', '.join(reported)}")
  dev_splits = ("validation",) if "validation" in dict(files) else ()
  return dataclasses.replace(
      draft, labels=None if vocabulary is None else vocabulary.names,
      dev_splits=dev_splits, metric_names=reported,
      score_metrics=(metric_for_best or metric_names[0],))


def _reported_metrics(problem_type, vocabulary):
  names = METRIC_NAMES[problem_type]
  if problem_type == "single_label_classification" and len(vocabulary) != 2:
    names = tuple(n for n in names if n != "f1")
  return names


def _first_line_with(task, path, labels):
  for line, _, label in iter_rows(task, path):
    values = label if task.is_multi_label else [label]
    if any(value in labels for value in values):
      return line
  return "?"



def sample_texts(path, count, *, file_format=None, text_columns=None,
                 seed=0):
  """`count` texts (or `(text_a, text_b)` pairs) drawn evenly from a file.

  Reservoir sampling: one pass, `count` rows held, so a large file is fine.
  Labels are not read. For int8 calibration.

  Raises:
    TextFileError: As `RowReader`, or a missing or empty text column.

  Example:

  ```python
  texts = sample_texts("train.csv", 200, text_columns=["review"])
  ```
  """
  import random  # pylint: disable=import-outside-toplevel
  reader = RowReader(path, file_format)
  columns = tuple(text_columns or default_text_columns(reader))
  check_columns(reader, columns, None)
  rng = random.Random(seed)
  chosen = []
  for index, (line, row) in enumerate(reader):
    texts = tuple(_text(path, line, row, column) for column in columns)
    item = texts[0] if len(texts) == 1 else texts
    if len(chosen) < count:
      chosen.append(item)
    else:
      slot = rng.randint(0, index)
      if slot < count:
        chosen[slot] = item
  return chosen
