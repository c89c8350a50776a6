import warnings

import numpy as np
import pytest
import tensorflow as tf

import theseus_tf
from theseus_tf import schedules
from theseus_tf.backend import IS_KERAS_3, keras
from tests.layer_test_helper import run_layer_test
from tests.toy_layers import CountingDense, calls, toy_data

WIDTH = 8


def build_model(schedule=None, num_modules=2, seed=0):
  """A 2-module Theseus stack: each predecessor is 2 layers, each successor 1."""
  inputs = keras.Input((WIDTH,))
  x = inputs
  modules = []
  for i in range(num_modules):
    module = theseus_tf.ModuleReplacing(
        predecessor=[CountingDense(WIDTH, name=f"pred_{i}a"),
                     CountingDense(WIDTH, name=f"pred_{i}b")],
        successor=CountingDense(WIDTH, name=f"succ_{i}"),
        schedule=schedule, seed=seed + i, name=f"module_{i}")
    x = module(x)
    modules.append(module)
  outputs = keras.layers.Dense(1, name="head")(x)
  model = keras.Model(inputs, outputs)
  model.compile(keras.optimizers.SGD(0.1), "mse")
  return model, modules


def snapshot(variables):
  return [np.array(v.numpy()) for v in variables]


def test_share_of_successor_picks_matches_rate():
  module = theseus_tf.ModuleReplacing(
      CountingDense(WIDTH), CountingDense(WIDTH),
      schedule=schedules.ConstantReplacement(0.3), seed=42)
  module.build((None, WIDTH))
  n = 4000
  picks = np.mean([bool(module.uses_successor(t)) for t in range(n)])
  # Binomial(n, 0.3): 5 standard deviations is a bound that holds by design.
  assert abs(picks - 0.3) < 5 * np.sqrt(0.3 * 0.7 / n)


@pytest.mark.parametrize("schedule, expected_share", [
    (schedules.LinearReplacement(0.0, 0.0), 0.0),
    (schedules.ConstantReplacement(1.0), 1.0),
])
def test_rate_zero_never_and_rate_one_always_picks_successor(
    schedule, expected_share):
  model, modules = build_model(schedule)
  x, y = toy_data()
  model.fit(x, y, batch_size=8, epochs=1, verbose=0)
  steps = 8
  for module in modules:
    successor_calls = calls(module.successor)
    predecessor_calls = calls(module.predecessor.block_layers[0])
    assert successor_calls == expected_share * steps
    assert predecessor_calls == (1 - expected_share) * steps


def test_one_draw_per_module_per_step_and_only_the_chosen_branch_runs():
  model, modules = build_model(schedules.ConstantReplacement(0.5))
  x, y = toy_data(num_examples=200)
  model.fit(x, y, batch_size=4, epochs=2, verbose=0)
  steps = 100
  for module in modules:
    assert int(module.replacement_step.numpy()) == steps
    successor_calls = calls(module.successor)
    predecessor_calls = calls(module.predecessor.block_layers[0])
    # Each step ran exactly one branch, never both.
    assert successor_calls + predecessor_calls == steps
    assert calls(module.predecessor.block_layers[1]) == predecessor_calls
    assert abs(successor_calls - 50) < 5 * np.sqrt(25)
    # The branches taken are the draws the layer reports.
    expected = sum(bool(module.uses_successor(t)) for t in range(steps))
    assert successor_calls == expected


def test_fit_trains_successors_and_leaves_predecessors_bit_identical():
  model, modules = build_model(schedules.ConstantReplacement(0.5))
  predecessor_vars = [
      v for m in modules for v in m.predecessor.weights if v.dtype != tf.int64]
  successor_vars = [m.successor.kernel for m in modules]
  before_predecessor = snapshot(predecessor_vars)
  before_successor = snapshot(successor_vars)
  trainable_ids = {id(v) for v in model.trainable_weights}
  assert not any(id(v) in trainable_ids for v in predecessor_vars)
  assert all(id(v) in trainable_ids for v in successor_vars)
  x, y = toy_data()
  model.fit(x, y, batch_size=8, epochs=2, verbose=0)
  for before, after in zip(before_predecessor, snapshot(predecessor_vars)):
    np.testing.assert_array_equal(before, after)
  for before, after in zip(before_successor, snapshot(successor_vars)):
    assert not np.array_equal(before, after)


def test_inference_runs_the_successor_only():
  model, modules = build_model(schedules.ConstantReplacement(0.5))
  x, _ = toy_data()
  expected = model.predict(x, verbose=0)
  for module in modules:
    for layer in module.predecessor.block_layers:
      layer.kernel.assign(tf.fill(layer.kernel.shape, np.nan))
  np.testing.assert_array_equal(model.predict(x, verbose=0), expected)
  np.testing.assert_allclose(model(x, training=False).numpy(), expected, atol=1e-6)
  for module in modules:
    assert calls(module.predecessor.block_layers[0]) == 0
    assert int(module.replacement_step.numpy()) == 0


def test_extra_call_arguments_reach_both_blocks():
  for rate_schedule, block in ((schedules.ConstantReplacement(1.0), "successor"),
                               (schedules.LinearReplacement(0.0, 0.0),
                                "predecessor")):
    inputs = keras.Input((WIDTH,))
    mask = keras.Input((WIDTH,))
    module = theseus_tf.ModuleReplacing(
        CountingDense(WIDTH), CountingDense(WIDTH), schedule=rate_schedule)
    model = keras.Model([inputs, mask], module(inputs, attention_mask=mask))
    x, _ = toy_data(4)
    zeros = np.zeros_like(x)
    out = model([x, zeros], training=True).numpy()
    # Only the masking inside the chosen block can zero the output.
    np.testing.assert_array_equal(out, np.zeros_like(out)), block
    assert np.abs(model([x, np.ones_like(x)], training=True).numpy()).sum() > 0


def test_training_without_a_schedule_says_how_to_give_one():
  model, _ = build_model(schedule=None)
  x, y = toy_data()
  with pytest.raises(Exception, match="ReplacementScheduler"):
    model.fit(x, y, batch_size=8, epochs=1, verbose=0)


@pytest.mark.parametrize("predecessor, successor, error, message", [
    ([], lambda: CountingDense(WIDTH), ValueError, "predecessor block is empty"),
    (lambda: CountingDense(WIDTH), [], ValueError, "successor block is empty"),
    ("dense", lambda: CountingDense(WIDTH), TypeError, "Keras layer"),
])
def test_bad_blocks_are_rejected(predecessor, successor, error, message):
  predecessor = predecessor() if callable(predecessor) else predecessor
  successor = successor() if callable(successor) else successor
  with pytest.raises(error, match=message):
    theseus_tf.ModuleReplacing(predecessor, successor)


def test_same_layer_as_predecessor_and_successor_is_rejected():
  layer = CountingDense(WIDTH)
  with pytest.raises(ValueError, match="same layer"):
    theseus_tf.ModuleReplacing(layer, layer)


def test_mismatched_block_output_shapes_are_rejected():
  module = theseus_tf.ModuleReplacing(
      CountingDense(WIDTH), CountingDense(WIDTH * 2), name="bad_module")
  with pytest.raises(ValueError, match=r"bad_module.*successor's output shape"):
    module(keras.Input((WIDTH,)))


class ShapelessDense(keras.layers.Layer):
  """A Dense without `compute_output_shape`: Keras must trace it for shapes."""

  def __init__(self, units, **kwargs):
    super().__init__(**kwargs)
    self.units = units

  def build(self, input_shape):
    self.kernel = self.add_weight(
        name="kernel", shape=(input_shape[-1], self.units))

  def call(self, inputs):
    return tf.matmul(inputs, self.kernel)


def test_mismatched_shapes_of_blocks_without_compute_output_shape():
  make = lambda: theseus_tf.ModuleReplacing(
      ShapelessDense(WIDTH), ShapelessDense(WIDTH // 2),
      schedule=schedules.ConstantReplacement(0.5), name="bad_module")
  with pytest.raises(ValueError, match=r"bad_module.*successor's output shape"):
    make()(keras.Input((WIDTH,)))
  with pytest.raises(ValueError, match=r"bad_module.*successor's output shape"):
    make()(tf.zeros((2, WIDTH)), training=True)  # Eagerly, on a fresh layer.


def test_other_keras_layers_are_rejected_with_what_to_do():
  if IS_KERAS_3:
    import tf_keras as other_keras  # pylint: disable=import-outside-toplevel
    name = "tf-keras"
  else:
    import keras as other_keras  # pylint: disable=import-outside-toplevel
    name = "Keras 3"
  with pytest.raises(TypeError, match=rf"is a {name} Dense.*tf\.keras"):
    theseus_tf.ModuleReplacing(other_keras.layers.Dense(WIDTH),
                               CountingDense(WIDTH))
  with pytest.raises(TypeError, match=rf"is a {name} Dense"):
    theseus_tf.replace_modules([other_keras.layers.Dense(WIDTH)] * 2, 1)


def fit_with_adam(run_eagerly):
  """Successor weights after 12 Adam steps at p = 0.5, from fixed weights."""
  keras.utils.set_random_seed(0)
  model, modules = build_model(schedules.ConstantReplacement(0.5))
  model.compile(keras.optimizers.Adam(0.05), "mse", run_eagerly=run_eagerly)
  x, y = toy_data(96)
  model.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0)
  return [m.successor.kernel.numpy() for m in modules], modules


def test_undrawn_successors_get_zero_gradients_eagerly_and_compiled(caplog):
  compiled, modules = fit_with_adam(run_eagerly=False)
  # Some steps ran a predecessor: the successor had no gradient there.
  assert any(not bool(m.uses_successor(t)) for m in modules for t in range(12))
  with warnings.catch_warnings():
    warnings.simplefilter("error")  # "Gradients do not exist" at each step.
    eager, _ = fit_with_adam(run_eagerly=True)
  assert "Gradients do not exist" not in caplog.text
  for a, b in zip(compiled, eager):
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_config_round_trip():
  module = theseus_tf.ModuleReplacing(
      [CountingDense(WIDTH), CountingDense(WIDTH)], CountingDense(WIDTH),
      schedule=schedules.LinearReplacement(0.2, 0.01), seed=7,
      name="module")
  config = module.get_config()
  restored = theseus_tf.ModuleReplacing.from_config(config)
  assert restored.get_config() == config
  assert restored.schedule == module.schedule and restored.seed == 7
  assert isinstance(restored.predecessor, theseus_tf.SequentialBlock)
  assert not restored.predecessor.trainable and restored.successor.trainable


def test_default_seed_is_stable_for_a_layer_name():
  make = lambda: theseus_tf.ModuleReplacing(
      CountingDense(WIDTH), CountingDense(WIDTH), name="encoder_module_3")
  assert make().seed == make().seed


def test_save_and_load_mid_training_keeps_blocks_schedule_and_step(tmp_path):
  schedule = schedules.LinearReplacement(0.2, 0.02)
  x, y = toy_data()

  # Uninterrupted: 2 epochs.
  keras.utils.set_random_seed(1)
  reference, _ = build_model(schedule)
  initial_weights = reference.get_weights()
  reference.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0)

  # Interrupted: 1 epoch, save, load, 1 more epoch.
  model, _ = build_model(schedule)
  model.set_weights(initial_weights)
  model.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0)
  path = str(tmp_path / "theseus.keras")
  model.save(path)
  restored = keras.models.load_model(path)
  restored_modules = theseus_tf.module_replacing_layers(restored)
  assert [int(m.replacement_step.numpy()) for m in restored_modules] == [8, 8]
  assert all(m.schedule == schedule for m in restored_modules)
  assert not restored_modules[0].predecessor.trainable
  restored.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0)

  for expected, actual in zip(reference.get_weights(), restored.get_weights()):
    np.testing.assert_allclose(actual, expected, rtol=1e-5, atol=1e-6)


def test_layer_contract(tmp_path):
  def make_module(dtype=None, **kwargs):
    dense = lambda: keras.layers.Dense(WIDTH, activation="tanh", dtype=dtype)
    return theseus_tf.ModuleReplacing(
        [dense(), dense()], dense(),
        schedule=schedules.LinearReplacement(0.3, 0.01), seed=3, dtype=dtype,
        **kwargs)

  run_layer_test(make_module, tf.random.normal([2, WIDTH]), tmp_path)


def test_sequential_block_layer_contract(tmp_path):
  run_layer_test(
      lambda dtype=None, **kwargs: theseus_tf.SequentialBlock(
          [keras.layers.Dense(WIDTH, dtype=dtype),
           keras.layers.Dense(WIDTH, dtype=dtype)], dtype=dtype, **kwargs),
      tf.random.normal([2, WIDTH]), tmp_path)
