"""In-graph SentencePiece (XLM-RoBERTa) as Hugging Face's fast tokenizer does it."""

import base64
import functools
import hashlib
import json

import numpy as np
import tensorflow as tf

from theseus_tf.export import sentencepiece_model_proto as model_proto
from theseus_tf.export.bert_normalizer_model import build_normalizer_model
from theseus_tf.export.segment_packing import check_max_seq_length
from theseus_tf.export.segment_packing import pack_texts
from theseus_tf.export.segment_packing import special_token_ids
from theseus_tf.export.tokenizer_files import TOKENIZER_JSON
from theseus_tf.export.tokenizer_files import config_token
from theseus_tf.export.tokenizer_files import read_tokenizer_config
from theseus_tf.export.tokenizer_files import tokenizer_folder

_SENTENCEPIECE_MODEL = "sentencepiece.bpe.model"

# Unicode White_Space: where Hugging Face's WhitespaceSplit cuts words.
_WHITESPACE = frozenset(
    [0x9, 0xA, 0xB, 0xC, 0xD, 0x20, 0x85, 0xA0, 0x1680, *range(0x2000, 0x200B),
     0x2028, 0x2029, 0x202F, 0x205F, 0x3000])
_METASPACE = "\u2581"


class SentencePiecePreprocessor(tf.Module):
  """Raw text to XLM-RoBERTa inputs in the TensorFlow graph (and in TFLite).

  Reproduces a Hugging Face SentencePiece unigram fast tokenizer (XLM-R)
  called as `tokenizer(text_a, text_b, truncation=True,
  max_length=max_seq_length)`: `<s> a </s>` or `<s> a </s></s> b </s>`,
  longest-first truncation of pairs, right padding; `input_ids` and
  `attention_mask` (XLM-R has no token types).

  The ids are Hugging Face's: the SentencePiece model handed to
  tensorflow-text is rebuilt from `tokenizer.json`'s vocabulary and scores
  (or, from `sentencepiece.bpe.model` alone, with the fairseq layout Hugging
  Face's converter applies: `<s>`=0, `<pad>`=1, `</s>`=2, `<unk>`=3, piece
  `i` >= 3 at `i + 1`, `<mask>` last). Hugging Face cuts the normalized
  text into words at Unicode whitespace and segments each word on its own;
  SentencePiece segments whole texts, which differs where unknown
  characters meet across a space (one fused `<unk>` instead of two). So the
  words are cut first: a `FastBertNormalizer` map turns Unicode whitespace
  (and characters the SentencePiece normalizer turns into spaces) into
  ASCII spaces, tensorflow-text's `WhitespaceTokenizer` splits there, and
  each word is tokenized alone.

  `fast=False` (SavedModels) tokenizes with `SentencepieceTokenizer`, the
  SentencePiece library itself. `fast=True` (TFLite) uses
  `FastSentencepieceTokenizer`, which has a TFLite kernel. It scores an
  unknown character once per UTF-8 byte rather than once, which changes the
  segmentation only around unknown characters that some piece contains
  without being a piece itself; for "▁" (missing as a piece from vocabularies
  Hugging Face converted from models without `<s>`/`</s>` at ids 1-2) the
  model given to it spells "▁" as one byte (`_fast_model`), other such
  characters are not expected in SentencePiece-trained vocabularies, which
  hold every character they cover as a piece.

  Known difference from Hugging Face, rare: special-token strings typed in
  the text ("<s>") are ordinary text here.

  Args:
    pieces: list of `(piece, score, type)` in id order (types as in
      `sentencepiece_model_proto`).
    unk_id: int. Id of the unknown piece.
    precompiled_charsmap: bytes. SentencePiece's normalization map.
    max_seq_length: int. Length after adding special tokens and truncating.
    pad_to_max_length: bool. Pad every batch to `max_seq_length`.
    cls_token, sep_token, pad_token: the special tokens; must be pieces.
    fast: bool. Use `FastSentencepieceTokenizer` (TFLite-compatible).
    name: optional module name.

  Example:

  ```python
  preprocessor = SentencePiecePreprocessor.from_pretrained(
      "xlm-roberta/", max_seq_length=128)
  features = preprocessor(tf.constant(["a sentence"]))
  features = preprocessor(tf.constant(["a"]), tf.constant(["b"]))  # pairs
  ```
  """

  family = "SentencePiece"
  tflite_compatible = True

  def __init__(self,
               pieces,
               unk_id,
               precompiled_charsmap,
               max_seq_length=128,
               pad_to_max_length=False,
               cls_token="<s>",
               sep_token="</s>",
               pad_token="<pad>",
               fast=False,
               name=None):
    super().__init__(name=name)
    import tensorflow_text as tf_text  # pylint: disable=g-import-not-at-top
    pieces = [tuple(p) for p in pieces]
    if not pieces:
      raise ValueError("The vocabulary is empty.")
    check_max_seq_length(max_seq_length, 4, "<s> a </s></s> b </s>")
    ids = {}
    for i, (piece, _, _) in enumerate(pieces):
      ids.setdefault(piece, i)
    special = special_token_ids(ids, cls=cls_token, sep=sep_token,
                                pad=pad_token)
    self.vocab_size = len(pieces)
    self.max_seq_length = int(max_seq_length)
    self.pad_to_max_length = bool(pad_to_max_length)
    self.fast = bool(fast)
    self.lowercase = False
    self.feature_names = ("input_ids", "attention_mask")
    self.cls_id = special["cls"]
    self.sep_id = special["sep"]
    self.pad_id = special["pad"]
    self.unk_id = int(unk_id)
    if self.fast:
      self._tokenizer = tf_text.FastSentencepieceTokenizer(
          _fast_model(pieces, unk_id, precompiled_charsmap))
    else:
      self._tokenizer = tf_text.SentencepieceTokenizer(
          model_proto.build_unigram_model(pieces, unk_id,
                                          precompiled_charsmap),
          out_type=tf.int32)
    self._spaces = tf_text.FastBertNormalizer(
        model_buffer=tf.constant(np.frombuffer(
            _space_map_model(precompiled_charsmap), dtype=np.uint8)))
    self._words = tf_text.WhitespaceTokenizer()

  @classmethod
  def from_pretrained(cls, path, max_seq_length=128, **kwargs):
    """Builds the preprocessor of a Hugging Face SentencePiece tokenizer folder.

    Reads `tokenizer.json` (a `Unigram` model) if present, else
    `sentencepiece.bpe.model` with the fairseq id layout.

    Args:
      path: the tokenizer (or model) folder.
      max_seq_length: int, as in the constructor.
      **kwargs: other constructor arguments; they override the folder's.

    Returns:
      A `SentencePiecePreprocessor`.

    Raises:
      FileNotFoundError: no folder, or neither `tokenizer.json` nor
        `sentencepiece.bpe.model` in it.
      NotImplementedError: not a SentencePiece unigram tokenizer.
    """
    options = read_sentencepiece_options(path)
    options.update(kwargs)
    return cls(max_seq_length=max_seq_length, **options)

  def tokenize(self, text):
    """SentencePiece ids of each text, without special tokens.

    Args:
      text: string tensor `[batch]`.

    Returns:
      int32 `RaggedTensor` `[batch, (tokens)]`.
    """
    words = self._words.tokenize(self._spaces.normalize(text))
    ids = self._tokenizer.tokenize(words.flat_values)
    ids = tf.RaggedTensor.from_row_splits(
        tf.cast(ids.values, tf.int32),
        tf.gather(tf.cast(ids.row_splits, tf.int64),
                  tf.cast(words.row_splits, tf.int64)))
    return ids

  def __call__(self, text_a, text_b=None):
    """Tokenizes, truncates, adds special tokens and pads.

    Args:
      text_a: string tensor `[batch]`: the texts, or the first segments.
      text_b: optional string tensor `[batch]`: the second segments.

    Returns:
      A dict of int32 `[batch, length]` tensors `input_ids` and
      `attention_mask`.
    """
    return pack_texts(self, text_a, text_b, pair_separators=2,
                      token_types=False)


# Stands for "▁" in the model of `FastSentencepieceTokenizer` (see
# `_fast_model`): one byte, in no text (words hold no control characters
# after normalization) and in no piece.
_FAST_METASPACE = "\x01"


def _fast_model(pieces, unk_id, charsmap):
  """The model for `FastSentencepieceTokenizer`, scored as SentencePiece does.

  `FastSentencepieceTokenizer` charges an unknown character once per UTF-8
  byte, SentencePiece (and Hugging Face) once per character. That changes
  the segmentation only around unknown characters that pieces contain but
  that are no piece themselves; "▁" is one in vocabularies converted by
  Hugging Face from a model whose pieces 1 and 2 were not `<s>` and `</s>`.
  So "▁" becomes the one-byte `_FAST_METASPACE`, in the pieces and, through
  the normalization map, for the dummy prefix (the only space left in a
  word, which is normalized before the prefix is escaped).
  """
  normal = [(p, s, t) for p, s, t in pieces if t == model_proto.NORMAL]
  if any(p == _METASPACE for p, _, _ in normal):
    return model_proto.build_unigram_model(pieces, unk_id, charsmap)
  spaced = _charsmap_with_space(charsmap, _FAST_METASPACE)
  if spaced is None:
    return model_proto.build_unigram_model(pieces, unk_id, charsmap)
  pieces = [(p.replace(_METASPACE, _FAST_METASPACE)
             if t == model_proto.NORMAL else p, s, t) for p, s, t in pieces]
  return model_proto.build_unigram_model(pieces, unk_id, spaced)


def _charsmap_with_space(charsmap, replacement):
  """A SentencePiece precompiled charsmap that also maps " " to `replacement`.

  The charsmap is a uint32 trie size, a darts-clone double array from UTF-8
  keys to offsets, then the NUL-terminated replacements. The array has no
  free unit to spare, so the root's children move to a fresh 256-unit block
  past its end (their own children stay: each moved unit's offset is
  recomputed to reach them), joined there by " ", whose value sits in a
  second fresh block (where no lookup continuing after " " finds a child).

  Returns:
    The new charsmap, or None if " " is mapped already.
  """
  size = int.from_bytes(charsmap[:4], "little")
  units = np.frombuffer(charsmap[4:4 + size], dtype="<u4").astype(np.int64)
  pool = charsmap[4 + size:]

  def offset(unit):
    return int((unit >> 10) << ((unit & 0x200) >> 6))

  def with_offset(unit, jump):
    if jump >= 1 << 21:
      raise ValueError("charsmap too large")
    return (int(unit) & 0xFF) | (int(unit) & 0x100) | (jump << 10)

  old_base = offset(units[0])
  space = old_base ^ ord(" ")
  if space < len(units) and (units[space] & 0x800000FF) == ord(" "):
    return None
  new_base = (len(units) // 256 + 1) * 256
  value = new_base + 256
  grown = np.zeros(value + 256, np.int64)
  grown[:len(units)] = units
  try:
    for label in range(1, 256):
      old = old_base ^ label
      if old < len(units) and (units[old] & 0x800000FF) == label:
        child_base = old ^ offset(units[old])
        grown[new_base ^ label] = with_offset(units[old],
                                              (new_base ^ label) ^ child_base)
    grown[new_base ^ ord(" ")] = with_offset(
        ord(" ") | 0x100, (new_base ^ ord(" ")) ^ value)
    grown[0] = with_offset(units[0], new_base)
  except ValueError:
    return None
  grown[value] = 0x80000000 | len(pool)
  pool += replacement.encode("utf-8") + b"\0"
  trie = grown.astype("<u4").tobytes()
  return len(trie).to_bytes(4, "little") + trie + pool


def _space_map_model(charsmap):
  return _cached_space_map_model(hashlib.sha256(charsmap).hexdigest(),
                                 charsmap)


@functools.lru_cache(maxsize=4)
def _cached_space_map_model(digest, charsmap):
  """`FastBertNormalizer` model: where Hugging Face's words end, an ASCII space.

  Maps each whitespace character, "▁" (Hugging Face's Metaspace splits
  there too) and each character the SentencePiece normalizer turns into
  something with whitespace (e.g. "¨" into " ̈") to that normalized form with
  ASCII spaces, and leaves everything else to SentencePiece's own
  normalization.
  """
  del digest  # The cache key.
  from tokenizers import normalizers  # pylint: disable=g-import-not-at-top
  normalize = normalizers.Precompiled(charsmap).normalize_str
  mapping = {}
  for cp in range(0x110000):
    if 0xD800 <= cp <= 0xDFFF:
      continue
    char = chr(cp)
    # Hugging Face normalizes first, then cuts words at whitespace: what a
    # character becomes decides (U+000B, for one, is removed, not a cut).
    normalized = normalize(char)
    is_space = [ord(c) in _WHITESPACE or c == _METASPACE for c in normalized]
    if not normalized or any(is_space) or cp in _WHITESPACE or (
        char == _METASPACE):
      # Removed characters too: as a whole word SentencePiece would give
      # them a lone "▁".
      mapping[cp] = "".join(" " if space else c
                            for c, space in zip(normalized, is_space))
  return build_normalizer_model(mapping, lower_case=False)


def read_sentencepiece_options(path):
  """Reads a SentencePiece tokenizer folder into `SentencePiecePreprocessor` arguments.

  Args:
    path: a folder with `tokenizer.json` or `sentencepiece.bpe.model` (and
      `tokenizer_config.json`).

  Returns:
    A dict with `pieces`, `unk_id`, `precompiled_charsmap`, `cls_token`,
    `sep_token` and `pad_token`.

  Raises:
    FileNotFoundError: no folder, or no model in it.
    NotImplementedError: not a SentencePiece unigram tokenizer.
  """
  folder = tokenizer_folder(path, _SENTENCEPIECE_MODEL)
  config = read_tokenizer_config(folder)
  token = functools.partial(config_token, config)

  options = {
      "cls_token": token("cls_token", "<s>"),
      "sep_token": token("sep_token", "</s>"),
      "pad_token": token("pad_token", "<pad>"),
  }
  if (folder / TOKENIZER_JSON).is_file():
    options.update(_read_tokenizer_json(folder / TOKENIZER_JSON))
  elif (folder / _SENTENCEPIECE_MODEL).is_file():
    options.update(_read_fairseq_model(folder / _SENTENCEPIECE_MODEL,
                                       token("mask_token", "<mask>")))
  else:
    raise FileNotFoundError(
        f"No vocabulary in {folder}: its SentencePiece tokenizer needs "
        f"{TOKENIZER_JSON} or {_SENTENCEPIECE_MODEL} (missing: "
        f"{_SENTENCEPIECE_MODEL}); save the tokenizer there with "
        "tokenizer.save_pretrained(folder), or pass the folder it came with "
        "(CLI: --tokenizer).")
  return options


def _read_fairseq_model(path, mask_token):
  """The vocabulary Hugging Face's XLM-R converter makes of a SentencePiece model."""
  spec = model_proto.read_model(path.read_bytes())
  if spec["model_type"] != model_proto.UNIGRAM:
    raise NotImplementedError(
        f"{path} is not a unigram SentencePiece model; in-graph "
        "SentencePiece supports unigram models (XLM-R) only.")
  # fairseq: <s> <pad> </s> <unk>, then SentencePiece's pieces from id 3 on
  # (its own <unk> <s> </s> come first), then <mask>.
  pieces = [("<s>", 0.0, model_proto.CONTROL),
            ("<pad>", 0.0, model_proto.CONTROL),
            ("</s>", 0.0, model_proto.CONTROL),
            ("<unk>", 0.0, model_proto.UNKNOWN)]
  pieces += [(piece, score, model_proto.NORMAL)
             for piece, score, _ in spec["pieces"][3:]]
  pieces.append((mask_token, 0.0, model_proto.CONTROL))
  return {"pieces": pieces, "unk_id": 3,
          "precompiled_charsmap": spec["precompiled_charsmap"]}


def _read_tokenizer_json(path):
  spec = json.loads(path.read_text(encoding="utf-8"))
  model = spec.get("model") or {}
  if model.get("type") != "Unigram":
    raise NotImplementedError(
        f"{path} is a {model.get('type')} tokenizer; SentencePiecePreprocessor "
        "reproduces SentencePiece unigram tokenizers (XLM-R) only.")
  if model.get("byte_fallback"):
    raise NotImplementedError(
        f"{path}: byte_fallback is not supported in-graph.")
  normalizer = spec.get("normalizer") or {}
  if normalizer.get("type") != "Precompiled":
    raise NotImplementedError(
        f"{path} uses the {normalizer.get('type')} normalizer; in-graph "
        "SentencePiece supports the Precompiled one (XLM-R) only.")
  pre = spec.get("pre_tokenizer") or {}
  steps = pre.get("pretokenizers", [pre]) if pre.get("type") == "Sequence" \
      else [pre]
  kinds = [step.get("type") for step in steps]
  metaspace = [s for s in steps if s.get("type") == "Metaspace"]
  if (not metaspace or any(k not in ("WhitespaceSplit", "Metaspace")
                           for k in kinds)
      or metaspace[0].get("replacement", _METASPACE) != _METASPACE
      or metaspace[0].get("prepend_scheme", "always") != "always"):
    raise NotImplementedError(
        f"{path} pre-tokenizes with {kinds}; in-graph SentencePiece supports "
        "WhitespaceSplit + Metaspace(prepend_scheme='always') (XLM-R) only.")
  special = {t["content"]: t["id"] for t in spec.get("added_tokens", [])
             if t.get("special")}
  unk_id = model.get("unk_id")
  pieces = []
  for i, (piece, score) in enumerate(model.get("vocab") or []):
    if i == unk_id:
      kind = model_proto.UNKNOWN
    elif special.get(piece) == i:
      kind = model_proto.CONTROL  # Never matched in text.
    else:
      kind = model_proto.NORMAL
    pieces.append((piece, score, kind))
  if unk_id is None:
    raise NotImplementedError(f"{path}: a unigram model without unk_id.")
  return {"pieces": pieces, "unk_id": unk_id,
          "precompiled_charsmap": base64.b64decode(
              normalizer["precompiled_charsmap"])}
