"""GLUE metrics in plain numpy, and the BERT-of-Theseus aggregate score.

Values are fractions in [0, 1] ([-1, 1] for correlations), as Hugging Face's
`glue` metric reports them; multiply by 100 for the paper's tables. Degenerate
inputs (a constant prediction, one class only) give 0 instead of NaN so that
checkpoint selection and averaged scores stay well-defined.
"""

import collections.abc

import numpy as np

from theseus_tf.data.glue_tasks import get_task


def accuracy(predictions, labels):
  """Fraction of predictions equal to the labels.

  Args:
    predictions: Predicted class ids, shape `[n]`.
    labels: True class ids, shape `[n]`.

  Returns:
    A float in [0, 1].

  Example:

  ```python
  accuracy([1, 0, 1], [1, 1, 1])  # 0.666...
  ```
  """
  predictions, labels = _as_pair(predictions, labels)
  return float(np.mean(predictions == labels))


def f1_score(predictions, labels, positive_label=1):
  """Binary F1 score of the positive class.

  Args:
    predictions: Predicted class ids, shape `[n]`.
    labels: True class ids, shape `[n]`.
    positive_label: The class whose precision and recall are combined.

  Returns:
    `2 tp / (2 tp + fp + fn)`, or 0.0 when there are no positive predictions
    or labels at all.

  Example:

  ```python
  f1_score([1, 1, 0, 0], [1, 0, 1, 0])  # 0.5
  ```
  """
  predictions, labels = _as_pair(predictions, labels)
  predicted = predictions == positive_label
  actual = labels == positive_label
  true_pos = np.sum(predicted & actual)
  denominator = np.sum(predicted) + np.sum(actual)
  return float(2 * true_pos / denominator) if denominator else 0.0


def matthews_corrcoef(predictions, labels):
  """Matthews correlation coefficient, binary or multi-class.

  Uses the multi-class form (Gorodkin, 2004), which equals the usual binary
  formula for two classes.

  Args:
    predictions: Predicted class ids, shape `[n]`.
    labels: True class ids, shape `[n]`.

  Returns:
    A float in [-1, 1]; 0.0 when predictions or labels hold a single class.

  Example:

  ```python
  matthews_corrcoef([1, 0, 1, 1], [1, 0, 0, 1])  # 0.577...
  ```
  """
  predictions, labels = _as_pair(predictions, labels)
  classes, ids = np.unique(np.concatenate([labels, predictions]),
                           return_inverse=True)
  n = len(labels)
  confusion = np.zeros((len(classes), len(classes)), dtype=np.float64)
  np.add.at(confusion, (ids[:n], ids[n:]), 1)
  true_sums = confusion.sum(axis=1)
  pred_sums = confusion.sum(axis=0)
  cov_true_pred = np.trace(confusion) * n - true_sums @ pred_sums
  cov_pred = n * n - pred_sums @ pred_sums
  cov_true = n * n - true_sums @ true_sums
  if cov_pred == 0 or cov_true == 0:
    return 0.0
  return float(cov_true_pred / np.sqrt(cov_true * cov_pred))


def pearson_corrcoef(predictions, labels):
  """Pearson correlation coefficient.

  Args:
    predictions: Predicted scores, shape `[n]`.
    labels: True scores, shape `[n]`.

  Returns:
    A float in [-1, 1]; 0.0 when either input is constant (undefined).

  Example:

  ```python
  pearson_corrcoef([1.0, 2.0, 3.0], [2.0, 4.0, 7.0])  # 0.993...
  ```
  """
  x, y = _as_pair(predictions, labels, dtype=np.float64)
  # Tested on the raw values: subtracting the mean of a constant array can
  # leave rounding noise that would correlate spuriously.
  if np.ptp(x) == 0 or np.ptp(y) == 0:
    return 0.0
  x = x - x.mean()
  y = y - y.mean()
  r = (x @ y) / np.sqrt((x @ x) * (y @ y))
  return float(np.clip(r, -1.0, 1.0))


def spearman_corrcoef(predictions, labels):
  """Spearman rank correlation: Pearson of ranks, ties given average ranks.

  Args:
    predictions: Predicted scores, shape `[n]`.
    labels: True scores, shape `[n]`.

  Returns:
    A float in [-1, 1]; 0.0 when either input is constant.

  Example:

  ```python
  spearman_corrcoef([1.0, 2.0, 2.0, 3.0], [1.0, 3.0, 2.0, 4.0])  # 0.948...
  ```
  """
  x, y = _as_pair(predictions, labels, dtype=np.float64)
  return pearson_corrcoef(average_ranks(x), average_ranks(y))


def average_ranks(values):
  """1-based ranks, tied values sharing their average rank.

  Args:
    values: Array of shape `[n]`.

  Returns:
    float64 array of shape `[n]`.

  Example:

  ```python
  average_ranks([10, 20, 20, 5])  # [2.0, 3.5, 3.5, 1.0]
  ```
  """
  values = np.asarray(values).reshape(-1)
  order = np.argsort(values, kind="stable")
  ordered = values[order]
  starts_run = np.concatenate([[True], ordered[1:] != ordered[:-1]])
  run_starts = np.flatnonzero(starts_run)
  run_ends = np.append(run_starts[1:], len(values))  # Exclusive.
  # Positions start..end-1 (0-based) average to (start + end - 1) / 2.
  run_ranks = (run_starts + run_ends + 1) / 2.0
  ranks = np.empty(len(values), dtype=np.float64)
  ranks[order] = run_ranks[np.cumsum(starts_run) - 1]
  return ranks


def f1_macro(predictions, labels):
  """Unweighted mean of the per-class F1 scores (single-label).

  Classes are those that occur in `labels` or `predictions`, as
  scikit-learn's `f1_score(average="macro")` counts them.

  Example:

  ```python
  f1_macro([0, 1, 2, 2], [0, 1, 1, 2])  # 0.777...
  ```
  """
  predictions, labels = _as_pair(predictions, labels)
  classes = np.union1d(labels, predictions)
  return float(np.mean([f1_score(predictions, labels, c) for c in classes]))


def f1_micro(predictions, labels):
  """F1 over all decisions pooled; equals accuracy for single-label tasks.

  Example:

  ```python
  f1_micro([0, 1, 2, 2], [0, 1, 1, 2])  # 0.75
  ```
  """
  return accuracy(predictions, labels)


METRICS = {
    "accuracy": accuracy,
    "f1": f1_score,
    "f1_macro": f1_macro,
    "f1_micro": f1_micro,
    "matthews_correlation": matthews_corrcoef,
    "pearson": pearson_corrcoef,
    "spearmanr": spearman_corrcoef,
}
"""Metric functions by the names `GlueTask.metric_names` uses."""


def _multi_hot_pair(predictions, labels):
  predictions = np.asarray(predictions).astype(bool)
  labels = np.asarray(labels).astype(bool)
  if predictions.ndim != 2 or predictions.shape != labels.shape:
    raise ValueError(
        f"multi-label predictions and labels must be [n, num_labels] of "
        f"equal shape, got {predictions.shape} and {labels.shape}")
  if not len(labels):
    raise ValueError("predictions and labels are empty")
  return predictions, labels


def multi_label_accuracy(predictions, labels):
  """Exact-match (subset) accuracy: rows whose label set is right.

  Args:
    predictions: Multi-hot `[n, num_labels]` (bool or 0/1).
    labels: Multi-hot `[n, num_labels]`.

  Example:

  ```python
  multi_label_accuracy([[1, 0], [1, 1]], [[1, 0], [0, 1]])  # 0.5
  ```
  """
  predictions, labels = _multi_hot_pair(predictions, labels)
  return float(np.mean(np.all(predictions == labels, axis=1)))


def multi_label_f1_micro(predictions, labels):
  """F1 of all (row, label) decisions pooled; 0.0 with no positives at all.

  Example:

  ```python
  multi_label_f1_micro([[1, 0], [1, 1]], [[1, 0], [0, 1]])  # 0.8
  ```
  """
  predictions, labels = _multi_hot_pair(predictions, labels)
  true_pos = np.sum(predictions & labels)
  denominator = np.sum(predictions) + np.sum(labels)
  return float(2 * true_pos / denominator) if denominator else 0.0


def multi_label_f1_macro(predictions, labels):
  """Mean over labels of each label's binary F1 (0.0 for a label that is
  neither predicted nor present).

  Example:

  ```python
  multi_label_f1_macro([[1, 0], [1, 1]], [[1, 0], [0, 1]])  # 0.833...
  ```
  """
  predictions, labels = _multi_hot_pair(predictions, labels)
  return float(np.mean([
      f1_score(predictions[:, j].astype(int), labels[:, j].astype(int))
      for j in range(labels.shape[1])]))


MULTI_LABEL_METRICS = {
    "accuracy": multi_label_accuracy,
    "f1_micro": multi_label_f1_micro,
    "f1_macro": multi_label_f1_macro,
}
"""Metric functions of multi-label tasks, on multi-hot `[n, num_labels]`."""

# Key suffixes of the MNLI dev sets, as the paper reports them.
_SPLIT_SUFFIXES = {"dev_matched": "m", "dev_mismatched": "mm"}


def compute_glue_metrics(task, predictions, labels):
  """Computes a task's GLUE metrics and the paper's aggregate score.

  Args:
    task: Task name or `GlueTask`.
    predictions: Class ids `[n]` or logits/probabilities `[n, num_labels]`
      (classification), scores `[n]` or `[n, 1]` (STS-B), logits or a bool
      multi-hot array `[n, num_labels]` (multi-label tasks). For MNLI, which has
      two dev sets, a dict from `"dev_matched"` and `"dev_mismatched"` to
      such arrays (or use the tasks `"mnli-m"` / `"mnli-mm"`).
    labels: True labels `[n]`, or a dict like `predictions`.

  Returns:
    A dict from each of `task.metric_names` to its value, plus `"score"`: the
    mean of `task.score_metrics` (BERT-of-Theseus Table 2). For MNLI the
    metrics are suffixed `_m` / `_mm` and `score` is their mean.

  Raises:
    ValueError: If predictions and labels do not match in splits or length.

  Example:

  ```python
  compute_glue_metrics("mrpc", logits, labels)
  # {"f1": 0.89, "accuracy": 0.85, "score": 0.87}
  compute_glue_metrics("mnli", {"dev_matched": p_m, "dev_mismatched": p_mm},
                       {"dev_matched": y_m, "dev_mismatched": y_mm})
  # {"accuracy_m": 0.84, "accuracy_mm": 0.84, "score": 0.84}
  ```
  """
  task = get_task(task)
  if len(task.dev_splits) == 1:
    return _split_metrics(task, predictions, labels)
  splits = set(task.dev_splits)
  if not (isinstance(predictions, collections.abc.Mapping)
          and isinstance(labels, collections.abc.Mapping)
          and set(predictions) == splits == set(labels)):
    raise ValueError(
        f"{task.name} has dev sets {list(task.dev_splits)}: pass predictions "
        "and labels as dicts with exactly these keys")
  results, scores = {}, []
  for split in task.dev_splits:
    split_results = _split_metrics(task, predictions[split], labels[split])
    scores.append(split_results.pop("score"))
    suffix = _SPLIT_SUFFIXES.get(split, split)
    results.update({f"{k}_{suffix}": v for k, v in split_results.items()})
  results["score"] = float(np.mean(scores))
  return results


def _split_metrics(task, predictions, labels):
  predictions = np.asarray(predictions)
  metrics = METRICS
  if task.is_multi_label:
    # Logits: a label is predicted when its sigmoid exceeds 0.5.
    if predictions.dtype != bool:
      predictions = predictions > 0
    metrics = MULTI_LABEL_METRICS
  elif task.is_regression:
    if predictions.ndim == 2 and predictions.shape[1] == 1:
      predictions = predictions[:, 0]
  elif predictions.ndim == 2:
    predictions = np.argmax(predictions, axis=-1)
  results = {name: metrics[name](predictions, labels)
             for name in task.metric_names}
  results["score"] = float(np.mean([results[m] for m in task.score_metrics]))
  return results


def _as_pair(predictions, labels, dtype=None):
  predictions = np.asarray(predictions, dtype=dtype)
  labels = np.asarray(labels, dtype=dtype)
  if predictions.ndim != 1 or predictions.shape != labels.shape:
    raise ValueError(
        f"predictions and labels must be 1-D of equal length, got shapes "
        f"{predictions.shape} and {labels.shape}")
  if not len(labels):
    raise ValueError("predictions and labels are empty")
  return predictions, labels
