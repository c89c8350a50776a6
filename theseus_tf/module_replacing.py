"""The stochastic switch between a predecessor block and its successor."""

import zlib

import tensorflow as tf

from theseus_tf import schedules
from theseus_tf.backend import add_step_variable, keras, register_serializable
from theseus_tf.sequential_block import SequentialBlock


def _as_block(block, role, name):
  """Normalises a layer or a list of layers to a single Keras layer."""
  if isinstance(block, keras.layers.Layer):
    return block
  if isinstance(block, (list, tuple)):
    if not block:
      raise ValueError(
          f"The {role} block is empty: pass a Keras layer or a non-empty list "
          "of layers.")
    if len(block) == 1:
      return _as_block(block[0], role, name)
    return SequentialBlock(block, name=name)
  raise TypeError(
      f"The {role} block must be a Keras layer or a list of layers, got "
      f"{type(block).__name__}: {block!r}.")


def _build_block(block, input_shape):
  """Builds `block` for `input_shape`; returns its output shape or None."""
  if not block.built:
    block.build(input_shape)
  try:
    return tuple(block.compute_output_shape(input_shape))
  except (NotImplementedError, TypeError, ValueError):
    return None  # Not inferable from the input shape alone.


def _shapes_compatible(a, b):
  return len(a) == len(b) and all(
      x is None or y is None or x == y for x, y in zip(a, b))


@register_serializable
class ModuleReplacing(keras.layers.Layer):
  """Randomly replaces a predecessor module by its compact successor.

  BERT-of-Theseus' module replacing: in training, each optimizer step draws
  whether this module runs its successor (with probability p, the current
  replacement rate) or its predecessor. The draw happens inside the compiled
  graph with `tf.cond`, so only the chosen block is computed and p can change
  every step without retracing. At inference only the successor runs.

  p comes from `schedule`, evaluated on `replacement_step`, a counter kept in
  this layer (and saved with its weights) that counts the training calls made
  so far: it is 0 at the first optimizer update. The draw is a stateless
  function of `(seed, replacement_step)`, so every replica and worker of a
  `tf.distribute` strategy takes the same branch, and a resumed run makes the
  same draws as an uninterrupted one.

  Args:
    predecessor: A Keras layer, or a list of layers applied in order: the
      original module. Frozen unless `freeze_predecessor=False`.
    successor: A Keras layer, or a list of layers: the compact module that
      replaces it. Its output must have the predecessor's shape.
    schedule: A `theseus_tf.schedules.ReplacementSchedule`, or None to have
      it set by the `ReplacementScheduler` callback at the start of `fit`.
    seed: Integer seed of this module's draws. Defaults to a hash of the
      layer name, so that separate processes building the same model agree.
    freeze_predecessor: Whether to make the predecessor non-trainable.
    **kwargs: Base layer arguments (`name`, `dtype`, ...).

  Call arguments:
    inputs: The module's input.
    training: Whether to draw (True) or to run the successor alone.
    **kwargs: Passed to both blocks (e.g. `attention_mask`).

  Example:

  ```python
  inputs = keras.Input((16,))
  x = inputs
  for i in range(3):
    x = theseus_tf.ModuleReplacing(
        predecessor=[keras.layers.Dense(16), keras.layers.Dense(16)],
        successor=keras.layers.Dense(16))(x)
  model = keras.Model(inputs, keras.layers.Dense(2)(x))
  model.compile("adam", "mse")
  model.fit(x_train, y_train, callbacks=[
      theseus_tf.ReplacementScheduler(
          theseus_tf.schedules.LinearReplacement(0.3, slope=1e-3))])
  student = theseus_tf.strip_successor(model)
  ```
  """

  _NO_SCHEDULE_ERROR = (
      "ModuleReplacing layer '{name}' has no replacement schedule. Pass "
      "`callbacks=[theseus_tf.ReplacementScheduler(schedule)]` to `fit`, or "
      "`schedule=` to the layer.")

  def __init__(self,
               predecessor,
               successor,
               schedule=None,
               seed=None,
               freeze_predecessor=True,
               **kwargs):
    super().__init__(**kwargs)
    self.predecessor = _as_block(
        predecessor, "predecessor", name=f"{self.name}_predecessor")
    self.successor = _as_block(
        successor, "successor", name=f"{self.name}_successor")
    if self.predecessor is self.successor:
      raise ValueError(
          "The predecessor and successor are the same layer object: the "
          "successor needs its own weights (see "
          "`theseus_tf.build_successor_layers`).")
    self.schedule = schedules.get(schedule)
    if seed is None:
      seed = zlib.crc32(self.name.encode("utf-8")) & 0x7FFFFFFF
    self.seed = int(seed)
    self.freeze_predecessor = bool(freeze_predecessor)
    if self.freeze_predecessor:
      self.predecessor.trainable = False

  def build(self, input_shape):
    predecessor_shape = _build_block(self.predecessor, input_shape)
    successor_shape = _build_block(self.successor, input_shape)
    if (predecessor_shape is not None and successor_shape is not None and
        not _shapes_compatible(predecessor_shape, successor_shape)):
      raise ValueError(
          f"In ModuleReplacing layer '{self.name}', the successor's output "
          f"shape {successor_shape} differs from the predecessor's "
          f"{predecessor_shape} for input shape {tuple(input_shape)}: the "
          "successor must be a drop-in replacement of the predecessor.")
    self.replacement_step = add_step_variable(self, "replacement_step")
    self.built = True

  def replacement_rate(self, step=None):
    """The replacement rate p at `step` (default: the current step)."""
    if self.schedule is None:
      raise ValueError(self._NO_SCHEDULE_ERROR.format(name=self.name))
    if step is None:
      step = self.replacement_step
    return self.schedule(tf.convert_to_tensor(step, tf.int64))

  def uses_successor(self, step):
    """Whether the draw at `step` picks the successor (a bool tensor).

    A stateless function of `(seed, step)`: identical on every replica.
    """
    step = tf.convert_to_tensor(step, tf.int64)
    draw_seed = tf.stack([tf.constant(self.seed, tf.int64), step])
    draw = tf.random.stateless_uniform([], seed=draw_seed, dtype=tf.float32)
    # draw is in [0, 1): p = 1 always picks the successor, p = 0 never does.
    return draw < self.replacement_rate(step)

  def call(self, inputs, training=None, **kwargs):
    def run_successor():
      return self.successor(inputs, training=training, **kwargs)

    def run_predecessor():
      return self.predecessor(inputs, training=training, **kwargs)

    def draw_and_run():
      step = tf.convert_to_tensor(self.replacement_step)
      outputs = tf.cond(
          self.uses_successor(step), run_successor, run_predecessor)
      # After the draw: auto control dependencies keep reads before this.
      self.replacement_step.assign_add(1)
      return outputs

    if isinstance(training, tf.Tensor) and tf.get_static_value(training) is None:
      return tf.cond(training, draw_and_run, run_successor)
    if training is not None and bool(training):
      return draw_and_run()
    return run_successor()

  def compute_output_shape(self, input_shape):
    return self.successor.compute_output_shape(input_shape)

  def get_config(self):
    config = super().get_config()
    config.update({
        "predecessor": keras.layers.serialize(self.predecessor),
        "successor": keras.layers.serialize(self.successor),
        "schedule": (schedules.serialize(self.schedule)
                     if self.schedule is not None else None),
        "seed": self.seed,
        "freeze_predecessor": self.freeze_predecessor,
    })
    return config

  @classmethod
  def from_config(cls, config):
    config = dict(config)
    config["predecessor"] = keras.layers.deserialize(config["predecessor"])
    config["successor"] = keras.layers.deserialize(config["successor"])
    config["schedule"] = schedules.deserialize(config.get("schedule"))
    return cls(**config)


def module_replacing_layers(model):
  """All `ModuleReplacing` layers of `model`, nested models included, in order."""
  found = []

  def visit(layer):
    if isinstance(layer, ModuleReplacing):
      found.append(layer)
      return
    for sublayer in getattr(layer, "layers", None) or ():
      visit(sublayer)

  visit(model)
  return found
