import json

import numpy as np
import pytest
import tensorflow as tf

from theseus_tf import schedules


def test_constant_replacement_switches_to_one_at_replacing_steps():
  schedule = schedules.ConstantReplacement(0.5, replacing_steps=10)
  assert [float(schedule(t)) for t in (0, 9, 10, 1000)] == [0.5, 0.5, 1.0, 1.0]


def test_constant_replacement_without_replacing_steps_never_switches():
  schedule = schedules.ConstantReplacement(0.3)
  assert float(schedule(10**9)) == pytest.approx(0.3)


def test_linear_replacement_follows_base_plus_slope_times_step():
  schedule = schedules.LinearReplacement(base_rate=0.3, slope=1e-3)
  steps = np.arange(0, 2000, 7)
  expected = np.minimum(1.0, 0.3 + 1e-3 * steps)
  actual = np.array([float(schedule(int(t))) for t in steps])
  np.testing.assert_allclose(actual, expected, rtol=0, atol=1e-7)
  assert float(schedule(700)) == 1.0


def test_schedule_is_evaluated_in_graph_without_retracing():
  schedule = schedules.LinearReplacement(0.1, 0.01)
  step = tf.Variable(0, dtype=tf.int64)

  @tf.function
  def rate():
    value = schedule(step)
    step.assign_add(1)
    return value

  values = [float(rate()) for _ in range(5)]
  np.testing.assert_allclose(values, [0.1, 0.11, 0.12, 0.13, 0.14], atol=1e-7)
  assert rate.experimental_get_tracing_count() == 1


@pytest.mark.parametrize("schedule", [
    schedules.ConstantReplacement(0.7, replacing_steps=100),
    schedules.ConstantReplacement(1.0),
    schedules.LinearReplacement(0.0, 0.0),
    schedules.LinearReplacement(0.3, 4e-4),
])
def test_schedules_round_trip_through_config_and_serialization(schedule):
  assert type(schedule).from_config(schedule.get_config()) == schedule
  restored = schedules.deserialize(schedules.serialize(schedule))
  assert restored == schedule and restored is not schedule
  assert schedules.get(schedules.serialize(schedule)) == schedule


@pytest.mark.parametrize("kwargs, message", [
    (dict(rate=0.0), r"\(0, 1\]"),
    (dict(rate=1.5), r"\(0, 1\]"),
    (dict(rate=-0.1), r"\(0, 1\]"),
    (dict(rate=0.5, replacing_steps=-1), "non-negative"),
    (dict(rate=0.5, replacing_steps=2.5), "non-negative"),
])
def test_constant_replacement_rejects_bad_arguments(kwargs, message):
  with pytest.raises(ValueError, match=message):
    schedules.ConstantReplacement(**kwargs)


@pytest.mark.parametrize("kwargs, message", [
    (dict(base_rate=-0.1, slope=0.1), r"\[0, 1\]"),
    (dict(base_rate=1.1, slope=0.1), r"\[0, 1\]"),
    (dict(base_rate=0.5, slope=-1e-3), "slope"),
])
def test_linear_replacement_rejects_bad_arguments(kwargs, message):
  with pytest.raises(ValueError, match=message):
    schedules.LinearReplacement(**kwargs)


def test_get_rejects_what_is_not_a_schedule():
  with pytest.raises((TypeError, ValueError)):
    schedules.get(0.5)


@pytest.mark.parametrize("make", [
    lambda: schedules.ConstantReplacement(np.float32(0.5), np.int64(10)),
    lambda: schedules.LinearReplacement(np.float64(0.3), np.float32(4e-4)),
])
def test_numpy_scalars_are_numbers(make):
  schedule = make()
  config = schedule.get_config()
  assert all(type(v) in (float, int) for v in config.values())
  assert json.dumps(config)  # Serialisable in `.keras` files.


@pytest.mark.parametrize("make", [
    lambda: schedules.ConstantReplacement(True),
    lambda: schedules.ConstantReplacement("0.5"),
    lambda: schedules.ConstantReplacement(np.array([0.5])),
    lambda: schedules.LinearReplacement(True, 0.1),
    lambda: schedules.LinearReplacement(0.3, "4e-4"),
])
def test_bools_strings_and_arrays_are_not_rates(make):
  with pytest.raises(TypeError, match="must be a number"):
    make()


def test_replacing_steps_rejects_bools():
  with pytest.raises(ValueError, match="non-negative integer"):
    schedules.ConstantReplacement(0.5, replacing_steps=True)
