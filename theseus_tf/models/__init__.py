"""BERT in Keras, and Hugging Face BERT checkpoints in and out."""

from theseus_tf.models.bert_backbone import BertBackbone
from theseus_tf.models.bert_classifier import BertClassifier
from theseus_tf.models.bert_classifier import build_bert_classifier
from theseus_tf.models.bert_embeddings import BertEmbeddings
from theseus_tf.models.bert_tokenizer import load_tokenizer
from theseus_tf.models.bert_transformer_layer import BertTransformerLayer
from theseus_tf.models.theseus_classifier import build_theseus_classifier
from theseus_tf.models.theseus_classifier import set_shared_trainable
from theseus_tf.utils.transformers.convert_bert import from_pretrained
from theseus_tf.utils.transformers.convert_bert import save_pretrained

__all__ = [
    "BertBackbone",
    "BertClassifier",
    "BertEmbeddings",
    "BertTransformerLayer",
    "build_bert_classifier",
    "build_theseus_classifier",
    "from_pretrained",
    "load_tokenizer",
    "save_pretrained",
    "set_shared_trainable",
]
