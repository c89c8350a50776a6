"""`WeightMap`: one Keras variable and the Hugging Face tensor(s) it is made of.

A converter describes a model as a list of `WeightMap`s, built from the
helpers below; the same list loads a checkpoint and writes one.
"""

import numpy as np


class WeightMap:
  """One Keras variable and the Hugging Face tensor(s) it is made of.

  Args:
    hf_names: the Hugging Face tensor names, in the order `to_keras` takes
      them and `to_hf` returns them.
    variable: the Keras variable.
    to_keras: list of Hugging Face arrays -> the variable's value.
    to_hf: the variable's value -> list of Hugging Face arrays.

  Example:

  ```python
  # PyTorch Linear stores [out, in]; Keras Dense [in, out].
  WeightMap(["pooler.dense.weight"], backbone.pooler.kernel,
            to_keras=lambda arrays: arrays[0].T, to_hf=lambda v: [v.T])
  ```
  """

  def __init__(self, hf_names, variable, to_keras, to_hf):
    self.hf_names = tuple(hf_names)
    self.variable = variable
    self.to_keras = to_keras
    self.to_hf = to_hf

  def hf_shapes(self):
    """The shapes of the Hugging Face tensors, from the variable's shape."""
    zeros = np.zeros(tuple(self.variable.shape), "float32")
    return [a.shape for a in self.to_hf(zeros)]


def same(name, variable):
  """A variable stored as is under `name`."""
  return WeightMap([name], variable, lambda a: a[0], lambda v: [v])


def dense(prefix, layer):
  """A Keras `Dense` as a PyTorch `Linear` (`<prefix>.weight`, `.bias`)."""
  # PyTorch Linear stores [out, in]; Keras Dense [in, out].
  return [
      WeightMap([f"{prefix}.weight"], layer.kernel, lambda a: a[0].T,
                lambda v: [v.T]),
      same(f"{prefix}.bias", layer.bias),
  ]


def layer_norm(prefix, layer):
  """A Keras `LayerNormalization` as a PyTorch `LayerNorm`."""
  return [
      same(f"{prefix}.weight", layer.gamma),
      same(f"{prefix}.bias", layer.beta),
  ]


def fused_dense(prefixes, layer):
  """One Keras `Dense` holding several PyTorch `Linear`s side by side.

  E.g. a fused `[hidden, 3 * hidden]` query/key/value kernel.
  """
  count = len(prefixes)
  return [
      WeightMap([f"{p}.weight" for p in prefixes], layer.kernel,
                lambda a: np.concatenate([w.T for w in a], axis=1),
                lambda v: [w.T for w in np.split(v, count, axis=1)]),
      WeightMap([f"{p}.bias" for p in prefixes], layer.bias, np.concatenate,
                lambda v: np.split(v, count)),
  ]
