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
_MNLI_KW = dict(
    folder="MNLI", text_columns=("sentence1", "sentence2"),
    label_column="gold_label", labels=_MNLI_LABELS, metric_names=_ACC,
    score_metrics=_ACC, tfds_config="mnli",
    tfds_text_features=("premise", "hypothesis"), tfds_label_names=_MNLI_LABELS)

_TASKS = (
    GlueTask(
        name="CoLA", folder="CoLA", text_columns=(3,), label_column=1,
        labels=_BINARY, dev_splits=("dev",),
        metric_names=("matthews_correlation",),
        score_metrics=("matthews_correlation",), tfds_config="cola",
        tfds_text_features=("sentence",),
        tfds_label_names=("unacceptable", "acceptable"), has_header=False),
    GlueTask(
        name="SST-2", folder="SST-2", text_columns=("sentence",),
        label_column="label", labels=_BINARY, dev_splits=("dev",),
        metric_names=_ACC, score_metrics=_ACC, tfds_config="sst2",
        tfds_text_features=("sentence",),
        tfds_label_names=("negative", "positive")),
    GlueTask(
        name="MRPC", folder="MRPC", text_columns=("#1 String", "#2 String"),
        label_column="Quality", labels=_BINARY, dev_splits=("dev",),
        metric_names=_F1_ACC, score_metrics=_F1_ACC, tfds_config="mrpc",
        tfds_text_features=("sentence1", "sentence2"),
        tfds_label_names=("not_equivalent", "equivalent")),
    GlueTask(
        name="STS-B", folder="STS-B", text_columns=("sentence1", "sentence2"),
        label_column="score", labels=None, dev_splits=("dev",),
        metric_names=("pearson", "spearmanr"),
        score_metrics=("pearson", "spearmanr"), tfds_config="stsb",
        tfds_text_features=("sentence1", "sentence2"), tfds_label_names=None),
    GlueTask(
        name="QQP", folder="QQP", text_columns=("question1", "question2"),
        label_column="is_duplicate", labels=_BINARY, dev_splits=("dev",),
        metric_names=_F1_ACC, score_metrics=_F1_ACC, tfds_config="qqp",
        tfds_text_features=("question1", "question2"),
        tfds_label_names=("not_duplicate", "duplicate")),
    GlueTask(name="MNLI", dev_splits=("dev_matched", "dev_mismatched"),
             **_MNLI_KW),
    GlueTask(name="MNLI-M", dev_splits=("dev_matched",), **_MNLI_KW),
    GlueTask(name="MNLI-MM", dev_splits=("dev_mismatched",), **_MNLI_KW),
    GlueTask(
        name="QNLI", folder="QNLI", text_columns=("question", "sentence"),
        label_column="label", labels=_NLI2, dev_splits=("dev",),
        metric_names=_ACC, score_metrics=_ACC, tfds_config="qnli",
        tfds_text_features=("question", "sentence"), tfds_label_names=_NLI2),
    GlueTask(
        name="RTE", folder="RTE", text_columns=("sentence1", "sentence2"),
        label_column="label", labels=_NLI2, dev_splits=("dev",),
        metric_names=_ACC, score_metrics=_ACC, tfds_config="rte",
        tfds_text_features=("sentence1", "sentence2"), tfds_label_names=_NLI2),
    GlueTask(
        name="WNLI", folder="WNLI", text_columns=("sentence1", "sentence2"),
        label_column="label", labels=_BINARY, dev_splits=("dev",),
        metric_names=_ACC, score_metrics=_ACC, tfds_config="wnli",
        tfds_text_features=("sentence1", "sentence2"),
        tfds_label_names=("not_entailment", "entailment")),
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
