"""In-graph tokenization against the Hugging Face tokenizer."""

import json
import shutil

import numpy as np
import pytest
import tensorflow as tf

from theseus_tf.backend import IS_KERAS_3
from theseus_tf.export import TextPreprocessor
from theseus_tf.export.text_preprocessor import longest_first_lengths
from tests.export.export_helpers import MAX_SEQ_LENGTH, TEXTS

# The tokenizers are plain TensorFlow ops, the same in both Keras modes: the
# long comparisons run in the Keras 3 pass only.
_ONE_KERAS_MODE = pytest.mark.skipif(
    not IS_KERAS_3, reason="tokenizer ops do not depend on the Keras mode; "
    "the Keras 3 pass runs this")

CORNER_CASES = [
    "Héllo wörld", "ÀÉÎÕÜ naïve café résumé", "µGuru ß straße İstanbul",
    "ǅ ﬁ ligature ÅNGSTRÖM Ω K", "中文字符测试 mixed中文 日本語 한국어",
    "ctrl\x00char\x01s\x07 tab\tnew\nline\r", "zero\u200bwidth a\ufffdb",
    "\u00a0nbsp\u00a0 \u3000ideographic \u2028sep\u2029", "emoji 😀👍🏽",
    "ΑΒΓ Σίσυφος ΣΊΣΥΦΟΣ Привет МИР", "a\u0301 \u0300x x\u00adsoft",
    "«quotes» “curly” ‘single’ — dash … ellipsis ａｂｃ",
    "don't stop-believing!!! (yes) $5.00 #tag @user",
    "١٢٣ عربي ไทย ภาษา \U000F0000private\ue000",
    "unaffable supercalifragilisticexpialidocious",
    "x" * 100, "x" * 101, "é" * 101, "", "   ", "[CLS] and [SEP] are text",
]


def _hf_rows(tokenizer, text_a, text_b=None, max_length=MAX_SEQ_LENGTH):
  encoded = tokenizer(text_a, text_b, truncation=True, max_length=max_length)
  return encoded["input_ids"], encoded["token_type_ids"]


def _rows(features):
  ids, types, mask = (features[k].numpy() for k in
                      ("input_ids", "token_type_ids", "attention_mask"))
  keep = mask.astype(bool)
  return ([row[m].tolist() for row, m in zip(ids, keep)],
          [row[m].tolist() for row, m in zip(types, keep)])


def assert_same_as_hf(preprocessor, tokenizer, text_a, text_b=None):
  got_ids, got_types = _rows(preprocessor(
      tf.constant(text_a), None if text_b is None else tf.constant(text_b)))
  want_ids, want_types = _hf_rows(tokenizer, text_a, text_b,
                                  preprocessor.max_seq_length)
  mismatches = [i for i in range(len(text_a))
                if (got_ids[i], got_types[i]) != (want_ids[i], want_types[i])]
  assert not mismatches, [
      (text_a[i], tokenizer.convert_ids_to_tokens(want_ids[i]),
       tokenizer.convert_ids_to_tokens(got_ids[i])) for i in mismatches[:5]]


def test_corner_cases_match_hugging_face(tiny_preprocessor, hf_tiny_tokenizer):
  # Special-token strings in the text are the documented difference: Hugging
  # Face maps "[SEP]" typed by a user to the separator id.
  texts = [t for t in CORNER_CASES if "[" not in t]
  assert_same_as_hf(tiny_preprocessor, hf_tiny_tokenizer, texts)


def test_pairs_and_truncation_match_hugging_face(tiny_dir, hf_tiny_tokenizer):
  rng = np.random.default_rng(0)
  words = "the cat sat on unaffable mats , quickly running !".split()
  text_a = [" ".join(rng.choice(words, rng.integers(0, 25))) for _ in range(300)]
  text_b = [" ".join(rng.choice(words, rng.integers(0, 25))) for _ in range(300)]
  for max_length in (3, 4, 7, 16, MAX_SEQ_LENGTH):
    preprocessor = TextPreprocessor.from_pretrained(tiny_dir,
                                                    max_seq_length=max_length)
    assert_same_as_hf(preprocessor, hf_tiny_tokenizer, text_a, text_b)
    assert_same_as_hf(preprocessor, hf_tiny_tokenizer, text_a)
  preprocessor = TextPreprocessor.from_pretrained(tiny_dir, max_seq_length=24)
  texts = [t for t in CORNER_CASES if "[" not in t]
  assert_same_as_hf(preprocessor, hf_tiny_tokenizer, texts[:-1], texts[1:])


def test_longest_first_matches_tokenizers_rule():
  # Brute force: remove one token at a time from the longer segment (the
  # second one on ties), which the closed form of `tokenizers` reproduces.
  lengths = np.array([(a, b) for a in range(12) for b in range(12)], np.int32)
  for budget in range(0, 14):
    keep_a, keep_b = longest_first_lengths(lengths[:, 0], lengths[:, 1], budget)
    for (a, b), got_a, got_b in zip(lengths, keep_a.numpy(), keep_b.numpy()):
      n1, n2, swap = min(a, b), max(a, b), a > b
      if n1 + n2 > budget:
        n2 = n1 if n1 > budget else max(n1, budget - n1)
        if n1 + n2 > budget:
          n1, n2 = budget // 2, budget // 2 + budget % 2
      want = (min(n2, a), min(n1, b)) if swap else (min(n1, a), min(n2, b))
      assert (got_a, got_b) == want, (a, b, budget)


def test_layout_and_padding(tiny_preprocessor, tiny_fixed_preprocessor):
  features = tiny_preprocessor(tf.constant(["hello world", ""]),
                               tf.constant(["again", "x"]))
  assert set(features) == {"input_ids", "attention_mask", "token_type_ids"}
  assert all(v.dtype == tf.int32 for v in features.values())
  ids = features["input_ids"].numpy()
  # [CLS] hello world [SEP] again [SEP] / [CLS] [SEP] x [SEP] [PAD] [PAD]
  assert ids.shape == (2, 6)
  assert ids[0, 0] == ids[1, 0] == tiny_preprocessor.cls_id
  assert ids[1, 1] == tiny_preprocessor.sep_id
  assert features["token_type_ids"].numpy().tolist() == [[0, 0, 0, 0, 1, 1],
                                                         [0, 0, 1, 1, 0, 0]]
  assert features["attention_mask"].numpy()[1].tolist() == [1, 1, 1, 1, 0, 0]
  fixed = tiny_fixed_preprocessor(tf.constant(["hello world"]))
  assert fixed["input_ids"].shape == (1, MAX_SEQ_LENGTH)
  long = tiny_preprocessor(tf.constant(["word " * 1000]))
  assert long["input_ids"].shape == (1, MAX_SEQ_LENGTH)
  assert long["input_ids"].numpy()[0, -1] == tiny_preprocessor.sep_id


def test_empty_batch(tiny_preprocessor):
  features = tiny_preprocessor(tf.constant([], tf.string))
  assert features["input_ids"].shape[0] == 0


def test_words_over_the_limit_are_unknown(tiny_preprocessor, hf_tiny_tokenizer):
  unk = tiny_preprocessor.unk_id
  ids, _ = _rows(tiny_preprocessor(tf.constant(["x" * 101, "x" * 100])))
  assert ids[0][1:-1] == [unk]
  assert unk not in ids[1]
  # Known difference: the limit counts UTF-8 bytes here, characters in
  # Hugging Face (60 Cyrillic letters are 120 bytes).
  ids, _ = _rows(tiny_preprocessor(tf.constant(["п" * 60])))
  assert ids[0][1:-1] == [unk]
  assert hf_tiny_tokenizer("п" * 60)["input_ids"][1:-1] != [unk]


def test_vocab_txt_folder_matches_tokenizer_json(tmp_path, tiny_dir,
                                                 tiny_preprocessor):
  spec = json.loads((tiny_dir / "tokenizer.json").read_text(encoding="utf-8"))
  vocab = sorted(spec["model"]["vocab"], key=spec["model"]["vocab"].get)
  (tmp_path / "vocab.txt").write_text("\n".join(vocab) + "\n", encoding="utf-8")
  shutil.copy(tiny_dir / "tokenizer_config.json", tmp_path)
  from_txt = TextPreprocessor.from_pretrained(tmp_path,
                                              max_seq_length=MAX_SEQ_LENGTH)
  text = tf.constant(TEXTS)
  for name, value in from_txt(text).items():
    np.testing.assert_array_equal(value, tiny_preprocessor(text)[name])


def test_cased_vocabulary_is_not_lowercased(tmp_path):
  vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "Hello", "hello", "é", "e"]
  (tmp_path / "vocab.txt").write_text("\n".join(vocab), encoding="utf-8")
  (tmp_path / "tokenizer_config.json").write_text(
      json.dumps({"do_lower_case": False}), encoding="utf-8")
  preprocessor = TextPreprocessor.from_pretrained(tmp_path, max_seq_length=8)
  ids, _ = _rows(preprocessor(tf.constant(["Hello hello é"])))
  assert ids[0] == [2, 4, 5, 6, 3]


def test_missing_vocabulary_is_a_clear_error(tmp_path):
  (tmp_path / "tokenizer_config.json").write_text("{}", encoding="utf-8")
  with pytest.raises(FileNotFoundError, match="No vocabulary in .*vocab.txt"):
    TextPreprocessor.from_pretrained(tmp_path)
  with pytest.raises(FileNotFoundError, match="No tokenizer folder"):
    TextPreprocessor.from_pretrained(tmp_path / "missing")


def test_non_wordpiece_tokenizer_is_refused(tmp_path):
  (tmp_path / "tokenizer.json").write_text(
      json.dumps({"model": {"type": "BPE", "vocab": {}}}), encoding="utf-8")
  with pytest.raises(NotImplementedError, match="WordPiece"):
    TextPreprocessor.from_pretrained(tmp_path)


def test_bad_arguments():
  with pytest.raises(ValueError, match="not in the vocabulary"):
    TextPreprocessor(["[PAD]", "[UNK]", "[CLS]"], max_seq_length=8)
  with pytest.raises(ValueError, match="max_seq_length must be at least 3"):
    TextPreprocessor(["[PAD]", "[UNK]", "[CLS]", "[SEP]"], max_seq_length=2)


@pytest.mark.slow
@_ONE_KERAS_MODE
def test_glue_dev_sets_match_hugging_face(minilm_dir, glue_dir):
  """Every SST-2 sentence and MRPC pair of the dev sets, with MiniLM's tokenizer."""
  from theseus_tf.data import load_examples
  from theseus_tf.utils.transformers import load_tokenizer
  tokenizer = load_tokenizer(str(minilm_dir))
  preprocessor = TextPreprocessor.from_pretrained(minilm_dir,
                                                  max_seq_length=128)
  sst2 = load_examples("sst2", "dev", str(glue_dir))
  assert len(sst2) == 872
  assert_same_as_hf(preprocessor, tokenizer, [e.text_a for e in sst2])
  mrpc = load_examples("mrpc", "dev", str(glue_dir))
  assert len(mrpc) == 408
  text_a, text_b = [e.text_a for e in mrpc], [e.text_b for e in mrpc]
  assert_same_as_hf(preprocessor, tokenizer, text_a, text_b)
  short = TextPreprocessor.from_pretrained(minilm_dir, max_seq_length=32)
  assert_same_as_hf(short, tokenizer, text_a, text_b)  # Truncating pairs.


@pytest.mark.slow
@_ONE_KERAS_MODE
def test_every_codepoint_matches_hugging_face(minilm_dir):
  """Each of the 1,112,064 codepoints c, as "x{c}y": same ids as Hugging Face."""
  from theseus_tf.utils.transformers import load_tokenizer
  tokenizer = load_tokenizer(str(minilm_dir))
  preprocessor = TextPreprocessor.from_pretrained(minilm_dir, max_seq_length=16)
  codepoints = [cp for cp in range(0x110000) if not 0xD800 <= cp <= 0xDFFF]
  for start in range(0, len(codepoints), 200_000):
    texts = [f"x{chr(cp)}y" for cp in codepoints[start:start + 200_000]]
    got, _ = _rows(preprocessor(tf.constant(texts)))
    want = tokenizer(texts, truncation=True, max_length=16)["input_ids"]
    bad = [hex(ord(t[1])) for t, g, w in zip(texts, got, want) if g != w]
    assert not bad, bad[:20]
