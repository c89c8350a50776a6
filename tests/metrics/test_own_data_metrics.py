"""Macro/micro F1 and the multi-label metrics, by hand-computed values."""

import numpy as np
import pytest

from theseus_tf.data import make_file_task
from theseus_tf.metrics import (compute_glue_metrics, f1_macro, f1_micro,
                                multi_label_accuracy, multi_label_f1_macro,
                                multi_label_f1_micro)


def test_single_label_f1_averages():
  predictions, labels = [0, 1, 2, 2], [0, 1, 1, 2]
  # Per class F1: 1, 2/3, 2/3.
  assert f1_macro(predictions, labels) == pytest.approx((1 + 2 / 3 + 2 / 3) / 3)
  assert f1_micro(predictions, labels) == 0.75
  # A class only predicted counts, with F1 0.
  assert f1_macro([0, 0, 2], [0, 0, 0]) == pytest.approx((0.8 + 0) / 2)


def test_multi_label_metrics():
  predictions = np.array([[1, 0, 0], [1, 1, 0], [0, 0, 0]], bool)
  labels = np.array([[1, 0, 0], [0, 1, 0], [0, 0, 1]], bool)
  assert multi_label_accuracy(predictions, labels) == pytest.approx(1 / 3)
  # tp 2, predicted 3, actual 3.
  assert multi_label_f1_micro(predictions, labels) == pytest.approx(4 / 6)
  # Per label F1: 2/3, 1, 0.
  assert multi_label_f1_macro(predictions, labels) == pytest.approx(
      (2 / 3 + 1 + 0) / 3)
  with pytest.raises(ValueError, match="equal shape"):
    multi_label_f1_micro(predictions, labels[:2])


def test_compute_metrics_of_a_multi_label_task(tmp_path):
  path = tmp_path / "t.jsonl"
  path.write_text('{"text": "a", "label": ["x"]}\n'
                  '{"text": "b", "label": ["x", "y"]}\n', encoding="utf-8")
  task = make_file_task(path, path, problem_type="multi_label_classification",
                        metric_for_best="f1_macro")
  logits = np.array([[2.0, -1.0], [3.0, -0.5]])  # Predicts x, x.
  labels = np.array([[1, 0], [1, 1]], np.float32)
  metrics = compute_glue_metrics(task, logits, labels)
  assert metrics["accuracy"] == 0.5
  assert metrics["f1_micro"] == pytest.approx(2 * 2 / (2 + 3))
  assert metrics["f1_macro"] == pytest.approx((1.0 + 0.0) / 2)
  assert metrics["score"] == metrics["f1_macro"]
