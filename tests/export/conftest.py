"""Fixtures of the export tests: the tiny fixture classifier and its tokenizer."""

import numpy as np
import pytest

from theseus_tf.export import TextPreprocessor
from tests.export.export_helpers import MAX_SEQ_LENGTH


@pytest.fixture(scope="session")
def tiny_dir(fixtures_dir):
  """The tiny 4-layer, 3-label Hugging Face classifier (tokenizer.json only)."""
  return fixtures_dir / "tiny-bert-classifier"


@pytest.fixture
def tiny_model(tiny_dir):
  """The tiny classifier as loaded: its head is untrained (zero bias)."""
  from theseus_tf.utils.transformers import from_pretrained
  return from_pretrained(str(tiny_dir))


@pytest.fixture
def trained_tiny_model(tiny_model):
  """The tiny classifier with a non-zero head bias, as after fine-tuning."""
  tiny_model.output_dense.bias.assign(np.array([0.1, -0.2, 0.05], np.float32))
  tiny_model.id2label = {0: "negative", 1: "neutral", 2: "positive"}
  return tiny_model


@pytest.fixture(scope="session")
def hf_tiny_tokenizer(tiny_dir):
  from theseus_tf.utils.transformers import load_tokenizer
  return load_tokenizer(str(tiny_dir))


@pytest.fixture(scope="session")
def tiny_preprocessor(tiny_dir):
  """Dynamic padding, as in SavedModels."""
  return TextPreprocessor.from_pretrained(tiny_dir,
                                         max_seq_length=MAX_SEQ_LENGTH)


@pytest.fixture(scope="session")
def tiny_fixed_preprocessor(tiny_dir):
  """Padding to MAX_SEQ_LENGTH, as in TFLite models."""
  return TextPreprocessor.from_pretrained(
      tiny_dir, max_seq_length=MAX_SEQ_LENGTH, pad_to_max_length=True)
