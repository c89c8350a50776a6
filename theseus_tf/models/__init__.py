"""Encoders in Keras: embeddings, transformer layer, backbone, classifiers.

One implementation for BERT, RoBERTa, XLM-RoBERTa, ELECTRA and DistilBERT
(`BertBackbone` / `BertClassifier` arguments say what differs).

Hugging Face checkpoints in and out: `theseus_tf.utils.transformers`.
"""

import importlib
import warnings

from theseus_tf.models.bert_backbone import BertBackbone
from theseus_tf.models.bert_classifier import BertClassifier
from theseus_tf.models.bert_classifier import build_bert_classifier
from theseus_tf.models.bert_embeddings import BertEmbeddings
from theseus_tf.models.bert_transformer_layer import BertTransformerLayer
from theseus_tf.models.theseus_classifier import build_theseus_classifier
from theseus_tf.models.theseus_classifier import set_shared_trainable

__all__ = [
    "BertBackbone",
    "BertClassifier",
    "BertEmbeddings",
    "BertTransformerLayer",
    "build_bert_classifier",
    "build_theseus_classifier",
    "set_shared_trainable",
]

# Moved to `theseus_tf.utils.transformers` (the converters import the models,
# never the reverse); the old names work, with a warning, for one release.
_MOVED_TO_TRANSFORMERS = ("from_pretrained", "load_tokenizer", "save_pretrained")


def __getattr__(name):
  if name in _MOVED_TO_TRANSFORMERS:
    warnings.warn(
        f"theseus_tf.models.{name} is now theseus_tf.utils.transformers."
        f"{name}; the old name will be removed in the next release.",
        DeprecationWarning, stacklevel=2)
    return getattr(importlib.import_module("theseus_tf.utils.transformers"),
                   name)
  raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
