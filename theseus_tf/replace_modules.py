"""Builds successor layers and wraps a stack of layers into Theseus modules."""

from theseus_tf.backend import check_keras_layer
from theseus_tf.module_grouping import group_modules, select_successor_layers
from theseus_tf.module_replacing import ModuleReplacing
from theseus_tf.module_stack import ModuleStack


def copy_layer(layer, name):
  """A new layer with `layer`'s config and a copy of its weights.

  Args:
    layer: A built Keras layer.
    name: The copy's name.

  Returns:
    A built, trainable layer of the same class, with its own variables.
  """
  if not layer.built:
    raise ValueError(
        f"Layer '{layer.name}' is not built, so there are no weights to copy: "
        "build the predecessor model (call it once or pass `keras.Input`s) "
        "before creating successors.")
  build_config = layer.get_build_config()
  if not build_config:
    raise ValueError(
        f"Layer '{layer.name}' was built without a recorded input shape, so "
        "its copy cannot be built: build it by calling it on an input (e.g. "
        "`layer(keras.Input(shape))`) rather than with `layer.build`.")
  config = dict(layer.get_config(), name=name, trainable=True)
  clone = layer.__class__.from_config(config)
  clone.build_from_config(build_config)
  clone.set_weights(layer.get_weights())
  return clone


def build_successor_layers(predecessor_layers, num_successor_layers,
                           init="bottom", name_prefix="successor"):
  """Creates successor layers initialised from chosen predecessor layers.

  Args:
    predecessor_layers: The predecessor's built layers, bottom first.
    num_successor_layers: How many successor layers to create.
    init: Which predecessor layers to copy: `"bottom"` (the paper's choice),
      `"top"`, `"every_k"` or a list of indices (see
      `theseus_tf.select_successor_layers`).
    name_prefix: Successor `i` is named `f"{name_prefix}_{i}"`.

  Returns:
    A list of `num_successor_layers` new, trainable layers.
  """
  predecessor_layers = list(predecessor_layers)
  indices = select_successor_layers(
      len(predecessor_layers), num_successor_layers, init)
  return [
      copy_layer(predecessor_layers[j], f"{name_prefix}_{i}")
      for i, j in enumerate(indices)
  ]


def replace_modules(layers,
                    num_modules=None,
                    grouping=None,
                    init="bottom",
                    schedule=None,
                    seed=None,
                    freeze_predecessor=True,
                    input_needs_gradient=True,
                    name_prefix="module_replacing"):
  """Wraps a stack of built layers into `ModuleReplacing` modules.

  The stack is split into modules (equal ones, or as `grouping` says); each
  module gets a one-layer successor initialised from the predecessor layer
  that `init` selects.

  Args:
    layers: The predecessor's built layers, applied in order, bottom first.
    num_modules: Number of modules (= successor depth).
    grouping: Explicit module sizes or indices for uneven ratios (see
      `theseus_tf.group_modules`).
    init: Successor initialisation (see `build_successor_layers`).
    schedule: Optional `ReplacementSchedule` for every module.
    seed: Optional base seed; module `i` draws with `seed + i`.
    freeze_predecessor: Whether to freeze the predecessor layers.
    input_needs_gradient: Whether the stack's input comes from layers that
      train. If not, a training step stops its backward pass at the lowest
      module that ran its successor (see `theseus_tf.ModuleStack`); a
      `theseus_tf.models.BertBackbone` sets it from its embeddings.
    name_prefix: Module `i` is named `f"{name_prefix}_{i}"`.

  Returns:
    A list of `ModuleReplacing` layers, to be applied in order, linked into
    a `theseus_tf.ModuleStack`.

  Example:

  ```python
  modules = theseus_tf.replace_modules(encoder_layers, num_modules=6)
  for module in modules:
    hidden = module(hidden, attention_mask=mask)
  ```
  """
  layers = list(layers)
  for layer in layers:
    check_keras_layer(layer, "The layers to replace")
  groups = group_modules(len(layers), num_modules, grouping)
  successors = build_successor_layers(
      layers, len(groups), init, name_prefix=f"{name_prefix}_successor")
  modules = [
      ModuleReplacing(
          predecessor=[layers[j] for j in group],
          successor=successor,
          schedule=schedule,
          seed=None if seed is None else seed + i,
          freeze_predecessor=freeze_predecessor,
          name=f"{name_prefix}_{i}")
      for i, (group, successor) in enumerate(zip(groups, successors))
  ]
  ModuleStack(modules, input_needs_gradient=input_needs_gradient)
  return modules
