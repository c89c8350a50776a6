"""Tests for theseus_tf.utils.transformers.preset_loader.load_tokenizer."""

import json
import shutil

import numpy as np
import pytest

from theseus_tf.utils.transformers import load_tokenizer


def _reference_texts(fixtures_dir, key):
  reference = json.loads((fixtures_dir / "REFERENCE.json").read_text())[key]
  return reference["texts"], reference["max_length"]


def _encode_like_the_fixtures(tokenizer, texts, max_length):
  # The fixtures were made with one batched call in which single sentences had
  # an empty second segment, so they end with "[SEP] [SEP]" (the second one in
  # token type 1).
  return tokenizer([first for first, _ in texts],
                   [second or "" for _, second in texts],
                   padding="max_length",
                   max_length=max_length,
                   truncation=True,
                   return_tensors="np")


@pytest.mark.parametrize("folder, key, npz", [
    ("minilm", "minilm", "minilm_reference.npz"),
    ("tiny-bert-classifier", "tiny_bert_classifier",
     "tiny_bert_classifier_reference.npz"),
])
def test_reproduces_fixture_inputs(fixtures_dir, minilm_dir, folder, key, npz):
  path = minilm_dir if folder == "minilm" else fixtures_dir / folder
  texts, max_length = _reference_texts(fixtures_dir, key)
  reference = np.load(fixtures_dir / npz)
  encoded = _encode_like_the_fixtures(load_tokenizer(path), texts, max_length)
  for name in ("input_ids", "token_type_ids", "attention_mask"):
    np.testing.assert_array_equal(encoded[name], reference[name], err_msg=name)


def test_lower_cases_and_encodes_single_sentences(minilm_dir):
  tokenizer = load_tokenizer(minilm_dir)
  assert tokenizer("Hello WORLD")["input_ids"] == tokenizer(
      "hello world")["input_ids"]
  ids = tokenizer("hello world")["input_ids"]
  assert ids[0] == tokenizer.cls_token_id and ids[-1] == tokenizer.sep_token_id
  assert ids.count(tokenizer.sep_token_id) == 1


def test_folder_with_vocab_txt_only(minilm_dir, tmp_path):
  for name in ("vocab.txt", "tokenizer_config.json"):
    shutil.copy(minilm_dir / name, tmp_path / name)
  text = "Héllo, naïve café! Ünïcode & punctuation?!"
  assert (load_tokenizer(tmp_path)(text)["input_ids"] ==
          load_tokenizer(minilm_dir)(text)["input_ids"])


def test_errors(tmp_path, monkeypatch):
  with pytest.raises(FileNotFoundError, match="No tokenizer in"):
    load_tokenizer(tmp_path)
  with pytest.raises(FileNotFoundError, match="pass an existing local"):
    load_tokenizer(tmp_path / "does" / "not" / "exist")
  monkeypatch.setenv("HF_HUB_OFFLINE", "1")
  with pytest.raises(OSError, match="pass its local path"):
    load_tokenizer("theseus-tf-tests/no-such-model", cache_dir=tmp_path)


@pytest.mark.parametrize("family, files", [
    ("roberta", ("vocab.json", "merges.txt")),
    ("xlm-roberta", ("sentencepiece.bpe.model",)),
])
def test_family_vocabulary_without_tokenizer_json(fixtures_dir, tmp_path,
                                                  family, files):
  # Checkpoints saved by older tools hold only the family's vocabulary files.
  source = fixtures_dir / "families" / f"tiny-{family}-classifier"
  if not source.is_dir():
    pytest.skip(f"{source} not found")
  for name in files + ("tokenizer_config.json", "config.json"):
    shutil.copy(source / name, tmp_path / name)
  texts = json.loads((fixtures_dir / "families" / "FAMILIES.json").read_text())
  texts = [first for first, second in texts["texts"] if second is None]
  got = load_tokenizer(tmp_path)(texts, truncation=True, max_length=40)
  want = load_tokenizer(source)(texts, truncation=True, max_length=40)
  assert got["input_ids"] == want["input_ids"]
