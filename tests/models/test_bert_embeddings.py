"""Tests for theseus_tf.models.bert_embeddings."""

import numpy as np
import pytest
import tensorflow as tf

from theseus_tf.models import BertEmbeddings
from tests.layer_test_helper import run_layer_test


def _embeddings(**kwargs):
  args = dict(vocabulary_size=20, hidden_dim=8, max_sequence_length=6)
  args.update(kwargs)
  return BertEmbeddings(**args)


def test_output_shape_and_variable_sequence_length():
  embeddings = _embeddings()
  for seq in (1, 4, 6):
    ids = tf.ones([3, seq], tf.int32)
    assert embeddings(ids, token_type_ids=tf.zeros_like(ids)).shape == (3, seq, 8)


def test_sums_the_three_tables_then_normalises():
  embeddings = _embeddings(dropout=0.0)
  ids = tf.constant([[3, 5, 7]])
  types = tf.constant([[0, 1, 1]])
  outputs = embeddings(ids, token_type_ids=types).numpy()[0]
  summed = (embeddings.token_embedding.embeddings.numpy()[[3, 5, 7]] +
            embeddings.position_embedding.embeddings.numpy()[:3] +
            embeddings.segment_embedding.embeddings.numpy()[[0, 1, 1]])
  normed = (summed - summed.mean(-1, keepdims=True)) / np.sqrt(
      summed.var(-1, keepdims=True) + 1e-12)
  np.testing.assert_allclose(outputs, normed, atol=1e-5)


def test_missing_token_type_ids_are_zeros():
  embeddings = _embeddings()
  ids = tf.constant([[1, 2, 3]])
  np.testing.assert_allclose(
      embeddings(ids), embeddings(ids, token_type_ids=tf.zeros_like(ids)))


def test_too_long_sequences_are_an_error():
  with pytest.raises(ValueError, match="longer than the 6 position embeddings"):
    _embeddings()(tf.ones([1, 7], tf.int32))


def test_layer_contract(tmp_path):
  run_layer_test(
      lambda **kwargs: _embeddings(num_segments=3, layer_norm_epsilon=1e-5,
                                   dropout=0.3, initializer_range=0.1,
                                   pad_token_id=1, **kwargs),
      tf.constant([[3, 5, 7, 1], [2, 4, 0, 0]]), tmp_path,
      call_kwargs={"token_type_ids": tf.constant([[0, 1, 2, 2], [0, 0, 1, 1]])})
