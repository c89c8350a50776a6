"""A tensorflow-text `FastBertNormalizer` model that normalizes as Hugging Face.

tensorflow-text's built-in normalizer for uncased BERT applies ICU
NFKC_Casefold, which differs from Hugging Face's `BertNormalizer` (Unicode
lower-casing after NFD and accent stripping, control characters removed) on
characters such as "µ" (kept by Hugging Face, turned into Greek "μ" by
NFKC), "ß", "ﬁ", full-width letters, "…" or "\ufffd". Both are per-codepoint
maps, and `FastBertNormalizer` accepts its map as a flatbuffer
(`fast_bert_normalizer_model.fbs`: a darts-clone trie from each changed
codepoint's UTF-8 bytes to a slice of a string pool). This module builds that
flatbuffer from the Hugging Face normalizer itself, so that the in-graph
tokenizer (and its TFLite custom op) normalizes exactly as the checkpoint's
own tokenizer does.
"""

import functools

import flatbuffers
import numpy as np

# Encoding of a codepoint's entry (fast_bert_normalizer.h): bit 30 says the
# normalized string differs, bits 6..29 hold its offset in the pool, bits 0..5
# its length in UTF-8 bytes.
_DIFFERENT_MASK = 0x40000000
_LENGTH_BITS = 6
_MAX_LENGTH = (1 << _LENGTH_BITS) - 1
_MAX_OFFSET = (1 << (32 - 2 - _LENGTH_BITS)) - 1

# Codepoints that `FastWordpieceTokenizer` already splits into words of their
# own, as Hugging Face's `handle_chinese_chars` does
# (fast_wordpiece_tokenizer_utils.h, IsPunctuationOrChineseChar): the padding
# with spaces need not be stored.
_CJK_RANGES = ((0x4E00, 0x9FFF), (0x3400, 0x4DBF), (0x20000, 0x2A6DF),
               (0x2A700, 0x2B73F), (0x2B740, 0x2B81F), (0x2B820, 0x2CEAF),
               (0xF900, 0xFAFF), (0x2F800, 0x2FA1F))


def _is_cjk(cp):
  return any(lo <= cp <= hi for lo, hi in _CJK_RANGES)


def normalization_map(normalize):
  """Returns `{codepoint: normalized string}` for the codepoints `normalize` changes.

  Args:
    normalize: a per-character string normalizer, e.g. a `tokenizers`
      normalizer's `normalize_str`. It is called once on all codepoints
      joined by "|" (a starter that BERT normalization keeps as is, so that
      no mark reordering crosses it), and once for "|" itself.

  Returns:
    A dict from int codepoint to str. Surrogates (not valid in UTF-8) are
    skipped.
  """
  separator = "|"
  codepoints = [cp for cp in _codepoints() if cp != ord(separator)]
  normalized = normalize(separator.join(map(chr, codepoints))).split(separator)
  if len(normalized) != len(codepoints) or normalize(separator) != separator:
    raise ValueError("The normalizer does not work character by character.")
  mapping = {cp: n for cp, n in zip(codepoints, normalized) if n != chr(cp)}
  return mapping


def _codepoints():
  return [cp for cp in range(0x110000) if not 0xD800 <= cp <= 0xDFFF]


def _hugging_face_splits(normalized):
  """Whether Hugging Face's pre-tokenizer splits "x" + n + "y", for each n.

  One call on the concatenation of all of them ("xn1yxn2y..."), which is one
  word except where an `n` splits it.
  """
  import bisect  # pylint: disable=g-import-not-at-top
  from tokenizers.pre_tokenizers import BertPreTokenizer  # pylint: disable=g-import-not-at-top
  pieces = BertPreTokenizer().pre_tokenize_str(
      "".join(f"x{n}y" for n in normalized))
  boundaries = sorted({o for _, span in pieces for o in span})
  flags = []
  start = 0
  for n in normalized:
    end = start + len(n) + 2
    i = bisect.bisect_right(boundaries, start)
    flags.append(i < len(boundaries) and boundaries[i] < end)
    start = end
  return flags


def _tensorflow_text_splits(model_buffer, codepoints):
  """Whether tensorflow-text splits "x" + c + "y" after `model_buffer`."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  import tensorflow_text as tf_text  # pylint: disable=g-import-not-at-top
  tokenizer = tf_text.FastBertTokenizer(
      vocab=["[UNK]", "x", "y"], token_out_type=tf.int32,
      fast_bert_normalizer_model_buffer=tf.constant(
          np.frombuffer(model_buffer, dtype=np.uint8)))
  texts = tf.constant([f"x{chr(cp)}y" for cp in codepoints])
  return (tokenizer.tokenize(texts).row_lengths() != 1).numpy().tolist()


def _aligned_map(full_map, vocab_chars):
  """The normalizer map, adjusted so that tensorflow-text splits words as HF.

  tensorflow-text splits words at ICU's punctuation, Hugging Face at that of
  its own (older) Unicode tables, so a few hundred recent characters differ.
  Where Hugging Face splits and tensorflow-text does not, the character is
  padded with spaces; where tensorflow-text splits and Hugging Face keeps a
  one-word "x?y" (which becomes [UNK] unless the vocabulary holds the
  character), the character is mapped to a private-use one that
  tensorflow-text keeps in the word and no vocabulary holds.
  """
  keep_in_word = _private_use_char(vocab_chars)
  # The CJK padding of `handle_chinese_chars` is done by tensorflow-text.
  model_map = {cp: n for cp, n in full_map.items()
               if not (_is_cjk(cp) and n == f" {chr(cp)} ")}
  codepoints = _codepoints()
  hf_split = _hugging_face_splits(
      [full_map.get(cp, chr(cp)) for cp in codepoints])
  tf_split = _tensorflow_text_splits(build_normalizer_model(model_map),
                                     codepoints)
  for cp, hf, tf in zip(codepoints, hf_split, tf_split):
    if hf == tf:
      continue
    normalized = full_map.get(cp, chr(cp))
    if len(normalized) != 1:
      continue
    if hf:
      model_map[cp] = f" {normalized} "
    elif normalized not in vocab_chars:
      model_map[cp] = keep_in_word
  return model_map


def _private_use_char(vocab_chars):
  """A private-use character (not punctuation or whitespace for ICU) that no
  vocabulary token contains."""
  for cp in range(0xE000, 0xF900):
    if chr(cp) not in vocab_chars:
      return chr(cp)
  raise ValueError("The vocabulary holds every private-use character.")


def build_darts_clone_trie(items):
  """Builds a darts-clone double array from `{key bytes: value}`.

  The layout is the one `DartsCloneTrieWrapper` (tensorflow-text) reads: unit
  bits 0..7 hold the label of the edge into the node, bit 8 says the node has
  a value, bits 10..31 (bit 9 = scaled by 256) the XOR offset of its children;
  a node's value sits in a leaf unit (bit 31 set) at `node ^ offset`. Keys
  must be non-empty and free of zero bytes; values must fit in 31 bits.

  Args:
    items: dict or iterable of `(bytes, int)` pairs.

  Returns:
    A list of uint32 units.
  """
  root = {}
  for key, value in dict(items).items():
    if not key or 0 in key:
      raise ValueError(f"Trie keys must be non-empty without zero bytes: {key!r}")
    if not 0 <= value < (1 << 31):
      raise ValueError(f"Trie values must fit in 31 bits: {value}")
    node = root
    for byte in key:
      node = node.setdefault(byte, {})
    node[None] = value

  units = [0]
  used = bytearray(b"\x01")  # used[i]: unit i is taken.
  first_free = 1
  multi_cursor = 1

  def ensure(size):
    if size > len(units):
      grow = size - len(units) + 4096
      units.extend([0] * grow)
      used.extend(bytes(grow))

  queue = [(root, 0)]
  head = 0
  while head < len(queue):
    node, position = queue[head]
    head += 1
    labels = sorted(label for label in node if label is not None)
    if not labels and None not in node:
      continue
    # Every node owns the unit at its base (slot 0, where its value goes if
    # it has one), so bases are unique and a label check identifies the
    # parent. First fit over free units (bytearray.find scans in C): a leaf
    # takes the lowest free unit; nodes with children search from where the
    # last such node went, so the search stays linear overall.
    first_free = used.find(0, first_free)
    if first_free < 0:
      first_free = len(used)
    base = first_free if not labels else max(first_free, multi_cursor)
    while True:
      ensure(base + 257)
      base = used.find(0, base)
      if all(not used[base ^ label] for label in labels):
        break
      base += 1
    if labels:
      multi_cursor = base
    offset = position ^ base
    if offset >= (1 << 21):
      raise ValueError("Trie too large for unscaled darts-clone offsets.")
    units[position] |= (offset << 10) | (0x100 if None in node else 0)
    used[base] = 1
    if None in node:
      units[base] = 0x80000000 | node[None]
    for label in labels:
      child = base ^ label
      used[child] = 1
      units[child] = label
      queue.append((node[label], child))
  while len(units) > 1 and not used[len(units) - 1]:
    units.pop()
  return units


def build_normalizer_model(mapping, lower_case=True):
  """Serializes a codepoint map into a `FastBertNormalizerModel` flatbuffer.

  Args:
    mapping: `{codepoint: normalized string}`, e.g. from `normalization_map`.
    lower_case: recorded in the model's `lower_case_nfd_strip_accents` field
      (informational; the map decides what happens).

  Returns:
    The flatbuffer as `bytes`, for `tensorflow_text.FastBertNormalizer(
    model_buffer=...)` or `FastBertTokenizer(fast_bert_normalizer_model_buffer=...)`.
  """
  pool = bytearray()
  offsets = {}
  keys = {}
  data_for_zero = 0
  for cp, normalized in sorted(mapping.items()):
    encoded = normalized.encode("utf-8")
    if len(encoded) > _MAX_LENGTH:
      raise ValueError(f"Normalized form of U+{cp:04X} is too long: {normalized!r}")
    data = _DIFFERENT_MASK
    if encoded:
      if encoded not in offsets:
        offsets[encoded] = len(pool)
        pool += encoded
      if offsets[encoded] > _MAX_OFFSET:
        raise ValueError("Normalized string pool too large.")
      data |= (offsets[encoded] << _LENGTH_BITS) | len(encoded)
    if cp == 0:
      data_for_zero = data  # Darts-clone cannot store the empty key.
    else:
      keys[chr(cp).encode("utf-8")] = data
  trie = np.asarray(build_darts_clone_trie(keys), dtype=np.uint32)

  builder = flatbuffers.Builder(trie.nbytes + len(pool) + 1024)
  pool_vector = builder.CreateNumpyVector(np.frombuffer(bytes(pool) or b"\0",
                                                        dtype=np.uint8))
  trie_vector = builder.CreateNumpyVector(trie)
  builder.StartObject(4)
  builder.PrependBoolSlot(0, bool(lower_case), False)
  builder.PrependUOffsetTRelativeSlot(1, trie_vector, 0)
  builder.PrependInt32Slot(2, data_for_zero, 0)
  builder.PrependUOffsetTRelativeSlot(3, pool_vector, 0)
  builder.Finish(builder.EndObject())
  return bytes(builder.Output())


@functools.lru_cache(maxsize=8)
def _cached_model(lowercase, strip_accents, clean_text, vocab_chars):
  from tokenizers.normalizers import BertNormalizer  # pylint: disable=g-import-not-at-top
  normalizer = BertNormalizer(clean_text=clean_text, handle_chinese_chars=True,
                              strip_accents=strip_accents, lowercase=lowercase)
  full_map = normalization_map(normalizer.normalize_str)
  return build_normalizer_model(_aligned_map(full_map, vocab_chars),
                                lower_case=lowercase)


def bert_normalizer_model(vocab, lowercase=True, strip_accents=None,
                          clean_text=True):
  """The flatbuffer of Hugging Face's `BertNormalizer` for tensorflow-text.

  Normalizes each codepoint as `tokenizers.normalizers.BertNormalizer` does,
  and additionally evens out the few characters on which the two libraries'
  word splitting disagrees (see `_aligned_map`), so that `FastBertTokenizer`
  with this model produces Hugging Face's ids on every single character.

  Args:
    vocab: the WordPiece vocabulary (list of tokens).
    lowercase: as `tokenizers.normalizers.BertNormalizer`.
    strip_accents: as `BertNormalizer`; `None` follows `lowercase`.
    clean_text: as `BertNormalizer`.

  Returns:
    `bytes` (about 1.4 MB, mostly the removal of the supplementary
    private-use planes); cached per options and vocabulary characters
    (building takes about 15 seconds).

  Example:

  ```python
  buffer = bert_normalizer_model(vocab, lowercase=True)
  tokenizer = tensorflow_text.FastBertTokenizer(
      vocab, fast_bert_normalizer_model_buffer=buffer)
  ```
  """
  vocab_chars = frozenset("".join(vocab))
  return _cached_model(bool(lowercase), strip_accents, bool(clean_text),
                       vocab_chars)
