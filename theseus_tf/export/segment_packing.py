"""Special tokens, truncation and padding of tokenized segments, in the graph.

Shared by the in-graph preprocessors of every tokenizer family: they differ in
how text becomes token ids, not in how the ids are laid out, which is
Hugging Face's `TemplateProcessing` (or `BertProcessing`/`RobertaProcessing`)
after its longest-first truncation. Only gathers, selects and arithmetic, so
that TFLite runs it with builtin ops (ragged slicing would need Flex ops).
"""

import tensorflow as tf


def longest_first_lengths(length_a, length_b, budget):
  """How many tokens of each segment `tokenizers`' longest-first truncation keeps.

  The closed form of `tokenizers` (truncation.rs, `LongestFirst`): with `n1`
  the shorter and `n2` the longer length, the longer one is cut to
  `max(n1, budget - n1)`; if both are still too long they get `budget // 2`
  and `budget // 2 + budget % 2` (the extra token to the longer one, or to
  the second segment on a tie).

  Args:
    length_a, length_b: int32 tensors `[batch]`.
    budget: int. Tokens left for both segments.

  Returns:
    A pair of int32 tensors `[batch]`.
  """
  swap = length_a > length_b
  short = tf.minimum(length_a, length_b)
  long = tf.maximum(length_a, length_b)
  long_kept = tf.where(short > budget, short, tf.maximum(short, budget - short))
  both = short + long_kept > budget
  short_kept = tf.where(both, budget // 2, short)
  long_kept = tf.where(both, budget // 2 + budget % 2, long_kept)
  short_kept = tf.minimum(short_kept, short)
  long_kept = tf.minimum(long_kept, long)
  fits = length_a + length_b <= budget
  keep_a = tf.where(fits, length_a, tf.where(swap, long_kept, short_kept))
  keep_b = tf.where(fits, length_b, tf.where(swap, short_kept, long_kept))
  return keep_a, keep_b


def pack_segments(tokens_a,
                  tokens_b,
                  cls_id,
                  sep_id,
                  pad_id,
                  max_seq_length,
                  pad_to_max_length=False,
                  pair_separators=1,
                  token_types=True):
  """Lays out `cls a sep` or `cls a sep*k b sep`, truncated and padded.

  BERT's layout is `[CLS] a [SEP] b [SEP]` (`pair_separators=1`, token type 1
  from `b` on); RoBERTa's and XLM-R's is `<s> a </s></s> b </s>`
  (`pair_separators=2`, no token types). Pairs are truncated longest-first
  to `max_seq_length` minus the special tokens, as Hugging Face does.

  Args:
    tokens_a: int32 `RaggedTensor` `[batch, (tokens)]`, without special tokens.
    tokens_b: the same for the second segments, or None.
    cls_id, sep_id, pad_id: ints.
    max_seq_length: int. Length after special tokens and truncation.
    pad_to_max_length: bool. Pad to `max_seq_length` rather than to the
      longest row of the batch.
    pair_separators: int. Separators between the two segments of a pair.
    token_types: bool. Also return `token_type_ids`.

  Returns:
    A dict of int32 `[batch, length]` tensors `input_ids`, `attention_mask`
    and, with `token_types`, `token_type_ids`.
  """
  length_a = _row_lengths(tokens_a)
  if tokens_b is None:
    keep_a = tf.minimum(length_a, max_seq_length - 2)
    total = keep_a + 2
  else:
    keep_a, keep_b = longest_first_lengths(
        length_a, _row_lengths(tokens_b),
        max_seq_length - 2 - pair_separators)
    total = keep_a + keep_b + 2 + pair_separators

  if pad_to_max_length:
    length = max_seq_length
  else:
    # At least cls sep, also for an empty batch.
    length = tf.reduce_max(tf.concat([total, [2]], axis=0))
  position = tf.range(length)[tf.newaxis, :]
  keep_a = keep_a[:, tf.newaxis]
  total = total[:, tf.newaxis]
  b_start = keep_a + 1 + pair_separators

  # Position j of row i holds: cls at 0, a[j - 1] for 1 <= j <= keep_a, then
  # separators; for pairs b[j - b_start] up to the final separator; padding.
  ids = tf.where(position <= keep_a, _gather_rows(tokens_a, position - 1),
                 sep_id)
  ids = tf.where(position == 0, cls_id, ids)
  if tokens_b is not None:
    in_b = (position >= b_start) & (position < total - 1)
    ids = tf.where(in_b, _gather_rows(tokens_b, position - b_start), ids)
  in_sequence = position < total
  features = {
      "input_ids": tf.where(in_sequence, ids, pad_id),
      "attention_mask": _as_int(in_sequence),
  }
  if token_types:
    if tokens_b is None:
      features["token_type_ids"] = tf.zeros_like(ids)
    else:
      # BERT: type 1 from the second segment through its separator.
      features["token_type_ids"] = _as_int(
          (position >= keep_a + 1 + pair_separators) & in_sequence)
  return features


def check_max_seq_length(max_seq_length, minimum, pair_layout):
  """Raises unless `max_seq_length` leaves room for a pair's special tokens.

  Raises:
    ValueError: `max_seq_length < minimum`.
  """
  if max_seq_length < minimum:
    raise ValueError(
        f"max_seq_length must be at least {minimum} ({pair_layout} needs "
        f"room), got {max_seq_length}.")


def special_token_ids(token_to_id, **tokens):
  """The ids of the special tokens, by role (`cls=`, `sep=`, ...).

  Raises:
    ValueError: a token is not in `token_to_id` (the first in argument order).
  """
  ids = {}
  for role, token in tokens.items():
    if token not in token_to_id:
      raise ValueError(
          f"The {role} token {token!r} is not in the vocabulary: pass the "
          f"tokenizer's own {role}_token.")
    ids[role] = token_to_id[token]
  return ids


def pack_texts(preprocessor, text_a, text_b=None, **options):
  """`pack_segments` of `preprocessor.tokenize`d texts, with its settings.

  The `__call__` of every in-graph preprocessor: `preprocessor` has
  `tokenize`, `cls_id`, `sep_id`, `pad_id`, `max_seq_length` and
  `pad_to_max_length`; `options` are the family's other `pack_segments`
  arguments.
  """
  return pack_segments(
      preprocessor.tokenize(text_a),
      None if text_b is None else preprocessor.tokenize(text_b),
      cls_id=preprocessor.cls_id, sep_id=preprocessor.sep_id,
      pad_id=preprocessor.pad_id,
      max_seq_length=preprocessor.max_seq_length,
      pad_to_max_length=preprocessor.pad_to_max_length, **options)


def _as_int(condition):
  # A select rather than a cast: the TFLite converter rewrites
  # `zeros_like(cast(bool))` (Keras' embedding lookup has one) into a
  # `zeros_like` of booleans, which TFLite does not have.
  return tf.where(condition, 1, 0)


def _row_lengths(ragged):
  splits = tf.cast(ragged.row_splits, tf.int32)
  return splits[1:] - splits[:-1]


def _gather_rows(ragged, index):
  """`ragged[i, index[i, j]]`, clipped into the row's values (or 0 if empty)."""
  values = tf.concat([ragged.values, tf.zeros([1], ragged.values.dtype)], 0)
  starts = tf.cast(ragged.row_splits[:-1], tf.int32)[:, tf.newaxis]
  flat = tf.clip_by_value(starts + index, 0, tf.shape(values)[0] - 1)
  return tf.gather(values, flat)
