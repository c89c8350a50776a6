"""Tests that tests/layer_test_helper.run_layer_test catches broken layers."""

import pytest
import tensorflow as tf

from theseus_tf.backend import keras, register_serializable
from tests.layer_test_helper import run_layer_test

_INPUTS = tf.random.stateless_normal([2, 3, 4], seed=[0, 1])


@register_serializable
class _Scale(keras.layers.Layer):
  """A correct layer: a learned per-feature scale."""

  def __init__(self, offset=0.0, **kwargs):
    super().__init__(**kwargs)
    self.offset = offset

  def build(self, input_shape):
    self.scale = self.add_weight(name="scale", shape=(input_shape[-1],),
                                 initializer="random_normal")
    self.built = True

  def call(self, inputs, gate=None):
    outputs = inputs * tf.cast(self.scale, inputs.dtype) + self.offset
    if gate is not None:
      outputs *= tf.cast(gate, outputs.dtype)[..., None]
    return outputs

  def get_config(self):
    return dict(super().get_config(), offset=self.offset)


@register_serializable
class _ForgetsOffset(_Scale):

  def get_config(self):
    config = super().get_config()
    del config["offset"]
    return config


class _Unregistered(_Scale):
  pass


@register_serializable
class _AlwaysFloat32(_Scale):

  def call(self, inputs, gate=None):
    return tf.cast(super().call(inputs, gate), tf.float32)


def test_a_correct_layer_passes(tmp_path):
  run_layer_test(lambda **kwargs: _Scale(offset=0.5, **kwargs), _INPUTS,
                 tmp_path, call_kwargs={"gate": tf.constant([[1, 1, 0]] * 2)})


@pytest.mark.parametrize("layer_class, error", [
    (_ForgetsOffset, "rebuilt from its config"),
    (_Unregistered, "Could not locate class '_Unregistered'|_Unregistered "
     "deserialized as"),
    (_AlwaysFloat32, "mixed_float16"),
])
def test_broken_layers_fail(tmp_path, layer_class, error):
  with pytest.raises((AssertionError, TypeError, ValueError), match=error):
    run_layer_test(lambda **kwargs: layer_class(offset=0.5, **kwargs),
                   _INPUTS, tmp_path)
