"""Shared constants and helpers of the export tests."""

import numpy as np

from theseus_tf.data import FEATURE_NAMES

# Short sequences keep the tiny-model exports fast.
MAX_SEQ_LENGTH = 32

# Texts that exercise the tokenizer: accents, CJK, control characters,
# punctuation, empty and over-long inputs.
TEXTS = [
    "A gripping, well-acted thriller.",
    "Héllo wörld: naïve café résumé!",
    "中文 mixed with English, 日本語",
    "ctrl\x00char\x07s and\ttabs\nnewlines",
    "",
    "unaffable " * 40,
]


def hf_features(tokenizer, text_a, text_b=None, max_length=MAX_SEQ_LENGTH,
                pad_to=None):
  """Hugging Face's int32 features, padded to the batch or to `pad_to`."""
  encoded = tokenizer(list(text_a), None if text_b is None else list(text_b),
                      truncation=True, max_length=max_length,
                      padding="max_length" if pad_to else "longest",
                      return_tensors="np")
  return {name: encoded[name].astype(np.int32) for name in FEATURE_NAMES}
