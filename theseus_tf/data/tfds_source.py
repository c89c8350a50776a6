"""Text classification sets of tensorflow-datasets, by name.

`tfds_file_task("imdb_reviews", ...)` reads a prepared TFDS dataset, writes
its train and validation splits once as JSON Lines (streamed in batches)
into the cache folder, and returns the `FileTask` of those files: columns,
labels, problem types, checks, metrics and the token cache then work exactly
as for the user's own files. Label names and their order are TFDS'
`ClassLabel` names, so ids match TFDS'.

Nothing is downloaded: a dataset that is not prepared in `data_dir` fails at
once, with a message pointing to local files, so an offline machine does not
wait on the network.
"""

import hashlib
import json
import os
import pathlib

from theseus_tf.data.file_task import make_file_task
from theseus_tf.data.text_files import TextFileError

_LOCAL_HINT = ("prepare it where you are online (`tfds build {name}`), copy "
               "the tensorflow_datasets folder here and pass --tfds-data-dir, "
               "or write the data to CSV/JSON Lines and pass --train-file and "
               "--validation-file")
_VALIDATION_SPLITS = ("validation", "valid", "dev", "test")


def load_builder(name, data_dir=None):
  """The prepared TFDS builder `name`, or a one-line `TextFileError`."""
  hint = _LOCAL_HINT.format(name=name)
  try:
    import tensorflow_datasets as tfds  # pylint: disable=import-outside-toplevel
  except ImportError:
    raise TextFileError(
        f"tensorflow-datasets is not installed, needed for --tfds-name "
        f"{name}: pip install tensorflow-datasets, or write the data to "
        "CSV/JSON Lines and pass --train-file and --validation-file"
    ) from None
  try:
    builder = tfds.builder(name, data_dir=data_dir)
  except Exception as error:  # pylint: disable=broad-except
    reason = (str(error).strip().splitlines() or [""])[0]
    raise TextFileError(f"tensorflow-datasets has no dataset {name!r} "
                        f"({type(error).__name__}: {reason}); check the name "
                        "(e.g. imdb_reviews, ag_news_subset)") from None
  if not builder.is_prepared():
    raise TextFileError(
        f"tensorflow-datasets {name} is not prepared in {builder.data_dir} "
        f"and theseus-tf does not download it; {hint}")
  return builder


def tfds_file_task(name, *, data_dir=None, cache_dir, builder=None,
                   text_columns=None, label_column=None, train_split="train",
                   validation_split=None, **task_options):
  """The `FileTask` of a TFDS text classification set.

  Args:
    name: TFDS name, e.g. `"imdb_reviews"` or `"ag_news_subset"`.
    data_dir: TFDS data folder (TFDS' default if None).
    cache_dir: Where the JSON Lines copies go (one per dataset version and
      split; reused).
    builder: A prepared builder-like object (tests); default
      `load_builder(name, data_dir)`.
    text_columns: Text features; default the first string feature(s):
      `text`, else the `DEFAULT_TEXT_COLUMNS` of `file_task`, else every
      string feature (one or two).
    label_column: The `ClassLabel` feature; default `label`.
    train_split: TFDS split to train on.
    validation_split: TFDS split to evaluate on; default the first of
      validation, valid, dev, test the dataset has.
    **task_options: Further `make_file_task` arguments (problem type,
      metric, ...).

  Returns:
    A `FileTask` over the JSON Lines copies.

  Raises:
    TextFileError: Not installed, unknown, not prepared, unknown split or
      feature.
  """
  builder = builder or load_builder(name, data_dir)
  features = builder.info.features
  label_column = label_column or "label"
  if label_column not in features:
    raise TextFileError(
        f"tensorflow-datasets {name}: no feature {label_column!r}; it has "
        f"{sorted(features)}: pass the label feature with --label-column")
  names = getattr(features[label_column], "names", None)
  strings = [key for key in features if key != label_column and
             getattr(features[key], "dtype", None) is not None and
             "string" in str(features[key].dtype)]
  if not text_columns:
    text_columns = (["text"] if "text" in strings else strings[:2])
  missing = [c for c in text_columns if c not in features]
  if missing or not text_columns:
    raise TextFileError(
        f"tensorflow-datasets {name}: no text feature "
        f"{(missing or ['?'])[0]!r}; it has {sorted(features)}: pass the "
        "text feature(s) with --text-columns")
  splits = list(builder.info.splits)
  if validation_split is None:
    validation_split = next(
        (s for s in _VALIDATION_SPLITS if s in splits), None)
  for split in (train_split, validation_split):
    if split not in splits:
      raise TextFileError(
          f"tensorflow-datasets {name} has no split {split!r}; it has "
          f"{splits}")
  version = str(getattr(builder.info, "version", "0"))
  # The copy holds the chosen columns: other columns are another copy.
  columns = hashlib.sha256(
      json.dumps([list(text_columns), label_column]).encode()).hexdigest()[:12]
  folder = (pathlib.Path(cache_dir) / "tfds" / name.replace("/", "_") /
            version / columns)
  files = {}
  for role, split in (("train", train_split),
                      ("validation", validation_split)):
    files[role] = _write_jsonl(builder, split, folder / f"{split}.jsonl",
                               list(text_columns), label_column, names)
  return make_file_task(
      files["train"], files["validation"], text_columns=text_columns,
      label_column=label_column,
      labels=task_options.pop("labels", None) or names, **task_options)


def _write_jsonl(builder, split, path, text_columns, label_column, names):
  """Streams one split into `path` (once; atomically)."""
  if path.is_file():
    return path
  path.parent.mkdir(parents=True, exist_ok=True)
  temporary = path.with_name(f".{path.name}.partial-{os.getpid()}")
  dataset = builder.as_dataset(split=split, shuffle_files=False)
  try:
    with open(temporary, "w", encoding="utf-8") as f:
      for batch in dataset.batch(4096).as_numpy_iterator():
        texts = [[_decode(t) for t in batch[c]] for c in text_columns]
        labels = batch[label_column].tolist()
        for index, label in enumerate(labels):
          if names is not None:
            label = names[label] if label >= 0 else None
          row = {c: texts[j][index] for j, c in enumerate(text_columns)}
          row[label_column] = label
          f.write(json.dumps(row, ensure_ascii=False) + "\n")
    os.replace(temporary, path)
  finally:
    if temporary.exists():
      temporary.unlink()
  return path


def _decode(value):
  return value.decode("utf-8") if isinstance(value, bytes) else str(value)
