"""The BERT-style encoder as a Keras Functional model: embeddings, layers, pooler.

It covers BERT, RoBERTa, XLM-RoBERTa, ELECTRA and DistilBERT: the families
differ in arguments (see `BertBackbone`), not in classes.
"""

from theseus_tf.backend import IS_KERAS_3, keras, refreeze, register_serializable
from theseus_tf.data.features import FEATURE_NAMES
from theseus_tf.models.bert_embeddings import BertEmbeddings
from theseus_tf.models.bert_transformer_layer import BertTransformerLayer
from theseus_tf.module_replacing import ModuleReplacing
from theseus_tf.module_stack import ModuleStack


# The constructor arguments a backbone holds as attributes, read back from its
# embeddings layer (with the value when that layer lacks it) and from its
# first transformer layer: `from_layers` backbones get them the same way.
_EMBEDDINGS_ARGUMENTS = {
    "vocabulary_size": None, "hidden_dim": None, "dropout": None,
    "max_sequence_length": None, "num_segments": None,
    "layer_norm_epsilon": None, "initializer_range": 0.02,
    "pad_token_id": None, "position_offset": None, "embedding_dim": None,
    "model_type": "bert",
}
_BLOCK_ARGUMENTS = ("num_heads", "intermediate_dim", "hidden_activation",
                    "attention_dropout")


def feature_names_for(embeddings):
  """The model inputs an embeddings layer needs, in `FEATURE_NAMES` order.

  `token_type_ids` only with two or more token types: with one (RoBERTa,
  XLM-RoBERTa) every token gets the same row, with none (DistilBERT) there
  is no table, so such models take `input_ids` and `attention_mask` only.
  """
  if getattr(embeddings, "num_segments", 2) >= 2:
    return FEATURE_NAMES
  return tuple(name for name in FEATURE_NAMES if name != "token_type_ids")


def bert_inputs(feature_names=FEATURE_NAMES):
  """Returns a dict of fresh `keras.Input`s: int32 `[batch, None]` per name."""
  return {
      name: keras.Input(shape=(None,), dtype="int32", name=name)
      for name in feature_names
  }


def _policy_name(dtype):
  """The name of a dtype policy given as None, a string or a policy object."""
  if dtype is None or isinstance(dtype, str):
    return dtype
  return getattr(dtype, "name", dtype)


@register_serializable
class BertBackbone(keras.Model):
  """The BERT-style encoder as a Keras Functional model, for every family.

  Hugging Face `BertModel`, and with other arguments the encoders of
  RoBERTa / XLM-RoBERTa (`position_offset=pad_token_id`, `num_segments=1`,
  `use_pooler=False` under a classification head), ELECTRA (`embedding_dim`
  below `hidden_dim`, no pooler) and DistilBERT (`num_segments=0`, no
  pooler). `theseus_tf.utils.transformers.from_pretrained` sets them from a
  checkpoint's `config.json`.

  The graph is `embeddings -> transformer_layers[0] -> ... -> pooler`, where
  every transformer layer is its own Keras layer called as
  `x = layer(x, attention_mask=inputs["attention_mask"])`: each receives the
  model's `[batch, seq]` int padding mask (1 = token, 0 = padding) unchanged,
  and returns a tensor of the shape of `x`. The pooler (if `use_pooler`) is a
  tanh `Dense` applied to the first (`[CLS]`) position of the last layer's
  output.

  To build the same graph from layers that already exist (for example where
  some positions hold wrappers around transformer layers), use
  `BertBackbone.from_layers(embeddings, blocks, pooler)`.

  Inputs are a dict of int32 `[batch, seq]` tensors with Hugging Face names:
  `input_ids`, `attention_mask` and, with `num_segments >= 2`,
  `token_type_ids` (`feature_names` lists them; a `token_type_ids` entry
  given to a model without that input is ignored, with Keras' warning about
  the unexpected key, as Hugging Face RoBERTa ignores all-zero token types);
  the sequence length may
  vary from call to call. Outputs are a dict: `sequence_output`
  `[batch, seq, hidden_dim]`, `pooled_output` `[batch, hidden_dim]` (with a
  pooler) and, when
  `output_hidden_states=True`, `hidden_states`: a list of
  `num_layers + 1` tensors `[batch, seq, hidden_dim]` (index 0 is the
  embeddings' output, index i the output of layer i), as in Hugging Face.

  Args:
    vocabulary_size: int. Number of token ids (`vocab_size`).
    num_layers: int. Number of transformer layers (`num_hidden_layers`).
    num_heads: int. Attention heads per layer (`num_attention_heads`).
    hidden_dim: int. Hidden size (`hidden_size`).
    intermediate_dim: int. Feed-forward width (`intermediate_size`).
    hidden_activation: str. Feed-forward activation (`hidden_act`): "gelu",
      "gelu_new", "gelu_pytorch_tanh", "relu", "silu" or "swish".
    dropout: float. Hidden dropout (`hidden_dropout_prob`).
    attention_dropout: float. Attention dropout
      (`attention_probs_dropout_prob`).
    max_sequence_length: int. Position embeddings
      (`max_position_embeddings`).
    num_segments: int. Token types (`type_vocab_size`); 0 for none.
    layer_norm_epsilon: float. Layer norm epsilon (`layer_norm_eps`).
    initializer_range: float. Standard deviation of the weight initializer.
    pad_token_id: int. Padding token id, recorded for Hugging Face configs
      (and the padding that `position_offset` skips).
    position_offset: None or int; see `BertEmbeddings` (RoBERTa positions).
    embedding_dim: None or int. Embedding width when narrower than
      `hidden_dim` (ELECTRA `embedding_size`); see `BertEmbeddings`.
    use_pooler: bool. Whether the model has BERT's pooler (and a
      `pooled_output`).
    model_type: str. The Hugging Face `model_type` the model follows,
      recorded for `save_pretrained`.
    output_hidden_states: bool. Whether to also output every hidden state.
    dtype: None, a dtype or a dtype policy name such as "mixed_float16" or
      "mixed_bfloat16", for every layer. Variables, layer norms and softmax
      stay float32.
    **kwargs: `name` and `trainable`.

  Example:

  ```python
  backbone = BertBackbone(vocabulary_size=100, num_layers=2, num_heads=2,
                          hidden_dim=16, intermediate_dim=32)
  outputs = backbone({
      "input_ids": tf.constant([[2, 7, 9, 3, 0]]),
      "attention_mask": tf.constant([[1, 1, 1, 1, 0]]),
      "token_type_ids": tf.constant([[0, 0, 0, 0, 0]]),
  })
  outputs["sequence_output"]  # [1, 5, 16]
  outputs["pooled_output"]  # [1, 16]
  backbone.embeddings, backbone.transformer_layers, backbone.pooler
  ```
  """

  def __init__(self,
               vocabulary_size,
               num_layers,
               num_heads,
               hidden_dim,
               intermediate_dim,
               hidden_activation="gelu",
               dropout=0.1,
               attention_dropout=0.1,
               max_sequence_length=512,
               num_segments=2,
               layer_norm_epsilon=1e-12,
               initializer_range=0.02,
               pad_token_id=0,
               position_offset=None,
               embedding_dim=None,
               use_pooler=True,
               model_type="bert",
               output_hidden_states=False,
               dtype=None,
               **kwargs):
    shared = dict(hidden_dim=hidden_dim, dropout=dropout,
                  layer_norm_epsilon=layer_norm_epsilon,
                  initializer_range=initializer_range, dtype=dtype)
    embeddings = BertEmbeddings(
        vocabulary_size=vocabulary_size,
        max_sequence_length=max_sequence_length,
        num_segments=num_segments,
        pad_token_id=pad_token_id,
        position_offset=position_offset,
        embedding_dim=embedding_dim,
        model_type=model_type,
        name="embeddings",
        **shared)
    block_arguments = dict(num_heads=num_heads,
                           intermediate_dim=intermediate_dim,
                           hidden_activation=hidden_activation,
                           attention_dropout=attention_dropout)
    # Not named explicitly: Keras' unique automatic names let layers of
    # different backbones be mixed in one graph (`from_layers`).
    transformer_layers = [
        BertTransformerLayer(**block_arguments, **shared)
        for _ in range(num_layers)
    ]
    pooler = (self.make_pooler(hidden_dim, initializer_range, dtype=dtype)
              if use_pooler else None)
    self._build_graph(embeddings, transformer_layers, pooler,
                      output_hidden_states, block_arguments, **kwargs)
    self._built_from_layers = False

  @classmethod
  def from_layers(cls, embeddings, blocks, pooler=None,
                  output_hidden_states=False, **kwargs):
    """Builds a backbone graph from existing layers.

    The graph is the one `BertBackbone.__init__` builds: `blocks[i]` is called
    as `x = blocks[i](x, attention_mask=inputs["attention_mask"])` with the
    `[batch, seq]` padding mask, and must return a tensor of the shape of `x`.
    A block may be a `BertTransformerLayer` or anything with that signature,
    e.g. a wrapper that stands for one or more transformer layers. The layers
    are used, not copied: their weights are shared with every other model
    that uses them.

    `get_config()` of such a backbone holds the serialized layers, so it saves
    and loads (`.keras`) as long as every block class is registered as Keras
    serializable.

    Args:
      embeddings: a `BertEmbeddings` (or a layer with its call signature).
      blocks: list of encoder blocks, one per position in the stack.
      pooler: layer applied to the first token of the last block's output,
        e.g. `other_backbone.pooler`, or None for a backbone without pooler.
      output_hidden_states: bool. Whether to also output `hidden_states`: the
        embeddings' output and every block's output.
      **kwargs: `name` and `trainable`.

    Returns:
      A `BertBackbone`. `transformer_layers` lists `blocks`.

    Example:

    ```python
    teacher = BertBackbone(vocabulary_size=100, num_layers=4, num_heads=2,
                           hidden_dim=16, intermediate_dim=32)
    student = BertBackbone.from_layers(
        teacher.embeddings, teacher.transformer_layers[::2], teacher.pooler)
    ```
    """
    blocks = list(blocks)
    first = blocks[0] if blocks else None
    backbone = cls.__new__(cls)
    backbone._build_graph(
        embeddings, blocks, pooler, output_hidden_states,
        {name: getattr(first, name, None) for name in _BLOCK_ARGUMENTS},
        **kwargs)
    backbone._built_from_layers = True
    return backbone

  @staticmethod
  def make_pooler(hidden_dim, initializer_range=0.02, dtype=None):
    """A fresh pooler: the tanh `Dense` applied to the `[CLS]` hidden state."""
    return keras.layers.Dense(
        hidden_dim,
        activation="tanh",
        kernel_initializer=keras.initializers.RandomNormal(
            stddev=initializer_range),
        dtype=dtype,
        name="pooler")

  def _build_graph(self, embeddings, blocks, pooler, output_hidden_states,
                   block_arguments, **kwargs):
    inputs = bert_inputs(feature_names_for(embeddings))
    if "token_type_ids" in inputs:
      x = embeddings(inputs["input_ids"],
                     token_type_ids=inputs["token_type_ids"])
    else:
      x = embeddings(inputs["input_ids"])
    hidden_states = [x]
    for block in blocks:
      x = block(x, attention_mask=inputs["attention_mask"])
      hidden_states.append(x)
    outputs = {"sequence_output": x}
    if pooler is not None:
      outputs["pooled_output"] = pooler(x[:, 0, :])
    if output_hidden_states:
      outputs["hidden_states"] = hidden_states
    super().__init__(inputs=inputs, outputs=outputs, **kwargs)
    # Functional models take no `dtype`, but the model's policy decides
    # whether `compile` adds loss scaling (mixed_float16): use the layers'.
    if IS_KERAS_3:
      self.dtype_policy = embeddings.dtype_policy
    else:
      self._set_dtype_policy(embeddings.dtype_policy)

    # Layer attributes are set after `Model.__init__`: tf-keras refuses them
    # earlier.
    self.embeddings = embeddings
    self.transformer_layers = list(blocks)
    self.pooler = pooler
    self.output_hidden_states = output_hidden_states
    for name, missing in _EMBEDDINGS_ARGUMENTS.items():
      setattr(self, name, getattr(embeddings, name, missing))
    for name, value in block_arguments.items():
      setattr(self, name, value)
    if blocks and all(isinstance(b, ModuleReplacing) for b in blocks):
      # A Theseus stack: steps skip the backward pass below the lowest
      # successor that ran, unless the embeddings train.
      ModuleStack(blocks, input_needs_gradient=(
          lambda: bool(embeddings.trainable_weights)))
    # Layers frozen before they were built (on loading) get frozen weights.
    refreeze(self)

  @property
  def feature_names(self):
    """The names of the model's inputs (`token_type_ids` only if used)."""
    return feature_names_for(self.embeddings)

  @property
  def use_pooler(self):
    """Whether the backbone has a pooler (and a `pooled_output`)."""
    return self.pooler is not None

  @property
  def num_layers(self):
    """Number of encoder blocks in the stack."""
    return len(self.transformer_layers)

  @property
  def blocks(self):
    """The encoder blocks, bottom first (see `with_blocks`)."""
    return self.transformer_layers

  def with_blocks(self, blocks):
    """A backbone over `blocks` that shares this one's embeddings and pooler.

    `theseus_tf.strip_successor` uses it to swap each `ModuleReplacing`
    block for its successor while keeping the model a `BertBackbone`.
    """
    return BertBackbone.from_layers(
        self.embeddings, blocks, self.pooler,
        output_hidden_states=self.output_hidden_states, name=self.name)

  def get_config(self):
    # Not `super().get_config()`: the model is rebuilt from these arguments,
    # not from a serialized graph.
    config = {
        "name": self.name,
        "trainable": self.trainable,
        "output_hidden_states": self.output_hidden_states,
    }
    if self._built_from_layers:
      config.update({
          "embeddings": keras.layers.serialize(self.embeddings),
          "blocks": [keras.layers.serialize(b) for b in self.transformer_layers],
          "pooler": (None if self.pooler is None else
                     keras.layers.serialize(self.pooler)),
      })
      return config
    config.update({name: getattr(self, name)
                   for name in (*_EMBEDDINGS_ARGUMENTS, *_BLOCK_ARGUMENTS)})
    config["num_layers"] = self.num_layers
    config["use_pooler"] = self.use_pooler
    config["dtype"] = _policy_name(self.embeddings.dtype_policy)
    return config

  @classmethod
  def from_config(cls, config, custom_objects=None):
    config = dict(config)
    if "blocks" in config:
      pooler = config.pop("pooler", None)
      deserialize = lambda c: keras.layers.deserialize(  # pylint: disable=g-long-lambda
          c, custom_objects=custom_objects)
      return cls.from_layers(
          embeddings=deserialize(config.pop("embeddings")),
          blocks=[deserialize(c) for c in config.pop("blocks")],
          pooler=pooler and deserialize(pooler),
          **config)
    return cls(**config)
