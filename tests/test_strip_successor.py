import numpy as np
import pytest

import theseus_tf
from theseus_tf import schedules
from theseus_tf.backend import keras
from tests.test_module_replacing import WIDTH, build_model
from tests.toy_layers import CountingDense, toy_data


def plain_model(depth):
  inputs = keras.Input((WIDTH,))
  x = inputs
  for i in range(depth):
    x = CountingDense(WIDTH, name=f"plain_{i}")(x)
  return keras.Model(inputs, keras.layers.Dense(1)(x))


def byte_size(model):
  return sum(np.asarray(w).nbytes for w in model.get_weights())


def test_stripped_model_matches_and_is_as_small_as_a_plain_model(tmp_path):
  model, _ = build_model(schedules.ConstantReplacement(0.5))
  x, y = toy_data()
  model.fit(x, y, batch_size=8, epochs=1, verbose=0)
  stripped = theseus_tf.strip_successor(model)

  assert not theseus_tf.module_replacing_layers(stripped)
  np.testing.assert_allclose(stripped.predict(x, verbose=0),
                             model.predict(x, verbose=0), rtol=0, atol=1e-6)
  plain = plain_model(depth=2)
  assert len(stripped.weights) == len(plain.weights)
  assert byte_size(stripped) == byte_size(plain)
  assert not any("pred_" in w.name for w in stripped.weights)

  path = str(tmp_path / "student.keras")
  stripped.save(path)
  reloaded = keras.models.load_model(path)
  np.testing.assert_allclose(reloaded.predict(x, verbose=0),
                             model.predict(x, verbose=0), rtol=0, atol=1e-6)


def test_strip_handles_multi_layer_successors_and_nested_models():
  inputs = keras.Input((WIDTH,))
  module = theseus_tf.ModuleReplacing(
      [CountingDense(WIDTH) for _ in range(4)],
      [CountingDense(WIDTH) for _ in range(2)])
  encoder = keras.Model(inputs, module(inputs), name="encoder")
  outer_inputs = keras.Input((WIDTH,))
  model = keras.Model(outer_inputs,
                      keras.layers.Dense(1)(encoder(outer_inputs)))
  stripped = theseus_tf.strip_successor(model)
  x, _ = toy_data(16)
  np.testing.assert_allclose(stripped(x).numpy(), model(x).numpy(), atol=1e-6)
  assert not theseus_tf.module_replacing_layers(stripped)
  assert len(stripped.weights) == 2 * 3 + 2  # Two successor layers + head.


def test_strip_of_a_sequential_model():
  model = keras.Sequential([
      keras.Input((WIDTH,)),
      theseus_tf.ModuleReplacing(CountingDense(WIDTH), CountingDense(WIDTH)),
      keras.layers.Dense(1),
  ])
  stripped = theseus_tf.strip_successor(model)
  x, _ = toy_data(4)
  np.testing.assert_allclose(stripped(x).numpy(), model(x).numpy(), atol=1e-6)
  assert len(stripped.weights) == 3 + 2


def test_strip_of_a_plain_model_returns_it_unchanged():
  model = plain_model(2)
  assert theseus_tf.strip_successor(model) is model


def test_strip_of_a_subclassed_model_explains_what_to_do():

  class Subclassed(keras.Model):

    def __init__(self):
      super().__init__()
      self.module = theseus_tf.ModuleReplacing(
          CountingDense(WIDTH), CountingDense(WIDTH))

    def call(self, inputs):
      return self.module(inputs)

  model = Subclassed()
  model(np.zeros((1, WIDTH), "float32"))
  with pytest.raises(ValueError, match="Functional or Sequential"):
    theseus_tf.strip_successor(model)
