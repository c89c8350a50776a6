"""`theseus-tf predict`'s work: a model and an input file in, predictions out.

Rows are read, tokenised and predicted in batches, and written as they come
to a hidden temporary file beside the output, which is renamed into place
only when every row is done: an error or Ctrl-C leaves no output file (and
no temporary one).

Each output row holds the input row's columns (a label column too), then,
prefixed so that they never clash with them:

- single-label: `predicted_label` (the label name) and `predicted_score`
  (its probability); with `all_scores`, `predicted_probabilities` (label
  name -> probability);
- multi-label: `predicted_labels` (the names whose sigmoid exceeds 0.5) and
  `predicted_probabilities`;
- regression: `predicted_value`.

In CSV, label lists are joined with the label delimiter and
`predicted_probabilities` becomes one `predicted_probability_<label>`
column per label.
"""

import contextlib
import csv
import json
import os
import pathlib
import signal
import sys
import threading

import numpy as np

from theseus_tf.data.features import FEATURE_NAMES
from theseus_tf.data.file_task import check_columns, default_text_columns
from theseus_tf.data.text_files import RowReader, TextFileError
from trainers import model_record
from trainers.errors import UsageError

OUTPUT_FORMATS = ("jsonl", "csv")


class KerasPredictor:
  """A Hugging Face folder (or `.keras` file) and its tokenizer.

  Args:
    model: The classifier (`BertClassifier`).
    tokenizer: Its Hugging Face tokenizer.
    max_seq_length: Tokens per example.
  """

  def __init__(self, model, tokenizer, max_seq_length):
    # pylint: disable=import-outside-toplevel
    from trainers.evaluation import make_predict_function
    from theseus_tf.export import signatures
    self._predict = make_predict_function(model)
    # The model's own inputs: no token_type_ids for RoBERTa, XLM-R,
    # DistilBERT.
    self._feature_names = tuple(getattr(model, "feature_names",
                                        FEATURE_NAMES))
    self.tokenizer = tokenizer
    self.max_seq_length = max_seq_length
    self.problem_type = signatures.problem_type(model)
    self.labels = signatures.label_names(model)

  def logits(self, texts_a, texts_b=None):
    import tensorflow as tf  # pylint: disable=import-outside-toplevel
    encoding = self.tokenizer(
        texts_a, texts_b, truncation=True, max_length=self.max_seq_length,
        padding=True, return_attention_mask=True,
        return_token_type_ids="token_type_ids" in self._feature_names,
        return_tensors="np")
    features = {name: tf.constant(encoding[name], tf.int32)
                for name in self._feature_names}
    return self._predict(features).numpy()


class SavedModelPredictor:
  """A SavedModel version written by `theseus-tf export --format
  saved_model`: text in (tokenised in the graph), logits out."""

  def __init__(self, folder):
    # pylint: disable=import-outside-toplevel
    import tensorflow as tf
    import tensorflow_text  # noqa: F401  (registers the tokenizer ops)
    # A UsageError, before loading, for other SavedModels and ids-only ones.
    metadata = model_record.text_saved_model_metadata(folder)
    self._served = tf.saved_model.load(os.fspath(folder))
    self._signature = self._served.signatures["serving_default"]
    self.problem_type = metadata.get("problem_type")
    self.labels = metadata.get("labels")
    self.text_pair = bool(metadata.get("text_pair"))

  def logits(self, texts_a, texts_b=None):
    import tensorflow as tf  # pylint: disable=import-outside-toplevel
    if self.text_pair:
      if texts_b is None:
        raise UsageError("the SavedModel takes sentence pairs: give two "
                         "--text-columns")
      outputs = self._signature(text_a=tf.constant(texts_a),
                                text_b=tf.constant(texts_b))
    else:
      if texts_b is not None:
        raise UsageError("the SavedModel takes single texts: give one "
                         "--text-columns")
      outputs = self._signature(text=tf.constant(texts_a))
    return outputs["logits"].numpy()


def _softmax(logits):
  shifted = logits - logits.max(axis=-1, keepdims=True)
  exp = np.exp(shifted)
  return exp / exp.sum(axis=-1, keepdims=True)


def prediction_fields(problem_type, labels, logits, all_scores):
  """The output fields of each row of `logits` (list of dicts)."""
  logits = np.asarray(logits, dtype=np.float64)
  if problem_type == "regression":
    return [{"predicted_value": float(row[0])} for row in logits]
  if problem_type == "multi_label_classification":
    probabilities = 1.0 / (1.0 + np.exp(-logits))
    return [{"predicted_labels": [labels[j]
                                  for j in np.flatnonzero(row > 0.5)],
             "predicted_probabilities": dict(zip(labels, map(float, row)))}
            for row in probabilities]
  probabilities = _softmax(logits)
  best = probabilities.argmax(axis=-1)
  fields = []
  for row, index in zip(probabilities, best):
    field = {"predicted_label": labels[index],
             "predicted_score": float(row[index])}
    if all_scores:
      field["predicted_probabilities"] = dict(zip(labels, map(float, row)))
    fields.append(field)
  return fields


class _Writer:
  """Writes output rows as JSON Lines or CSV.

  Args:
    stream: The open output file.
    output_format: "jsonl" or "csv".
    delimiter: Joins label lists in CSV.
    columns: The input's columns, every key of any row (CSV header order);
      None: the first row's keys.
    source: The input file, for messages.
  """

  def __init__(self, stream, output_format, delimiter, columns=None,
               source=None):
    self.stream = stream
    self.format = output_format
    self.delimiter = delimiter
    self.columns = None if columns is None else list(columns)
    self.source = source
    self._csv = None

  def write(self, row, line=None):
    """Writes one row (input columns and prediction fields)."""
    if self.format == "jsonl":
      self.stream.write(json.dumps(row, ensure_ascii=False) + "\n")
      return
    flat = {}
    for key, value in row.items():
      if key == "predicted_probabilities":
        flat.update({f"predicted_probability_{name}": p
                     for name, p in value.items()})
      elif isinstance(value, list):
        flat[key] = self.delimiter.join(value)
      else:
        flat[key] = value
    if self._csv is None:
      # The header: every input column, then the prediction fields (the
      # same for every row). A JSON Lines row may lack a column: empty cell.
      columns = self.columns if self.columns is not None else list(row)
      fieldnames = columns + [key for key in flat if key not in columns]
      self._csv = csv.DictWriter(self.stream, fieldnames=fieldnames,
                                 restval="")
      self._csv.writeheader()
    extra = [key for key in flat if key not in self._csv.fieldnames]
    if extra:
      raise TextFileError(
          f"{self.source}:{line}: key {extra[0]!r} is not in the CSV header "
          "(the first row's keys); write JSON Lines output (--output-file "
          "x.jsonl) or give every row the same keys")
    self._csv.writerow(flat)


def output_format(path, override=None):
  if override:
    return override
  suffix = pathlib.Path(path).suffix.lower()
  if suffix in (".jsonl", ".ndjson"):
    return "jsonl"
  if suffix == ".csv":
    return "csv"
  raise UsageError(
      f"--output-file {path}: unknown extension {suffix or '(none)'!r}; name "
      "it .jsonl or .csv, or pass --output-format")


def check_input(path, file_format=None, text_columns=None, all_keys=False):
  """Opens the input's header; returns `(input columns, text columns)`.

  Args:
    path: The input file.
    file_format: Its format, or None for its extension's.
    text_columns: The text columns, or None for the defaults.
    all_keys: JSON Lines: read every row for its keys (the first row's keys
      otherwise), for the header of CSV output; malformed lines are found
      here too, before any model loads. CSV/TSV: the header row.

  Returns:
    `(columns, text columns)`: the input's columns, in the order they first
    appear, and the one or two text columns.

  Raises:
    UsageError: Missing file, unknown extension, empty file, missing column.
  """
  try:
    reader = RowReader(path, file_format)
    columns = tuple(text_columns or default_text_columns(reader))
    check_columns(reader, columns, None)
    input_columns = list(reader.columns)
    if all_keys and reader.format == "jsonl":
      seen = set(input_columns)
      for _, row in reader:
        for key in row:
          if key not in seen:
            seen.add(key)
            input_columns.append(key)
    if len(columns) not in (1, 2):
      raise UsageError(f"--text-columns names {len(columns)} columns; give "
                       "one, or two for sentence pairs")
    _check_no_prediction_keys(path, None, input_columns)
  except TextFileError as error:
    raise UsageError(str(error)) from None
  return input_columns, columns


def _check_no_prediction_keys(path, line, keys):
  taken = [key for key in keys if key.startswith("predicted_")]
  if taken:
    where = path if line is None else f"{path}:{line}"
    raise TextFileError(
        f"{where}: column {taken[0]!r} would clash with the predictions "
        "(predicted_*); rename it, or predict from a file without it")


def _text(path, line, row, column):
  value = row.get(column)
  if not isinstance(value, str) or not value.strip():
    raise TextFileError(
        f"{path}:{line}: empty text in column {column!r}; fill it in or "
        "remove the row")
  return value


@contextlib.contextmanager
def _interrupt_between_batches():
  """Turns Ctrl-C into an event the batch loop checks.

  A KeyboardInterrupt raised wherever the signal lands can be swallowed
  (inside a `__del__` or a callback TensorFlow calls, Python only prints
  it), and prediction then runs on; an event set by the handler cannot.
  Outside the main thread, or where Ctrl-C is ignored (a background job),
  signals stay as they are.
  """
  interrupted = threading.Event()
  if (threading.current_thread() is not threading.main_thread() or
      signal.getsignal(signal.SIGINT) is signal.SIG_IGN):
    yield interrupted
    return
  previous = signal.signal(signal.SIGINT, lambda *_: interrupted.set())
  try:
    yield interrupted
  finally:
    signal.signal(signal.SIGINT, previous)


def predict_file(predictor, input_path, output_path, *, text_columns,
                 file_format=None, out_format="jsonl", batch_size=64,
                 all_scores=False, label_delimiter=",", progress=True,
                 columns=None):
  """Predicts every row of `input_path` into `output_path`, atomically.

  Args:
    predictor: A `KerasPredictor` or `SavedModelPredictor`.
    input_path: CSV, TSV or JSON Lines file with the text column(s).
    output_path: Where the predictions go; written only when complete.
    text_columns: One or two input columns.
    file_format: The input's format, or None for its extension's.
    out_format: "jsonl" or "csv".
    batch_size: Rows per model call; also how many rows are held at once.
    all_scores: Single-label: also write every label's probability.
    label_delimiter: Joins multi-label names in CSV output.
    progress: Show a progress bar (rows) on stderr.
    columns: CSV output: the header's input columns, every key of any row
      (`check_input(..., all_keys=True)`); None: the first row's keys, and
      a later row with another key is an error.

  Returns:
    The number of rows written.

  Raises:
    UsageError: A bad input row (nothing is written then).
  """
  from tqdm import tqdm  # pylint: disable=import-outside-toplevel
  output_path = pathlib.Path(output_path)
  temporary = output_path.with_name(
      f".{output_path.name}.partial-{os.getpid()}")
  reader = RowReader(input_path, file_format)
  count = 0
  bar = tqdm(unit="row", file=sys.stderr, disable=not progress,
             desc=f"predict {pathlib.Path(input_path).name}",
             dynamic_ncols=True)
  try:
    with open(temporary, "w", encoding="utf-8", newline="") as stream:
      writer = _Writer(stream, out_format, label_delimiter, columns,
                       input_path)
      batch = []

      def flush():
        for line, row in batch:  # check_input saw the first row's keys.
          _check_no_prediction_keys(input_path, line, row)
        texts = [[_text(input_path, line, row, c) for line, row in batch]
                 for c in text_columns]
        logits = predictor.logits(texts[0],
                                  texts[1] if len(texts) == 2 else None)
        for (line, row), fields in zip(batch, prediction_fields(
            predictor.problem_type, predictor.labels, logits, all_scores)):
          writer.write({**row, **fields}, line)
        bar.update(len(batch))
        batch.clear()

      with _interrupt_between_batches() as interrupted:
        for item in reader:
          batch.append(item)
          count += 1
          if len(batch) == batch_size:
            flush()
            if interrupted.is_set():
              raise KeyboardInterrupt
        if batch:
          flush()
    os.replace(temporary, output_path)
  except TextFileError as error:
    raise UsageError(str(error)) from None
  finally:
    bar.close()
    if temporary.exists():
      temporary.unlink()
  return count
