"""The multi-label task loss and its distillation loss."""

import numpy as np
import pytest
import tensorflow as tf

from trainers.training import losses

MULTI = "multi_label_classification"


def test_multi_label_loss_is_mean_binary_cross_entropy():
  logits = np.array([[2.0, -1.0, 0.5]], np.float32)
  labels = np.array([[1.0, 0.0, 1.0]], np.float32)
  p = 1 / (1 + np.exp(-logits))
  expected = -np.mean(labels * np.log(p) + (1 - labels) * np.log(1 - p))
  assert float(losses.task_loss(logits, labels, MULTI)[0]) == pytest.approx(
      expected, rel=1e-5)


def test_bool_problem_types_still_work():
  logits = np.array([[0.3]], np.float32)
  assert float(losses.task_loss(logits, np.float32([1.0]), True)[0]) == (
      pytest.approx(0.49))
  logits = np.array([[1.0, 0.0]], np.float32)
  assert float(losses.task_loss(logits, np.int32([0]), False)[0]) == (
      pytest.approx(np.log(1 + np.exp(-1.0)), rel=1e-5))


def test_multi_label_distillation_targets_are_the_teachers_sigmoids():
  teacher = tf.constant([[1.5, -2.0, 0.3]])
  labels = tf.constant([[1.0, 0.0, 0.0]])
  student = tf.Variable(teacher)
  with tf.GradientTape() as tape:
    soft_only = losses.distillation_loss(student, teacher, labels, MULTI,
                                         temperature=2.0, alpha=1.0)
  # Per-label soft targets: the soft loss is smallest at the teacher.
  np.testing.assert_allclose(tape.gradient(soft_only, student), 0, atol=1e-6)
  mixed = losses.distillation_loss(teacher + 1.0, teacher, labels, MULTI,
                                   temperature=2.0, alpha=0.25)
  hard = losses.task_loss(teacher + 1.0, labels, MULTI)
  soft = losses.distillation_loss(teacher + 1.0, teacher, labels, MULTI,
                                  temperature=2.0, alpha=1.0)
  np.testing.assert_allclose(mixed, 0.25 * soft + 0.75 * hard, rtol=1e-5)
