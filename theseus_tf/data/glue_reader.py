"""Reads GLUE examples from a local GLUE folder or tensorflow-datasets.

Local files are read as the GLUE processors read them: tab-separated with
quoting disabled (default CSV quoting merges rows at stray `"`), UTF-8 with an
optional BOM (MRPC has one). Header columns are found by name, so column order
does not matter. Every problem is reported as a one-line `GlueDataError`.
"""

import csv
import math
import pathlib
from typing import NamedTuple, Optional, Union

import numpy as np

from theseus_tf.data.glue_tasks import GlueDataError
from theseus_tf.data.glue_tasks import get_task
from theseus_tf.data.glue_tasks import normalize_name

_OFFLINE_HINT = "pass a local GLUE folder via --data-dir / data_dir"


class GlueExample(NamedTuple):
  """One labelled GLUE example.

  Attributes:
    text_a: The (first) sentence.
    text_b: The second sentence of pair tasks, else `None`.
    label: Label id (`int`) for classification, score (`float`) for STS-B.
  """
  text_a: str
  text_b: Optional[str]
  label: Union[int, float]


def load_examples(task, split, data_dir=None, *, max_examples=None, seed=0,
                  tfds_data_dir=None, download=True):
  """Loads the labelled examples of one GLUE split.

  Args:
    task: Task name or `GlueTask` (see `get_task`).
    split: `"train"`, `"dev"` (or the MNLI `"dev_matched"` /
      `"dev_mismatched"`); TFDS' `"validation*"` names are accepted too.
    data_dir: A local GLUE folder: the GLUE root holding task folders
      (`SST-2/`, ...) or the task folder itself. `None` loads the task from
      tensorflow-datasets' `glue/<config>` builder instead.
    max_examples: If set, keep a random subset of this many examples (in their
      original order), for quick runs.
    seed: Seed of the subset selection.
    tfds_data_dir: Where TFDS keeps prepared datasets (TFDS' default if
      `None`); only used without `data_dir`.
    download: Whether TFDS may download and prepare the dataset when it is not
      prepared yet; only used without `data_dir`.

  Returns:
    A list of `GlueExample`s: in file order for local folders, in TFDS'
    (deterministic) order otherwise.

  Raises:
    GlueDataError: Unknown task or split, missing folder or file, empty file,
      wrong columns, bad label, or TFDS unavailable (e.g. offline).

  Example:

  ```python
  train = load_examples("sst2", "train", "glue_data", max_examples=1000)
  train[0]  # GlueExample(text_a='...', text_b=None, label=0)
  ```
  """
  task = get_task(task)
  split = task.resolve_split(split)
  if max_examples is not None and max_examples < 1:
    raise GlueDataError(f"max_examples must be at least 1, got {max_examples}")
  if hasattr(task, "read_split"):
    # A task over the user's own files (`theseus_tf.data.file_task`) knows
    # where its splits are; `data_dir` does not apply.
    examples = task.read_split(split)
  elif data_dir is not None:
    examples = _read_tsv(task, split, _task_dir(task, data_dir))
  else:
    examples = _load_tfds(task, split, tfds_data_dir, download)
  if max_examples is not None and max_examples < len(examples):
    keep = np.random.default_rng(seed).permutation(len(examples))[:max_examples]
    examples = [examples[i] for i in np.sort(keep)]
  return examples


def _task_dir(task, data_dir):
  """The folder holding `task`'s files: a child of `data_dir`, or itself."""
  root = pathlib.Path(data_dir).expanduser()
  if not root.is_dir():
    raise GlueDataError(
        f"GLUE data dir {root} does not exist or is not a folder")
  # Accept "SST-2", "sst2", "sst_2", ... as the task folder name.
  key = normalize_name(task.folder)
  for child in sorted(root.iterdir()):
    if child.is_dir() and normalize_name(child.name) == key:
      return child
  if any(root.glob("*.tsv")):
    return root
  raise GlueDataError(
      f"no {task.name} data in {root}: expected the folder "
      f"{root / task.folder} (or pass that task folder as the data dir)")


def _read_tsv(task, split, task_dir):
  path = task_dir / f"{split}.tsv"
  if not path.is_file():
    found = ", ".join(sorted(p.name for p in task_dir.glob("*.tsv"))) or "none"
    raise GlueDataError(
        f"missing {split} file for {task.name}: {path} "
        f"(.tsv files found: {found})")
  with open(path, encoding="utf-8-sig", newline="") as f:
    reader = csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE)
    # Blank lines (e.g. a trailing one) are skipped; line numbers are 1-based.
    rows = [(reader.line_num, row) for row in reader if row]
  if not rows:
    raise GlueDataError(f"{path} is empty")

  columns = task.text_columns + (task.label_column,)
  if task.has_header:
    header = [name.strip() for name in rows.pop(0)[1]]
    missing = [c for c in columns if c not in header]
    if missing:
      raise GlueDataError(
          f"{path}: {task.name} expects columns {list(columns)}, missing "
          f"{missing}; found {header}")
    indices = [header.index(c) for c in columns]
    if not rows:
      raise GlueDataError(f"{path} has a header but no examples")
  else:
    indices = list(columns)

  examples = []
  for line, row in rows:
    if len(row) <= max(indices):
      raise GlueDataError(
          f"{path}, line {line}: {len(row)} tab-separated columns, {task.name} "
          f"needs at least {max(indices) + 1}")
    texts = [row[i] for i in indices[:-1]]
    label = _parse_label(task, row[indices[-1]].strip(), path, line)
    examples.append(GlueExample(texts[0], texts[1] if task.is_pair else None,
                                label))
  return examples


def _parse_label(task, value, path, line):
  if task.is_regression:
    try:
      score = float(value)
    except ValueError:
      score = math.nan
    if not math.isfinite(score):
      raise GlueDataError(
          f"{path}, line {line}: bad {task.name} score {value!r} "
          "(expected a number)")
    return score
  if value not in task.labels:
    raise GlueDataError(
        f"{path}, line {line}: bad {task.name} label {value!r} "
        f"(expected one of {list(task.labels)})")
  return task.labels.index(value)


def _load_tfds(task, split, tfds_data_dir, download):
  # Imported here: tensorflow_datasets is slow to import and only needed
  # without a local data dir.
  import tensorflow_datasets as tfds

  name = f"glue/{task.tfds_config}"
  tfds_split = "validation" + split[3:] if split.startswith("dev") else split
  try:
    builder = tfds.builder(name, data_dir=tfds_data_dir)
    if not builder.is_prepared():
      if not download:
        raise GlueDataError(
            f"{name} is not prepared in {builder.data_dir} and download is "
            f"disabled; {_OFFLINE_HINT}")
      builder.download_and_prepare()
    label_names = (None if task.is_regression
                   else tuple(builder.info.features["label"].names))
    dataset = builder.as_dataset(split=tfds_split, shuffle_files=False)
  except GlueDataError:
    raise
  except Exception as e:  # pylint: disable=broad-except
    # Offline failures surface as many types (socket, requests, urllib3, TFDS
    # download errors), so any failure gets the same actionable message.
    reason = (str(e).strip().splitlines() or [""])[0]
    advice = ("install the missing module, or " if isinstance(e, ImportError)
              else "if you are offline, ")
    raise GlueDataError(
        f"could not load {name} from tensorflow-datasets "
        f"({type(e).__name__}: {reason}); {advice}{_OFFLINE_HINT}") from e
  return _examples_from_tfds(task, name, dataset, label_names)


def _examples_from_tfds(task, name, dataset, label_names):
  """Converts a TFDS `glue/*` dataset to `GlueExample`s."""
  features = task.tfds_text_features + ("label",)
  found = sorted(dataset.element_spec)
  if any(f not in found for f in features):
    raise GlueDataError(
        f"{name}: {task.name} expects TFDS features {list(features)}, "
        f"found {found}")
  if label_names is not None:
    # TFDS orders classes differently for MNLI; map by class name.
    if sorted(label_names) != sorted(task.tfds_label_names):
      raise GlueDataError(
          f"{name}: expected TFDS classes {list(task.tfds_label_names)}, "
          f"found {list(label_names)}")
    to_ours = np.array([task.tfds_label_names.index(n) for n in label_names])

  examples = []
  # Batched numpy conversion: per-example iteration is slow on large tasks.
  for batch in dataset.batch(4096).as_numpy_iterator():
    texts = [[t.decode("utf-8") for t in batch[f]]
             for f in task.tfds_text_features]
    if label_names is None:
      labels = batch["label"].astype(float).tolist()
    else:
      if np.any(batch["label"] < 0):  # TFDS marks unlabelled (test) rows -1.
        raise GlueDataError(f"{name}: split has unlabelled examples")
      labels = to_ours[batch["label"]].tolist()
    second = texts[1] if task.is_pair else [None] * len(labels)
    examples.extend(map(GlueExample, texts[0], second, labels))
  return examples
