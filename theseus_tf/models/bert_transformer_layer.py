"""One BERT encoder layer: self-attention and a feed-forward block, post-norm."""

import math

import tensorflow as tf

from theseus_tf.backend import keras, register_serializable

# Added to the attention scores of padding keys. Finite (unlike -inf) so that a
# row with no valid key at all still gives a defined softmax instead of NaN.
_MASK_BIAS = -1e9


def _gelu_exact(x):
  return tf.nn.gelu(x, approximate=False)


def _gelu_tanh(x):
  return tf.nn.gelu(x, approximate=True)


# Hugging Face `hidden_act` names. "gelu" is the exact erf GELU; "gelu_new" and
# "gelu_pytorch_tanh" are both the tanh approximation.
ACTIVATIONS = {
    "gelu": _gelu_exact,
    "gelu_new": _gelu_tanh,
    "gelu_pytorch_tanh": _gelu_tanh,
    "relu": tf.nn.relu,
    "silu": tf.nn.silu,
    "swish": tf.nn.silu,
}


def get_activation(name):
  """Returns the function for the Hugging Face activation name `name`."""
  try:
    return ACTIVATIONS[name]
  except KeyError:
    raise ValueError(
        f"Unsupported hidden activation {name!r}: BERT layers support "
        f"{sorted(ACTIVATIONS)}.") from None


def padding_mask_to_attention_bias(attention_mask):
  """Turns a `[batch, seq]` padding mask into an additive `[batch, 1, 1, seq]` bias.

  The bias is float32 (0 for tokens, a large negative number for padding) and
  is added to float32 attention scores, so that softmax never sees float16.
  """
  mask = tf.cast(attention_mask, tf.float32)
  # `expand_dims`, not `[:, None, None, :]`: TFLite has no builtin for a
  # strided slice with new axes on dynamic shapes (`model.export` -> TFLite).
  return tf.expand_dims(tf.expand_dims(1.0 - mask, 1), 1) * _MASK_BIAS


@register_serializable
class BertTransformerLayer(keras.layers.Layer):
  """One BERT encoder layer (self-attention + feed-forward, post layer norm).

  Computes, like Hugging Face's `BertLayer`:
  `h = LayerNorm(x + Dropout(SelfAttention(x)))` then
  `y = LayerNorm(h + Dropout(Dense(act(Dense(h)))))`.
  The query, key and value projections are one fused `[hidden, 3 * hidden]`
  matrix (columns: query, then key, then value; each head-major, as in
  Hugging Face), so attention is one matmul for the projections and two batched
  matmuls over all heads. Layer norms and the softmax compute in float32 under
  mixed precision; the output has the layer's compute dtype.

  The output has the same shape as the input, so layers can be stacked, or
  replaced by any other block with the same signature.

  Args:
    hidden_dim: int. Size of the hidden states (Hugging Face `hidden_size`).
    num_heads: int. Number of attention heads; must divide `hidden_dim`.
    intermediate_dim: int. Width of the feed-forward block
      (`intermediate_size`).
    hidden_activation: str. Feed-forward activation, a Hugging Face
      `hidden_act` name: "gelu" (exact, erf), "gelu_new" (tanh approximation),
      "gelu_pytorch_tanh", "relu", "silu"/"swish".
    dropout: float. Dropout on the attention output and the feed-forward
      output (`hidden_dropout_prob`).
    attention_dropout: float. Dropout on the attention probabilities
      (`attention_probs_dropout_prob`).
    layer_norm_epsilon: float. Epsilon of both layer norms (`layer_norm_eps`).
    initializer_range: float. Standard deviation of the normal initializer of
      the projection kernels (`initializer_range`).
    **kwargs: Standard `keras.layers.Layer` arguments (`name`, `dtype`, ...).

  Call arguments:
    hidden_states: float tensor `[batch, seq, hidden_dim]`.
    attention_mask: optional padding mask `[batch, seq]`, any numeric or bool
      dtype: 1 for tokens to attend to, 0 for padding (Hugging Face's
      `attention_mask` input, as is). `None` attends to every position.
    training: bool. Whether dropout is active.

  Example:

  ```python
  layer = BertTransformerLayer(hidden_dim=64, num_heads=4, intermediate_dim=256)
  hidden_states = tf.random.normal([2, 10, 64])
  attention_mask = tf.constant([[1] * 10, [1] * 6 + [0] * 4])
  outputs = layer(hidden_states, attention_mask=attention_mask)  # [2, 10, 64]
  ```
  """

  def __init__(self,
               hidden_dim,
               num_heads,
               intermediate_dim,
               hidden_activation="gelu",
               dropout=0.1,
               attention_dropout=0.1,
               layer_norm_epsilon=1e-12,
               initializer_range=0.02,
               **kwargs):
    super().__init__(**kwargs)
    if hidden_dim % num_heads:
      raise ValueError(
          f"hidden_dim ({hidden_dim}) must be a multiple of num_heads "
          f"({num_heads}).")
    self.hidden_dim = hidden_dim
    self.num_heads = num_heads
    self.head_dim = hidden_dim // num_heads
    self.intermediate_dim = intermediate_dim
    self.hidden_activation = hidden_activation
    self.dropout = dropout
    self.attention_dropout = attention_dropout
    self.layer_norm_epsilon = layer_norm_epsilon
    self.initializer_range = initializer_range
    self._activation_fn = get_activation(hidden_activation)

    def dense(units, name):
      return keras.layers.Dense(
          units,
          kernel_initializer=keras.initializers.RandomNormal(
              stddev=initializer_range),
          dtype=self.dtype_policy,
          name=name)

    def layer_norm(name):
      # float32 whatever the policy: variance of float16 activations overflows.
      return keras.layers.LayerNormalization(
          epsilon=layer_norm_epsilon, dtype="float32", name=name)

    self.qkv_dense = dense(3 * hidden_dim, "qkv")
    self.attention_output_dense = dense(hidden_dim, "attention_output")
    self.attention_layer_norm = layer_norm("attention_layer_norm")
    self.intermediate_dense = dense(intermediate_dim, "intermediate")
    self.output_dense = dense(hidden_dim, "output")
    self.output_layer_norm = layer_norm("output_layer_norm")
    self.attention_dropout_layer = keras.layers.Dropout(
        attention_dropout, dtype=self.dtype_policy, name="attention_dropout")
    self.attention_output_dropout = keras.layers.Dropout(
        dropout, dtype=self.dtype_policy, name="attention_output_dropout")
    self.output_dropout = keras.layers.Dropout(
        dropout, dtype=self.dtype_policy, name="output_dropout")

  def build(self, input_shape):
    del input_shape  # The sublayers see [batch * seq, features] rows.
    hidden_shape = (None, self.hidden_dim)
    intermediate_shape = (None, self.intermediate_dim)
    self.qkv_dense.build(hidden_shape)
    self.attention_output_dense.build(hidden_shape)
    self.attention_layer_norm.build(hidden_shape)
    self.intermediate_dense.build(hidden_shape)
    self.output_dense.build(intermediate_shape)
    self.output_layer_norm.build(hidden_shape)
    self.built = True

  def _self_attention(self, rows, batch_size, seq_length, attention_mask,
                      training):
    """Self-attention of `[batch * seq, hidden]` rows; returns such rows."""

    def split_heads(x):  # [batch * seq, hidden] -> [batch, heads, seq, head_dim]
      x = tf.reshape(x, [batch_size, seq_length, self.num_heads, self.head_dim])
      return tf.transpose(x, [0, 2, 1, 3])

    # One matmul for the three projections, then all heads at once.
    query, key, value = map(
        split_heads, tf.split(self.qkv_dense(rows), 3, axis=-1))
    # Scaling the query (seq * head_dim values) is cheaper than scaling the
    # scores (seq * seq), and keeps float16 scores further from overflow.
    query = query * tf.cast(1.0 / math.sqrt(self.head_dim), query.dtype)
    scores = tf.matmul(query, key, transpose_b=True)
    scores = tf.cast(scores, tf.float32)
    if attention_mask is not None:
      scores += padding_mask_to_attention_bias(attention_mask)
    probs = tf.cast(tf.nn.softmax(scores, axis=-1), value.dtype)
    probs = self.attention_dropout_layer(probs, training=training)
    context = tf.matmul(probs, value)  # [batch, heads, seq, head_dim]
    context = tf.reshape(tf.transpose(context, [0, 2, 1, 3]),
                         [-1, self.hidden_dim])
    return self.attention_output_dense(context)

  # Plain tensor code without data-dependent Python control flow: autograph
  # would only slow down tracing.
  @tf.autograph.experimental.do_not_convert
  def call(self, hidden_states, attention_mask=None, training=None):
    if attention_mask is not None:
      attention_mask = tf.convert_to_tensor(attention_mask)
    if attention_mask is not None and attention_mask.shape.rank != 2:
      raise ValueError(
          "attention_mask must be a [batch, seq] padding mask (1 = token, "
          f"0 = padding); got shape {attention_mask.shape}.")
    compute_dtype = self.compute_dtype
    hidden_states = tf.convert_to_tensor(hidden_states)
    batch_size = tf.shape(hidden_states)[0]
    seq_length = tf.shape(hidden_states)[1]
    # Dense layers, activation and layer norms work on [batch * seq, hidden]
    # rows: TensorFlow fuses MatMul + BiasAdd + GELU into one oneDNN kernel
    # for 2-D matmuls only (a third less time per layer on a CPU).
    rows = tf.reshape(hidden_states, [-1, self.hidden_dim])
    attention_output = self._self_attention(
        rows, batch_size, seq_length, attention_mask, training)
    attention_output = self.attention_output_dropout(
        attention_output, training=training)
    rows = tf.cast(self.attention_layer_norm(rows + attention_output),
                   compute_dtype)

    intermediate = self._activation_fn(self.intermediate_dense(rows))
    ffn_output = self.output_dropout(
        self.output_dense(intermediate), training=training)
    rows = tf.cast(self.output_layer_norm(rows + ffn_output), compute_dtype)
    outputs = tf.reshape(rows, tf.shape(hidden_states))
    outputs.set_shape(hidden_states.shape)
    return outputs

  def compute_output_shape(self, input_shape):
    return input_shape

  def get_config(self):
    config = super().get_config()
    config.update({
        "hidden_dim": self.hidden_dim,
        "num_heads": self.num_heads,
        "intermediate_dim": self.intermediate_dim,
        "hidden_activation": self.hidden_activation,
        "dropout": self.dropout,
        "attention_dropout": self.attention_dropout,
        "layer_norm_epsilon": self.layer_norm_epsilon,
        "initializer_range": self.initializer_range,
    })
    return config
