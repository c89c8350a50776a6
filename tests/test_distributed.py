"""Module replacing under tf.distribute.MirroredStrategy on 2 logical CPUs."""

import numpy as np
import pytest
import tensorflow as tf

import theseus_tf
from theseus_tf import schedules
from theseus_tf.backend import keras
from tests.test_module_replacing import build_model
from tests.toy_layers import calls, toy_data


@pytest.fixture
def mirrored():
  devices = tf.config.list_logical_devices("CPU")
  if len(devices) < 2:
    pytest.skip("needs 2 logical CPU devices (set up in conftest)")
  return tf.distribute.MirroredStrategy([d.name for d in devices[:2]])


def test_replicas_draw_the_same_branch_at_every_step(mirrored):
  with mirrored.scope():
    _, modules = build_model(schedules.ConstantReplacement(0.5))

  @tf.function
  def draws(step):
    return mirrored.run(
        lambda: tf.stack([m.uses_successor(step) for m in modules]))

  picked = []
  for step in range(64):
    per_replica = mirrored.experimental_local_results(draws(tf.constant(step, tf.int64)))
    assert len(per_replica) == 2
    np.testing.assert_array_equal(per_replica[0].numpy(), per_replica[1].numpy())
    picked.append(per_replica[0].numpy())
  # Both branches occur, so the agreement above is not trivial.
  assert 0 < np.mean(picked) < 1


def test_mirrored_training_matches_single_device_training(mirrored):
  schedule = schedules.LinearReplacement(0.3, 0.05)
  x, y = toy_data(num_examples=64)

  def train(strategy):
    keras.utils.set_random_seed(0)
    with strategy.scope():
      model, modules = build_model(seed=11)
      model.compile(keras.optimizers.SGD(0.1), "mse", jit_compile=False)
    model.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0,
              callbacks=[theseus_tf.ReplacementScheduler(schedule)])
    return model, modules

  single, single_modules = train(tf.distribute.get_strategy())
  distributed, distributed_modules = train(mirrored)

  for a, b in zip(single_modules, distributed_modules):
    assert int(a.replacement_step.numpy()) == int(b.replacement_step.numpy()) == 16
    assert calls(b.successor) + calls(b.predecessor.block_layers[0]) == 16
  for expected, actual in zip(single.get_weights(), distributed.get_weights()):
    np.testing.assert_allclose(actual, expected, rtol=1e-4, atol=1e-5)
