"""Hugging Face ELECTRA discriminators (`model_type` "electra").

BERT's encoder layout under the `electra.` prefix, with `embedding_size`-wide
embeddings projected to `hidden_size` by `embeddings_project` when the two
differ, no pooler, and a classification head of `classifier.dense` (GELU) and
`classifier.out_proj` on the first token. See `convert_bert` for the
converter interface.
"""

import re

from theseus_tf.models.bert_backbone import BertBackbone
from theseus_tf.models.bert_classifier import BertClassifier
from theseus_tf.utils.transformers import convert_bert
from theseus_tf.utils.transformers.weight_map import dense

backbone_cls = BertBackbone
classifier_cls = BertClassifier

FAMILY = "ELECTRA"
ENCODER_PREFIX = "electra."
# The head: `classifier.dense`, then the output layer `classifier.out_proj`.
_HEAD_PREFIXES = ("classifier.out_proj", "classifier.dense")
HEAD_NAMES = convert_bert.two_dense_head_names(*_HEAD_PREFIXES)
OPTIONAL_PREFIXES = ()
# Buffers and the heads of other tasks (the pre-training discriminator head,
# generator heads, question answering).
IGNORED_NAME_PATTERNS = (
    re.compile(r"^embeddings\.(position_ids|token_type_ids)$"),
    re.compile(r"^discriminator_predictions\."),
    re.compile(r"^generator_"),
    re.compile(r"^qa_outputs\."),
)
CHECKPOINT_LAYOUT = (
    "embeddings.*, embeddings_project.* (if embedding_size != hidden_size), "
    "encoder.layer.<0..n-1>.* and optionally classifier.dense.* + "
    "classifier.out_proj.* (encoder names optionally prefixed with "
    "'electra.')")
SIZE_KEYS = ("num_hidden_layers", "embedding_size", "hidden_size",
             "intermediate_size", "vocab_size")

# Hugging Face `ElectraConfig` defaults (the small discriminator's).
_HF_ELECTRA_DEFAULTS = dict(
    convert_bert._HF_BERT_DEFAULTS,  # pylint: disable=protected-access
    hidden_size=256, num_attention_heads=4, intermediate_size=1024,
    embedding_size=128)


def canonical_name(name):
  """Strips the `electra.` prefix."""
  return name.removeprefix(ENCODER_PREFIX)


def convert_backbone_config(hf_config):
  """Maps a Hugging Face ELECTRA config dict to `BertBackbone` arguments."""
  convert_bert.check_encoder_config(hf_config, FAMILY)
  arguments = convert_bert.encoder_arguments(hf_config, _HF_ELECTRA_DEFAULTS)
  embedding_size = hf_config.get("embedding_size",
                                 _HF_ELECTRA_DEFAULTS["embedding_size"])
  arguments.update(
      embedding_dim=(None if embedding_size == arguments["hidden_dim"] else
                     embedding_size),
      use_pooler=False,
      model_type="electra")
  return arguments


def convert_classifier_config(hf_config, backbone):
  """The `BertClassifier` arguments: ELECTRA's head."""
  return {"head_type": "electra",
          "dropout": convert_bert.classifier_dropout(hf_config, backbone)}


def backbone_weights(backbone, prefix=""):
  """The `WeightMap`s of an ELECTRA-layout `BertBackbone`."""
  embeddings = backbone.embeddings
  weights = convert_bert.embedding_weights(embeddings, prefix)
  if embeddings.embeddings_project is not None:
    weights += dense(f"{prefix}embeddings_project",
                     embeddings.embeddings_project)
  return weights + convert_bert.layers_weights(backbone,
                                              f"{prefix}encoder.layer")


def head_weights(classifier):
  """The `WeightMap`s of ELECTRA's classification head."""
  return convert_bert.two_dense_head_weights(classifier, *_HEAD_PREFIXES)


def hf_config_from_model(model):
  """The Hugging Face `config.json` of an ELECTRA model."""
  is_classifier, backbone = convert_bert.split_model(model)
  convert_bert.check_plain_layers(backbone, FAMILY)
  embeddings = backbone.embeddings
  if embeddings.position_offset is not None or embeddings.num_segments < 1:
    raise ValueError(
        f"The embeddings (position_offset={embeddings.position_offset}, "
        f"num_segments={embeddings.num_segments}) are not {FAMILY}'s: it "
        "needs position_offset=None and a token type table.")
  architecture = ("ElectraForSequenceClassification" if is_classifier else
                  "ElectraModel")
  config = convert_bert.encoder_hf_config(backbone, architecture, "electra")
  config["embedding_size"] = embeddings.embedding_dim or embeddings.hidden_dim
  if is_classifier:
    convert_bert.add_classifier_hf_config(config, model, "electra", FAMILY)
  return config
