"""Theseus models saved mid-training and loaded back, as Keras users do it.

`.keras` is the format of both Keras modes. After loading, the model must
train what it trained before (only the successors), restore its optimizer,
continue the schedule at the saved step, and leave the predecessor and the
shared layers bit-identical through a resumed `fit`.
"""

import numpy as np
import pytest

import theseus_tf
from theseus_tf import schedules
from theseus_tf.backend import keras, register_serializable
from theseus_tf.models import BertBackbone, BertClassifier
from theseus_tf.models import build_theseus_classifier
from tests.toy_layers import random_bert_inputs

SCHEDULE = schedules.LinearReplacement(0.3, slope=0.05)
WIDTH = 8


@register_serializable
class LazyResidual(keras.layers.Layer):
  """`x + tanh(Dense(x))`, whose Dense is created in `build`, not `__init__`."""

  def build(self, input_shape):
    self.inner = keras.layers.Dense(input_shape[-1], activation="tanh")
    self.inner.build(input_shape)
    self.built = True

  def call(self, inputs):
    return inputs + self.inner(inputs)

  def compute_output_shape(self, input_shape):
    return input_shape


def theseus_bert():
  """A tiny Theseus BERT classifier (no dropout: runs compare exactly)."""
  backbone = BertBackbone(vocabulary_size=50, num_layers=4, num_heads=2,
                          hidden_dim=16, intermediate_dim=32, dropout=0.0,
                          attention_dropout=0.0, max_sequence_length=16)
  teacher = BertClassifier(backbone, num_classes=2, dropout=0.0)
  model = build_theseus_classifier(teacher, num_modules=2, seed=3)
  inputs = random_bert_inputs(batch=32, length=6, seed=1)
  labels = np.random.default_rng(1).integers(0, 2, 32)
  loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
  return model, loss, inputs, labels


def theseus_stack():
  """A generic stack of lazily built residual layers, wrapped 2:1."""
  layers = [LazyResidual(name=f"residual_{i}") for i in range(4)]
  x = keras.Input((WIDTH,))
  for layer in layers:
    x = layer(x)
  modules = theseus_tf.replace_modules(layers, num_modules=2, seed=3)
  inputs = keras.Input((WIDTH,))
  x = inputs
  for module in modules:
    x = module(x)
  model = keras.Model(inputs, keras.layers.Dense(1, name="head")(x))
  rng = np.random.default_rng(1)
  x = rng.normal(size=(32, WIDTH)).astype("float32")
  y = x.sum(axis=1, keepdims=True)
  return model, "mse", x, y


def frozen_weights(model):
  trainable = {id(v) for v in model.trainable_weights}
  return [v for v in model.weights
          if id(v) not in trainable and v.dtype != "int64"]


def fit_one_epoch(model, x, y):
  model.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0,
            callbacks=[theseus_tf.ReplacementScheduler(SCHEDULE)])


@pytest.mark.parametrize("build", [theseus_bert, theseus_stack],
                         ids=["bert_classifier", "generic_stack"])
def test_a_reloaded_model_resumes_exactly_and_trains_only_successors(
    build, tmp_path):
  keras.utils.set_random_seed(0)
  reference, loss, x, y = build()
  initial_weights = reference.get_weights()
  reference.compile(keras.optimizers.Adam(1e-2), loss)
  fit_one_epoch(reference, x, y)
  fit_one_epoch(reference, x, y)

  model, loss, x, y = build()
  model.set_weights(initial_weights)
  model.compile(keras.optimizers.Adam(1e-2), loss)
  fit_one_epoch(model, x, y)
  trainable_before = [v.name for v in model.trainable_weights]
  predecessor_weights = {id(v) for m in theseus_tf.module_replacing_layers(model)
                         for v in m.predecessor.weights}
  assert predecessor_weights
  assert not predecessor_weights & {id(v) for v in model.trainable_weights}

  path = str(tmp_path / "theseus.keras")
  model.save(path)
  restored = keras.models.load_model(path)

  assert [v.name for v in restored.trainable_weights] == trainable_before
  assert int(restored.optimizer.iterations.numpy()) == 4
  modules = theseus_tf.module_replacing_layers(restored)
  assert [int(m.replacement_step.numpy()) for m in modules] == [4, 4]
  frozen = [np.array(v.numpy()) for v in frozen_weights(restored)]
  assert frozen, "the predecessor and shared layers must be frozen"

  fit_one_epoch(restored, x, y)

  for before, variable in zip(frozen, frozen_weights(restored)):
    np.testing.assert_array_equal(variable.numpy(), before)
  assert [int(m.replacement_step.numpy()) for m in modules] == [8, 8]
  # Same draws and a restored optimizer: the resumed run is the reference run.
  for expected, actual in zip(reference.get_weights(), restored.get_weights()):
    np.testing.assert_allclose(actual, expected, rtol=1e-5, atol=1e-6)

