"""Streaming tokenisation of own files and its on-disk cache."""

import os
import pathlib

import numpy as np
import pytest
import tensorflow as tf

from theseus_tf.data import (FEATURE_NAMES, encode_examples, eval_dataset,
                             load_examples, make_file_task)
from theseus_tf.data.token_cache import encode_file_split, subset
from tests.data.glue_files import (LABEL_COLUMN, TEXT_COLUMNS, glue_rows,
                                   write_rows)


class CountingTokenizer:
  """Wraps a tokenizer and counts the examples it encodes."""

  def __init__(self, tokenizer):
    self.tokenizer = tokenizer
    self.examples = 0

  def __call__(self, texts, *args, **kwargs):
    self.examples += len(texts)
    return self.tokenizer(texts, *args, **kwargs)

  def __getattr__(self, name):
    return getattr(self.tokenizer, name)


@pytest.fixture
def tokenizer(fixtures_dir):
  from theseus_tf.utils.transformers import load_tokenizer
  return CountingTokenizer(load_tokenizer(fixtures_dir / "tiny-bert-classifier"))


@pytest.fixture
def mrpc_task(glue_dir, tmp_path):
  rows, _ = glue_rows(glue_dir, "mrpc", "dev")
  path = write_rows(tmp_path / "mrpc.jsonl", rows)
  return make_file_task(path, text_columns=TEXT_COLUMNS["mrpc"],
                        label_column=LABEL_COLUMN)


def _entries(cache):
  """The complete cache entries (no temporary folders left either)."""
  entries = sorted(cache.iterdir())
  assert all(e.is_dir() and (e / "meta.json").is_file() for e in entries)
  # Readable by others as the umask allows, like any folder the user makes.
  umask = os.umask(0)
  os.umask(umask)
  assert all(e.stat().st_mode & 0o777 == 0o777 & ~umask for e in entries)
  return entries


def _assert_same(a, b):
  """Same examples as the model sees them (the cache's are compact)."""
  (first, first_labels), = eval_dataset(a, len(a)).dataset
  (second, second_labels), = eval_dataset(b, len(b)).dataset
  assert sorted(first) == sorted(second) == sorted(FEATURE_NAMES)
  for name, values in first.items():
    assert values.dtype == second[name].dtype == tf.int32
    np.testing.assert_array_equal(values.numpy(), second[name].numpy())
  np.testing.assert_array_equal(first_labels.numpy(), second_labels.numpy())
  assert a.labels.dtype == b.labels.dtype


def test_cached_examples_are_compact(mrpc_task, tokenizer, tmp_path):
  encoded, _ = encode_file_split(mrpc_task, "train", tokenizer, 64,
                                 cache_dir=tmp_path)
  # 5 bytes per token in memory, as on disk: no all-ones attention mask,
  # int8 token types.
  assert sorted(encoded.features) == ["input_ids", "token_type_ids"]
  assert encoded.features["token_type_ids"].dtype == tf.int8


def test_streamed_chunks_equal_the_in_memory_encoding(mrpc_task, tokenizer,
                                                      tmp_path):
  whole = encode_examples(mrpc_task, load_examples(mrpc_task, "train"),
                          tokenizer, 64)
  # Chunks of 100 rows: the 408 real MRPC dev pairs in five calls.
  streamed, hit = encode_file_split(mrpc_task, "train", tokenizer, 64,
                                    cache_dir=tmp_path / "cache",
                                    chunk_rows=100)
  assert not hit
  _assert_same(whole, streamed)


def test_second_run_does_not_tokenize(mrpc_task, tokenizer, tmp_path):
  cache = tmp_path / "cache"
  first, hit = encode_file_split(mrpc_task, "train", tokenizer, 64,
                                 cache_dir=cache)
  assert not hit and tokenizer.examples == 408
  second, hit = encode_file_split(mrpc_task, "train", tokenizer, 64,
                                  cache_dir=cache)
  assert hit and tokenizer.examples == 408  # No tokenizer call.
  _assert_same(first, second)
  assert len(_entries(cache)) == 1

  # Another length, or other file content, is another entry.
  encode_file_split(mrpc_task, "train", tokenizer, 32, cache_dir=cache)
  assert tokenizer.examples == 2 * 408
  path = mrpc_task.path_of("train")
  with open(path, "a", encoding="utf-8") as f:
    f.write('{"first": "a", "second": "b", "verdict": "paraphrase"}\n')
  changed, hit = encode_file_split(mrpc_task, "train", tokenizer, 64,
                                   cache_dir=cache)
  assert not hit and len(changed) == 409


def test_damaged_cache_entry_is_rebuilt(mrpc_task, tokenizer, tmp_path):
  cache = tmp_path / "cache"
  encode_file_split(mrpc_task, "train", tokenizer, 64, cache_dir=cache)
  (entry,) = _entries(cache)
  (entry / "input_ids.bin").write_bytes(b"cut short")
  rebuilt, hit = encode_file_split(mrpc_task, "train", tokenizer, 64,
                                   cache_dir=cache)
  assert not hit and len(rebuilt) == 408


def test_subset_matches_load_examples(mrpc_task, tokenizer, tmp_path):
  encoded, _ = encode_file_split(mrpc_task, "train", tokenizer, 64,
                                 cache_dir=tmp_path)
  expected = encode_examples(
      mrpc_task, load_examples(mrpc_task, "train", max_examples=30, seed=5),
      tokenizer, 64)
  _assert_same(subset(encoded, 30, 5), expected)


def test_multi_label_and_regression_labels(tmp_path, tokenizer):
  path = write_rows(tmp_path / "t.jsonl", [
      {"text": "a b c", "label": ["x", "y"], "score": 0.5},
      {"text": "d", "label": ["y"], "score": 2.0}])
  task = make_file_task(path, problem_type="multi_label_classification")
  encoded, _ = encode_file_split(task, "train", tokenizer, 16,
                                 cache_dir=tmp_path)
  np.testing.assert_array_equal(encoded.labels, [[1, 1], [0, 1]])
  task = make_file_task(path, label_column="score", problem_type="regression")
  encoded, _ = encode_file_split(task, "train", tokenizer, 16,
                                 cache_dir=tmp_path)
  np.testing.assert_array_equal(encoded.labels, np.float32([0.5, 2.0]))


def test_tokenizers_without_token_types_cache_ids_only(mrpc_task, fixtures_dir,
                                                       tmp_path):
  from theseus_tf.utils.transformers import load_tokenizer
  folder = fixtures_dir / "families" / "tiny-roberta-classifier"
  if not folder.is_dir():
    pytest.skip(f"{folder} not found")
  roberta = load_tokenizer(folder)
  for _ in range(2):  # Tokenised, then read back from the cache.
    encoded, _ = encode_file_split(mrpc_task, "train", roberta, 64,
                                   cache_dir=tmp_path)
    assert sorted(encoded.features) == ["input_ids"]
    (features, _), = eval_dataset(encoded, len(encoded)).dataset
    assert sorted(features) == ["attention_mask", "input_ids"]
  whole = encode_examples(mrpc_task, load_examples(mrpc_task, "train"),
                          roberta, 64)
  (want, _), = eval_dataset(whole, len(whole)).dataset
  for name in want:
    np.testing.assert_array_equal(features[name].numpy(), want[name].numpy())


def test_unwritable_cache_warns_and_goes_on(mrpc_task, tokenizer, tmp_path,
                                            capsys):
  blocked = tmp_path / "cache"
  blocked.write_text("a file where the cache folder would go")
  encoded, hit = encode_file_split(mrpc_task, "train", tokenizer, 64,
                                   cache_dir=blocked)
  assert not hit and len(encoded) == 408
  assert "token cache not written" in capsys.readouterr().err


def test_bad_row_leaves_no_entry(tmp_path, tokenizer):
  from theseus_tf.data.text_files import TextFileError
  path = write_rows(tmp_path / "t.jsonl", [{"text": "fine", "label": "a"},
                                           {"text": "also fine", "label": "b"}])
  task = make_file_task(path)
  with open(path, "a", encoding="utf-8") as f:  # Broken after the checks.
    f.write('{"text": "", "label": "a"}\n')
  cache = tmp_path / "cache"
  with pytest.raises(TextFileError, match="empty text"):
    encode_file_split(task, "train", tokenizer, 16, cache_dir=cache)
  assert not list(cache.iterdir())


def test_cached_tensors_share_the_arrays_read(mrpc_task, tokenizer,
                                              tmp_path, monkeypatch):
  """Reading an entry holds each file's values once: every tensor uses the
  array read from its file, no copy."""
  from theseus_tf.data import token_cache
  from theseus_tf.data.shared_arrays import read_aligned
  encode_file_split(mrpc_task, "train", tokenizer, 64, cache_dir=tmp_path)
  arrays = {}

  def recording_read_aligned(path, dtype, count):
    arrays[pathlib.Path(path).stem] = read_aligned(path, dtype, count)
    return arrays[pathlib.Path(path).stem]

  monkeypatch.setattr(token_cache, "read_aligned", recording_read_aligned)
  encoded, hit = encode_file_split(mrpc_task, "train", tokenizer, 64,
                                   cache_dir=tmp_path)
  assert hit
  ids = encoded.features["input_ids"]
  tensors = {"input_ids": ids.flat_values, "row_splits": ids.row_splits,
             "token_type_ids": encoded.features["token_type_ids"].flat_values}
  assert sorted(arrays) == sorted([*tensors, "labels"])
  for name, tensor in tensors.items():
    arrays[name][3] += 1  # Seen through the tensor: the same memory.
    assert tensor[3].numpy() == arrays[name][3]
  assert np.shares_memory(encoded.labels, arrays["labels"])


def test_decreasing_row_splits_rebuild_the_entry(mrpc_task, tokenizer,
                                                 tmp_path, monkeypatch):
  from theseus_tf.data import token_cache
  monkeypatch.setattr(token_cache, "CHECK_BLOCK_ROWS", 7)  # Many blocks.
  cache = tmp_path / "cache"
  whole, _ = encode_file_split(mrpc_task, "train", tokenizer, 64,
                               cache_dir=cache)
  (entry,) = _entries(cache)
  splits = np.fromfile(entry / "row_splits.bin", np.int64)
  splits[100] = splits[102]  # Row 100 ends after row 101 does.
  splits.tofile(entry / "row_splits.bin")
  with pytest.raises(ValueError, match="decrease after row 98"):
    token_cache._load(entry, tokenizer, 64)  # pylint: disable=protected-access
  rebuilt, hit = encode_file_split(mrpc_task, "train", tokenizer, 64,
                                   cache_dir=cache)
  assert not hit
  _assert_same(rebuilt, whole)


def test_another_run_writing_the_entry_first(mrpc_task, tokenizer, tmp_path,
                                             monkeypatch):
  """Two runs tokenising the same file at once: the second rename fails,
  and the second run reads its own copy, leaving no temporary folder."""
  from theseus_tf.data import token_cache
  cache = tmp_path / "cache"
  expected, _ = encode_file_split(mrpc_task, "train", tokenizer, 64,
                                  use_cache=False)

  def rename_loses_the_race(source, target):
    raise OSError(39, "Directory not empty", str(target))

  monkeypatch.setattr(token_cache.os, "rename", rename_loses_the_race)
  encoded, hit = encode_file_split(mrpc_task, "train", tokenizer, 64,
                                   cache_dir=cache)
  monkeypatch.setattr(token_cache.os, "rename", os.rename)
  assert not hit
  _assert_same(encoded, expected)
  assert not list(cache.iterdir())


def test_entry_without_its_meta_file_is_rebuilt(mrpc_task, tokenizer,
                                                tmp_path):
  cache = tmp_path / "cache"
  encode_file_split(mrpc_task, "train", tokenizer, 64, cache_dir=cache)
  (entry,) = _entries(cache)
  (entry / "meta.json").unlink()
  rebuilt, hit = encode_file_split(mrpc_task, "train", tokenizer, 64,
                                   cache_dir=cache)
  assert not hit and len(rebuilt) == 408
  assert _entries(cache) == [entry]
