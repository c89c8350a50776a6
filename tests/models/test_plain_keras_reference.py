"""`BertBackbone` computes what BERT built from stock Keras layers computes.

The reference is the textbook Keras BERT: `MultiHeadAttention` (separate
query/key/value `EinsumDense`s), `Dense` and `LayerNormalization` per layer,
`Embedding`s, a tanh `Dense` pooler, holding the backbone's weights (the
fused qkv kernel split per projection and head). It pins down the fused,
row-wise layer (`BertTransformerLayer`) and `BertBackbone.from_layers` to the
standard semantics. Speed against it: `theseus-tf benchmark --skip-training
--formats keras --batch-sizes 1,32` (docs/RESULTS.md).
"""

import numpy as np
import pytest
import tensorflow as tf

from theseus_tf.backend import keras
from theseus_tf.models import BertBackbone
from tests.toy_layers import random_bert_inputs

SIZES = dict(vocabulary_size=50, num_layers=3, num_heads=4, hidden_dim=16,
             intermediate_dim=32, max_sequence_length=16)


class PlainKerasBert(keras.Model):
  """BERT from stock Keras layers, of `backbone`'s sizes and `num_layers`."""

  def __init__(self, backbone, num_layers):
    super().__init__()
    hidden = backbone.hidden_dim
    heads = backbone.num_heads
    epsilon = backbone.layer_norm_epsilon
    self.num_heads = heads
    self.token_embedding = keras.layers.Embedding(backbone.vocabulary_size,
                                                  hidden)
    self.position_embedding = keras.layers.Embedding(
        backbone.max_sequence_length, hidden)
    self.segment_embedding = keras.layers.Embedding(backbone.num_segments,
                                                    hidden)
    self.embedding_norm = keras.layers.LayerNormalization(epsilon=epsilon)
    self.blocks = [{
        "attention": keras.layers.MultiHeadAttention(
            num_heads=heads, key_dim=hidden // heads),
        "attention_norm": keras.layers.LayerNormalization(epsilon=epsilon),
        "intermediate": keras.layers.Dense(backbone.intermediate_dim,
                                           activation="gelu"),
        "output": keras.layers.Dense(hidden),
        "output_norm": keras.layers.LayerNormalization(epsilon=epsilon),
    } for _ in range(num_layers)]
    self.pooler = keras.layers.Dense(hidden, activation="tanh")

  def call(self, inputs):
    input_ids = inputs["input_ids"]
    positions = tf.range(tf.shape(input_ids)[1])
    x = (self.token_embedding(input_ids) +
         self.segment_embedding(inputs["token_type_ids"]) +
         self.position_embedding(positions))
    x = self.embedding_norm(x)
    # [batch, 1, seq]: every query may attend to every non-padding key.
    mask = tf.cast(inputs["attention_mask"], tf.bool)[:, tf.newaxis, :]
    for block in self.blocks:
      x = block["attention_norm"](
          x + block["attention"](x, x, attention_mask=mask))
      x = block["output_norm"](x + block["output"](block["intermediate"](x)))
    return {"sequence_output": x, "pooled_output": self.pooler(x[:, 0])}

  def copy_weights_from(self, backbone):
    """Copies `backbone`'s weights (its first `len(self.blocks)` layers) in."""
    heads = self.num_heads
    embeddings = backbone.embeddings
    for ours, theirs in [(self.token_embedding, embeddings.token_embedding),
                         (self.position_embedding,
                          embeddings.position_embedding),
                         (self.segment_embedding, embeddings.segment_embedding),
                         (self.embedding_norm, embeddings.layer_norm),
                         (self.pooler, backbone.pooler)]:
      ours.set_weights(theirs.get_weights())
    for block, layer in zip(self.blocks, backbone.transformer_layers):
      hidden = layer.hidden_dim
      kernel, bias = layer.qkv_dense.get_weights()
      attention = block["attention"]
      for i, dense in enumerate((attention._query_dense,  # pylint: disable=protected-access
                                 attention._key_dense,  # pylint: disable=protected-access
                                 attention._value_dense)):  # pylint: disable=protected-access
        columns = slice(i * hidden, (i + 1) * hidden)
        dense.set_weights([
            kernel[:, columns].reshape(hidden, heads, hidden // heads),
            bias[columns].reshape(heads, hidden // heads)])
      out_kernel, out_bias = layer.attention_output_dense.get_weights()
      attention._output_dense.set_weights(  # pylint: disable=protected-access
          [out_kernel.reshape(heads, hidden // heads, hidden), out_bias])
      block["attention_norm"].set_weights(
          layer.attention_layer_norm.get_weights())
      block["intermediate"].set_weights(layer.intermediate_dense.get_weights())
      block["output"].set_weights(layer.output_dense.get_weights())
      block["output_norm"].set_weights(layer.output_layer_norm.get_weights())


def _randomize(model, seed):
  """Random weights of BERT's scale: the fresh ones are too uniform to test."""
  rng = np.random.default_rng(seed)
  for variable in model.weights:
    variable.assign(rng.normal(0.0, 0.5, variable.shape).astype("float32"))


@pytest.mark.parametrize("depth", [3, 1])
def test_backbone_matches_plain_keras_layers(depth):
  keras.utils.set_random_seed(0)
  full = BertBackbone(**SIZES)
  inputs = random_bert_inputs(batch=3, length=9, padding=4)
  full(inputs)
  _randomize(full, seed=1)
  # depth 1: the bottom layer alone, as a built successor is made.
  backbone = full if depth == SIZES["num_layers"] else BertBackbone.from_layers(
      full.embeddings, full.transformer_layers[:depth], full.pooler)
  plain = PlainKerasBert(full, depth)
  plain(inputs)  # Builds the layers.
  plain.copy_weights_from(full)
  ours, reference = backbone(inputs), plain(inputs)
  for name in ("sequence_output", "pooled_output"):
    np.testing.assert_allclose(ours[name], reference[name], atol=1e-4,
                               err_msg=name)
