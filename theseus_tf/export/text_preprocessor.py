"""In-graph BERT tokenization with tensorflow-text, as Hugging Face does it."""

import functools
import json

import numpy as np
import tensorflow as tf

from theseus_tf.data.features import FEATURE_NAMES
from theseus_tf.export.bert_normalizer_model import bert_normalizer_model
from theseus_tf.export.segment_packing import longest_first_lengths  # pylint: disable=unused-import
from theseus_tf.export.segment_packing import check_max_seq_length
from theseus_tf.export.segment_packing import pack_texts
from theseus_tf.export.segment_packing import special_token_ids
# TOKENIZER_CONFIG: re-exported, it was this module's before tokenizer_files.
from theseus_tf.export.tokenizer_files import TOKENIZER_CONFIG  # pylint: disable=unused-import
from theseus_tf.export.tokenizer_files import TOKENIZER_JSON
from theseus_tf.export.tokenizer_files import config_token
from theseus_tf.export.tokenizer_files import read_tokenizer_config
from theseus_tf.export.tokenizer_files import tokenizer_folder

# What a WordPiece tokenizer folder may hold besides tokenizer.json (read
# first) and tokenizer_config.json.
VOCAB_TXT = "vocab.txt"


class TextPreprocessor(tf.Module):
  """Raw text to BERT inputs in the TensorFlow graph (and in TFLite).

  Reproduces a Hugging Face BERT (WordPiece) fast tokenizer called as
  `tokenizer(text_a, text_b, truncation=True, max_length=max_seq_length)`:
  `[CLS] a [SEP]` or `[CLS] a [SEP] b [SEP]`, token type 1 for the second
  segment, longest-first truncation of pairs exactly as `tokenizers` does it,
  then right padding. Tokenization is tensorflow-text's `FastBertTokenizer`
  with a normalizer model built from Hugging Face's `BertNormalizer` (see
  `bert_normalizer_model`), so that lower-casing, accent stripping and the
  removal of control characters match codepoint for codepoint; the rest is
  plain TensorFlow ops that TFLite lowers to builtins. The graph converts to
  TFLite with builtins plus tensorflow-text's custom ops (no Flex ops).

  Known differences from Hugging Face, both rare:
  - Special-token strings typed in the text ("[SEP]") are ordinary text here
    (`split_special_tokens=True` in Hugging Face terms); Hugging Face maps
    them to their special ids by default.
  - Words longer than `max_chars_per_word` become `[UNK]`; the limit counts
    UTF-8 bytes here and characters in Hugging Face, so the two agree on
    ASCII (and accent-stripped Latin) text only.

  Args:
    vocab: list of WordPiece tokens; index = id.
    lowercase: bool. Lower-case (Hugging Face `do_lower_case`).
    strip_accents: bool or None (follow `lowercase`), as Hugging Face.
    max_seq_length: int. Length after adding special tokens and truncating.
    pad_to_max_length: bool. Pad every batch to `max_seq_length` (static
      shapes, e.g. for TFLite) rather than to its longest row.
    cls_token, sep_token, pad_token, unk_token: the special tokens; must be
      in `vocab`.
    max_chars_per_word: int. Longer words become `unk_token`.
    suffix_indicator: str. WordPiece continuation prefix.
    token_types: bool. Return `token_type_ids` (BERT, ELECTRA); DistilBERT
      has none (its tokenizer returns only `input_ids` and `attention_mask`).
    name: optional module name.

  Example:

  ```python
  preprocessor = TextPreprocessor.from_pretrained("my-bert/", max_seq_length=128)
  features = preprocessor(tf.constant(["a sentence"]))          # single
  features = preprocessor(tf.constant(["a"]), tf.constant(["b"]))  # pairs
  logits = classifier(features)
  ```
  """

  family = "WordPiece"
  tflite_compatible = True

  def __init__(self,
               vocab,
               lowercase=True,
               strip_accents=None,
               max_seq_length=128,
               pad_to_max_length=False,
               cls_token="[CLS]",
               sep_token="[SEP]",
               pad_token="[PAD]",
               unk_token="[UNK]",
               max_chars_per_word=100,
               suffix_indicator="##",
               token_types=True,
               name=None):
    super().__init__(name=name)
    import tensorflow_text as tf_text  # pylint: disable=g-import-not-at-top

    vocab = list(vocab)
    if not vocab:
      raise ValueError("The vocabulary is empty.")
    check_max_seq_length(max_seq_length, 3, "[CLS] a [SEP] b [SEP]")
    token_to_id = {}
    for i, token in enumerate(vocab):
      token_to_id.setdefault(token, i)

    self.vocab_size = len(vocab)
    self.lowercase = bool(lowercase)
    self.strip_accents = strip_accents
    self.max_seq_length = int(max_seq_length)
    self.pad_to_max_length = bool(pad_to_max_length)
    self.token_types = bool(token_types)
    self.feature_names = tuple(
        name for name in FEATURE_NAMES
        if self.token_types or name != "token_type_ids")
    special = special_token_ids(token_to_id, cls=cls_token, sep=sep_token,
                                pad=pad_token, unk=unk_token)
    self.cls_id = special["cls"]
    self.sep_id = special["sep"]
    self.pad_id = special["pad"]
    self.unk_id = special["unk"]
    normalizer = bert_normalizer_model(
        vocab, lowercase=self.lowercase, strip_accents=strip_accents)
    self._tokenizer = tf_text.FastBertTokenizer(
        vocab=vocab,
        suffix_indicator=suffix_indicator,
        max_bytes_per_word=max_chars_per_word,
        token_out_type=tf.int32,
        unknown_token=unk_token,
        fast_bert_normalizer_model_buffer=tf.constant(
            np.frombuffer(normalizer, dtype=np.uint8)))

  @classmethod
  def from_pretrained(cls, path, max_seq_length=128, **kwargs):
    """Builds the preprocessor of a Hugging Face BERT tokenizer folder.

    Reads `tokenizer.json` (vocabulary, normalizer options, special tokens)
    if present, else `vocab.txt` with `tokenizer_config.json`
    (`do_lower_case`, `strip_accents`, special tokens; lower-cased when
    neither says otherwise, as Hugging Face's `BertTokenizer`).

    Args:
      path: the tokenizer (or model) folder.
      max_seq_length: int, as in the constructor.
      **kwargs: other constructor arguments; they override the folder's.

    Returns:
      A `TextPreprocessor`.

    Raises:
      FileNotFoundError: no folder, or neither `tokenizer.json` nor
        `vocab.txt` in it.
      NotImplementedError: a tokenizer that is not BERT WordPiece.
    """
    options = read_tokenizer_options(path)
    options.update(kwargs)
    return cls(max_seq_length=max_seq_length, **options)

  def tokenize(self, text):
    """WordPiece ids of each text, without special tokens.

    Args:
      text: string tensor `[batch]`.

    Returns:
      int32 `RaggedTensor` `[batch, (tokens)]`.
    """
    return self._tokenizer.tokenize(text)

  def __call__(self, text_a, text_b=None):
    """Tokenizes, truncates, adds special tokens and pads.

    Args:
      text_a: string tensor `[batch]`: the texts, or the first segments.
      text_b: optional string tensor `[batch]`: the second segments.

    Returns:
      A dict of int32 `[batch, length]` tensors named `feature_names`
      (`input_ids`, `attention_mask` and, with `token_types`,
      `token_type_ids`); `length` is `max_seq_length` with
      `pad_to_max_length`, else the longest row of the batch.
    """
    return pack_texts(self, text_a, text_b, token_types=self.token_types)


def read_tokenizer_options(path):
  """Reads a BERT tokenizer folder into `TextPreprocessor` arguments.

  Args:
    path: a folder with `tokenizer.json` and/or `vocab.txt` (and
      `tokenizer_config.json`).

  Returns:
    A dict with `vocab`, `lowercase`, `strip_accents`, `cls_token`,
    `sep_token`, `pad_token`, `unk_token`, `max_chars_per_word` and
    `suffix_indicator`.

  Raises:
    FileNotFoundError: no folder, or no vocabulary in it.
    NotImplementedError: not a BERT WordPiece tokenizer.
  """
  folder = tokenizer_folder(path, VOCAB_TXT)
  config = read_tokenizer_config(folder)
  token = functools.partial(config_token, config)

  options = {
      "cls_token": token("cls_token", "[CLS]"),
      "sep_token": token("sep_token", "[SEP]"),
      "pad_token": token("pad_token", "[PAD]"),
      "unk_token": token("unk_token", "[UNK]"),
      "lowercase": config.get("do_lower_case", True),
      "strip_accents": config.get("strip_accents"),
      "max_chars_per_word": 100,
      "suffix_indicator": "##",
  }
  if (folder / TOKENIZER_JSON).is_file():
    options.update(_read_tokenizer_json(folder / TOKENIZER_JSON))
  elif (folder / VOCAB_TXT).is_file():
    if config.get("tokenize_chinese_chars", True) is False:
      raise NotImplementedError(
          "tokenize_chinese_chars=False is not supported in-graph: "
          "tensorflow-text always splits CJK characters.")
    with open(folder / VOCAB_TXT, encoding="utf-8") as f:
      # As Hugging Face's `load_vocab`: one token per line, newline stripped.
      options["vocab"] = [line.rstrip("\n") for line in f]
  else:
    raise FileNotFoundError(
        f"No vocabulary in {folder}: expected {TOKENIZER_JSON} or {VOCAB_TXT}. "
        "Save the tokenizer next to the model (tokenizer.save_pretrained("
        "folder)) or pass the folder it came with (CLI: --tokenizer).")
  return options


def _read_tokenizer_json(path):
  spec = json.loads(path.read_text(encoding="utf-8"))
  model = spec.get("model") or {}
  if model.get("type") != "WordPiece":
    raise NotImplementedError(
        f"{path} is a {model.get('type')} tokenizer, not WordPiece: use "
        "theseus_tf.export.load_preprocessor(folder), which picks the "
        "tokenizer family's in-graph preprocessor.")
  pre_tokenizer = (spec.get("pre_tokenizer") or {}).get("type")
  if pre_tokenizer not in ("BertPreTokenizer", None):
    raise NotImplementedError(
        f"{path} uses the {pre_tokenizer} pre-tokenizer; only "
        "BertPreTokenizer is supported in-graph.")
  normalizer = spec.get("normalizer") or {}
  if normalizer.get("type") != "BertNormalizer":
    raise NotImplementedError(
        f"{path} uses the {normalizer.get('type')} normalizer; only "
        "BertNormalizer is supported in-graph.")
  if not normalizer.get("handle_chinese_chars", True):
    raise NotImplementedError(
        "handle_chinese_chars=False is not supported in-graph: "
        "tensorflow-text always splits CJK characters.")
  vocab_map = model.get("vocab") or {}
  vocab = [None] * len(vocab_map)
  for text, i in vocab_map.items():
    if not 0 <= i < len(vocab) or vocab[i] is not None:
      raise ValueError(f"{path}: vocabulary ids are not 0..{len(vocab) - 1}.")
    vocab[i] = text
  options = {
      "vocab": vocab,
      "lowercase": normalizer.get("lowercase", True),
      "strip_accents": normalizer.get("strip_accents"),
      "unk_token": model.get("unk_token", "[UNK]"),
      "max_chars_per_word": model.get("max_input_chars_per_word", 100),
      "suffix_indicator": model.get("continuing_subword_prefix", "##"),
  }
  if not normalizer.get("clean_text", True):
    raise NotImplementedError(
        "clean_text=False is not supported in-graph; re-save the tokenizer "
        "with the BERT defaults.")
  post = spec.get("post_processor") or {}
  special = post.get("special_tokens") or {}
  if post.get("type") == "BertProcessing":
    options["sep_token"] = post["sep"][0]
    options["cls_token"] = post["cls"][0]
  elif post.get("type") == "TemplateProcessing":
    single = [item["SpecialToken"]["id"] for item in post.get("single", [])
              if "SpecialToken" in item]
    if len(single) == 2 and all(name in special for name in single):
      options["cls_token"], options["sep_token"] = single
  padding = spec.get("padding") or {}
  if padding.get("pad_token"):
    options["pad_token"] = padding["pad_token"]
  return options
