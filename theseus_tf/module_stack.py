"""Modules of one stack tell each other which input gradients a step needs."""

import threading

import tensorflow as tf


class ModuleStack:
  """`ModuleReplacing` layers applied one after another, bottom first.

  In a training step a module needs the gradient of its input only if
  something below it trains at that step: a module that ran its successor
  (or a trainable predecessor), or the layers that feed the stack. Modules
  linked into a stack pass that fact up as they run, so each step stops the
  backward pass at the lowest module that ran its successor, and frozen
  predecessors below it run forward only; PyTorch's autograd does the same by
  itself. At p = 0 nothing trains and a step needs no backward pass at all.
  The gradients that reach the weights are unchanged.

  `theseus_tf.replace_modules` links the modules it makes, and a
  `theseus_tf.models.BertBackbone` of `ModuleReplacing` blocks links them with
  `input_needs_gradient` saying whether its embeddings train. A module
  called out of order, or in another graph, assumes that its input needs a
  gradient: the stack never changes results, only what is computed.

  Args:
    modules: The `ModuleReplacing` layers, each called once per training
      step, in this order.
    input_needs_gradient: Whether the input of the bottom module comes from
      layers that train: a bool, or a callable returning one, asked each time
      the training step is traced.

  Example:

  ```python
  modules = theseus_tf.replace_modules(layers, num_modules=3,
                                       input_needs_gradient=False)
  modules[0].stack.modules == modules  # True
  ```
  """

  def __init__(self, modules, input_needs_gradient=True):
    self.modules = list(modules)
    self.input_needs_gradient = input_needs_gradient
    # What the last module to run passed up, per thread: a MirroredStrategy
    # traces each replica's step in its own thread.
    self._passed_up = threading.local()
    for module in self.modules:
      module.stack = self

  def input_gradient_needed(self, module):
    """Whether `module`'s input needs a gradient: a bool or a bool tensor."""
    if module is self.modules[0]:
      needed = self.input_needs_gradient
      return bool(needed() if callable(needed) else needed)
    passed_up = self._passed_up
    if (getattr(passed_up, "graph", None) is _current_graph() and
        getattr(passed_up, "next_module", None) is module):
      return passed_up.gradient_needed
    return True

  def pass_up(self, module, gradient_needed):
    """Records whether the module above `module` needs an input gradient."""
    index = self.modules.index(module)
    self._passed_up.graph = _current_graph()
    self._passed_up.next_module = (
        self.modules[index + 1] if index + 1 < len(self.modules) else None)
    self._passed_up.gradient_needed = gradient_needed


def _current_graph():
  return None if tf.executing_eagerly() else tf.compat.v1.get_default_graph()
