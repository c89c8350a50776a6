"""Hugging Face `transformers` checkpoints in and out of theseus_tf models.

Shared I/O (`model_folder`, `safetensor_utils`, `hf_config`, `weight_map`),
one thin `convert_<family>.py` per model family, and `preset_loader`'s
family-agnostic `from_pretrained` / `save_pretrained` / `load_tokenizer`.
"""

from theseus_tf.utils.transformers.model_folder import resolve_model_dir
from theseus_tf.utils.transformers.preset_loader import SUPPORTED_MODEL_TYPES
from theseus_tf.utils.transformers.preset_loader import from_pretrained
from theseus_tf.utils.transformers.preset_loader import load_tokenizer
from theseus_tf.utils.transformers.preset_loader import save_pretrained

__all__ = [
    "SUPPORTED_MODEL_TYPES",
    "from_pretrained",
    "load_tokenizer",
    "resolve_model_dir",
    "save_pretrained",
]
