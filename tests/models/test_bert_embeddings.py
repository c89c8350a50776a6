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


def test_position_offset_counts_non_padding_tokens_like_roberta():
  # Hugging Face `create_position_ids_from_input_ids` with padding_idx 1:
  # tokens get rows 2, 3, ...; padding keeps row 1 wherever it sits.
  embeddings = _embeddings(max_sequence_length=8, num_segments=1,
                           pad_token_id=1, position_offset=1, dropout=0.0)
  ids = tf.constant([[0, 5, 1, 7, 1]])
  outputs = embeddings(ids).numpy()[0]
  rows = [2, 3, 1, 4, 1]
  summed = (embeddings.token_embedding.embeddings.numpy()[[0, 5, 1, 7, 1]] +
            embeddings.position_embedding.embeddings.numpy()[rows] +
            embeddings.segment_embedding.embeddings.numpy()[[0] * 5])
  normed = (summed - summed.mean(-1, keepdims=True)) / np.sqrt(
      summed.var(-1, keepdims=True) + 1e-12)
  np.testing.assert_allclose(outputs, normed, atol=1e-5)
  # 8 rows, offset 1: at most 6 tokens.
  assert embeddings.max_tokens == 6
  with pytest.raises(ValueError, match="truncate the inputs to 6 tokens"):
    embeddings(tf.ones([1, 7], tf.int32))


def test_no_token_types():
  embeddings = _embeddings(num_segments=0)
  ids = tf.constant([[1, 2, 3]])
  assert embeddings(ids).shape == (1, 3, 8)
  assert embeddings.segment_embedding is None
  assert len(embeddings.weights) == 4  # Two tables and the layer norm.
  with pytest.raises(ValueError, match="token_type_ids given to embeddings "
                     "without token types"):
    embeddings(ids, token_type_ids=tf.zeros_like(ids))


def test_embedding_projection_like_electra():
  embeddings = _embeddings(embedding_dim=4, dropout=0.0)
  ids = tf.constant([[3, 5, 7]])
  outputs = embeddings(ids).numpy()
  assert embeddings.token_embedding.embeddings.shape == (20, 4)
  narrow = embeddings.layer_norm(
      embeddings.token_embedding(ids) + embeddings.segment_embedding(
          tf.zeros_like(ids)) + embeddings.position_embedding(tf.range(3)))
  np.testing.assert_allclose(
      outputs, embeddings.embeddings_project(narrow).numpy(), atol=1e-5)


@pytest.mark.parametrize("kwargs", [
    dict(num_segments=1, pad_token_id=1, position_offset=1),
    dict(num_segments=0),
    dict(embedding_dim=4),
], ids=["roberta", "distilbert", "electra"])
def test_family_layer_contract(tmp_path, kwargs):
  run_layer_test(lambda **k: _embeddings(**kwargs, **k),
                 tf.constant([[3, 5, 7, 1], [2, 4, 1, 1]]), tmp_path)
