"""Removes the predecessors from a Theseus model, keeping the successors."""

import tensorflow as tf

from theseus_tf.backend import IS_KERAS_3, keras
from theseus_tf.module_replacing import ModuleReplacing, module_replacing_layers


def strip_successor(model):
  """Returns `model` with every `ModuleReplacing` replaced by its successor.

  The result is a plain Keras model of the successor's depth: it holds no
  predecessor variables, computes what `model` computes in inference mode,
  and can be saved, exported or fine-tuned on its own. Like
  `tfmot.sparsity.keras.strip_pruning`, it reuses the original layer objects
  (successors, embeddings, heads), so no weights are copied.

  Args:
    model: A Functional or Sequential Keras model, possibly with nested
      models, or a model with a block stack (`blocks` and
      `with_blocks(blocks)`, as `theseus_tf.models.BertClassifier` has). A
      model without `ModuleReplacing` layers is returned as is.

  Returns:
    A Keras model: of `model`'s class when it has a block stack, else a
    Functional or Sequential model. A Theseus KerasHub classifier gives a
    classifier of its predecessor's KerasHub class (weights copied, the
    preprocessor shared).

  Example:

  ```python
  student = theseus_tf.strip_successor(theseus_model)
  student.save("student.keras")
  ```
  """
  if not isinstance(model, keras.Model):
    raise TypeError(
        f"`strip_successor` expects a Keras model, got {type(model).__name__}.")
  if not module_replacing_layers(model):
    return model
  if hasattr(model, "with_blocks") and hasattr(model, "blocks"):
    # Models that know their block stack (e.g. `BertClassifier`) rebuild
    # themselves, so the result keeps their class.
    stripped = model.with_blocks([
        block.successor if isinstance(block, ModuleReplacing) else block
        for block in model.blocks])
    if not module_replacing_layers(stripped):
      return stripped
  if not _is_graph_network(model):
    raise ValueError(
        f"Cannot strip '{model.name}', a subclassed {type(model).__name__}: "
        "its layers are wired in Python code that cannot be rewritten. Build "
        "it as a Functional or Sequential model, or rebuild it yourself from "
        "each ModuleReplacing layer's `.successor`.")

  def strip_layer(layer):
    if isinstance(layer, ModuleReplacing):
      return layer.successor
    if isinstance(layer, keras.Model) and module_replacing_layers(layer):
      return strip_successor(layer)
    return layer  # Shared, as in strip_pruning: no copy of the weights.

  if not IS_KERAS_3 and not isinstance(model, keras.Sequential):
    return _rebuild_tf_keras_functional(model, strip_layer)
  return keras.models.clone_model(model, clone_function=strip_layer)


def _rebuild_tf_keras_functional(model, replace_layer):
  """tf-keras: `model`'s graph on new inputs, each layer through `replace_layer`.

  tf-keras' `clone_model` never returns when a layer is replaced by a
  Functional model (it numbers that model's graph nodes from 1, the config
  from 0, and waits for node 0 forever), so this walks the graph the way
  tf-keras' own `Functional._run_internal_graph` does.
  """
  # pylint: disable=protected-access
  new_inputs = [
      keras.Input(batch_shape=x.shape, dtype=x.dtype, name=name)
      for x, name in zip(model.inputs, model.input_names)
  ]
  usage = model._tensor_usage_count
  tensors = {}
  for x, y in zip(model.inputs, new_inputs):
    tensors[str(id(x))] = [y] * usage[str(id(x))]
  for depth in sorted(model._nodes_by_depth, reverse=True):
    for node in model._nodes_by_depth[depth]:
      if node.is_input or any(i not in tensors for i in node.flat_input_ids):
        continue  # Inputs exist already; a node off the paths is skipped.
      args, kwargs = node.map_arguments(tensors)
      outputs = replace_layer(node.layer)(*args, **kwargs)
      for x_id, y in zip(node.flat_output_ids, tf.nest.flatten(outputs)):
        tensors[x_id] = [y] * usage[x_id]
  outputs = [tensors[str(id(x))].pop() for x in model.outputs]
  return keras.Model(
      inputs=tf.nest.pack_sequence_as(model._nested_inputs, new_inputs),
      outputs=tf.nest.pack_sequence_as(model._nested_outputs, outputs),
      name=model.name)


def _is_graph_network(model):
  if isinstance(model, keras.Sequential):
    return True
  # Keras 3 Functional models have `_run_through_graph`, tf-keras ones
  # `_is_graph_network`.
  return bool(getattr(model, "_is_graph_network", False)) or hasattr(
      model, "_run_through_graph")
