"""BERT in Keras: embeddings, transformer layer, backbone, classifiers.

Hugging Face checkpoints in and out: `theseus_tf.utils.transformers`.
"""

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
