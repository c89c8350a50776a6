import contextlib
import signal

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


@contextlib.contextmanager
def time_limit(seconds):
  """Fails the test instead of hanging (strip once looped forever in tf-keras)."""

  def give_up(signum, frame):
    raise TimeoutError(f"did not return within {seconds} s")

  previous = signal.signal(signal.SIGALRM, give_up)
  signal.alarm(seconds)
  try:
    yield
  finally:
    signal.alarm(0)
    signal.signal(signal.SIGALRM, previous)


def residual_conv_block(i):
  """A Functional sub-model block: `x + Conv1D(x)`."""
  inputs = keras.Input((16, WIDTH))
  outputs = keras.layers.Add()([
      inputs,
      keras.layers.Conv1D(WIDTH, 3, padding="same", activation="relu")(inputs)
  ])
  return keras.Model(inputs, outputs, name=f"residual_{i}")


def theseus_stack_of(blocks, input_shape, num_modules):
  modules = theseus_tf.replace_modules(blocks, num_modules=num_modules)
  inputs = keras.Input(input_shape)
  x = inputs
  for module in modules:
    x = module(x)
  x = keras.layers.Flatten()(x)
  return keras.Model(inputs, keras.layers.Dense(2, name="head")(x))


def check_strip(model, x, expected_weights, tmp_path):
  with time_limit(120):
    stripped = theseus_tf.strip_successor(model)
  assert not theseus_tf.module_replacing_layers(stripped)
  assert len(stripped.weights) == expected_weights
  np.testing.assert_allclose(stripped.predict(x, verbose=0),
                             model.predict(x, verbose=0), rtol=0, atol=1e-6)
  # Also from a model loaded back, as users strip after training.
  path = str(tmp_path / "theseus.keras")
  model.save(path)
  with time_limit(120):
    stripped = theseus_tf.strip_successor(keras.models.load_model(path))
  np.testing.assert_allclose(stripped.predict(x, verbose=0),
                             model.predict(x, verbose=0), rtol=0, atol=1e-6)


def test_strip_of_functional_sub_model_blocks(tmp_path):
  blocks = [residual_conv_block(i) for i in range(8)]
  model = theseus_stack_of(blocks, (16, WIDTH), num_modules=4)
  x = np.random.default_rng(0).normal(size=(4, 16, WIDTH)).astype("float32")
  check_strip(model, x, expected_weights=4 * 2 + 2, tmp_path=tmp_path)


def test_strip_of_custom_layer_blocks_in_a_nested_model(tmp_path):
  blocks = []
  x = inputs = keras.Input((WIDTH,))
  for i in range(4):
    block = CountingDense(WIDTH, name=f"custom_{i}")
    x = block(x)
    blocks.append(block)
  modules = theseus_tf.replace_modules(blocks, num_modules=2)
  x = inner_inputs = keras.Input((WIDTH,))
  for module in modules:
    x = module(x)
  encoder = keras.Model(inner_inputs, x, name="encoder")
  x = outer_inputs = keras.Input((WIDTH,))
  model = keras.Model(outer_inputs, keras.layers.Dense(1)(encoder(x)))
  # CountingDense has kernel, bias and a call counter.
  check_strip(model, toy_data(8)[0], expected_weights=2 * 3 + 2,
              tmp_path=tmp_path)
