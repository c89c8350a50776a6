"""Tokenises GLUE examples and batches them into `tf.data` pipelines.

Examples are tokenised once, in batches, by the model's Hugging Face fast
tokenizer and kept as ragged int32 tensors; batches are padded only to their
longest sequence, so short-sentence tasks (SST-2, CoLA) do not pay for
`max_seq_length`. Training batches come from length buckets; evaluation
batches keep example order so predictions line up with the examples.
"""

import dataclasses
import itertools
import math
from typing import Dict

import numpy as np
import tensorflow as tf

from theseus_tf.data import random_permutation
from theseus_tf.data.features import FEATURE_NAMES
from theseus_tf.data.glue_reader import load_examples
from theseus_tf.data.glue_tasks import get_task
from theseus_tf.data.shared_arrays import shared_tensor

# Examples per tokenizer call: large enough for the fast tokenizer's parallel
# batch encoding, small enough to bound the Python lists it returns.
_TOKENIZE_CHUNK = 8192
# Positions permuted per call in the training shuffle.
_SHUFFLE_BLOCK = 4096


@dataclasses.dataclass(frozen=True)
class EncodedExamples:
  """Tokenised examples of one split.

  Attributes:
    features: `FEATURE_NAMES` (those the tokenizer produces) -> int32
      `tf.RaggedTensor` of shape `[num_examples, (length)]`, unpadded.
      Compact form (the token cache's): no `attention_mask` (all ones) and
      int8 `token_type_ids`; the pipelines complete them per example.
    labels: int32 (classification) or float32 (regression) array of shape
      `[num_examples]`; float32 multi-hot `[num_examples, num_labels]` for
      multi-label tasks.
    pad_token_id: The tokenizer's padding id, used for `input_ids`.
    max_seq_length: Length the sequences were truncated to.
  """
  features: Dict[str, tf.RaggedTensor]
  labels: np.ndarray
  pad_token_id: int
  max_seq_length: int

  def __len__(self):
    return len(self.labels)


@dataclasses.dataclass(frozen=True)
class GlueDataset:
  """A batched GLUE pipeline and its size.

  Attributes:
    dataset: Yields `(features, labels)`: `features` maps `FEATURE_NAMES` to
      int32 `[batch, length]` tensors, `length` being the longest sequence of
      the batch; `labels` is int32 or float32 `[batch]`.
    num_examples: Examples in one pass over the split.
    steps_per_epoch: Batches in one pass: `ceil(num_examples / batch_size)`.
      For evaluation this is the dataset's cardinality; the training dataset
      repeats forever, so pass it to `fit(steps_per_epoch=...)`.
  """
  dataset: tf.data.Dataset
  num_examples: int
  steps_per_epoch: int


def encode_examples(task, examples, tokenizer, max_seq_length):
  """Tokenises examples with a Hugging Face tokenizer.

  Pairs are encoded as `[CLS] a [SEP] b [SEP]` with `token_type_ids` 0/1 and
  truncated longest-first, exactly as `tokenizer(a, b, truncation=True,
  max_length=max_seq_length)` does. The features are those of
  `FEATURE_NAMES` that the tokenizer's `model_input_names` list: tokenizers
  of models without token types (RoBERTa, XLM-R, DistilBERT) give
  `input_ids` and `attention_mask` only.

  Args:
    task: Task name or `GlueTask`; decides the label dtype and whether
      `text_b` is used.
    examples: `GlueExample`s, e.g. from `load_examples`.
    tokenizer: The model's (fast) `transformers` tokenizer.
    max_seq_length: Maximum tokens per example, special tokens included.

  Returns:
    An `EncodedExamples`.

  Example:

  ```python
  tokenizer = transformers.AutoTokenizer.from_pretrained(model_dir)
  encoded = encode_examples("mrpc", examples, tokenizer, max_seq_length=128)
  ```
  """
  task = get_task(task)
  if not examples:
    raise ValueError("no examples to encode")
  feature_names = tokenizer_feature_names(tokenizer)
  flat = {name: [] for name in feature_names}
  lengths = []
  for start in range(0, len(examples), _TOKENIZE_CHUNK):
    chunk = examples[start:start + _TOKENIZE_CHUNK]
    encoding = tokenizer(
        [e.text_a for e in chunk],
        [e.text_b for e in chunk] if task.is_pair else None,
        truncation=True, max_length=max_seq_length,
        return_attention_mask=True,
        return_token_type_ids="token_type_ids" in feature_names)
    lengths.extend(len(ids) for ids in encoding["input_ids"])
    for name in feature_names:
      flat[name].append(np.fromiter(
          itertools.chain.from_iterable(encoding[name]), dtype=np.int32))
  lengths = np.array(lengths, dtype=np.int64)
  features = {
      name: tf.RaggedTensor.from_row_lengths(np.concatenate(parts), lengths)
      for name, parts in flat.items()}
  floats = task.is_regression or task.is_multi_label
  dtype = np.float32 if floats else np.int32
  labels = np.array([e.label for e in examples], dtype=dtype)
  return EncodedExamples(features, labels, int(tokenizer.pad_token_id or 0),
                         int(max_seq_length))


def tokenizer_feature_names(tokenizer):
  """The `FEATURE_NAMES` that `tokenizer` produces for its model."""
  names = getattr(tokenizer, "model_input_names", None) or FEATURE_NAMES
  return tuple(name for name in FEATURE_NAMES if name in names)


def train_dataset(encoded, batch_size, *, seed=0, bucket_boundaries=None):
  """An endless, shuffled training pipeline that batches by length.

  Examples are reshuffled every pass (repeatably for a given `seed`) and
  grouped into length buckets, so each batch is padded to the longest of
  similarly long sequences. All batches are full.

  Args:
    encoded: `EncodedExamples` from `encode_examples`.
    batch_size: Examples per batch.
    seed: Shuffling seed.
    bucket_boundaries: Increasing sequence-length bucket boundaries; default
      powers of two from 8 below `max_seq_length`.

  Returns:
    A `GlueDataset` whose `dataset` repeats forever.

  Example:

  ```python
  train = train_dataset(encoded, batch_size=32, seed=42)
  model.fit(train.dataset, steps_per_epoch=train.steps_per_epoch, epochs=3)
  ```
  """
  if bucket_boundaries is None:
    bucket_boundaries = [2**k for k in range(3, 16)
                         if 2**k < encoded.max_seq_length]
  dataset = (_shuffled_examples(encoded, seed)
             .bucket_by_sequence_length(
                 lambda features, _: tf.shape(features["input_ids"])[0],
                 bucket_boundaries,
                 [batch_size] * (len(bucket_boundaries) + 1),
                 padding_values=_padding_values(encoded)))
  return _glue_dataset(dataset, encoded, batch_size)


def eval_dataset(encoded, batch_size):
  """A deterministic evaluation pipeline in example order.

  Each batch is padded to its own longest sequence; the last batch may be
  smaller. Predictions over it line up one-to-one with the examples.

  Args:
    encoded: `EncodedExamples` from `encode_examples`.
    batch_size: Examples per batch.

  Returns:
    A `GlueDataset` with `steps_per_epoch` batches.

  Example:

  ```python
  dev = eval_dataset(encoded, batch_size=128)
  logits = model.predict(dev.dataset)  # Row i is example i.
  ```
  """
  dataset = _example_dataset(encoded).padded_batch(
      batch_size, padding_values=_padding_values(encoded))
  return _glue_dataset(dataset, encoded, batch_size)


def load_dataset(task, split, tokenizer, *, max_seq_length, batch_size,
                 training=False, data_dir=None, max_examples=None, seed=0,
                 **load_kwargs):
  """Loads, tokenises and batches one GLUE split.

  Args:
    task: Task name or `GlueTask`.
    split: Split name, see `load_examples`.
    tokenizer: The model's (fast) `transformers` tokenizer.
    max_seq_length: Maximum tokens per example.
    batch_size: Examples per batch.
    training: Build `train_dataset` (shuffled, endless) instead of
      `eval_dataset`.
    data_dir: Local GLUE folder, or `None` for tensorflow-datasets.
    max_examples: Optional subset size, see `load_examples`.
    seed: Seed of the subset and of the training shuffle.
    **load_kwargs: Further `load_examples` arguments (`tfds_data_dir`,
      `download`).

  Returns:
    A `GlueDataset`.

  Raises:
    GlueDataError: If the data cannot be loaded.

  Example:

  ```python
  train = load_dataset("sst2", "train", tokenizer, max_seq_length=64,
                       batch_size=32, training=True, data_dir="glue_data")
  ```
  """
  examples = load_examples(task, split, data_dir, max_examples=max_examples,
                           seed=seed, **load_kwargs)
  encoded = encode_examples(task, examples, tokenizer, max_seq_length)
  if training:
    return train_dataset(encoded, batch_size, seed=seed)
  return eval_dataset(encoded, batch_size)


def _example_dataset(encoded):
  dataset = tf.data.Dataset.from_tensor_slices((encoded.features,
                                                encoded.labels))
  # Slices of a ragged tensor are typed as ragged (rank 1, ragged_rank 0),
  # which padded_batch rejects; an identity map retypes them as dense.
  return dataset.map(
      lambda features, label: (_model_features(features), label))


def _model_features(example):
  """One example's features as the model takes them: int32 `FEATURE_NAMES`.

  Compact examples (`theseus_tf.data.token_cache`) leave out the attention
  mask, all ones for unpadded sequences, and keep token types as int8;
  they are completed here, one example at a time.
  """
  features = {name: tf.cast(value, tf.int32) for name, value in
              example.items()}
  if "attention_mask" not in features:
    features["attention_mask"] = tf.ones_like(features["input_ids"])
  # Only those the tokenizer made: no token types for RoBERTa, DistilBERT.
  return {name: features[name] for name in FEATURE_NAMES if name in features}


def _shuffled_examples(encoded, seed):
  """The examples, in a new random order every pass, endlessly.

  Pass `k` takes example `permute(i, n, pass_keys(seed, k))` at its step
  `i`: a keyed permutation computed for a block of positions at a time
  (`theseus_tf.data.random_permutation`), so shuffling holds nothing per
  example; a shuffle buffer of `n` examples, or of their indices (about 200
  bytes each in tf.data's buffer), or a stored permutation would grow with
  the training file.
  """
  features = encoded.features
  labels = shared_tensor(encoded.labels)  # Held once for large files.
  count = len(encoded)

  def one_pass(epoch):
    keys = random_permutation.pass_keys(seed, epoch)
    return (tf.data.Dataset.range(count)
            .batch(_SHUFFLE_BLOCK)
            .map(lambda positions: random_permutation.permute(
                positions, count, keys))
            .unbatch())

  # Every feature shares the row partition of the input ids.
  row_splits = features["input_ids"].row_splits
  flat_values = {name: values.flat_values for name, values in features.items()}

  def example(index):
    # Slicing by hand: `ragged[index]` holds temporaries of the splits' size.
    start, end = row_splits[index], row_splits[index + 1]
    return (_model_features({name: values[start:end]
                             for name, values in flat_values.items()}),
            tf.gather(labels, index))

  return (tf.data.Dataset.counter()
          .flat_map(one_pass)
          .map(example, num_parallel_calls=tf.data.AUTOTUNE,
               deterministic=True))


def _padding_values(encoded):
  # The features `_model_features` yields: compact examples gain the mask.
  names = set(encoded.features) | {"attention_mask"}
  features = {name: tf.constant(0, tf.int32) for name in FEATURE_NAMES
              if name in names}
  features["input_ids"] = tf.constant(encoded.pad_token_id, tf.int32)
  return features, tf.constant(0, tf.as_dtype(encoded.labels.dtype))


def _glue_dataset(dataset, encoded, batch_size):
  # tf.data's default static optimizations rewrite a pipeline by
  # serialising it, which copies the token ids its functions capture (80 MiB
  # more at 1M rows); this one is parallel and prefetched already.
  options = tf.data.Options()
  options.experimental_optimization.apply_default_optimizations = False
  return GlueDataset(
      dataset.prefetch(tf.data.AUTOTUNE).with_options(options),
      len(encoded), math.ceil(len(encoded) / batch_size))
