"""Removes the predecessors from a Theseus model, keeping the successors."""

from theseus_tf.backend import keras
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
    Functional or Sequential model.

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

  return keras.models.clone_model(model, clone_function=strip_layer)


def _is_graph_network(model):
  if isinstance(model, keras.Sequential):
    return True
  # Keras 3 Functional models have `_run_through_graph`, tf-keras ones
  # `_is_graph_network`.
  return bool(getattr(model, "_is_graph_network", False)) or hasattr(
      model, "_run_through_graph")
