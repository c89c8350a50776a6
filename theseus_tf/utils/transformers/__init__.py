"""Hugging Face checkpoints in and out: shared I/O, one thin `convert_<family>.py`
per model family, and `preset_loader`'s `from_pretrained` / `save_pretrained`."""

from theseus_tf.utils.transformers.model_folder import resolve_model_dir
from theseus_tf.utils.transformers.preset_loader import SUPPORTED_MODEL_TYPES
from theseus_tf.utils.transformers.preset_loader import build_classifier
from theseus_tf.utils.transformers.preset_loader import from_pretrained
from theseus_tf.utils.transformers.preset_loader import load_tokenizer
from theseus_tf.utils.transformers.preset_loader import save_pretrained

__all__ = [
    "SUPPORTED_MODEL_TYPES",
    "build_classifier",
    "from_pretrained",
    "load_tokenizer",
    "resolve_model_dir",
    "save_pretrained",
]
