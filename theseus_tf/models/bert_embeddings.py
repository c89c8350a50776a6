"""Encoder input embeddings: token + position (+ segment), layer norm, dropout.

One layer for every supported family (BERT, RoBERTa/XLM-R, ELECTRA,
DistilBERT): what differs is an argument.
"""

import tensorflow as tf

from theseus_tf.backend import keras, register_serializable


def usable_positions(max_sequence_length, position_offset=None):
  """The longest sequence a position table of `max_sequence_length` rows
  allows.

  RoBERTa / XLM-R (`position_offset=pad_token_id`) count positions from
  `pad_token_id + 1`: 512 of their 514 rows are usable.
  """
  if position_offset is None:
    return max_sequence_length
  return max_sequence_length - position_offset - 1


@register_serializable
class BertEmbeddings(keras.layers.Layer):
  """The embedding layer of BERT and the families that share its layout.

  Sums the word (token), absolute position and token type (segment)
  embeddings, then applies layer norm and dropout, like Hugging Face's
  `BertEmbeddings`. The tables and the layer norm are float32 whatever the
  dtype policy, so the sum is normalised in full precision; the output is
  cast to the layer's compute dtype. The families differ in arguments:

  - RoBERTa / XLM-RoBERTa: `position_offset=pad_token_id`, `num_segments=1`.
  - ELECTRA: `embedding_dim` (`embedding_size`) below `hidden_dim`: the
    tables are `embedding_dim` wide and a `Dense` (`embeddings_project`)
    maps the normalised sum to `hidden_dim`.
  - DistilBERT: `num_segments=0` (no token type table).

  Args:
    vocabulary_size: int. Number of token ids (`vocab_size`).
    hidden_dim: int. Embedding size (`hidden_size`).
    max_sequence_length: int. Number of position embeddings
      (`max_position_embeddings`): the longest sequence the layer accepts.
    num_segments: int. Number of token types (`type_vocab_size`). 0: no
      token type table (DistilBERT). With 1 (RoBERTa), its single row is
      added to every token, as Hugging Face does.
    layer_norm_epsilon: float. Layer norm epsilon (`layer_norm_eps`).
    dropout: float. Dropout rate on the output (`hidden_dropout_prob`).
    initializer_range: float. Standard deviation of the normal initializer of
      the tables (`initializer_range`).
    pad_token_id: int. Id of the padding token. Recorded for Hugging Face
      configs; it changes the computation only with `position_offset`.
    position_offset: None or int. None (BERT, ELECTRA, DistilBERT): the
      token at position i gets position row i. An int `p` (RoBERTa,
      XLM-RoBERTa: `p = pad_token_id`): as Hugging Face's
      `create_position_ids_from_input_ids`, tokens other than `pad_token_id`
      get rows `p + 1, p + 2, ...` counted over non-padding tokens, and
      padding tokens row `p`; sequences may then be at most
      `max_sequence_length - p - 1` long.
    embedding_dim: None or int. Width of the tables (ELECTRA's
      `embedding_size`); None means `hidden_dim`. When it differs from
      `hidden_dim`, `embeddings_project` maps the output to `hidden_dim`.
    model_type: str. The Hugging Face `model_type` this layer's model
      follows ("bert", "roberta", "xlm-roberta", "electra", "distilbert").
      Only recorded, so that `save_pretrained` writes the right family.
    **kwargs: Standard `keras.layers.Layer` arguments (`name`, `dtype`, ...).

  Call arguments:
    input_ids: int tensor `[batch, seq]`.
    token_type_ids: optional int tensor `[batch, seq]`; all zeros when `None`.
      Must be `None` when `num_segments` is 0.
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
               position_offset=None,
               embedding_dim=None,
               model_type="bert",
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
    self.position_offset = position_offset
    self.embedding_dim = embedding_dim
    self.model_type = model_type
    width = embedding_dim or hidden_dim
    if position_offset is not None and position_offset + 1 >= max_sequence_length:
      raise ValueError(
          f"position_offset={position_offset} leaves no position rows of the "
          f"{max_sequence_length} (max_sequence_length) for tokens.")

    def table(num_rows, name):
      return keras.layers.Embedding(
          num_rows,
          width,
          embeddings_initializer=keras.initializers.RandomNormal(
              stddev=initializer_range),
          dtype="float32",
          name=name)

    self.token_embedding = table(vocabulary_size, "token_embedding")
    self.position_embedding = table(max_sequence_length, "position_embedding")
    self.segment_embedding = (table(num_segments, "segment_embedding")
                              if num_segments else None)
    self.layer_norm = keras.layers.LayerNormalization(
        epsilon=layer_norm_epsilon, dtype="float32", name="layer_norm")
    self.dropout_layer = keras.layers.Dropout(
        dropout, dtype=self.dtype_policy, name="dropout")
    self.embeddings_project = None
    if width != hidden_dim:
      self.embeddings_project = keras.layers.Dense(
          hidden_dim,
          kernel_initializer=keras.initializers.RandomNormal(
              stddev=initializer_range),
          dtype=self.dtype_policy,
          name="embeddings_project")

  @property
  def max_tokens(self):
    """The longest sequence the position rows allow."""
    return usable_positions(self.max_sequence_length, self.position_offset)

  def build(self, input_shape=None):
    for embedding in (self.token_embedding, self.position_embedding,
                      self.segment_embedding):
      if embedding is not None:
        embedding.build((None, None))
    width = self.embedding_dim or self.hidden_dim
    self.layer_norm.build((None, None, width))
    if self.embeddings_project is not None:
      self.embeddings_project.build((None, width))
    self.built = True

  # Plain tensor code without data-dependent Python control flow: autograph
  # would only slow down tracing.
  @tf.autograph.experimental.do_not_convert
  def call(self, input_ids, token_type_ids=None, training=None):
    input_ids = tf.convert_to_tensor(input_ids)
    seq_length = input_ids.shape[1]
    if seq_length is not None and seq_length > self.max_tokens:
      raise ValueError(
          f"Sequences of {seq_length} tokens are longer than the "
          f"{self.max_tokens} position embeddings of this model: truncate "
          f"the inputs to {self.max_tokens} tokens.")
    if self.position_offset is None:
      # [seq, hidden], broadcast over the batch.
      positions = tf.range(tf.shape(input_ids)[1])
    else:
      # Hugging Face RoBERTa: count the non-padding tokens from offset + 1;
      # padding tokens keep row `offset` (its padding_idx).
      is_token = tf.cast(tf.not_equal(input_ids, self.pad_token_id),
                         input_ids.dtype)
      positions = (tf.cumsum(is_token, axis=1) * is_token +
                   tf.cast(self.position_offset, input_ids.dtype))
    embeddings = (self.token_embedding(input_ids) +
                  self.position_embedding(positions))
    if self.segment_embedding is not None:
      if token_type_ids is None:
        token_type_ids = tf.zeros_like(input_ids)
      embeddings += self.segment_embedding(token_type_ids)
    elif token_type_ids is not None:
      raise ValueError(
          "token_type_ids given to embeddings without token types "
          "(num_segments=0, e.g. DistilBERT): leave them out.")
    embeddings = tf.cast(self.layer_norm(embeddings), self.compute_dtype)
    embeddings = self.dropout_layer(embeddings, training=training)
    if self.embeddings_project is not None:
      # ELECTRA: tables narrower than the encoder (`embeddings_project`).
      shape = tf.shape(embeddings)
      rows = self.embeddings_project(
          tf.reshape(embeddings, [-1, self.embedding_dim]))
      embeddings = tf.reshape(
          rows, tf.concat([shape[:-1], [self.hidden_dim]], axis=0))
      embeddings.set_shape(input_ids.shape.concatenate([self.hidden_dim]))
    return embeddings

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
        "position_offset": self.position_offset,
        "embedding_dim": self.embedding_dim,
        "model_type": self.model_type,
    })
    return config
