"""Streaming tokenisation of the user's files, cached on disk.

`encode_file_split` reads a `FileTask` split in chunks of rows, tokenises
each chunk and keeps only the token ids (flat int32 arrays): the Python
strings of one chunk at a time are all that is held, so peak memory is the
tokenised set itself plus one chunk, whatever the file's size.

The result is cached as one `.npz` file keyed by everything it depends on:
the SHA-256 of the file's bytes, the tokenizer (the SHA-256 of its
`tokenizer.json` serialisation), `max_seq_length`, the columns, the label
set and the problem type. A resumed or repeated run over the same file
loads it instead of tokenising again. Cache files are written to a
temporary name and renamed, so a killed run leaves no broken entry.

The cache folder is `cache_dir`, else `$THESEUS_TF_TOKEN_CACHE`, else
`~/.cache/theseus_tf/tokens` (`$XDG_CACHE_HOME` respected).
"""

import hashlib
import itertools
import json
import os
import pathlib
import sys

import numpy as np
import tensorflow as tf

from theseus_tf.data.glue_pipeline import EncodedExamples
from theseus_tf.data.glue_pipeline import tokenizer_feature_names
from theseus_tf.data.label_vocabulary import LabelVocabulary
from theseus_tf.data.text_files import content_hash

# Rows per tokenizer call: as glue_pipeline's chunk, large enough for the fast
# tokenizer's batch parallelism, small enough to bound the Python objects.
CHUNK_ROWS = 8192
_VERSION = 1  # Bump when the cache layout changes.


def default_cache_dir():
  """`$THESEUS_TF_TOKEN_CACHE`, else `$XDG_CACHE_HOME/theseus_tf/tokens`."""
  if os.environ.get("THESEUS_TF_TOKEN_CACHE"):
    return pathlib.Path(os.environ["THESEUS_TF_TOKEN_CACHE"]).expanduser()
  base = os.environ.get("XDG_CACHE_HOME") or pathlib.Path.home() / ".cache"
  return pathlib.Path(base) / "theseus_tf" / "tokens"


def tokenizer_fingerprint(tokenizer):
  """SHA-256 of the tokenizer's full serialisation (vocab, normaliser, ...)."""
  backend = getattr(tokenizer, "backend_tokenizer", None)
  if backend is not None:
    state = json.loads(backend.to_str())
    # Calling the tokenizer sets these on the backend; they are per call.
    state.pop("truncation", None)
    state.pop("padding", None)
    text = json.dumps(state, sort_keys=True)
  else:  # A slow tokenizer: its vocabulary and class decide the ids.
    text = json.dumps([type(tokenizer).__name__,
                       sorted(tokenizer.get_vocab().items())])
  return hashlib.sha256(text.encode("utf-8")).hexdigest()


def cache_key(task, split, tokenizer, max_seq_length):
  """The cache key of `split` of `task` tokenised by `tokenizer`."""
  parts = {
      "version": _VERSION,
      "file_sha256": content_hash(task.path_of(split)),
      "tokenizer_sha256": tokenizer_fingerprint(tokenizer),
      "max_seq_length": int(max_seq_length),
      "text_columns": list(task.text_columns),
      "label_column": task.label_column,
      "labels": None if task.labels is None else list(task.labels),
      "problem_type": task.problem_type,
      "file_format": task.file_format,
      "label_delimiter": task.label_delimiter,
  }
  return hashlib.sha256(
      json.dumps(parts, sort_keys=True).encode("utf-8")).hexdigest()[:32]


def encode_file_split(task, split, tokenizer, max_seq_length, *,
                      cache_dir=None, use_cache=True,
                      chunk_rows=CHUNK_ROWS):
  """Tokenises a `FileTask` split in streaming chunks, through the cache.

  Args:
    task: The `FileTask`.
    split: `"train"` or `"validation"`.
    tokenizer: The model's Hugging Face tokenizer.
    max_seq_length: Maximum tokens per example.
    cache_dir: The cache folder (see the module docstring for the default).
    use_cache: False: tokenise, and neither read nor write the cache.
    chunk_rows: Rows per tokenizer call.

  Returns:
    `(encoded, hit)`: the `EncodedExamples` (as `encode_examples` returns
    for the same rows) and whether it came from the cache.

  Raises:
    TextFileError: A bad row (as `load_examples` would report it).

  Example:

  ```python
  encoded, hit = encode_file_split(task, "train", tokenizer, 128)
  train = train_dataset(encoded, batch_size=32)
  ```
  """
  path = None
  if use_cache:
    folder = pathlib.Path(cache_dir) if cache_dir else default_cache_dir()
    path = folder / f"{cache_key(task, split, tokenizer, max_seq_length)}.npz"
    if path.is_file():
      try:
        return _load(path, tokenizer, max_seq_length), True
      except (OSError, ValueError, KeyError):
        pass  # A damaged entry is rebuilt below.
  arrays = _tokenize(task, split, tokenizer, max_seq_length, chunk_rows)
  if path is not None:
    try:
      _save(path, arrays)
    except OSError as error:  # The cache is an optimisation, not a need.
      print(f"theseus-tf: warning: token cache not written ({error}); the "
            "next run tokenizes again", file=sys.stderr)
  return _encoded(arrays, tokenizer, max_seq_length), False


def _tokenize(task, split, tokenizer, max_seq_length, chunk_rows):
  # pylint: disable=import-outside-toplevel
  from theseus_tf.data.file_task import _label_value, iter_rows
  vocabulary = None if task.labels is None else LabelVocabulary(task.labels)
  # Token types only where the model has them (not RoBERTa, DistilBERT).
  with_types = "token_type_ids" in tokenizer_feature_names(tokenizer)
  ids, types, lengths, labels = [], [], [], []

  def flush(texts, chunk_labels):
    encoding = tokenizer(
        [t[0] for t in texts],
        [t[1] for t in texts] if task.is_pair else None,
        truncation=True, max_length=max_seq_length,
        return_attention_mask=False, return_token_type_ids=with_types)
    lengths.append(np.fromiter(map(len, encoding["input_ids"]),
                               dtype=np.int64, count=len(texts)))
    ids.append(_flat(encoding["input_ids"], np.int32))
    if with_types:
      types.append(_flat(encoding["token_type_ids"], np.int8))
    labels.append(np.asarray(chunk_labels, dtype=np.float32
                             if task.is_regression or task.is_multi_label
                             else np.int32))

  texts, chunk_labels = [], []
  for _, row_texts, label in iter_rows(task, task.path_of(split)):
    texts.append(row_texts)
    chunk_labels.append(_label_value(task, vocabulary, label))
    if len(texts) == chunk_rows:
      flush(texts, chunk_labels)
      texts, chunk_labels = [], []
  if texts:
    flush(texts, chunk_labels)
  arrays = {"input_ids": np.concatenate(ids),
            "row_lengths": np.concatenate(lengths),
            "labels": np.concatenate(labels)}
  if with_types:
    arrays["token_type_ids"] = np.concatenate(types)
  return arrays


def _flat(lists, dtype):
  return np.fromiter(itertools.chain.from_iterable(lists), dtype=dtype)


def _encoded(arrays, tokenizer, max_seq_length):
  """`EncodedExamples` of the cache arrays; empties `arrays` as it goes, so
  that each numpy array is freed once TensorFlow holds its copy."""
  ids = tf.RaggedTensor.from_row_lengths(
      tf.constant(arrays.pop("input_ids"), tf.int32),
      arrays.pop("row_lengths"))
  # The compact form (see `EncodedExamples`): 5 bytes per token, as on
  # disk; the pipelines add the all-ones attention mask and widen the token
  # types one example at a time. One row partition for both.
  features = {"input_ids": ids}
  if "token_type_ids" in arrays:
    features["token_type_ids"] = ids.with_flat_values(
        tf.constant(arrays.pop("token_type_ids"), tf.int8))
  return EncodedExamples(features, arrays.pop("labels"),
                         int(tokenizer.pad_token_id or 0),
                         int(max_seq_length))


def _save(path, arrays):
  path.parent.mkdir(parents=True, exist_ok=True)
  temporary = path.with_name(f".{path.name}.partial-{os.getpid()}")
  try:
    with open(temporary, "wb") as f:
      np.savez(f, **arrays)
    os.replace(temporary, path)
  finally:
    if temporary.exists():
      temporary.unlink()


def _load(path, tokenizer, max_seq_length):
  with np.load(path) as data:
    arrays = {name: data[name] for name in
              ("input_ids", "token_type_ids", "row_lengths", "labels")
              if name in data.files}
  return _encoded(arrays, tokenizer, max_seq_length)


def subset(encoded, max_examples, seed):
  """The `load_examples(max_examples=..., seed=...)` subset of `encoded`:
  the same rows, in file order."""
  if max_examples is None or max_examples >= len(encoded):
    return encoded
  keep = np.sort(
      np.random.default_rng(seed).permutation(len(encoded))[:max_examples])
  return EncodedExamples(
      {name: tf.gather(values, keep)
       for name, values in encoded.features.items()},
      encoded.labels[keep], encoded.pad_token_id, encoded.max_seq_length)
