"""BERT input embeddings: token + position + segment, then layer norm and dropout."""

import tensorflow as tf

from theseus_tf.backend import keras, register_serializable


@register_serializable
class BertEmbeddings(keras.layers.Layer):
  """BERT's embedding layer (Hugging Face `BertEmbeddings`).

  Sums the word (token), absolute position and token type (segment)
  embeddings, then applies layer norm and dropout. The three tables and the
  layer norm are float32 whatever the dtype policy, so the sum is normalised
  in full precision; the output is cast to the layer's compute dtype.

  Args:
    vocabulary_size: int. Number of token ids (`vocab_size`).
    hidden_dim: int. Embedding size (`hidden_size`).
    max_sequence_length: int. Number of position embeddings
      (`max_position_embeddings`): the longest sequence the layer accepts.
    num_segments: int. Number of token types (`type_vocab_size`).
    layer_norm_epsilon: float. Layer norm epsilon (`layer_norm_eps`).
    dropout: float. Dropout rate on the output (`hidden_dropout_prob`).
    initializer_range: float. Standard deviation of the normal initializer of
      the tables (`initializer_range`).
    pad_token_id: int. Id of the padding token. Only recorded (for writing a
      Hugging Face config); it does not change the computation.
    **kwargs: Standard `keras.layers.Layer` arguments (`name`, `dtype`, ...).

  Call arguments:
    input_ids: int tensor `[batch, seq]`.
    token_type_ids: optional int tensor `[batch, seq]`; all zeros when `None`.
    training: bool. Whether dropout is active.

  Example:

  ```python
  embeddings = BertEmbeddings(vocabulary_size=100, hidden_dim=16)
  input_ids = tf.constant([[2, 7, 9, 3, 0]])
  token_type_ids = tf.constant([[0, 0, 0, 0, 0]])
  hidden_states = embeddings(input_ids, token_type_ids=token_type_ids)  # [1, 5, 16]
  ```
  """

  def __init__(self,
               vocabulary_size,
               hidden_dim,
               max_sequence_length=512,
               num_segments=2,
               layer_norm_epsilon=1e-12,
               dropout=0.1,
               initializer_range=0.02,
               pad_token_id=0,
               **kwargs):
    super().__init__(**kwargs)
    self.vocabulary_size = vocabulary_size
    self.hidden_dim = hidden_dim
    self.max_sequence_length = max_sequence_length
    self.num_segments = num_segments
    self.layer_norm_epsilon = layer_norm_epsilon
    self.dropout = dropout
    self.initializer_range = initializer_range
    self.pad_token_id = pad_token_id

    def table(num_rows, name):
      return keras.layers.Embedding(
          num_rows,
          hidden_dim,
          embeddings_initializer=keras.initializers.RandomNormal(
              stddev=initializer_range),
          dtype="float32",
          name=name)

    self.token_embedding = table(vocabulary_size, "token_embedding")
    self.position_embedding = table(max_sequence_length, "position_embedding")
    self.segment_embedding = table(num_segments, "segment_embedding")
    self.layer_norm = keras.layers.LayerNormalization(
        epsilon=layer_norm_epsilon, dtype="float32", name="layer_norm")
    self.dropout_layer = keras.layers.Dropout(
        dropout, dtype=self.dtype_policy, name="dropout")

  def build(self, input_shape=None):
    for embedding in (self.token_embedding, self.position_embedding,
                      self.segment_embedding):
      embedding.build((None, None))
    self.layer_norm.build((None, None, self.hidden_dim))
    self.built = True

  # Plain tensor code without data-dependent Python control flow: autograph
  # would only slow down tracing.
  @tf.autograph.experimental.do_not_convert
  def call(self, input_ids, token_type_ids=None, training=None):
    input_ids = tf.convert_to_tensor(input_ids)
    seq_length = input_ids.shape[1]
    if seq_length is not None and seq_length > self.max_sequence_length:
      raise ValueError(
          f"Sequences of {seq_length} tokens are longer than the "
          f"{self.max_sequence_length} position embeddings of this model: "
          "truncate the inputs to max_sequence_length.")
    if token_type_ids is None:
      token_type_ids = tf.zeros_like(input_ids)
    positions = tf.range(tf.shape(input_ids)[1])
    embeddings = (
        self.token_embedding(input_ids) +
        self.segment_embedding(token_type_ids) +
        # [seq, hidden], broadcast over the batch.
        self.position_embedding(positions))
    embeddings = tf.cast(self.layer_norm(embeddings), self.compute_dtype)
    return self.dropout_layer(embeddings, training=training)

  def compute_output_shape(self, input_shape):
    return tuple(input_shape) + (self.hidden_dim,)

  def get_config(self):
    config = super().get_config()
    config.update({
        "vocabulary_size": self.vocabulary_size,
        "hidden_dim": self.hidden_dim,
        "max_sequence_length": self.max_sequence_length,
        "num_segments": self.num_segments,
        "layer_norm_epsilon": self.layer_norm_epsilon,
        "dropout": self.dropout,
        "initializer_range": self.initializer_range,
        "pad_token_id": self.pad_token_id,
    })
    return config
