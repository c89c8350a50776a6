"""Replacement schedules: the probability p that a module uses its successor.

A schedule maps the replacement step t (0 at the first optimizer update) to a
replacement rate p in [0, 1]. It is evaluated inside the compiled training
graph on the step variable kept by each `ModuleReplacing` layer, so p can
change at every step without retracing.
"""

import abc
import numbers

import numpy as np
import tensorflow as tf

from theseus_tf.backend import keras, register_serializable


class ReplacementSchedule(metaclass=abc.ABCMeta):
  """Base class for replacement schedules.

  Subclasses implement `__call__(step)`, returning the replacement rate as a
  float32 scalar tensor, and `get_config()`. Both must be pure functions of
  their arguments: the same step gives the same rate on every replica.
  """

  @abc.abstractmethod
  def __call__(self, step):
    """Returns the replacement rate p for `step` as a float32 scalar tensor.

    Args:
      step: Scalar integer tensor (or Python int), the number of optimizer
        updates made before the current one.
    """

  @abc.abstractmethod
  def get_config(self):
    """Returns the constructor arguments as a JSON-serialisable dict."""

  @classmethod
  def from_config(cls, config):
    return cls(**config)

  def __eq__(self, other):
    return type(self) is type(other) and self.get_config() == other.get_config()

  def __hash__(self):
    return hash((type(self).__name__, tuple(sorted(self.get_config().items()))))

  def __repr__(self):
    args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
    return f"{type(self).__name__}({args})"


def _as_number(name, value):
  """`value` as a float: Python and NumPy reals; not bools, strings or arrays."""
  if isinstance(value, (bool, np.bool_)) or not isinstance(
      value, (numbers.Real, np.floating, np.integer)):
    raise TypeError(
        f"`{name}` must be a number, got {type(value).__name__}: {value!r}.")
  return float(value)


def _check_probability(name, value, allow_zero):
  value = _as_number(name, value)
  lower_ok = value >= 0 if allow_zero else value > 0
  if not (lower_ok and value <= 1):
    interval = "[0, 1]" if allow_zero else "(0, 1]"
    raise ValueError(f"`{name}` must be a probability in {interval}, got {value!r}.")
  return value


@register_serializable
class ConstantReplacement(ReplacementSchedule):
  """Replaces each module with probability `rate` until `replacing_steps`.

  The paper's constant schedule: p = `rate` for the first `replacing_steps`
  optimizer updates, then p = 1 (the successor is trained alone).

  Args:
    rate: The replacement rate, in (0, 1].
    replacing_steps: Number of steps at `rate` before switching to p = 1, or
      None to keep `rate` for the whole run.

  Example:

  ```python
  schedule = theseus_tf.schedules.ConstantReplacement(0.5, replacing_steps=2000)
  float(schedule(1999)), float(schedule(2000))  # (0.5, 1.0)
  ```
  """

  def __init__(self, rate, replacing_steps=None):
    self.rate = _check_probability("rate", rate, allow_zero=False)
    if replacing_steps is not None and (
        isinstance(replacing_steps, (bool, np.bool_)) or
        not isinstance(replacing_steps, (int, np.integer)) or
        replacing_steps < 0):
      raise ValueError(
          "`replacing_steps` must be a non-negative integer number of steps or "
          f"None (never switch to p = 1), got {replacing_steps!r}.")
    self.replacing_steps = (
        None if replacing_steps is None else int(replacing_steps))

  def __call__(self, step):
    rate = tf.constant(self.rate, tf.float32)
    if self.replacing_steps is None:
      return rate
    step = tf.cast(step, tf.int64)
    return tf.where(step < self.replacing_steps, rate, tf.constant(1.0))

  def get_config(self):
    return {"rate": self.rate, "replacing_steps": self.replacing_steps}


@register_serializable
class LinearReplacement(ReplacementSchedule):
  """The paper's curriculum: p = min(1, base_rate + slope * t).

  Args:
    base_rate: The rate at the first step, in [0, 1].
    slope: How much the rate grows per step, >= 0. p reaches 1 after
      `ceil((1 - base_rate) / slope)` steps.

  Example:

  ```python
  # The paper's GLUE setting: p goes from 0.3 to 1 in 1,750 steps.
  schedule = theseus_tf.schedules.LinearReplacement(0.3, slope=4e-4)
  ```
  """

  def __init__(self, base_rate, slope):
    self.base_rate = _check_probability("base_rate", base_rate, allow_zero=True)
    self.slope = _as_number("slope", slope)
    if self.slope < 0:
      raise ValueError(f"`slope` must be a number >= 0, got {slope!r}.")

  def __call__(self, step):
    # float64 keeps base + k * t exact to ~1e-12 even at millions of steps.
    t = tf.cast(step, tf.float64)
    rate = tf.minimum(
        tf.constant(1.0, tf.float64), self.base_rate + self.slope * t)
    return tf.cast(rate, tf.float32)

  def get_config(self):
    return {"base_rate": self.base_rate, "slope": self.slope}


def serialize(schedule):
  """Returns a Keras-serialisable dict of `schedule`."""
  return keras.utils.serialize_keras_object(schedule)


def deserialize(config):
  """Inverse of `serialize`; also accepts a schedule instance or None."""
  if config is None or isinstance(config, ReplacementSchedule):
    return config
  return keras.utils.deserialize_keras_object(
      config,
      module_objects={
          "ConstantReplacement": ConstantReplacement,
          "LinearReplacement": LinearReplacement,
      })


def get(identifier):
  """Returns a schedule from an instance, a config dict or None."""
  schedule = deserialize(identifier)
  if schedule is not None and not isinstance(schedule, ReplacementSchedule):
    raise TypeError(
        "Expected a `theseus_tf.schedules.ReplacementSchedule`, got "
        f"{type(identifier).__name__}: {identifier!r}.")
  return schedule
