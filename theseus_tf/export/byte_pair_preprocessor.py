"""In-graph byte-level BPE (RoBERTa, GPT-2) as Hugging Face's fast tokenizer does it."""

import functools
import json

import tensorflow as tf

from theseus_tf.export.segment_packing import check_max_seq_length
from theseus_tf.export.segment_packing import pack_texts
from theseus_tf.export.segment_packing import special_token_ids
from theseus_tf.export.tokenizer_files import TOKENIZER_JSON
from theseus_tf.export.tokenizer_files import config_token
from theseus_tf.export.tokenizer_files import read_tokenizer_config
from theseus_tf.export.tokenizer_files import tokenizer_folder

# Unicode White_Space, which the `\s` of Hugging Face's regex engine matches;
# RE2's `\s` is ASCII only.
_WHITESPACE = (r"\t\n\x{0B}\f\r \x{85}\x{A0}\x{1680}\x{2000}-\x{200A}"
               r"\x{2028}\x{2029}\x{202F}\x{205F}\x{3000}")
# GPT-2's pre-tokenization regex without its `\s+(?!\S)` alternative, which
# RE2 cannot express (no lookahead). That alternative only differs from the
# plain `\s+` on a run of two or more spaces followed by a non-space: GPT-2
# leaves the run's last space to the next word. `_MARK_LAST_SPACE` cuts the
# text before that last space, and each piece is then split with this
# regex, which reproduces GPT-2 exactly.
_SPLIT = (r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+"
          rf"| ?[^{_WHITESPACE}\p{{L}}\p{{N}}]+|[{_WHITESPACE}]+")
_MARK_LAST_SPACE = rf"([{_WHITESPACE}])([{_WHITESPACE}][^{_WHITESPACE}])"
# Cut mark: a byte that never occurs in valid UTF-8 (all text Hugging Face
# accepts), so no input can contain it.
_CUT = b"\xff"

_VOCAB_JSON = "vocab.json"
_MERGES_TXT = "merges.txt"


def bytes_to_unicode():
  """GPT-2's map from each byte to a printable character (`{int: str}`)."""
  printable = (list(range(ord("!"), ord("~") + 1)) +
               list(range(ord("¡"), ord("¬") + 1)) +
               list(range(ord("®"), ord("ÿ") + 1)))
  mapping = {b: chr(b) for b in printable}
  extra = 0
  for b in range(256):
    if b not in mapping:
      mapping[b] = chr(256 + extra)
      extra += 1
  return mapping


class BytePairPreprocessor(tf.Module):
  """Raw text to RoBERTa inputs in the TensorFlow graph (SavedModel only).

  Reproduces a Hugging Face byte-level BPE fast tokenizer (RoBERTa; GPT-2's
  pre-tokenization and byte-to-unicode map) called as
  `tokenizer(text_a, text_b, truncation=True, max_length=max_seq_length)`:
  `<s> a </s>` or `<s> a </s></s> b </s>`, longest-first truncation of pairs,
  right padding; `input_ids` and `attention_mask` (RoBERTa has no token
  types). tensorflow-text has no BPE op: the words are split with RE2
  regexes (GPT-2's lookahead is emulated, see `_SPLIT`), mapped to GPT-2's
  byte characters, and merged by rank in a `tf.while_loop`, one merge per
  word and step, lowest rank then leftmost first, as `tokenizers` does. The
  approach follows KerasHub's `BytePairTokenizer` (Apache-2.0), rewritten on
  dense tensors and without its cache, so that it works in both Keras modes.

  It uses TensorFlow string, regex and hash-table ops, which TFLite has no
  kernels for: export RoBERTa to TFLite with token-id inputs.

  Known difference from Hugging Face, rare: special-token strings typed in
  the text ("<s>") are ordinary text here; Hugging Face maps them to their
  special ids.

  Args:
    vocab: dict from token to id.
    merges: list of `(left, right)` token pairs, highest priority first.
    add_prefix_space: bool. Prepend a space to text that does not start with
      one (Hugging Face's `add_prefix_space`).
    max_seq_length: int. Length after adding special tokens and truncating.
    pad_to_max_length: bool. Pad every batch to `max_seq_length`.
    cls_token, sep_token, pad_token: the special tokens; must be in `vocab`.
    name: optional module name.

  Example:

  ```python
  preprocessor = BytePairPreprocessor.from_pretrained("roberta/",
                                                      max_seq_length=128)
  features = preprocessor(tf.constant(["a sentence"]))
  features = preprocessor(tf.constant(["a"]), tf.constant(["b"]))  # pairs
  ```
  """

  family = "byte-level BPE"
  tflite_compatible = False

  def __init__(self,
               vocab,
               merges,
               add_prefix_space=False,
               max_seq_length=128,
               pad_to_max_length=False,
               cls_token="<s>",
               sep_token="</s>",
               pad_token="<pad>",
               name=None):
    super().__init__(name=name)
    vocab = dict(vocab)
    if not vocab:
      raise ValueError("The vocabulary is empty.")
    check_max_seq_length(max_seq_length, 4, "<s> a </s></s> b </s>")
    special = special_token_ids(vocab, cls=cls_token, sep=sep_token,
                                pad=pad_token)
    self.vocab_size = max(vocab.values()) + 1
    self.max_seq_length = int(max_seq_length)
    self.pad_to_max_length = bool(pad_to_max_length)
    self.add_prefix_space = bool(add_prefix_space)
    self.lowercase = False
    self.feature_names = ("input_ids", "attention_mask")
    self.cls_id = special["cls"]
    self.sep_id = special["sep"]
    self.pad_id = special["pad"]

    byte_map = bytes_to_unicode()
    self._byte_to_char = _table([bytes([b]) for b in range(256)],
                                [byte_map[b] for b in range(256)], "")
    self._token_to_id = _table(list(vocab), list(vocab.values()), -1,
                               tf.int32)
    merges = [tuple(m) for m in merges]
    # Never reached rank, for "no merge applies".
    self._no_merge = len(merges)
    self._merge_rank = _table([f"{a} {b}" for a, b in merges],
                              list(range(len(merges))), self._no_merge,
                              tf.int64)
    # Compiled once, so that eager calls do not run the loop step by step.
    self._merge_graph = tf.function(
        self._merge, input_signature=[tf.TensorSpec([None, None], tf.string)])

  @classmethod
  def from_pretrained(cls, path, max_seq_length=128, **kwargs):
    """Builds the preprocessor of a Hugging Face byte-level BPE tokenizer folder.

    Reads `tokenizer.json` if present, else `vocab.json` and `merges.txt`
    with `tokenizer_config.json` (`add_prefix_space`, special tokens).

    Args:
      path: the tokenizer (or model) folder.
      max_seq_length: int, as in the constructor.
      **kwargs: other constructor arguments; they override the folder's.

    Returns:
      A `BytePairPreprocessor`.

    Raises:
      FileNotFoundError: no folder, or neither `tokenizer.json` nor
        `vocab.json` and `merges.txt` in it.
      NotImplementedError: not a byte-level BPE tokenizer.
    """
    options = read_byte_pair_options(path)
    options.update(kwargs)
    return cls(max_seq_length=max_seq_length, **options)

  def split_words(self, text):
    """GPT-2's pre-tokenization: string `[batch]` to ragged `[batch, (words)]`."""
    text = tf.convert_to_tensor(text, tf.string)
    if self.add_prefix_space:
      # As `tokenizers`: not before a space, nor into an empty text.
      text = tf.where((tf.strings.substr(text, 0, 1) == " ") | (text == ""),
                      text, tf.strings.join([" ", text]))
    marked = tf.strings.regex_replace(text, _MARK_LAST_SPACE,
                                      b"\\1" + _CUT + b"\\2")
    pieces = tf.strings.split(marked, sep=_CUT)
    # A cut after every match rather than tensorflow-text's `regex_split`,
    # which stops at the first NUL character.
    words = tf.strings.split(
        tf.strings.regex_replace(pieces.flat_values, f"({_SPLIT})",
                                 b"\\1" + _CUT),
        sep=_CUT)
    words = tf.RaggedTensor.from_row_splits(
        words.values, tf.gather(words.row_splits, pieces.row_splits))
    return tf.ragged.boolean_mask(words, words != "")

  def tokenize(self, text):
    """BPE ids of each text, without special tokens.

    Args:
      text: string tensor `[batch]`.

    Returns:
      int32 `RaggedTensor` `[batch, (tokens)]`.
    """
    words = self.split_words(text)
    # Each distinct word is merged once (a batch repeats most words).
    unique, index = tf.unique(words.flat_values)
    symbols = self._byte_to_char.lookup(tf.strings.bytes_split(unique))
    merged = self._merge_graph(symbols.to_tensor(default_value=""))
    ids = self._token_to_id.lookup(merged)
    # Symbols missing from the vocabulary are dropped, as `tokenizers` does
    # without an unknown token (byte-level vocabularies hold every byte).
    ids = tf.ragged.boolean_mask(ids, (merged != "") & (ids >= 0))
    per_word = tf.gather(ids, index)
    return tf.RaggedTensor.from_row_splits(
        per_word.values, tf.gather(per_word.row_splits, words.row_splits))

  def _merge(self, symbols):
    """Applies merges to `[words, symbols]` ("" = empty slot) until none applies."""
    # Two empty columns: at least one (empty) pair, even for one-byte words.
    symbols = tf.concat([symbols, tf.fill([tf.shape(symbols)[0], 2], "")], 1)
    width = tf.shape(symbols, out_type=tf.int64)[1]

    def step(symbols, active):
      # Only the words still merging, and only as wide as the longest of
      # them: most words are done after a few merges.
      rows = tf.gather(symbols, active)
      used = tf.reduce_max(tf.reduce_sum(tf.cast(rows != "", tf.int64), 1))
      rows = rows[:, :used + 1]
      left, right = rows[:, :-1], rows[:, 1:]
      rank = self._merge_rank.lookup(tf.strings.join([left, right], " "))
      rank = tf.where((left != "") & (right != ""), rank, self._no_merge)
      # Lowest rank, then leftmost: one key per pair, so no argmin ties.
      column = tf.range(used + 1)[tf.newaxis, :]
      key = rank * width + column[:, :-1]
      best = tf.argmin(key, axis=1, output_type=tf.int64)
      found = tf.reduce_min(rank, axis=1) < self._no_merge
      # Rows without a merge get a column past the end: left unchanged.
      best = tf.where(found, best, width)[:, tf.newaxis]
      shifted = tf.concat([right, tf.fill([tf.shape(rows)[0], 1], "")], 1)
      rows = tf.where(column == best, tf.strings.join([rows, shifted]),
                      tf.where(column > best, shifted, rows))
      rows = tf.concat(
          [rows, tf.fill(tf.stack([tf.shape(rows, out_type=tf.int64)[0],
                                   width - used - 1]), "")], 1)
      symbols = tf.tensor_scatter_nd_update(symbols, active[:, tf.newaxis],
                                            rows)
      return symbols, tf.boolean_mask(active, found)

    symbols, _ = tf.while_loop(
        lambda _, active: tf.size(active) > 0, step,
        [symbols, tf.range(tf.shape(symbols, out_type=tf.int64)[0])],
        shape_invariants=[tf.TensorShape([None, None]),
                          tf.TensorShape([None])])
    return symbols

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


def _table(keys, values, default, value_dtype=tf.string):
  return tf.lookup.StaticHashTable(
      tf.lookup.KeyValueTensorInitializer(
          tf.constant(keys, tf.string), tf.constant(values, value_dtype)),
      default_value=tf.constant(default, value_dtype))


def read_byte_pair_options(path):
  """Reads a byte-level BPE tokenizer folder into `BytePairPreprocessor` arguments.

  Args:
    path: a folder with `tokenizer.json`, or `vocab.json` and `merges.txt`
      (and `tokenizer_config.json`).

  Returns:
    A dict with `vocab`, `merges`, `add_prefix_space`, `cls_token`,
    `sep_token` and `pad_token`.

  Raises:
    FileNotFoundError: no folder, or no vocabulary in it.
    NotImplementedError: not a byte-level BPE tokenizer.
  """
  folder = tokenizer_folder(path, f"{_VOCAB_JSON} and {_MERGES_TXT}")
  config = read_tokenizer_config(folder)
  token = functools.partial(config_token, config)

  options = {
      "cls_token": token("cls_token", "<s>"),
      "sep_token": token("sep_token", "</s>"),
      "pad_token": token("pad_token", "<pad>"),
      "add_prefix_space": bool(config.get("add_prefix_space", False)),
  }
  if (folder / TOKENIZER_JSON).is_file():
    options.update(_read_tokenizer_json(folder / TOKENIZER_JSON))
    return options
  missing = [name for name in (_VOCAB_JSON, _MERGES_TXT)
             if not (folder / name).is_file()]
  if missing:
    raise FileNotFoundError(
        f"No vocabulary in {folder}: its byte-level BPE tokenizer needs "
        f"{TOKENIZER_JSON} or {_VOCAB_JSON} + {_MERGES_TXT} (missing: "
        f"{', '.join(missing)}); save the tokenizer there with "
        "tokenizer.save_pretrained(folder), or pass the folder it came with "
        "(CLI: --tokenizer).")
  options["vocab"] = json.loads(
      (folder / _VOCAB_JSON).read_text(encoding="utf-8"))
  merges = []
  with open(folder / _MERGES_TXT, encoding="utf-8") as f:
    for line in f:
      line = line.rstrip("\n")
      if line.startswith("#version") or not line.strip():
        continue
      merges.append(tuple(line.split(" ")))
  options["merges"] = merges
  return options


def _read_tokenizer_json(path):
  spec = json.loads(path.read_text(encoding="utf-8"))
  model = spec.get("model") or {}
  pre_tokenizer = spec.get("pre_tokenizer") or {}
  if model.get("type") != "BPE" or pre_tokenizer.get("type") != "ByteLevel":
    raise NotImplementedError(
        f"{path} is a {model.get('type')} tokenizer with the "
        f"{pre_tokenizer.get('type')} pre-tokenizer; BytePairPreprocessor "
        "reproduces byte-level BPE (RoBERTa, GPT-2) only.")
  if not pre_tokenizer.get("use_regex", True):
    raise NotImplementedError(
        f"{path}: ByteLevel use_regex=False is not supported in-graph.")
  if spec.get("normalizer"):
    raise NotImplementedError(
        f"{path} has a {spec['normalizer'].get('type')} normalizer; in-graph "
        "byte-level BPE supports tokenizers without one (RoBERTa, GPT-2).")
  if (model.get("continuing_subword_prefix") or model.get("end_of_word_suffix")
      or model.get("dropout") or model.get("byte_fallback")
      or model.get("ignore_merges")):
    raise NotImplementedError(
        f"{path}: BPE subword prefixes/suffixes, dropout, byte fallback and "
        "ignore_merges are not supported in-graph.")
  merges = [tuple(m.split(" ")) if isinstance(m, str) else tuple(m)
            for m in model.get("merges", [])]
  options = {
      "vocab": model.get("vocab") or {},
      "merges": merges,
      "add_prefix_space": bool(pre_tokenizer.get("add_prefix_space", False)),
  }
  post = spec.get("post_processor") or {}
  if post.get("type") in ("RobertaProcessing", "BertProcessing"):
    options["sep_token"] = post["sep"][0]
    options["cls_token"] = post["cls"][0]
  return options
