"""Tiny layers and models for the core's unit tests."""

import numpy as np
import tensorflow as tf

from theseus_tf.backend import IS_KERAS_3, keras, register_serializable


@register_serializable
class CountingDense(keras.layers.Layer):
  """A Dense layer that counts how often it runs, and can take a mask.

  The counter is incremented in-graph, so inside `tf.cond` it only moves when
  this layer's branch is taken.
  """

  def __init__(self, units, **kwargs):
    super().__init__(**kwargs)
    self.units = units

  def build(self, input_shape):
    self.kernel = self.add_weight(
        name="kernel", shape=(input_shape[-1], self.units),
        initializer="glorot_uniform")
    self.bias = self.add_weight(
        name="bias", shape=(self.units,), initializer="zeros")
    # Sync-on-read: each replica counts locally, with no cross-replica
    # merge inside the `tf.cond` branch; reads give the first replica's count.
    if IS_KERAS_3:
      self.calls = keras.Variable(
          0, dtype="int64", trainable=False, name="calls",
          synchronization="on_read", aggregation="only_first_replica")
    else:
      self.calls = self.add_weight(
          name="calls", shape=(), dtype=tf.int64, initializer="zeros",
          trainable=False, synchronization=tf.VariableSynchronization.ON_READ,
          aggregation=tf.VariableAggregation.ONLY_FIRST_REPLICA)
    self.built = True

  def call(self, inputs, attention_mask=None):
    self.calls.assign_add(1)
    outputs = tf.matmul(inputs, self.kernel) + self.bias
    if attention_mask is not None:
      outputs = outputs * tf.cast(attention_mask, outputs.dtype)
    return tf.nn.tanh(outputs)

  def compute_output_shape(self, input_shape):
    return tuple(input_shape[:-1]) + (self.units,)

  def get_config(self):
    return dict(super().get_config(), units=self.units)


def calls(layer):
  return int(layer.calls.numpy())


def toy_data(num_examples=64, width=8, seed=0):
  rng = np.random.default_rng(seed)
  x = rng.normal(size=(num_examples, width)).astype("float32")
  y = (x.sum(axis=1, keepdims=True) > 0).astype("float32")
  return x, y


def random_bert_inputs(batch=2, length=7, padding=2, seed=0):
  """A BERT input batch of random token ids; row 0 ends in `padding` pads."""
  rng = np.random.default_rng(seed)
  mask = np.ones((batch, length), "int32")
  mask[0, length - padding:] = 0
  ids = rng.integers(1, 50, (batch, length)).astype("int32") * mask
  return {"input_ids": ids,
          "attention_mask": mask,
          "token_type_ids": np.zeros((batch, length), "int32")}
