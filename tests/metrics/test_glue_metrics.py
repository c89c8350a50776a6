"""Tests of the numpy GLUE metrics against hand-computed values."""

import math

import numpy as np
import pytest

from theseus_tf.metrics import accuracy
from theseus_tf.metrics import average_ranks
from theseus_tf.metrics import compute_glue_metrics
from theseus_tf.metrics import f1_score
from theseus_tf.metrics import matthews_corrcoef
from theseus_tf.metrics import pearson_corrcoef
from theseus_tf.metrics import spearman_corrcoef


def test_accuracy_and_f1():
  predictions = [1, 1, 1, 0, 0, 1]
  labels = [1, 0, 1, 1, 0, 1]
  assert accuracy(predictions, labels) == pytest.approx(4 / 6)
  # tp=3, fp=1, fn=1: precision = recall = 3/4.
  assert f1_score(predictions, labels) == pytest.approx(0.75)
  # Class 0: tp=1, fp=1, fn=1.
  assert f1_score(predictions, labels, positive_label=0) == pytest.approx(0.5)
  assert f1_score([0, 0], [0, 0]) == 0.0  # No positives at all.
  assert f1_score([0, 0], [1, 1]) == 0.0


def test_matthews_binary_and_multiclass():
  # tp=2, tn=1, fp=1, fn=0: (2*1 - 1*0) / sqrt(3*2*2*1).
  assert matthews_corrcoef([1, 0, 1, 1], [1, 0, 0, 1]) == pytest.approx(
      2 / math.sqrt(12))
  assert matthews_corrcoef([1, 0, 1], [1, 0, 1]) == pytest.approx(1.0)
  assert matthews_corrcoef([0, 1, 0], [1, 0, 1]) == pytest.approx(-1.0)
  # Multi-class, by the covariance form: c*s - sum(p_k t_k) over sqrt terms.
  # Confusion rows=true: [[1,1,0],[0,1,0],[0,0,1]]; c=3, s=4,
  # t=[2,1,1], p=[1,2,1]: (12 - 5) / sqrt((16 - 6) * (16 - 6)) = 0.7.
  assert matthews_corrcoef([0, 1, 1, 2], [0, 0, 1, 2]) == pytest.approx(0.7)


def test_matthews_single_class_is_zero():
  assert matthews_corrcoef([1, 1, 1, 1], [1, 0, 1, 0]) == 0.0
  assert matthews_corrcoef([1, 0, 1, 0], [0, 0, 0, 0]) == 0.0


def test_pearson():
  assert pearson_corrcoef([1.0, 2.0, 3.0], [2.0, 4.0, 7.0]) == pytest.approx(
      5 / math.sqrt(2 * 38 / 3))
  assert pearson_corrcoef([1, 2, 3], [3, 2, 1]) == pytest.approx(-1.0)
  assert pearson_corrcoef([0.1] * 7, [1, 2, 3, 4, 5, 6, 7]) == 0.0
  assert pearson_corrcoef([1, 2, 3], [2.5, 2.5, 2.5]) == 0.0


def test_average_ranks_and_spearman_with_ties():
  np.testing.assert_array_equal(average_ranks([10, 20, 20, 5]),
                                [2.0, 3.5, 3.5, 1.0])
  np.testing.assert_array_equal(average_ranks([3, 3, 3]), [2.0, 2.0, 2.0])
  # Ranks [1, 2.5, 2.5, 4] vs [1, 3, 2, 4]: 4.5 / sqrt(4.5 * 5).
  assert spearman_corrcoef([1.0, 2.0, 2.0, 3.0],
                           [1.0, 3.0, 2.0, 4.0]) == pytest.approx(
                               4.5 / math.sqrt(22.5))
  # Monotone but non-linear: rank correlation 1.
  assert spearman_corrcoef([1, 2, 3, 4], [1, 8, 27, 1000]) == pytest.approx(1.0)
  assert spearman_corrcoef([5, 5, 5], [1, 2, 3]) == 0.0


def test_mismatched_inputs_raise():
  with pytest.raises(ValueError, match="equal length"):
    accuracy([1, 0], [1, 0, 1])
  with pytest.raises(ValueError, match="empty"):
    accuracy([], [])


def test_compute_glue_metrics_scores():
  mrpc = compute_glue_metrics("mrpc", [1, 1, 1, 0, 0, 1], [1, 0, 1, 1, 0, 1])
  assert mrpc == pytest.approx(
      {"f1": 0.75, "accuracy": 4 / 6, "score": (0.75 + 4 / 6) / 2})
  cola = compute_glue_metrics("CoLA", [1, 0, 1, 1], [1, 0, 0, 1])
  assert cola == pytest.approx({"matthews_correlation": 2 / math.sqrt(12),
                                "score": 2 / math.sqrt(12)})
  stsb = compute_glue_metrics("sts-b", [[1.0], [2.0], [2.0], [3.0]],
                              [1.0, 3.0, 2.0, 4.0])
  assert set(stsb) == {"pearson", "spearmanr", "score"}
  assert stsb["score"] == pytest.approx(
      (stsb["pearson"] + stsb["spearmanr"]) / 2)
  assert stsb["spearmanr"] == pytest.approx(4.5 / math.sqrt(22.5))
  # Logits are reduced with argmax.
  logits = [[0.1, 0.9], [2.0, -1.0], [0.0, 3.0]]
  assert compute_glue_metrics("sst2", logits, [1, 0, 0]) == pytest.approx(
      {"accuracy": 2 / 3, "score": 2 / 3})


def test_compute_glue_metrics_mnli_combines_matched_and_mismatched():
  predictions = {"dev_matched": [0, 1, 2, 2], "dev_mismatched": [0, 0, 0, 1]}
  labels = {"dev_matched": [0, 1, 2, 1], "dev_mismatched": [0, 1, 1, 1]}
  assert compute_glue_metrics("mnli", predictions, labels) == pytest.approx(
      {"accuracy_m": 0.75, "accuracy_mm": 0.5, "score": 0.625})
  assert compute_glue_metrics("mnli-mm", [0, 0, 0, 1], [0, 1, 1, 1]) == (
      pytest.approx({"accuracy": 0.5, "score": 0.5}))
  with pytest.raises(ValueError, match="dev_matched"):
    compute_glue_metrics("mnli", [0, 1], [0, 1])
