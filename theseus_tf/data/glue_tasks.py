"""The GLUE task registry: columns, labels, splits and metrics of each task.

Column names and label lists follow the original GLUE processors (as in
Hugging Face's `glue_processors`), so label ids match models fine-tuned
elsewhere. The aggregate `score` follows BERT-of-Theseus (Xu et al., 2020),
Table 2: F1/accuracy mean for MRPC and QQP, Pearson/Spearman mean for STS-B,
Matthews correlation for CoLA, accuracy elsewhere; MNLI is reported on the
matched (m) and mismatched (mm) dev sets.
"""

import dataclasses
import re
from typing import Optional, Tuple, Union


class GlueDataError(ValueError):
  """A GLUE task, folder, file or dataset that cannot be used as given.

  Raised while loading data, i.e. before any training starts, with a one-line
  message that names the offending task, path, column, label or line.
  """


@dataclasses.dataclass(frozen=True)
class GlueTask:
  """How to read and score one GLUE task.

  Attributes:
    name: Canonical name, e.g. `"SST-2"`.
    folder: Folder of the task in a GLUE data dir, e.g. `"SST-2"`.
    text_columns: One (single-sentence task) or two (pair task) columns
      holding the text: header names, or 0-based indices for header-less files.
    label_column: Header name or 0-based index of the label column.
    labels: Label strings as they appear in the files, in label-id order;
      `None` for regression.
    dev_splits: Names (file stems) of the labelled dev splits.
    metric_names: Keys `compute_glue_metrics` reports for the task.
    score_metrics: Metrics whose mean is the paper's aggregate score.
    tfds_config: Config of tensorflow-datasets' `glue` builder.
    tfds_text_features: TFDS feature names, in `text_columns` order.
    tfds_label_names: TFDS class names of `labels`, in the same order; used to
      map TFDS label ids (whose order differs for MNLI) onto ours.
    has_header: Whether train/dev files start with a header row.

  Example:

  ```python
  task = get_task("sst2")
  task.name, task.num_labels, task.is_pair  # ("SST-2", 2, False)
  ```
  """
  name: str
  folder: str
  text_columns: Tuple[Union[str, int], ...]
  label_column: Union[str, int]
  labels: Optional[Tuple[str, ...]]
  dev_splits: Tuple[str, ...]
  metric_names: Tuple[str, ...]
  score_metrics: Tuple[str, ...]
  tfds_config: str
  tfds_text_features: Tuple[str, ...]
  tfds_label_names: Optional[Tuple[str, ...]]
  has_header: bool = True

  @property
  def is_regression(self):
    return self.labels is None

  @property
  def num_labels(self):
    """Number of classes, or 1 (one output) for regression."""
    return 1 if self.labels is None else len(self.labels)

  @property
  def is_multi_label(self):
    """Whether an example may have several labels (never for GLUE)."""
    return False

  @property
  def problem_type(self):
    """Hugging Face's `problem_type` of the task's classifier."""
    if self.is_multi_label:
      return "multi_label_classification"
    return "regression" if self.is_regression else "single_label_classification"

  @property
  def is_pair(self):
    return len(self.text_columns) == 2

  @property
  def splits(self):
    """All labelled splits: `("train",) + dev_splits`."""
    return ("train",) + self.dev_splits

  def resolve_split(self, split):
    """Returns the canonical split name (the file stem) for `split`.

    Besides the file stems, `"dev"` and TFDS' `"validation"` name the dev split
    of single-dev tasks, and `"validation_matched"` etc. the MNLI ones.

    Args:
      split: A split name such as `"train"`, `"dev"` or `"dev_matched"`.

    Returns:
      One of `self.splits`.

    Raises:
      GlueDataError: If `split` is not a labelled split of this task.

    Example:

    ```python
    get_task("mnli").resolve_split("validation_matched")  # "dev_matched"
    ```
    """
    name = split.strip().lower()
    if name.startswith("validation"):
      name = "dev" + name[len("validation"):]
    if name == "dev" and len(self.dev_splits) == 1:
      name = self.dev_splits[0]
    if name not in self.splits:
      raise GlueDataError(
          f"unknown split {split!r} for GLUE task {self.name} "
          f"(known: {', '.join(self.splits)})")
    return name


_BINARY = ("0", "1")
_NLI2 = ("entailment", "not_entailment")
_MNLI_LABELS = ("contradiction", "entailment", "neutral")
_ACC = ("accuracy",)
_F1_ACC = ("f1", "accuracy")


def _task(name, text_columns, label_column, labels, metrics, tfds_config,
          tfds_label_names, folder=None, tfds_text_features=None,
          dev_splits=("dev",), has_header=True):
  """A `GlueTask` with GLUE's regularities as defaults.

  The folder is the task's name, the single dev split is "dev", every
  reported metric counts in the score, and TFDS names the text features as
  the files' headers do, unless said otherwise.
  """
  return GlueTask(
      name=name, folder=folder or name, text_columns=text_columns,
      label_column=label_column, labels=labels, dev_splits=dev_splits,
      metric_names=metrics, score_metrics=metrics, tfds_config=tfds_config,
      tfds_text_features=tfds_text_features or text_columns,
      tfds_label_names=tfds_label_names, has_header=has_header)


def _mnli(name, dev_splits):
  return _task(name, ("sentence1", "sentence2"), "gold_label", _MNLI_LABELS,
               _ACC, "mnli", _MNLI_LABELS, folder="MNLI",
               tfds_text_features=("premise", "hypothesis"),
               dev_splits=dev_splits)


_TASKS = (
    _task("CoLA", (3,), 1, _BINARY, ("matthews_correlation",), "cola",
          ("unacceptable", "acceptable"), tfds_text_features=("sentence",),
          has_header=False),
    _task("SST-2", ("sentence",), "label", _BINARY, _ACC, "sst2",
          ("negative", "positive")),
    _task("MRPC", ("#1 String", "#2 String"), "Quality", _BINARY, _F1_ACC,
          "mrpc", ("not_equivalent", "equivalent"),
          tfds_text_features=("sentence1", "sentence2")),
    _task("STS-B", ("sentence1", "sentence2"), "score", None,
          ("pearson", "spearmanr"), "stsb", None),
    _task("QQP", ("question1", "question2"), "is_duplicate", _BINARY, _F1_ACC,
          "qqp", ("not_duplicate", "duplicate")),
    _mnli("MNLI", ("dev_matched", "dev_mismatched")),
    _mnli("MNLI-M", ("dev_matched",)),
    _mnli("MNLI-MM", ("dev_mismatched",)),
    _task("QNLI", ("question", "sentence"), "label", _NLI2, _ACC, "qnli",
          _NLI2),
    _task("RTE", ("sentence1", "sentence2"), "label", _NLI2, _ACC, "rte",
          _NLI2),
    _task("WNLI", ("sentence1", "sentence2"), "label", _BINARY, _ACC, "wnli",
          ("not_entailment", "entailment")),
)

TASKS = {task.name: task for task in _TASKS}
"""All tasks by canonical name."""


def normalize_name(name):
  """Lower-cases `name` and drops `-`, `_` and spaces: `"SST-2"` -> `"sst2"`."""
  return re.sub(r"[-_\s]", "", name.lower())


# Spellings beyond the canonical name with separators dropped (which already
# covers sst2/sst-2/SST_2, stsb/sts-b, mnli-mm/mnli_mm, ...).
_ALIASES = {
    "mnlimatched": "MNLI-M",
    "mnlimismatched": "MNLI-MM",
}
_BY_KEY = {normalize_name(name): name for name in TASKS}
_BY_KEY.update(_ALIASES)


def get_task(task):
  """Looks up a GLUE task by name, case-insensitively and with aliases.

  Args:
    task: A task name (`"SST-2"`, `"sst2"`, `"sts-b"`, `"mnli-mm"`, ...) or a
      `GlueTask`, which is returned as is.

  Returns:
    The `GlueTask`.

  Raises:
    GlueDataError: If the name is not a GLUE task; the message lists the known
      ones.

  Example:

  ```python
  get_task("STSB").is_regression  # True
  ```
  """
  if isinstance(task, GlueTask):
    return task
  name = _BY_KEY.get(normalize_name(str(task)))
  if name is None:
    raise GlueDataError(
        f"unknown GLUE task {task!r} (known: {', '.join(TASKS)})")
  return TASKS[name]
