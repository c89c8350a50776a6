"""Hugging Face BERT (`model_type` "bert"): config translation and name map.

The converter of one model family, used by `preset_loader` (registered in its
`CONVERTERS`). A converter module provides:

- `backbone_cls`, `classifier_cls`: the Keras classes it builds.
- `FAMILY`, `ENCODER_PREFIX`, `HEAD_NAMES` (the output layer's weight
  first), `OPTIONAL_PREFIXES`, `IGNORED_NAME_PATTERNS`, `CHECKPOINT_LAYOUT`:
  the checkpoint's naming; `SIZE_KEYS`: the config keys that set tensor
  shapes and depth, quoted in error messages.
- `canonical_name(name)`: a checkpoint tensor name as the name map spells it.
- `convert_backbone_config(hf_config)`: `config.json` -> backbone arguments.
- `convert_classifier_config(hf_config, backbone)`: `config.json` -> the
  classifier's `head_type` and `dropout`.
- `backbone_weights(backbone, prefix)`, `head_weights(classifier)`: the
  name map, as lists of `WeightMap`.
- `hf_config_from_model(model)`: the `config.json` describing a model.
"""

import re

from theseus_tf.backend import keras
from theseus_tf.models.bert_backbone import BertBackbone
from theseus_tf.models.bert_classifier import BertClassifier
from theseus_tf.models.bert_embeddings import BertEmbeddings
from theseus_tf.models.bert_transformer_layer import BertTransformerLayer
from theseus_tf.utils.transformers.weight_map import dense
from theseus_tf.utils.transformers.weight_map import fused_dense
from theseus_tf.utils.transformers.weight_map import layer_norm
from theseus_tf.utils.transformers.weight_map import same

backbone_cls = BertBackbone
classifier_cls = BertClassifier

FAMILY = "BERT"
# Task models (BertForSequenceClassification, ...) prefix the encoder's names.
ENCODER_PREFIX = "bert."
# The sequence classification head; its weight is [num_labels, hidden].
HEAD_NAMES = ("classifier.weight", "classifier.bias")
# As in Hugging Face, checkpoints saved without a pooler (e.g. masked LM ones)
# load with a freshly initialised one.
OPTIONAL_PREFIXES = ("pooler.",)
# Tensors that BERT checkpoints may hold besides the encoder and a sequence
# classification head, and that the models have no use for: buffers, and the
# heads of other tasks (pre-training, masked LM, question answering).
IGNORED_NAME_PATTERNS = (
    re.compile(r"^embeddings\.(position_ids|token_type_ids)$"),
    re.compile(r"^cls\."),
    re.compile(r"^qa_outputs\."),
)
CHECKPOINT_LAYOUT = (
    "embeddings.*, encoder.layer.<0..n-1>.*, pooler.* and optionally "
    "classifier.* (each optionally prefixed with 'bert.')")
SIZE_KEYS = ("num_hidden_layers", "hidden_size", "intermediate_size",
             "vocab_size")

_SUPPORTED_POSITION_EMBEDDINGS = ("absolute",)

# Hugging Face `BertConfig` defaults, for keys a config.json leaves out.
_HF_BERT_DEFAULTS = {
    "vocab_size": 30522,
    "hidden_size": 768,
    "num_hidden_layers": 12,
    "num_attention_heads": 12,
    "intermediate_size": 3072,
    "hidden_act": "gelu",
    "hidden_dropout_prob": 0.1,
    "attention_probs_dropout_prob": 0.1,
    "max_position_embeddings": 512,
    "type_vocab_size": 2,
    "initializer_range": 0.02,
    "layer_norm_eps": 1e-12,
    "pad_token_id": 0,
}


def canonical_name(name):
  """Strips the `bert.` prefix and maps old TF-style LayerNorm names."""
  name = name.removeprefix(ENCODER_PREFIX)
  return re.sub(r"LayerNorm\.gamma$", "LayerNorm.weight",
                re.sub(r"LayerNorm\.beta$", "LayerNorm.bias", name))


def check_encoder_config(hf_config, family=FAMILY):
  """Raises for what BERT-layout encoders (BERT, RoBERTa, ELECTRA) lack.

  Raises:
    ValueError: relative position embeddings, or a decoder.
  """
  position_type = hf_config.get("position_embedding_type", "absolute")
  if position_type not in _SUPPORTED_POSITION_EMBEDDINGS:
    raise ValueError(
        f"position_embedding_type={position_type!r}: only 'absolute' "
        "position embeddings are supported.")
  if hf_config.get("is_decoder") or hf_config.get("add_cross_attention"):
    raise ValueError(
        f"a {family} decoder (is_decoder / add_cross_attention): only the "
        "bidirectional encoder is supported.")


def encoder_arguments(hf_config, defaults):
  """`BertBackbone` arguments from a BERT-layout config, `defaults` filling gaps."""
  get = lambda key: hf_config.get(key, defaults[key])  # pylint: disable=unnecessary-lambda-assignment
  pad_token_id = get("pad_token_id")
  return {
      "vocabulary_size": get("vocab_size"),
      "num_layers": get("num_hidden_layers"),
      "num_heads": get("num_attention_heads"),
      "hidden_dim": get("hidden_size"),
      "intermediate_dim": get("intermediate_size"),
      "hidden_activation": get("hidden_act"),
      "dropout": get("hidden_dropout_prob"),
      "attention_dropout": get("attention_probs_dropout_prob"),
      "max_sequence_length": get("max_position_embeddings"),
      "num_segments": get("type_vocab_size"),
      "layer_norm_epsilon": get("layer_norm_eps"),
      "initializer_range": get("initializer_range"),
      "pad_token_id": 0 if pad_token_id is None else pad_token_id,
  }


def convert_backbone_config(hf_config):
  """Maps a Hugging Face BERT config dict to `BertBackbone` arguments.

  Raises:
    ValueError: the config describes a BERT variant the backbone does not
      implement (relative position embeddings, a decoder).
  """
  check_encoder_config(hf_config)
  return dict(encoder_arguments(hf_config, _HF_BERT_DEFAULTS),
              model_type="bert")


def classifier_dropout(hf_config, backbone):
  """Hugging Face's rule: `classifier_dropout`, else the hidden dropout."""
  dropout = hf_config.get("classifier_dropout")
  return backbone.dropout if dropout is None else dropout


def convert_classifier_config(hf_config, backbone):
  """The `BertClassifier` arguments of a BERT config: pooler head."""
  return {"head_type": "pooler",
          "dropout": classifier_dropout(hf_config, backbone)}


def transformer_layer_weights(prefix, layer):
  """The `WeightMap`s of one `BertTransformerLayer` in BERT's layout."""
  attention = f"{prefix}.attention"
  return [
      # One fused [hidden, 3 * hidden] Keras kernel holds query, key, value.
      *fused_dense([f"{attention}.self.{n}" for n in ("query", "key", "value")],
                   layer.qkv_dense),
      *dense(f"{attention}.output.dense", layer.attention_output_dense),
      *layer_norm(f"{attention}.output.LayerNorm", layer.attention_layer_norm),
      *dense(f"{prefix}.intermediate.dense", layer.intermediate_dense),
      *dense(f"{prefix}.output.dense", layer.output_dense),
      *layer_norm(f"{prefix}.output.LayerNorm", layer.output_layer_norm),
  ]


def embedding_weights(embeddings, prefix="", token_types=True):
  """The `WeightMap`s of `BertEmbeddings` under `<prefix>embeddings.`.

  Shared by every family; `token_types=False` for those without a token type
  table (DistilBERT).
  """
  weights = [
      same(f"{prefix}embeddings.word_embeddings.weight",
           embeddings.token_embedding.embeddings),
      same(f"{prefix}embeddings.position_embeddings.weight",
           embeddings.position_embedding.embeddings),
  ]
  if token_types:
    weights.append(same(f"{prefix}embeddings.token_type_embeddings.weight",
                        embeddings.segment_embedding.embeddings))
  weights += layer_norm(f"{prefix}embeddings.LayerNorm", embeddings.layer_norm)
  return weights


def layers_weights(backbone, prefix, layer_weights=transformer_layer_weights):
  """The `WeightMap`s of every transformer layer, `<prefix>.<i>` each."""
  weights = []
  for i, layer in enumerate(backbone.transformer_layers):
    weights += layer_weights(f"{prefix}.{i}", layer)
  return weights


def backbone_weights(backbone, prefix=""):
  """The `WeightMap`s of a `BertBackbone`, names prefixed with `prefix`."""
  return [*embedding_weights(backbone.embeddings, prefix),
          *layers_weights(backbone, f"{prefix}encoder.layer"),
          *dense(f"{prefix}pooler.dense", backbone.pooler)]


def head_weights(classifier):
  """The `WeightMap`s of a `BertClassifier`'s head."""
  return dense("classifier", classifier.output_dense)


def two_dense_head_names(output_prefix, head_prefix):
  """`HEAD_NAMES` of a two-`Linear` head, the output layer's weight first."""
  return (f"{output_prefix}.weight", f"{output_prefix}.bias",
          f"{head_prefix}.weight", f"{head_prefix}.bias")


def two_dense_head_weights(classifier, output_prefix, head_prefix):
  """The `WeightMap`s of a head with a hidden `Linear` before the output one."""
  return [*dense(output_prefix, classifier.output_dense),
          *dense(head_prefix, classifier.head_dense)]


def check_plain_layers(backbone, family=FAMILY):
  """Raises unless `backbone` is plain embeddings and identical layers."""
  if not isinstance(backbone.embeddings, BertEmbeddings):
    raise TypeError(
        f"backbone.embeddings is a {type(backbone.embeddings).__name__}, not "
        f"a BertEmbeddings: only standard {family} layers map to Hugging Face "
        "names.")
  if not backbone.transformer_layers:
    raise ValueError("The backbone has no transformer layers to save.")
  reference = None
  for i, block in enumerate(backbone.transformer_layers):
    if not isinstance(block, BertTransformerLayer):
      raise TypeError(
          f"backbone.transformer_layers[{i}] is a {type(block).__name__}, not "
          f"a BertTransformerLayer: a Hugging Face {family} checkpoint holds plain "
          "transformer layers only. Build a model from the layers to export "
          "first (e.g. the successor's, with BertBackbone.from_layers or "
          "build_bert_classifier) and save that.")
    config = block.get_config()
    for key in ("name", "dtype", "trainable"):  # Not part of the architecture.
      config.pop(key, None)
    if reference is None:
      reference = config
    elif config != reference:
      raise ValueError(
          f"backbone.transformer_layers[{i}] has a different configuration "
          f"from layer 0 ({config} vs {reference}); a Hugging Face config "
          "describes identical layers.")


def _check_standard_bert(backbone):
  """Raises unless `backbone` is made of plain BERT layers."""
  check_plain_layers(backbone)
  pooler = backbone.pooler
  if (not isinstance(pooler, keras.layers.Dense) or not pooler.use_bias or
      getattr(pooler.activation, "__name__", None) != "tanh"):
    raise TypeError(
        f"backbone.pooler is a {type(pooler).__name__}; Hugging Face BERT's "
        "pooler is a Dense layer with bias and tanh activation.")


def encoder_hf_config(backbone, architecture, model_type):
  """The `config.json` keys of a BERT-layout encoder (BERT, RoBERTa, ELECTRA)."""
  embeddings = backbone.embeddings
  layer = backbone.transformer_layers[0]
  return {
      "architectures": [architecture],
      "model_type": model_type,
      "vocab_size": embeddings.vocabulary_size,
      "hidden_size": embeddings.hidden_dim,
      "num_hidden_layers": len(backbone.transformer_layers),
      "num_attention_heads": layer.num_heads,
      "intermediate_size": layer.intermediate_dim,
      "hidden_act": layer.hidden_activation,
      "hidden_dropout_prob": layer.dropout,
      "attention_probs_dropout_prob": layer.attention_dropout,
      "max_position_embeddings": embeddings.max_sequence_length,
      "type_vocab_size": embeddings.num_segments,
      "initializer_range": embeddings.initializer_range,
      "layer_norm_eps": layer.layer_norm_epsilon,
      "pad_token_id": embeddings.pad_token_id,
      "position_embedding_type": "absolute",
      "dtype": "float32",
  }


def label_hf_config(model):
  """The `config.json` keys of a classifier's labels and problem type."""
  return {
      "problem_type": model.problem_type,
      "id2label": {str(i): label for i, label in model.id2label.items()},
      "label2id": {label: i for i, label in model.id2label.items()},
  }


def check_head_type(model, head_type, family):
  """Raises unless the classifier `model` has the head of `family`."""
  if model.head_type != head_type:
    raise ValueError(
        f"The classifier has head_type={model.head_type!r}; a Hugging Face "
        f"{family} classifier has the {head_type!r} head.")


def split_model(model):
  """`(is_classifier, backbone)` of a `BertClassifier` or `BertBackbone`."""
  is_classifier = isinstance(model, BertClassifier)
  return is_classifier, model.backbone if is_classifier else model


def add_classifier_hf_config(config, model, head_type, family):
  """Adds a classifier's head dropout and labels to an encoder's `config.json`.

  `classifier_dropout` is left None when it equals the hidden dropout, Hugging
  Face's fallback (see `classifier_dropout`).

  Raises:
    ValueError: the classifier's head is not `head_type`.
  """
  check_head_type(model, head_type, family)
  config["classifier_dropout"] = (
      None if model.dropout == config["hidden_dropout_prob"] else model.dropout)
  config.update(label_hf_config(model))
  return config


def hf_config_from_model(model):
  """The Hugging Face `config.json` dict describing `model`.

  Args:
    model: a `BertClassifier` or `BertBackbone` whose transformer layers are
      all `BertTransformerLayer`s with the same configuration.

  Raises:
    TypeError, ValueError: `model` is not a plain BERT model.
  """
  is_classifier, backbone = split_model(model)
  _check_standard_bert(backbone)
  if not is_classifier:
    return encoder_hf_config(backbone, "BertModel", "bert")
  config = encoder_hf_config(backbone, "BertForSequenceClassification", "bert")
  return add_classifier_hf_config(config, model, "pooler", FAMILY)
