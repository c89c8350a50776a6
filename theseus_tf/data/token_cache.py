"""Streaming tokenisation of the user's files, cached on disk.

`encode_file_split` reads a `FileTask` split in chunks of rows, tokenises
each chunk and appends its token ids to raw files on disk, so that only
one chunk's Python strings and ids are in memory at a time. The files are
then read back into aligned arrays that TensorFlow tensors share
(`theseus_tf.data.shared_arrays`): the examples take the files' size in
memory (5 bytes per token, 12 per row) and nothing more, whatever the size
of the file.

The files form one cache entry, a folder keyed by everything the ids depend
on: the SHA-256 of the file's bytes, the tokenizer (the SHA-256 of its
`tokenizer.json` serialisation), `max_seq_length`, the columns, the label
set and the problem type. A resumed or repeated run over the same file
reads it instead of tokenising again. Entries are written under a temporary
name and renamed, so a killed run leaves no broken entry.

The cache folder is `cache_dir`, else `$THESEUS_TF_TOKEN_CACHE`, else
`~/.cache/theseus_tf/tokens` (`$XDG_CACHE_HOME` respected).
"""

import hashlib
import contextlib
import itertools
import json
import os
import pathlib
import shutil
import sys
import tempfile

import numpy as np
import tensorflow as tf

from theseus_tf.data.glue_pipeline import EncodedExamples
from theseus_tf.data.glue_pipeline import tokenizer_feature_names
from theseus_tf.data.label_vocabulary import LabelVocabulary
from theseus_tf.data.text_files import content_hash
from theseus_tf.utils.file_io import move_into_place, staging_dir
from theseus_tf.data.shared_arrays import read_aligned, shared_tensor

# Rows per tokenizer call: as glue_pipeline's chunk, large enough for the fast
# tokenizer's batch parallelism, small enough to bound the Python objects.
CHUNK_ROWS = 8192
# Rows per block when the row splits read from a cache entry are checked.
CHECK_BLOCK_ROWS = 1 << 16
_VERSION = 3  # Bump when the cache layout changes.
_META = "meta.json"


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
    use_cache: False: neither read nor write the cache (the ids still go
      through a temporary folder, which keeps memory flat).
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
  if not use_cache:
    with tempfile.TemporaryDirectory(prefix="theseus-tf-tokens-") as folder:
      _tokenize(task, split, tokenizer, max_seq_length, chunk_rows, folder)
      return _load(folder, tokenizer, max_seq_length), False
  folder = pathlib.Path(cache_dir) if cache_dir else default_cache_dir()
  entry = folder / cache_key(task, split, tokenizer, max_seq_length)
  if entry.exists():
    try:
      return _load(entry, tokenizer, max_seq_length), True
    except (OSError, ValueError, KeyError):
      shutil.rmtree(entry, ignore_errors=True)  # Damaged: rebuilt below.
  try:
    # Normal permissions (a shared cache folder stays readable), removed
    # on errors.
    with staging_dir(entry) as staging:
      _tokenize(task, split, tokenizer, max_seq_length, chunk_rows, staging)
      try:
        written = move_into_place(staging, entry)
      except OSError:  # Another run wrote the entry first: read ours.
        written = staging
      return _load(written, tokenizer, max_seq_length), False
  except OSError as error:  # The cache is an optimisation, not a need.
    print(f"theseus-tf: warning: token cache not written ({error}); the "
          "next run tokenizes again", file=sys.stderr)
    return encode_file_split(task, split, tokenizer, max_seq_length,
                             use_cache=False, chunk_rows=chunk_rows)


def _tokenize(task, split, tokenizer, max_seq_length, chunk_rows, folder):
  """Tokenises the split chunk by chunk into raw files in `folder`."""
  # pylint: disable=import-outside-toplevel
  from theseus_tf.data.file_task import _label_value, iter_rows
  folder = pathlib.Path(folder)
  vocabulary = None if task.labels is None else LabelVocabulary(task.labels)
  # Token types only where the model has them (not RoBERTa, DistilBERT).
  with_types = "token_type_ids" in tokenizer_feature_names(tokenizer)
  label_dtype = (np.float32 if task.is_regression or task.is_multi_label
                 else np.int32)
  names = ["input_ids", "row_splits", "labels"]
  if with_types:
    names.append("token_type_ids")
  counts = {"rows": 0, "tokens": 0}
  label_shape = []

  with contextlib.ExitStack() as stack:
    files = {name: stack.enter_context(open(folder / f"{name}.bin", "wb"))
             for name in names}
    np.zeros(1, np.int64).tofile(files["row_splits"])

    def flush(texts, chunk_labels):
      encoding = tokenizer(
          [t[0] for t in texts],
          [t[1] for t in texts] if task.is_pair else None,
          truncation=True, max_length=max_seq_length,
          return_attention_mask=False, return_token_type_ids=with_types)
      lengths = np.fromiter(map(len, encoding["input_ids"]), dtype=np.int64,
                            count=len(texts))
      (np.cumsum(lengths) + counts["tokens"]).tofile(files["row_splits"])
      _flat(encoding["input_ids"], np.int32).tofile(files["input_ids"])
      if with_types:
        _flat(encoding["token_type_ids"], np.int8).tofile(
            files["token_type_ids"])
      labels = np.asarray(chunk_labels, dtype=label_dtype)
      labels.tofile(files["labels"])
      label_shape[:] = labels.shape[1:]
      counts["rows"] += len(texts)
      counts["tokens"] += int(lengths.sum())

    texts, chunk_labels = [], []
    for _, row_texts, label in iter_rows(task, task.path_of(split)):
      texts.append(row_texts)
      chunk_labels.append(_label_value(task, vocabulary, label))
      if len(texts) == chunk_rows:
        flush(texts, chunk_labels)
        texts, chunk_labels = [], []
    if texts:
      flush(texts, chunk_labels)
  meta = {"version": _VERSION, **counts,
          "features": ["input_ids"] + (["token_type_ids"] if with_types
                                       else []),
          "label_dtype": np.dtype(label_dtype).name,
          "label_shape": list(label_shape)}
  # Written last: an entry with its meta file is complete.
  (folder / _META).write_text(json.dumps(meta), encoding="utf-8")


def _flat(lists, dtype):
  return np.fromiter(itertools.chain.from_iterable(lists), dtype=dtype)


def _load(folder, tokenizer, max_seq_length):
  """`EncodedExamples` of a cache entry.

  The compact form (see `EncodedExamples`): 5 bytes per token, as on disk;
  the pipelines add the all-ones attention mask and widen the token types
  one example at a time. One row partition for both.
  """
  folder = pathlib.Path(folder)
  meta = json.loads((folder / _META).read_text(encoding="utf-8"))
  if meta.get("version") != _VERSION:
    raise ValueError(f"{folder}: cache version {meta.get('version')}")
  rows, tokens = int(meta["rows"]), int(meta["tokens"])
  row_splits = read_aligned(folder / "row_splits.bin", np.int64, rows + 1)
  _check_row_splits(row_splits, tokens, folder)
  # The tensors share the arrays read from the files: the examples take the
  # files' size in memory, once.
  ids = tf.RaggedTensor.from_row_splits(
      shared_tensor(read_aligned(folder / "input_ids.bin", np.int32, tokens)),
      shared_tensor(row_splits), validate=False)
  features = {"input_ids": ids}
  if "token_type_ids" in meta["features"]:
    features["token_type_ids"] = ids.with_flat_values(shared_tensor(
        read_aligned(folder / "token_type_ids.bin", np.int8, tokens)))
  label_shape = [rows] + list(meta["label_shape"])
  labels = read_aligned(folder / "labels.bin", meta["label_dtype"],
                        int(np.prod(label_shape))).reshape(label_shape)
  return EncodedExamples(features, labels, int(tokenizer.pad_token_id or 0),
                         int(max_seq_length))


def _check_row_splits(row_splits, tokens, folder):
  """From 0 to `tokens`, never decreasing; checked a block at a time, as
  TensorFlow's own validation would hold temporaries of the splits' size."""
  if row_splits[0] != 0 or row_splits[-1] != tokens:
    raise ValueError(f"{folder}: row splits do not run from 0 to {tokens}")
  for start in range(0, len(row_splits) - 1, CHECK_BLOCK_ROWS):
    block = row_splits[start:start + CHECK_BLOCK_ROWS + 1]
    if np.any(block[1:] < block[:-1]):
      raise ValueError(f"{folder}: row splits decrease after row {start}")


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
