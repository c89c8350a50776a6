"""Tests for theseus_tf.module_stack: backward passes that nobody needs."""

import numpy as np
import pytest
import tensorflow as tf

import theseus_tf
from theseus_tf import schedules
from theseus_tf.backend import keras
from theseus_tf.models import BertBackbone, BertClassifier
from theseus_tf.models import build_theseus_classifier, set_shared_trainable
from tests.toy_layers import random_bert_inputs

NUM_STEPS = 6


def feeder_gradient(rate, link):
  """Gradient of a Dense below a stack that claims its input is frozen.

  The claim is false on purpose: the gradient that still reaches the Dense
  shows how far down the compiled backward pass went.
  """
  width = 4
  x = inputs = keras.Input((width,))
  feeder = keras.layers.Dense(width, name="feeder")
  x = feeder(x)
  layers = [keras.layers.Dense(width) for _ in range(4)]
  for layer in layers:
    x = layer(x)
  modules = theseus_tf.replace_modules(
      layers, num_modules=2, schedule=rate, seed=0, input_needs_gradient=False)
  if not link:
    for module in modules:
      module.stack = None
  x = feeder.output
  for module in modules:
    x = module(x)
  model = keras.Model(inputs, x)

  @tf.function
  def gradient(x):
    with tf.GradientTape() as tape:
      loss = tf.reduce_sum(model(x, training=True) ** 2)
    return tape.gradient(loss, feeder.kernel)

  result = gradient(tf.ones((2, width)))
  return 0.0 if result is None else result.numpy()  # None: no path at all.


@pytest.mark.parametrize("rate, link, reaches_bottom", [
    (schedules.LinearReplacement(0.0, 0.0), True, False),
    (schedules.LinearReplacement(0.0, 0.0), False, True),
    (schedules.ConstantReplacement(1.0), True, False),
    (schedules.ConstantReplacement(1.0), False, True),
], ids=["p=0-linked", "p=0-unlinked", "p=1-linked", "p=1-unlinked"])
def test_a_compiled_step_stops_its_backward_pass_at_the_lowest_successor(
    rate, link, reaches_bottom):
  assert bool(np.abs(feeder_gradient(rate, link)).sum() > 0) == reaches_bottom


def tiny_theseus_bert(train_shared=False):
  keras.utils.set_random_seed(0)
  backbone = BertBackbone(vocabulary_size=50, num_layers=6, num_heads=2,
                          hidden_dim=16, intermediate_dim=32, dropout=0.0,
                          attention_dropout=0.0, max_sequence_length=16)
  teacher = BertClassifier(backbone, num_classes=2, dropout=0.0)
  return build_theseus_classifier(teacher, num_modules=3, seed=5,
                                  train_shared=train_shared)


def train(model, rate, link, strategy=None):
  """Successor (and shared) weights after NUM_STEPS Adam steps."""
  modules = theseus_tf.module_replacing_layers(model)
  if not link:
    for module in modules:
      module.stack = None
  model.compile(keras.optimizers.Adam(1e-2),
                keras.losses.SparseCategoricalCrossentropy(from_logits=True))
  x = random_bert_inputs(batch=8 * NUM_STEPS, length=6, seed=2)
  y = np.random.default_rng(2).integers(0, 2, 8 * NUM_STEPS)
  model.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0,
            callbacks=[theseus_tf.ReplacementScheduler(rate)])
  draws = [[bool(m.uses_successor(t)) for t in range(NUM_STEPS)]
           for m in modules]
  return [v.numpy() for v in model.trainable_weights], draws


RATES = {
    "p=0": schedules.LinearReplacement(0.0, 0.0),
    "p=0.3": schedules.ConstantReplacement(0.3),
    "p=0.7": schedules.ConstantReplacement(0.7),
    "p=1": schedules.ConstantReplacement(1.0),
}


@pytest.mark.parametrize("rate, train_shared", [
    (RATES["p=0"], False), (RATES["p=0.3"], False), (RATES["p=0.7"], False),
    (RATES["p=1"], False), (RATES["p=0.3"], True)],
    ids=["p=0", "p=0.3", "p=0.7", "p=1", "p=0.3-train_shared"])
def test_skipping_backward_passes_changes_no_weight(rate, train_shared):
  linked, linked_draws = train(tiny_theseus_bert(train_shared), rate, True)
  reference, draws = train(tiny_theseus_bert(train_shared), rate, False)
  assert linked_draws == draws
  assert len(linked) == len(reference)
  for a, b in zip(linked, reference):
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_skipping_backward_passes_under_mirrored_strategy():
  # Not the default collective all-reduce: TensorFlow keeps the collective
  # parameters of earlier strategies in this process, keyed by instance
  # numbers that a new strategy reuses for other shapes.
  strategy = tf.distribute.MirroredStrategy(
      ["/cpu:0", "/cpu:1"],
      cross_device_ops=tf.distribute.ReductionToOneDevice())
  results = []
  for link in (True, False):
    with strategy.scope():
      model = tiny_theseus_bert()
      results.append(train(model, RATES["p=0.3"], link)[0])
  for a, b in zip(*results):
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_unfreezing_the_embeddings_makes_the_stack_pass_gradients_down():
  model = tiny_theseus_bert()
  stack = theseus_tf.module_replacing_layers(model)[0].stack
  assert stack is not None and stack.input_gradient_needed(stack.modules[0]) is False
  set_shared_trainable(model, True)
  assert stack.input_gradient_needed(stack.modules[0]) is True
