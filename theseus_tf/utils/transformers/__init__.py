"""Hugging Face `transformers` checkpoints in and out of theseus_tf models."""

from theseus_tf.utils.transformers.convert_bert import from_pretrained
from theseus_tf.utils.transformers.convert_bert import resolve_model_dir
from theseus_tf.utils.transformers.convert_bert import save_pretrained
