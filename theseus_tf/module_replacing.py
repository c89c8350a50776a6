"""The stochastic switch between a predecessor block and its successor."""

import zlib

import tensorflow as tf

from theseus_tf import schedules
from theseus_tf.backend import IS_KERAS_3
from theseus_tf.backend import add_step_variable
from theseus_tf.backend import check_keras_layer
from theseus_tf.backend import freeze
from theseus_tf.backend import keras
from theseus_tf.backend import register_serializable
from theseus_tf.sequential_block import SequentialBlock


def _as_block(block, role, name):
  """Normalises a layer or a list of layers to a single Keras layer."""
  if isinstance(block, (list, tuple)):
    if not block:
      raise ValueError(
          f"The {role} block is empty: pass a Keras layer or a non-empty list "
          "of layers.")
    if len(block) == 1:
      return _as_block(block[0], role, name)
    return SequentialBlock(block, name=name)
  check_keras_layer(block, f"The {role} block")
  return block


def _static_shape(output):
  """The static shape of the first tensor in `output`, as a tuple."""
  return tuple(tf.nest.flatten(output)[0].shape)


def _inferred_output_shape(block, input_shape):
  """tf-keras: `block`'s output shape for `input_shape`, or None if unknown."""
  try:
    return tuple(block.compute_output_shape(input_shape))
  except (NotImplementedError, TypeError, ValueError):
    return None  # Not inferable from the input shape alone.


def _shapes_compatible(a, b):
  return len(a) == len(b) and all(
      x is None or y is None or x == y for x, y in zip(a, b))


def _as_spec(value):
  """A `keras.KerasTensor` standing for a tensor; other values unchanged."""
  if hasattr(value, "shape") and hasattr(value, "dtype"):
    return keras.KerasTensor(tuple(value.shape), dtype=value.dtype)
  return value


def _logical_or(a, b):
  """`a or b` for Python bools and bool tensors; a Python bool if it can be."""
  if a is True or b is True:
    return True
  if a is False:
    return b
  if b is False:
    return a
  return tf.logical_or(a, b)


@tf.custom_gradient
def _with_zero_gradients(outputs, *weights):
  """Identity on `outputs` that gives each of `weights` a zero gradient."""

  def grad(output_gradient):
    return (output_gradient,) + tuple(tf.zeros_like(w) for w in weights)

  return tf.identity(outputs), grad


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
    self._freeze_predecessor()
    # The `theseus_tf.ModuleStack` this module is part of, if any.
    self.stack = None
    # Keras 3 checks the blocks' output shapes by tracing them with the first
    # call's arguments (see `_trace_blocks`); tf-keras in `build`.
    self._output_shapes_checked = False

  def _freeze_predecessor(self):
    if self.freeze_predecessor:
      # Also freezes weights created since the last time (Keras 3 creates
      # them trainable when a frozen layer is built later, e.g. on loading).
      freeze(self.predecessor)

  def build(self, input_shape):
    for block in (self.predecessor, self.successor):
      if not block.built:
        block.build(input_shape)
    if not IS_KERAS_3:
      self._check_output_shapes(
          _inferred_output_shape(self.predecessor, input_shape),
          _inferred_output_shape(self.successor, input_shape),
          f"input shape {tuple(input_shape)}")
    self._freeze_predecessor()
    self.replacement_step = add_step_variable(self, "replacement_step")
    self.built = True

  def _check_output_shapes(self, predecessor_shape, successor_shape, where):
    if (predecessor_shape is not None and successor_shape is not None and
        not _shapes_compatible(predecessor_shape, successor_shape)):
      raise ValueError(
          f"In ModuleReplacing layer '{self.name}', the successor's output "
          f"shape {successor_shape} differs from the predecessor's "
          f"{predecessor_shape} for {where}: the successor must be a drop-in "
          "replacement of the predecessor.")
    self._output_shapes_checked = True

  def _trace_blocks(self, inputs, kwargs):
    """Keras 3: traces both blocks symbolically; returns the successor's spec.

    Checks that their outputs have one shape, whichever block a draw picks,
    and creates the weights of sublayers that blocks make on their first call
    (frozen at once in the predecessor).
    """
    inputs = tf.nest.map_structure(_as_spec, inputs)
    kwargs = tf.nest.map_structure(_as_spec, kwargs)
    predecessor_spec = self.predecessor.compute_output_spec(inputs, **kwargs)
    successor_spec = self.successor.compute_output_spec(inputs, **kwargs)
    self._freeze_predecessor()
    self._check_output_shapes(
        _static_shape(predecessor_spec), _static_shape(successor_spec),
        f"input shape {_static_shape(inputs)}")
    return successor_spec

  def compute_output_spec(self, inputs, training=None, **kwargs):
    del training  # The output spec is the same in training and inference.
    return self._trace_blocks(inputs, kwargs)

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
    if IS_KERAS_3 and not self._output_shapes_checked:
      self._trace_blocks(inputs, kwargs)
    run_successor = self._runner(self.successor, inputs, training, kwargs)
    draw_and_run = lambda: self._draw_and_run(inputs, training, kwargs)
    if isinstance(training, tf.Tensor) and tf.get_static_value(training) is None:
      return tf.cond(training, draw_and_run, run_successor)
    if training is not None and bool(training):
      return draw_and_run()
    return run_successor()

  def _runner(self, block, inputs, training, kwargs, input_gradient=True):
    """A function that runs `block` (a branch of the draw's `tf.cond`)."""

    def run_block():
      if input_gradient:
        return block(inputs, training=training, **kwargs)
      # Nothing below trains at this step: the backward pass stops at this
      # block's input, and skips a frozen block altogether.
      outputs = block(tf.nest.map_structure(tf.stop_gradient, inputs),
                      training=training, **kwargs)
      if not block.trainable_weights:
        outputs = tf.nest.map_structure(tf.stop_gradient, outputs)
      return outputs

    return run_block

  def _draw_and_run(self, inputs, training, kwargs):
    """A training call: draws a block, runs it, counts the step."""
    uses_successor = self.uses_successor(self.replacement_step)
    # A Python bool, or a bool tensor that depends on the draws below.
    input_gradient = (True if self.stack is None else
                      self.stack.input_gradient_needed(self))
    runner = lambda block, gradient: self._runner(
        block, inputs, training, kwargs, gradient)
    if tf.executing_eagerly():
      outputs = self._run_drawn_block_eagerly(
          bool(uses_successor),
          runner(self.successor, bool(input_gradient)),
          runner(self.predecessor, bool(input_gradient)))
    elif isinstance(input_gradient, bool):
      outputs = tf.cond(uses_successor,
                        runner(self.successor, input_gradient),
                        runner(self.predecessor, input_gradient))
    else:
      branch = (2 * tf.cast(uses_successor, tf.int32) +
                tf.cast(input_gradient, tf.int32))
      outputs = tf.switch_case(branch, [
          runner(self.predecessor, False), runner(self.predecessor, True),
          runner(self.successor, False), runner(self.successor, True)])
    if self.stack is not None:
      self.stack.pass_up(self, _logical_or(
          input_gradient, self._drawn_block_trains(uses_successor)))
    # After the draw: auto control dependencies keep reads before this.
    self.replacement_step.assign_add(1)
    return outputs

  def _drawn_block_trains(self, uses_successor):
    """Whether the drawn block has trainable weights: a bool or bool tensor."""
    successor_trains = bool(self.successor.trainable_weights)
    if successor_trains == bool(self.predecessor.trainable_weights):
      return successor_trains
    return uses_successor if successor_trains else tf.logical_not(
        uses_successor)

  def _run_drawn_block_eagerly(self, uses_successor, run_successor,
                               run_predecessor):
    # In a compiled step `tf.cond` gives the weights of the block that did
    # not run a zero gradient; eager `tf.cond` runs one branch only, which
    # would give them none. Zeros in both modes: one semantics, and no
    # "gradients do not exist" warning at every eager step.
    if uses_successor:
      outputs, idle_block = run_successor(), self.predecessor
    else:
      outputs, idle_block = run_predecessor(), self.successor
    if not idle_block.trainable_weights:
      return outputs
    flat = tf.nest.flatten(outputs)
    flat[0] = _with_zero_gradients(flat[0], *idle_block.trainable_weights)
    return tf.nest.pack_sequence_as(outputs, flat)

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
