"""Tests of tokenisation and the tf.data pipelines on real GLUE data."""

import numpy as np
import pytest
import tensorflow as tf

from theseus_tf.data import FEATURE_NAMES
from theseus_tf.data import GlueExample
from theseus_tf.data import encode_examples
from theseus_tf.data import eval_dataset
from theseus_tf.data import load_dataset
from theseus_tf.data import load_examples
from theseus_tf.data import train_dataset

MAX_LEN = 128


@pytest.fixture(scope="module")
def tokenizer(minilm_dir):
  import transformers
  return transformers.AutoTokenizer.from_pretrained(str(minilm_dir))


@pytest.fixture(scope="module")
def sst2_dev(glue_dir, tokenizer):
  examples = load_examples("sst2", "dev", glue_dir)
  return examples, encode_examples("sst2", examples, tokenizer, MAX_LEN)


def _unpadded_rows(features):
  """Per-example feature lists of a batch, padding dropped."""
  lengths = features["attention_mask"].numpy().sum(axis=1)
  return [{name: features[name].numpy()[i, :n].tolist()
           for name in FEATURE_NAMES} for i, n in enumerate(lengths)]


def test_eval_pipeline_keeps_order_and_equals_hf(sst2_dev, tokenizer):
  examples, encoded = sst2_dev
  dev = eval_dataset(encoded, batch_size=32)
  assert dev.num_examples == 872
  assert dev.steps_per_epoch == dev.dataset.cardinality().numpy() == 28
  rows, labels, widths = [], [], []
  for features, batch_labels in dev.dataset:
    assert all(features[n].dtype == tf.int32 for n in FEATURE_NAMES)
    assert batch_labels.dtype == tf.int32
    mask = features["attention_mask"].numpy()
    # Padded to the longest sequence of the batch, with the pad id.
    assert mask.shape[1] == mask.sum(axis=1).max()
    assert np.all(features["input_ids"].numpy()[mask == 0]
                  == tokenizer.pad_token_id)
    widths.append(mask.shape[1])
    rows.extend(_unpadded_rows(features))
    labels.extend(batch_labels.numpy().tolist())
  # Every example exactly once, in order.
  assert labels == [e.label for e in examples]
  for example, row in zip(examples, rows, strict=True):
    expected = tokenizer(example.text_a, truncation=True, max_length=MAX_LEN)
    assert row == {name: expected[name] for name in FEATURE_NAMES}
  # Short sentences do not pay for MAX_LEN.
  assert max(widths) < MAX_LEN and np.mean(widths) < MAX_LEN / 2


def test_pair_encoding_truncates_like_hf(glue_dir, tokenizer):
  examples = load_examples("mrpc", "dev", glue_dir)
  encoded = encode_examples("mrpc", examples, tokenizer, 48)
  rows = []
  for features, _ in eval_dataset(encoded, batch_size=64).dataset:
    rows.extend(_unpadded_rows(features))
  assert max(len(r["input_ids"]) for r in rows) == 48
  for example, row in zip(examples, rows, strict=True):
    expected = tokenizer(example.text_a, example.text_b, truncation=True,
                         max_length=48)
    assert row == {name: expected[name] for name in FEATURE_NAMES}
  assert {t for r in rows for t in r["token_type_ids"]} == {0, 1}


def test_train_pipeline_is_shuffled_repeatable_and_bucketed(sst2_dev):
  _, encoded = sst2_dev
  boundaries = [16, 32, 64]

  def first_batches(seed, count=60):  # More than one pass over 872 examples.
    train = train_dataset(encoded, batch_size=16, seed=seed,
                          bucket_boundaries=boundaries)
    assert train.steps_per_epoch == 55
    return [(f["input_ids"].numpy(), l.numpy())
            for f, l in train.dataset.take(count)]

  batches = first_batches(seed=3)
  again = first_batches(seed=3)
  for (ids, labels), (ids2, labels2) in zip(batches, again, strict=True):
    np.testing.assert_array_equal(ids, ids2)
    np.testing.assert_array_equal(labels, labels2)
  other = first_batches(seed=4)
  assert any(a[0].shape != b[0].shape or np.any(a[0] != b[0])
             for a, b in zip(batches, other))

  eval_order = np.concatenate([l.numpy() for _, l in
                               eval_dataset(encoded, 16).dataset])
  train_order = np.concatenate([labels for _, labels in batches])
  assert not np.array_equal(train_order[:872], eval_order)  # Shuffled.
  edges = [0] + boundaries + [np.inf]
  for ids, labels in batches:
    assert ids.shape[0] == labels.shape[0] == 16  # Full batches only.
    lengths = (ids != 0).sum(axis=1)
    assert ids.shape[1] == lengths.max()
    bucket = np.searchsorted(edges, lengths, side="right")
    assert len(set(bucket)) == 1  # All from one length bucket.


def test_labels_dtype_by_task(tokenizer):
  examples = [GlueExample("a man plays", "a man is playing", 4.2),
              GlueExample("a cat", "a dog", 0.5)]
  encoded = encode_examples("stsb", examples, tokenizer, MAX_LEN)
  assert encoded.labels.dtype == np.float32
  features, labels = next(iter(eval_dataset(encoded, 8).dataset))
  assert labels.dtype == tf.float32
  np.testing.assert_allclose(labels.numpy(), [4.2, 0.5])
  assert features["input_ids"].shape[0] == 2


def test_load_dataset_end_to_end(glue_dir, tokenizer):
  train = load_dataset("rte", "train", tokenizer, max_seq_length=64,
                       batch_size=8, training=True, data_dir=glue_dir,
                       max_examples=40, seed=0)
  assert (train.num_examples, train.steps_per_epoch) == (40, 5)
  features, labels = next(iter(train.dataset))
  assert features["input_ids"].shape[0] == 8
  assert features["input_ids"].shape[1] <= 64
  assert labels.dtype == tf.int32


def test_tokenizers_without_token_types_give_ids_and_mask_only(glue_dir,
                                                               fixtures_dir):
  import transformers
  folder = fixtures_dir / "families" / "tiny-roberta-classifier"
  if not folder.is_dir():
    pytest.skip(f"{folder} not found")
  roberta = transformers.AutoTokenizer.from_pretrained(str(folder))
  examples = load_examples("mrpc", "dev", glue_dir)[:16]
  encoded = encode_examples("mrpc", examples, roberta, 32)
  assert sorted(encoded.features) == ["attention_mask", "input_ids"]
  assert encoded.pad_token_id == 1
  features, _ = next(iter(eval_dataset(encoded, batch_size=16).dataset))
  assert sorted(features) == ["attention_mask", "input_ids"]
  expected = roberta([e.text_a for e in examples], [e.text_b for e in examples],
                     truncation=True, max_length=32, padding=True,
                     return_tensors="np")
  np.testing.assert_array_equal(features["input_ids"], expected["input_ids"])
  np.testing.assert_array_equal(features["attention_mask"],
                                expected["attention_mask"])


def test_every_pass_is_a_new_permutation_of_the_examples(sst2_dev):
  """Training takes every example once per pass, in a new order each pass,
  the same orders for the same seed."""
  from theseus_tf.data.glue_pipeline import _example_dataset, _shuffled_examples
  _, encoded = sst2_dev
  count = len(encoded)
  row_of = {tuple(f["input_ids"].numpy()): i for i, (f, _) in
            enumerate(_example_dataset(encoded))}
  assert len(row_of) > count - 10  # Nearly all rows are distinct.

  def passes(seed, number=3):
    stream = _shuffled_examples(encoded, seed).take(number * count)
    order = [row_of[tuple(f["input_ids"].numpy())] for f, _ in stream]
    return [order[k * count:(k + 1) * count] for k in range(number)]

  first, second, third = passes(seed=3)
  for order in (first, second, third):
    assert sorted(set(order)) == sorted(set(row_of.values()))
    assert len(order) == count
  assert first != second != third
  assert first != sorted(first)
  assert passes(seed=3) == [first, second, third]
  assert passes(seed=4, number=1)[0] != first
