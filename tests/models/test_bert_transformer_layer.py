"""Tests for theseus_tf.models.bert_transformer_layer."""

import numpy as np
import pytest
import tensorflow as tf

from theseus_tf.models import BertTransformerLayer
from theseus_tf.models.bert_transformer_layer import ACTIVATIONS
from tests.layer_test_helper import run_layer_test


def _layer(**kwargs):
  args = dict(hidden_dim=8, num_heads=2, intermediate_dim=16)
  args.update(kwargs)
  return BertTransformerLayer(**args)


def _inputs(batch=2, seq=5, hidden=8, seed=0):
  return tf.random.stateless_normal([batch, seq, hidden], seed=[seed, 1])


def test_output_has_input_shape_and_dtype():
  layer = _layer()
  outputs = layer(_inputs(), attention_mask=tf.ones([2, 5], tf.int32))
  assert outputs.shape == (2, 5, 8)
  assert outputs.dtype == tf.float32


def test_padding_does_not_change_token_outputs():
  layer = _layer(dropout=0.0, attention_dropout=0.0)
  inputs = _inputs(batch=1, seq=4)
  short = layer(inputs[:, :3], attention_mask=tf.ones([1, 3], tf.int32))
  padded = tf.concat([inputs[:, :3], 100.0 * tf.ones([1, 1, 8])], axis=1)
  masked = layer(padded, attention_mask=tf.constant([[1, 1, 1, 0]]))
  np.testing.assert_allclose(masked[:, :3], short, atol=1e-5)


def test_mask_dtypes_agree_and_none_attends_everywhere():
  layer = _layer()
  inputs = _inputs()
  mask = np.array([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]])
  reference = layer(inputs, attention_mask=tf.constant(mask, tf.int32))
  for dtype in (tf.float32, tf.bool, tf.int64):
    np.testing.assert_allclose(
        layer(inputs, attention_mask=tf.cast(mask, dtype)), reference,
        atol=1e-6)
  np.testing.assert_allclose(
      layer(inputs), layer(inputs, attention_mask=tf.ones([2, 5])), atol=1e-6)


def test_rejects_a_mask_that_is_not_batch_by_seq():
  with pytest.raises(ValueError, match=r"\[batch, seq\] padding mask"):
    _layer()(_inputs(), attention_mask=tf.ones([2, 1, 1, 5]))


def test_attention_is_faithful_to_separate_heads():
  # Reference: the textbook per-head computation with separate Q, K, V.
  layer = _layer(hidden_dim=8, num_heads=2, dropout=0.0, attention_dropout=0.0)
  inputs = _inputs(batch=1, seq=3)
  outputs = layer(inputs).numpy()
  x = inputs.numpy()[0]
  kernel = layer.qkv_dense.kernel.numpy()
  bias = layer.qkv_dense.bias.numpy()
  q, k, v = np.split(x @ kernel + bias, 3, axis=-1)
  heads = []
  for h in range(2):
    cols = slice(4 * h, 4 * h + 4)
    scores = q[:, cols] @ k[:, cols].T / 2.0
    probs = np.exp(scores - scores.max(-1, keepdims=True))
    probs /= probs.sum(-1, keepdims=True)
    heads.append(probs @ v[:, cols])
  attention = (np.concatenate(heads, -1) @ layer.attention_output_dense.kernel
               .numpy() + layer.attention_output_dense.bias.numpy())

  def layer_norm(y, norm):
    y = (y - y.mean(-1, keepdims=True)) / np.sqrt(y.var(-1, keepdims=True) +
                                                  1e-12)
    return y * norm.gamma.numpy() + norm.beta.numpy()

  hidden = layer_norm(x + attention, layer.attention_layer_norm)
  intermediate = hidden @ layer.intermediate_dense.kernel.numpy(
  ) + layer.intermediate_dense.bias.numpy()
  intermediate = ACTIVATIONS["gelu"](intermediate).numpy()
  ffn = intermediate @ layer.output_dense.kernel.numpy(
  ) + layer.output_dense.bias.numpy()
  expected = layer_norm(hidden + ffn, layer.output_layer_norm)
  np.testing.assert_allclose(outputs[0], expected, atol=1e-5)


@pytest.mark.parametrize("activation", sorted(ACTIVATIONS))
def test_supported_activations(activation):
  layer = _layer(hidden_activation=activation)
  assert layer(_inputs()).shape == (2, 5, 8)


def test_gelu_is_exact_and_gelu_new_is_tanh():
  x = tf.constant([-2.0, -0.5, 0.3, 1.7])
  exact = 0.5 * x * (1.0 + tf.math.erf(x / np.sqrt(2.0)))
  tanh = 0.5 * x * (1.0 + tf.tanh(
      np.sqrt(2.0 / np.pi) * (x + 0.044715 * x**3)))
  np.testing.assert_allclose(ACTIVATIONS["gelu"](x), exact, atol=1e-7)
  np.testing.assert_allclose(ACTIVATIONS["gelu_new"](x), tanh, atol=1e-7)


def test_errors_name_the_problem():
  with pytest.raises(ValueError, match="Unsupported hidden activation 'tanh'"):
    _layer(hidden_activation="tanh")
  with pytest.raises(ValueError, match="must be a multiple of num_heads"):
    _layer(hidden_dim=10, num_heads=4)


def test_layer_contract(tmp_path):
  run_layer_test(
      lambda **kwargs: _layer(hidden_activation="gelu_new", dropout=0.2,
                              attention_dropout=0.05, layer_norm_epsilon=1e-6,
                              initializer_range=0.1, name="block", **kwargs),
      _inputs(), tmp_path,
      call_kwargs={"attention_mask": tf.constant([[1, 1, 1, 0, 0],
                                                  [1, 1, 1, 1, 1]])})


def test_mixed_precision_computes_softmax_and_layer_norm_in_float32():
  layer = _layer(dtype="mixed_float16")
  inputs = tf.cast(_inputs(), tf.float16)
  outputs = layer(inputs, attention_mask=tf.ones([2, 5], tf.int32))
  assert outputs.dtype == tf.float16
  assert layer.attention_layer_norm.compute_dtype == "float32"
  assert layer.output_layer_norm.compute_dtype == "float32"
  assert all(w.dtype == tf.float32 or w.dtype == "float32"
             for w in layer.weights)

  graph = tf.function(
      lambda x: layer(x, attention_mask=tf.ones([2, 5], tf.int32))
  ).get_concrete_function(inputs).graph
  softmax_types = [
      op.get_attr("T") for op in graph.get_operations() if op.type == "Softmax"
  ]
  assert softmax_types == [tf.float32]

  float32_layer = _layer()
  float32_layer.build((None, None, 8))
  float32_layer.set_weights(layer.get_weights())
  np.testing.assert_allclose(
      outputs.numpy().astype(np.float32), float32_layer(_inputs()), atol=2e-2)
