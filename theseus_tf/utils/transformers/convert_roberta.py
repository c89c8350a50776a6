"""Hugging Face RoBERTa and XLM-RoBERTa (`model_type` "roberta", "xlm-roberta").

The two share one layout (encoder names prefixed `roberta.` in both) and
differ only in `model_type` and class names, which the model records. The
encoder is BERT's with positions counted from `pad_token_id + 1` and one
token type; the classification head is `classifier.dense` (tanh) and
`classifier.out_proj` on the first token. See `convert_bert` for the
converter interface.
"""

import re

from theseus_tf.models.bert_backbone import BertBackbone
from theseus_tf.models.bert_classifier import BertClassifier
from theseus_tf.utils.transformers import convert_bert

backbone_cls = BertBackbone
classifier_cls = BertClassifier

FAMILY = "RoBERTa"
ENCODER_PREFIX = "roberta."
# The head: `classifier.dense`, then the output layer `classifier.out_proj`.
_HEAD_PREFIXES = ("classifier.out_proj", "classifier.dense")
HEAD_NAMES = convert_bert.two_dense_head_names(*_HEAD_PREFIXES)
OPTIONAL_PREFIXES = ()
# Buffers, the pooler of `RobertaModel` (unused by the classification head)
# and the heads of other tasks.
IGNORED_NAME_PATTERNS = (
    re.compile(r"^embeddings\.(position_ids|token_type_ids)$"),
    re.compile(r"^pooler\."),
    re.compile(r"^lm_head\."),
    re.compile(r"^qa_outputs\."),
)
CHECKPOINT_LAYOUT = (
    "embeddings.*, encoder.layer.<0..n-1>.* and optionally classifier.dense.*"
    " + classifier.out_proj.* (encoder names optionally prefixed with "
    "'roberta.')")
SIZE_KEYS = convert_bert.SIZE_KEYS

# Hugging Face `RobertaConfig` defaults (XLM-R's are the same).
_HF_ROBERTA_DEFAULTS = dict(
    convert_bert._HF_BERT_DEFAULTS,  # pylint: disable=protected-access
    vocab_size=50265, max_position_embeddings=514, type_vocab_size=1,
    layer_norm_eps=1e-5, pad_token_id=1)
_ARCHITECTURE_PREFIXES = {"roberta": "Roberta", "xlm-roberta": "XLMRoberta"}


def canonical_name(name):
  """Strips the `roberta.` prefix."""
  return name.removeprefix(ENCODER_PREFIX)


def convert_backbone_config(hf_config):
  """Maps a Hugging Face RoBERTa / XLM-R config dict to `BertBackbone` arguments."""
  convert_bert.check_encoder_config(hf_config, FAMILY)
  arguments = convert_bert.encoder_arguments(hf_config, _HF_ROBERTA_DEFAULTS)
  model_type = hf_config.get("model_type", "roberta")
  if model_type not in _ARCHITECTURE_PREFIXES:
    raise ValueError(
        f"model_type={model_type!r} is not one of "
        f"{sorted(_ARCHITECTURE_PREFIXES)}.")
  arguments.update(
      # Hugging Face counts positions from padding_idx + 1.
      position_offset=arguments["pad_token_id"],
      use_pooler=False,
      model_type=model_type)
  return arguments


def convert_classifier_config(hf_config, backbone):
  """The `BertClassifier` arguments: RoBERTa's head."""
  return {"head_type": "roberta",
          "dropout": convert_bert.classifier_dropout(hf_config, backbone)}


def backbone_weights(backbone, prefix=""):
  """The `WeightMap`s of a RoBERTa-layout `BertBackbone`."""
  return [*convert_bert.embedding_weights(backbone.embeddings, prefix),
          *convert_bert.layers_weights(backbone, f"{prefix}encoder.layer")]


def head_weights(classifier):
  """The `WeightMap`s of RoBERTa's classification head."""
  return convert_bert.two_dense_head_weights(classifier, *_HEAD_PREFIXES)


def _check_roberta(backbone):
  convert_bert.check_plain_layers(backbone, FAMILY)
  embeddings = backbone.embeddings
  if (embeddings.position_offset != embeddings.pad_token_id or
      embeddings.num_segments < 1 or embeddings.embedding_dim not in
      (None, embeddings.hidden_dim)):
    raise ValueError(
        f"The embeddings (position_offset={embeddings.position_offset}, "
        f"pad_token_id={embeddings.pad_token_id}, num_segments="
        f"{embeddings.num_segments}, embedding_dim={embeddings.embedding_dim})"
        f" are not {FAMILY}'s: it needs position_offset == pad_token_id, a "
        "token type table and no embedding projection.")


def hf_config_from_model(model):
  """The Hugging Face `config.json` of a RoBERTa or XLM-R model.

  The `model_type` ("roberta" or "xlm-roberta") is the one the model records
  (`backbone.model_type`).
  """
  is_classifier, backbone = convert_bert.split_model(model)
  _check_roberta(backbone)
  model_type = backbone.model_type
  prefix = _ARCHITECTURE_PREFIXES[model_type]
  architecture = (f"{prefix}ForSequenceClassification" if is_classifier else
                  f"{prefix}Model")
  config = convert_bert.encoder_hf_config(backbone, architecture, model_type)
  config.update(bos_token_id=0, eos_token_id=2)
  if is_classifier:
    convert_bert.add_classifier_hf_config(config, model, "roberta", FAMILY)
  return config
