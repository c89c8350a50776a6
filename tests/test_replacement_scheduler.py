import numpy as np
import pytest
import tensorflow as tf

import theseus_tf
from theseus_tf import schedules
from theseus_tf.backend import keras
from tests.test_module_replacing import build_model
from tests.toy_layers import calls, toy_data


class RecordingSchedule(schedules.LinearReplacement):
  """Records, in-graph, the rate each step was given (for the tests only)."""

  def __init__(self, base_rate, slope, capacity=256):
    super().__init__(base_rate, slope)
    self.record = tf.Variable(tf.fill([capacity], -1.0), trainable=False)

  def __call__(self, step):
    rate = super().__call__(step)
    self.record.scatter_nd_update(tf.reshape(tf.cast(step, tf.int32), [1, 1]),
                                  tf.reshape(rate, [1]))
    return rate


@pytest.mark.parametrize("steps_per_execution", [1, 4])
def test_rate_at_every_step_equals_the_schedule(steps_per_execution):
  schedule = RecordingSchedule(0.1, 0.05)
  model, modules = build_model(num_modules=1)
  model.compile(keras.optimizers.SGD(0.1), "mse",
                steps_per_execution=steps_per_execution)
  x, y = toy_data(num_examples=96)
  history = model.fit(x, y, batch_size=4, epochs=1, verbose=0,
                      callbacks=[theseus_tf.ReplacementScheduler(schedule)])
  steps = 24
  assert int(modules[0].replacement_step.numpy()) == steps
  expected = np.minimum(1.0, 0.1 + 0.05 * np.arange(steps))
  np.testing.assert_allclose(schedule.record.numpy()[:steps], expected, atol=1e-6)
  assert history.history["replacement_rate"] == [pytest.approx(expected[-1])]


@pytest.mark.parametrize("steps_per_execution", [1, 4])
def test_switch_to_successor_happens_at_the_exact_step(steps_per_execution):
  # p is ~0 for 6 steps, then 1: from step 6 on only successors run, even when
  # callbacks see one batch in four.
  schedule = schedules.ConstantReplacement(1e-9, replacing_steps=6)
  model, modules = build_model()
  model.compile(keras.optimizers.SGD(0.1), "mse",
                steps_per_execution=steps_per_execution)
  x, y = toy_data(num_examples=80)
  model.fit(x, y, batch_size=4, epochs=1, verbose=0,
            callbacks=[theseus_tf.ReplacementScheduler(schedule)])
  for module in modules:
    assert calls(module.successor) == 20 - 6
    assert calls(module.predecessor.block_layers[0]) == 6


class _BatchLogRecorder(keras.callbacks.Callback):

  def __init__(self):
    super().__init__()
    self.rates = []

  def on_train_batch_end(self, batch, logs=None):
    self.rates.append(logs["replacement_rate"])


def test_rate_is_in_batch_and_epoch_logs_for_later_callbacks(tmp_path):
  schedule = schedules.LinearReplacement(0.5, 0.1)
  model, _ = build_model()
  recorder = _BatchLogRecorder()
  csv_path = tmp_path / "log.csv"
  x, y = toy_data(num_examples=32)
  history = model.fit(
      x, y, batch_size=8, epochs=2, verbose=0,
      callbacks=[theseus_tf.ReplacementScheduler(schedule), recorder,
                 keras.callbacks.CSVLogger(str(csv_path))])
  np.testing.assert_allclose(
      recorder.rates, [0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.0, 1.0], atol=1e-6)
  np.testing.assert_allclose(history.history["replacement_rate"], [0.8, 1.0],
                             atol=1e-6)
  assert "replacement_rate" in csv_path.read_text().splitlines()[0]


class _StopAtEpoch(keras.callbacks.Callback):

  def __init__(self, epoch):
    super().__init__()
    self.epoch = epoch

  def on_epoch_end(self, epoch, logs=None):
    if epoch == self.epoch:
      raise KeyboardInterrupt("simulated crash")


def test_run_resumed_with_backup_and_restore_continues_the_schedule(tmp_path):
  schedule = schedules.LinearReplacement(0.2, 0.02)
  x, y = toy_data()
  backup_dir = str(tmp_path / "backup")
  model, modules = build_model()
  initial_weights = model.get_weights()
  with pytest.raises(KeyboardInterrupt):
    model.fit(x, y, batch_size=8, epochs=4, shuffle=False, verbose=0,
              callbacks=[theseus_tf.ReplacementScheduler(schedule),
                         keras.callbacks.BackupAndRestore(backup_dir),
                         _StopAtEpoch(1)])
  # A new process would rebuild the model from scratch.
  keras.backend.clear_session()
  resumed, resumed_modules = build_model()
  resumed.set_weights(initial_weights)
  history = resumed.fit(
      x, y, batch_size=8, epochs=4, shuffle=False, verbose=0,
      callbacks=[theseus_tf.ReplacementScheduler(schedule),
                 keras.callbacks.BackupAndRestore(backup_dir)])
  # Two epochs of 8 steps were saved; the two resumed epochs continue there.
  assert int(resumed_modules[0].replacement_step.numpy()) == 32
  np.testing.assert_allclose(history.history["replacement_rate"],
                             [0.2 + 0.02 * 23, 0.2 + 0.02 * 31], atol=1e-6)


def test_scheduler_replaces_the_schedule_of_an_already_trained_model():
  model, modules = build_model(schedules.ConstantReplacement(1e-9))
  x, y = toy_data(num_examples=32)
  model.fit(x, y, batch_size=8, epochs=1, verbose=0)
  assert calls(modules[0].successor) == 0
  model.fit(x, y, batch_size=8, epochs=1, verbose=0, callbacks=[
      theseus_tf.ReplacementScheduler(schedules.ConstantReplacement(1.0))])
  assert calls(modules[0].successor) == 4
  assert modules[0].schedule == schedules.ConstantReplacement(1.0)


def test_scheduler_on_a_model_without_module_replacing_fails_clearly():
  inputs = keras.Input((4,))
  model = keras.Model(inputs, keras.layers.Dense(1)(inputs))
  model.compile("sgd", "mse")
  with pytest.raises(ValueError, match="no ModuleReplacing layers"):
    model.fit(np.zeros((4, 4)), np.zeros((4, 1)), verbose=0, callbacks=[
        theseus_tf.ReplacementScheduler(schedules.ConstantReplacement(0.5))])


def test_scheduler_needs_a_schedule():
  with pytest.raises(ValueError, match="needs a schedule"):
    theseus_tf.ReplacementScheduler(None)
