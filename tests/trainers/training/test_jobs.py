"""The losses of `compress` jobs: Theseus + KD against the frozen predecessor."""

import argparse

import numpy as np
import tensorflow as tf

import theseus_tf
from trainers.training import jobs
from trainers.training import losses


def _args(**overrides):
  values = dict(method="theseus", num_layers=2, grouping=None, init="bottom",
                seed=0, unfreeze_shared=False, alpha=None, temperature=None)
  values.update(overrides)
  return argparse.Namespace(**values)


def _features():
  rng = np.random.default_rng(0)
  return {"input_ids": tf.constant(rng.integers(5, 500, (4, 12)), tf.int32),
          "attention_mask": tf.ones((4, 12), tf.int32),
          "token_type_ids": tf.zeros((4, 12), tf.int32)}


def test_theseus_with_alpha_adds_the_predecessors_soft_targets(fixtures_dir):
  from theseus_tf.utils.transformers import from_pretrained
  predecessor = from_pretrained(str(fixtures_dir / "tiny-bert-classifier"))
  schedule = theseus_tf.schedules.ConstantReplacement(0.5)
  features, labels = _features(), tf.constant([0, 1, 2, 1])

  plain = jobs.compress_job(_args(), predecessor, schedule, 10)
  logits = plain.model(features, training=False)
  np.testing.assert_allclose(plain.loss(features, labels, logits),
                             losses.task_loss(logits, labels, False))

  kd = jobs.compress_job(_args(alpha=0.7, temperature=3.0), predecessor,
                         schedule, 10)
  teacher_logits = predecessor(features, training=False)
  want = losses.distillation_loss(logits, teacher_logits, labels, False,
                                  temperature=3.0, alpha=0.7)
  got = kd.loss(features, labels, logits)
  np.testing.assert_allclose(got, want, rtol=1e-6)
  assert not np.allclose(got, losses.task_loss(logits, labels, False))
  # Only the successors learn: the teacher's weights are not among them.
  teacher = {id(v) for v in predecessor.weights}
  assert not any(id(v) in teacher for v in kd.variables)
