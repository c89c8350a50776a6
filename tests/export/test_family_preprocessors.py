"""In-graph tokenizers of every encoder family against Hugging Face's fast tokenizers.

The fixtures' own tokenizers (../shared/fixtures/families): byte-level BPE
(RoBERTa), SentencePiece unigram (XLM-R), WordPiece (ELECTRA, DistilBERT),
on the fixtures' texts, corner cases and the real SST-2 and MRPC dev sets.
"""

import json
import shutil

import numpy as np
import pytest
import tensorflow as tf

from theseus_tf.backend import IS_KERAS_3
from theseus_tf.export import BytePairPreprocessor
from theseus_tf.export import SentencePiecePreprocessor
from theseus_tf.export import TextPreprocessor
from theseus_tf.export import load_preprocessor
from theseus_tf.export import tokenizer_family
from theseus_tf.export import preprocessor_loader
from tests.export.test_text_preprocessor import CORNER_CASES

# The tokenizers are plain TensorFlow ops, the same in both Keras modes: the
# long comparisons run in the Keras 3 pass only.
_ONE_KERAS_MODE = pytest.mark.skipif(
    not IS_KERAS_3, reason="tokenizer ops do not depend on the Keras mode; "
    "the Keras 3 pass runs this")

FAMILIES = {
    "roberta": ("tiny-roberta-classifier", BytePairPreprocessor, False),
    "xlm-roberta": ("tiny-xlm-roberta-classifier", SentencePiecePreprocessor,
                    False),
    "electra": ("tiny-electra-classifier", TextPreprocessor, True),
    "distilbert": ("tiny-distilbert-classifier", TextPreprocessor, False),
}

# Whitespace, contractions and runs of spaces exercise GPT-2's pre-tokenizer
# (its `\s+(?!\S)` rule) and Hugging Face's word splitting for SentencePiece.
EXTRA_TEXTS = [
    "a  's   b\n\nc  \td ", "a  b", " lead", "trail  ", "  ", "x\u2028y",
    "x\u00a0 y", "x \u3000y", "it's I'm we'll 'S 'LL", "123 4567 ½ ² 3.14",
    "x¨y", "a\u2581b", "ctrl\x00char\x01", "don't  stop", "\ttab first",
    "a \u200b b", "\u200b", "ss s escaping",
]


def _folder(families_dir, family):
  return families_dir / FAMILIES[family][0]


@pytest.fixture(scope="module")
def fixture_texts(families_dir):
  spec = json.loads((families_dir / "FAMILIES.json").read_text("utf-8"))
  return spec["texts"]


def _hf(families_dir, family):
  from theseus_tf.utils.transformers import load_tokenizer
  return load_tokenizer(str(_folder(families_dir, family)))


def _rows(features):
  mask = features["attention_mask"].numpy().astype(bool)
  return {name: [row[m].tolist() for row, m in zip(value.numpy(), mask)]
          for name, value in features.items() if name != "attention_mask"}


def assert_same_as_hf(preprocessor, tokenizer, text_a, text_b=None):
  """Ids (and token types where the family has them) equal Hugging Face's."""
  got = _rows(preprocessor(tf.constant(text_a),
                           None if text_b is None else tf.constant(text_b)))
  encoded = tokenizer(text_a, text_b, truncation=True,
                      max_length=preprocessor.max_seq_length)
  assert set(got) | {"attention_mask"} == set(encoded), (set(got), set(encoded))
  bad = [i for i in range(len(text_a))
         if any(got[name][i] != encoded[name][i] for name in got)]
  assert not bad, [
      (text_a[i], None if text_b is None else text_b[i],
       tokenizer.convert_ids_to_tokens(encoded["input_ids"][i]),
       tokenizer.convert_ids_to_tokens(got["input_ids"][i])) for i in bad[:5]]


@pytest.fixture
def preprocessors(families_dir):
  # Per test: Keras' clear_session between tests (conftest) drops the
  # SentencePiece library's op resource.
  return {family: load_preprocessor(_folder(families_dir, family),
                                    max_seq_length=128)
          for family in FAMILIES}


@pytest.mark.parametrize("family", list(FAMILIES))
def test_folder_gives_the_family_preprocessor(family, preprocessors,
                                              families_dir):
  _, cls, token_types = FAMILIES[family]
  preprocessor = preprocessors[family]
  assert type(preprocessor) is cls  # pylint: disable=unidiomatic-typecheck
  want = ("input_ids", "attention_mask") + (
      ("token_type_ids",) if token_types else ())
  assert preprocessor.feature_names == want
  features = preprocessor(tf.constant(["a fine film", ""]))
  assert tuple(features) == want
  assert all(v.dtype == tf.int32 for v in features.values())
  hf = _hf(families_dir, family)
  assert set(preprocessor.feature_names) == set(hf("x").keys())


@pytest.mark.parametrize("family", list(FAMILIES))
def test_fixture_texts_and_corner_cases_match_hugging_face(
    family, preprocessors, families_dir, fixture_texts):
  tokenizer = _hf(families_dir, family)
  preprocessor = preprocessors[family]
  singles = [a for a, b in fixture_texts if b is None]
  pairs = [(a, b) for a, b in fixture_texts if b is not None]
  # Special-token strings typed in the text are the documented difference.
  corner = [t for t in CORNER_CASES + EXTRA_TEXTS if "[" not in t]
  assert_same_as_hf(preprocessor, tokenizer, singles + corner)
  assert_same_as_hf(preprocessor, tokenizer, [a for a, _ in pairs],
                    [b for _, b in pairs])
  assert_same_as_hf(preprocessor, tokenizer, corner[:-1], corner[1:])


@pytest.mark.parametrize("family", list(FAMILIES))
def test_reference_inputs_of_the_fixtures(family, families_dir, fixture_texts):
  """The recorded Hugging Face inputs (padded to 40), independent of the
  installed transformers."""
  name = FAMILIES[family][0].replace("-classifier", "_classifier").replace(
      "tiny-", "tiny_").replace("-", "_")
  if family == "xlm-roberta":
    name = "tiny_xlm-roberta_classifier"
  reference = np.load(families_dir / f"{name}_reference.npz")
  preprocessor = load_preprocessor(_folder(families_dir, family),
                                   max_seq_length=40, pad_to_max_length=True)
  singles = [i for i, (_, b) in enumerate(fixture_texts) if b is None]
  pairs = [i for i, (_, b) in enumerate(fixture_texts) if b is not None]
  got = {}
  for rows, with_b in ((singles, False), (pairs, True)):
    text_a = tf.constant([fixture_texts[i][0] for i in rows])
    text_b = tf.constant([fixture_texts[i][1] for i in rows]) if with_b \
        else None
    for key, value in preprocessor(text_a, text_b).items():
      got.setdefault(key, {}).update(dict(zip(rows, value.numpy())))
  for key in preprocessor.feature_names:
    assert key in reference.files
    want = reference[key]
    have = np.stack([got[key][i] for i in range(len(fixture_texts))])
    np.testing.assert_array_equal(have, want, err_msg=key)


def _dev_sets(glue_dir, sst2=None, mrpc=None):
  from theseus_tf.data import load_examples
  sentences = [e.text_a for e in load_examples("sst2", "dev", str(glue_dir))]
  pairs = load_examples("mrpc", "dev", str(glue_dir))
  return sentences[:sst2], pairs[:mrpc]


def test_fast_sentencepiece_matches_hugging_face(families_dir, glue_dir,
                                                fixture_texts):
  """The TFLite-capable tokenizer too (unknown characters scored per
  character, "▁" included though this vocabulary lacks it as a piece)."""
  sentences, pairs = _dev_sets(glue_dir, sst2=200, mrpc=50)
  fast = load_preprocessor(_folder(families_dir, "xlm-roberta"),
                           max_seq_length=128, tflite=True)
  assert fast.fast
  tokenizer = _hf(families_dir, "xlm-roberta")
  corner = [t for t in CORNER_CASES + EXTRA_TEXTS if "[" not in t]
  assert_same_as_hf(fast, tokenizer, sentences + corner +
                    [a for a, _ in fixture_texts])
  assert_same_as_hf(fast, tokenizer, [e.text_a for e in pairs],
                    [e.text_b for e in pairs])


@pytest.mark.parametrize("family", list(FAMILIES))
def test_glue_dev_subset_matches_hugging_face(family, preprocessors,
                                              families_dir, glue_dir):
  sentences, pairs = _dev_sets(glue_dir, sst2=100, mrpc=50)
  tokenizer = _hf(families_dir, family)
  assert_same_as_hf(preprocessors[family], tokenizer, sentences)
  text_a, text_b = [e.text_a for e in pairs], [e.text_b for e in pairs]
  short = load_preprocessor(_folder(families_dir, family), max_seq_length=24)
  assert_same_as_hf(short, tokenizer, text_a, text_b)  # Truncating pairs.


@pytest.mark.slow
@_ONE_KERAS_MODE
@pytest.mark.parametrize("family", list(FAMILIES))
def test_glue_dev_sets_match_hugging_face(family, preprocessors, families_dir,
                                          glue_dir):
  """Every SST-2 sentence and MRPC pair of the dev sets."""
  sentences, pairs = _dev_sets(glue_dir)
  assert len(sentences) == 872 and len(pairs) == 408
  tokenizer = _hf(families_dir, family)
  preprocessor = preprocessors[family]
  assert_same_as_hf(preprocessor, tokenizer, sentences)
  text_a, text_b = [e.text_a for e in pairs], [e.text_b for e in pairs]
  assert_same_as_hf(preprocessor, tokenizer, text_a, text_b)
  short = load_preprocessor(_folder(families_dir, family), max_seq_length=32)
  assert_same_as_hf(short, tokenizer, text_a, text_b)  # Truncating pairs.
  assert_same_as_hf(short, tokenizer, text_b, sentences[:len(text_b)])
  if family == "xlm-roberta":  # The TFLite-capable tokenizer as well.
    fast = load_preprocessor(_folder(families_dir, family),
                             max_seq_length=128, tflite=True)
    assert_same_as_hf(fast, tokenizer, sentences)
    assert_same_as_hf(fast, tokenizer, text_a, text_b)


def test_sentencepiece_model_alone_gives_the_same_ids(families_dir, tmp_path):
  """sentencepiece.bpe.model without tokenizer.json: the fairseq id layout."""
  source = _folder(families_dir, "xlm-roberta")
  for name in ("sentencepiece.bpe.model", "tokenizer_config.json",
               "config.json"):
    shutil.copy(source / name, tmp_path)
  from_model = load_preprocessor(tmp_path, max_seq_length=64)
  from_json = load_preprocessor(source, max_seq_length=64)
  texts = tf.constant(CORNER_CASES + EXTRA_TEXTS)
  for key, value in from_json(texts, texts[::-1]).items():
    np.testing.assert_array_equal(from_model(texts, texts[::-1])[key], value)
  assert from_model.vocab_size == from_json.vocab_size == 1002


def test_sentencepiece_model_proto_matches_the_library(families_dir):
  sp_pb2 = pytest.importorskip("sentencepiece.sentencepiece_model_pb2")
  from theseus_tf.export import sentencepiece_model_proto as model_proto
  data = (_folder(families_dir, "xlm-roberta") /
          "sentencepiece.bpe.model").read_bytes()
  parsed = model_proto.read_model(data)
  reference = sp_pb2.ModelProto()
  reference.ParseFromString(data)
  assert [(p.piece, p.type) for p in reference.pieces] == [
      (piece, kind) for piece, _, kind in parsed["pieces"]]
  np.testing.assert_allclose([p.score for p in reference.pieces],
                             [score for _, score, _ in parsed["pieces"]])
  assert (parsed["precompiled_charsmap"] ==
          reference.normalizer_spec.precompiled_charsmap)
  built = sp_pb2.ModelProto()
  built.ParseFromString(model_proto.build_unigram_model(
      parsed["pieces"], 0, parsed["precompiled_charsmap"]))
  assert built.trainer_spec.unk_id == 0 and built.trainer_spec.bos_id == -1
  assert built.normalizer_spec.add_dummy_prefix
  assert [p.piece for p in built.pieces] == [p.piece for p in reference.pieces]


def test_byte_pair_from_vocab_and_merges_and_prefix_space(families_dir,
                                                          tmp_path):
  """vocab.json + merges.txt alone; add_prefix_space as tokenizer_config says."""
  import transformers
  source = _folder(families_dir, "roberta")
  for name in ("vocab.json", "merges.txt", "config.json"):
    shutil.copy(source / name, tmp_path)
  config = json.loads((source / "tokenizer_config.json").read_text("utf-8"))
  config["add_prefix_space"] = True
  (tmp_path / "tokenizer_config.json").write_text(json.dumps(config), "utf-8")
  spaced = load_preprocessor(tmp_path, max_seq_length=64)
  assert spaced.add_prefix_space
  tokenizer = transformers.AutoTokenizer.from_pretrained(str(tmp_path))
  texts = ["hello world", " hello world", "", " ", "  x", "\tx"] + EXTRA_TEXTS
  assert_same_as_hf(spaced, tokenizer, texts)
  assert_same_as_hf(spaced, tokenizer, texts, texts[::-1])
  # With the prefix space, "hello" is the " hello" of the unprefixed text.
  plain = load_preprocessor(source, max_seq_length=64)
  assert (_rows(spaced(tf.constant(["hello"])))["input_ids"] ==
          _rows(plain(tf.constant([" hello"])))["input_ids"])


@pytest.mark.parametrize("family, keep, missing", [
    ("roberta", ["vocab.json"], "merges.txt"),
    ("roberta", [], "vocab.json, merges.txt"),
    ("xlm-roberta", [], "sentencepiece.bpe.model"),
    ("distilbert", [], "vocab.txt"),
])
def test_folder_without_the_family_files_is_a_clear_error(
    family, keep, missing, families_dir, tmp_path):
  source = _folder(families_dir, family)
  for name in keep + ["tokenizer_config.json", "config.json"]:
    shutil.copy(source / name, tmp_path)
  with pytest.raises(FileNotFoundError) as error:
    load_preprocessor(tmp_path)
  message = str(error.value)
  assert "\n" not in message
  assert str(tmp_path) in message and f"(missing: {missing})" in message
  assert "save_pretrained" in message


def test_wordpiece_folder_without_vocabulary_and_empty_folder(tmp_path,
                                                              families_dir):
  shutil.copy(_folder(families_dir, "electra") / "config.json", tmp_path)
  with pytest.raises(FileNotFoundError, match=r"\(missing: vocab.txt\)"):
    load_preprocessor(tmp_path)
  empty = tmp_path / "empty"
  empty.mkdir()
  with pytest.raises(FileNotFoundError, match="No vocabulary in .*empty"):
    load_preprocessor(empty)
  with pytest.raises(FileNotFoundError, match="No tokenizer folder"):
    load_preprocessor(tmp_path / "missing")


def test_byte_pair_tflite_is_refused_with_the_alternative(families_dir):
  with pytest.raises(NotImplementedError) as error:
    load_preprocessor(_folder(families_dir, "roberta"), tflite=True)
  message = str(error.value)
  assert "no TFLite ops" in message and "inputs='ids'" in message
  assert "--inputs ids" in message and "\n" not in message


def test_family_detection(families_dir):
  assert tokenizer_family(_folder(families_dir, "roberta")) == (
      preprocessor_loader.BYTE_PAIR, False)
  assert tokenizer_family(_folder(families_dir, "xlm-roberta")) == (
      preprocessor_loader.SENTENCEPIECE, False)
  assert tokenizer_family(_folder(families_dir, "electra")) == (
      preprocessor_loader.WORDPIECE, True)
  assert tokenizer_family(_folder(families_dir, "distilbert")) == (
      preprocessor_loader.WORDPIECE, False)


@pytest.mark.slow
@_ONE_KERAS_MODE
@pytest.mark.parametrize("family, tflite", [("roberta", False),
                                            ("xlm-roberta", False),
                                            ("xlm-roberta", True)])
def test_every_codepoint_matches_hugging_face(family, tflite, families_dir):
  """Each of the 1,112,064 codepoints c, as "x{c}y": same ids as Hugging Face
  (Unicode classes of RE2 vs Hugging Face's regex engine, whitespace, the
  SentencePiece normalization)."""
  tokenizer = _hf(families_dir, family)
  preprocessor = load_preprocessor(_folder(families_dir, family),
                                   max_seq_length=16, tflite=tflite)
  codepoints = [cp for cp in range(0x110000) if not 0xD800 <= cp <= 0xDFFF]
  bad = []
  for start in range(0, len(codepoints), 100_000):
    texts = [f"x{chr(cp)}y" for cp in codepoints[start:start + 100_000]]
    got = preprocessor.tokenize(tf.constant(texts)).to_list()
    want = tokenizer(texts, add_special_tokens=False)["input_ids"]
    bad += [hex(ord(t[1])) for t, g, w in zip(texts, got, want) if g != w]
  assert not bad, bad[:20]
