"""Hugging Face DistilBERT (`model_type` "distilbert").

Post-norm layers like BERT's under other names (`q_lin`/`k_lin`/`v_lin`,
`out_lin`, `sa_layer_norm`, `ffn.lin1`/`lin2`, `output_layer_norm`), learned
positions, no token types, no pooler; the classification head is
`pre_classifier` (ReLU) and `classifier` on the first token. Configs use
their own keys (`dim`, `n_layers`, `n_heads`, `hidden_dim`, `activation`).
Sinusoidal position embeddings are refused. See `convert_bert` for the
converter interface.
"""

import re

from theseus_tf.models.bert_backbone import BertBackbone
from theseus_tf.models.bert_classifier import BertClassifier
from theseus_tf.utils.transformers import convert_bert
from theseus_tf.utils.transformers.weight_map import dense
from theseus_tf.utils.transformers.weight_map import fused_dense
from theseus_tf.utils.transformers.weight_map import layer_norm

backbone_cls = BertBackbone
classifier_cls = BertClassifier

FAMILY = "DistilBERT"
ENCODER_PREFIX = "distilbert."
# The head: `pre_classifier`, then the output layer `classifier`.
_HEAD_PREFIXES = ("classifier", "pre_classifier")
HEAD_NAMES = convert_bert.two_dense_head_names(*_HEAD_PREFIXES)
OPTIONAL_PREFIXES = ()
# Buffers and the heads of other tasks (masked LM, question answering).
IGNORED_NAME_PATTERNS = (
    re.compile(r"^embeddings\.position_ids$"),
    re.compile(r"^vocab_(transform|layer_norm|projector)\."),
    re.compile(r"^qa_outputs\."),
)
CHECKPOINT_LAYOUT = (
    "embeddings.*, transformer.layer.<0..n-1>.* and optionally "
    "pre_classifier.* + classifier.* (encoder names optionally prefixed with "
    "'distilbert.')")
SIZE_KEYS = ("n_layers", "dim", "hidden_dim", "vocab_size")

# DistilBERT's layer norms have a fixed epsilon (no config key).
_LAYER_NORM_EPSILON = 1e-12
# Hugging Face `DistilBertConfig` defaults.
_HF_DISTILBERT_DEFAULTS = {
    "vocab_size": 30522, "max_position_embeddings": 512, "n_layers": 6,
    "n_heads": 12, "dim": 768, "hidden_dim": 3072, "dropout": 0.1,
    "attention_dropout": 0.1, "activation": "gelu", "initializer_range": 0.02,
    "seq_classif_dropout": 0.2, "pad_token_id": 0,
}


def canonical_name(name):
  """Strips the `distilbert.` prefix."""
  return name.removeprefix(ENCODER_PREFIX)


def convert_backbone_config(hf_config):
  """Maps a Hugging Face DistilBERT config dict to `BertBackbone` arguments.

  Raises:
    ValueError: `sinusoidal_pos_embds` is set (fixed sinusoidal positions are
      not supported).
  """
  if hf_config.get("sinusoidal_pos_embds"):
    raise ValueError(
        "sinusoidal_pos_embds=true: DistilBERT with fixed sinusoidal position "
        "embeddings is not supported, only learned ones "
        "(sinusoidal_pos_embds=false).")
  get = lambda key: hf_config.get(key, _HF_DISTILBERT_DEFAULTS[key])  # pylint: disable=unnecessary-lambda-assignment
  pad_token_id = get("pad_token_id")
  return {
      "vocabulary_size": get("vocab_size"),
      "num_layers": get("n_layers"),
      "num_heads": get("n_heads"),
      "hidden_dim": get("dim"),
      "intermediate_dim": get("hidden_dim"),
      "hidden_activation": get("activation"),
      "dropout": get("dropout"),
      "attention_dropout": get("attention_dropout"),
      "max_sequence_length": get("max_position_embeddings"),
      "num_segments": 0,
      "layer_norm_epsilon": _LAYER_NORM_EPSILON,
      "initializer_range": get("initializer_range"),
      "pad_token_id": 0 if pad_token_id is None else pad_token_id,
      "use_pooler": False,
      "model_type": "distilbert",
  }


def convert_classifier_config(hf_config, backbone):
  """The `BertClassifier` arguments: DistilBERT's head, `seq_classif_dropout`."""
  del backbone  # DistilBERT's head dropout has its own key.
  return {"head_type": "distilbert",
          "dropout": hf_config.get(
              "seq_classif_dropout",
              _HF_DISTILBERT_DEFAULTS["seq_classif_dropout"])}


def _transformer_layer_weights(prefix, layer):
  attention = f"{prefix}.attention"
  return [
      *fused_dense([f"{attention}.{n}" for n in ("q_lin", "k_lin", "v_lin")],
                   layer.qkv_dense),
      *dense(f"{attention}.out_lin", layer.attention_output_dense),
      *layer_norm(f"{prefix}.sa_layer_norm", layer.attention_layer_norm),
      *dense(f"{prefix}.ffn.lin1", layer.intermediate_dense),
      *dense(f"{prefix}.ffn.lin2", layer.output_dense),
      *layer_norm(f"{prefix}.output_layer_norm", layer.output_layer_norm),
  ]


def backbone_weights(backbone, prefix=""):
  """The `WeightMap`s of a DistilBERT-layout `BertBackbone`."""
  return [*convert_bert.embedding_weights(backbone.embeddings, prefix,
                                          token_types=False),
          *convert_bert.layers_weights(backbone,
                                       f"{prefix}transformer.layer",
                                       _transformer_layer_weights)]


def head_weights(classifier):
  """The `WeightMap`s of DistilBERT's classification head."""
  return convert_bert.two_dense_head_weights(classifier, *_HEAD_PREFIXES)


def hf_config_from_model(model):
  """The Hugging Face `config.json` of a DistilBERT model."""
  is_classifier, backbone = convert_bert.split_model(model)
  convert_bert.check_plain_layers(backbone, FAMILY)
  embeddings = backbone.embeddings
  layer = backbone.transformer_layers[0]
  if (embeddings.num_segments or embeddings.position_offset is not None or
      embeddings.embedding_dim not in (None, embeddings.hidden_dim) or
      layer.layer_norm_epsilon != _LAYER_NORM_EPSILON):
    raise ValueError(
        f"The model is not {FAMILY}'s architecture: it needs no token types "
        "(num_segments=0), position_offset=None, no embedding projection and "
        f"layer_norm_epsilon={_LAYER_NORM_EPSILON}.")
  config = {
      "architectures": ["DistilBertModel"],
      "model_type": "distilbert",
      "vocab_size": embeddings.vocabulary_size,
      "dim": embeddings.hidden_dim,
      "n_layers": len(backbone.transformer_layers),
      "n_heads": layer.num_heads,
      "hidden_dim": layer.intermediate_dim,
      "activation": layer.hidden_activation,
      "dropout": layer.dropout,
      "attention_dropout": layer.attention_dropout,
      "max_position_embeddings": embeddings.max_sequence_length,
      "initializer_range": embeddings.initializer_range,
      "pad_token_id": embeddings.pad_token_id,
      "sinusoidal_pos_embds": False,
      "dtype": "float32",
  }
  if is_classifier:
    convert_bert.check_head_type(model, "distilbert", FAMILY)
    config["architectures"] = ["DistilBertForSequenceClassification"]
    config["seq_classif_dropout"] = model.dropout
    config.update(convert_bert.label_hf_config(model))
  return config
