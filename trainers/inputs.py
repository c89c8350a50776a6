"""Inputs of a run (GLUE or the user's files): examples checked up front,
per-worker training input.

The training input is a deterministic function of the seed: a restarted run
rebuilds it and skips the batches already consumed, so it continues at the
same data position as the run that was killed.
"""

import dataclasses
import math

import numpy as np
import tensorflow as tf

from theseus_tf.data import (GlueDataError, encode_examples, eval_dataset,
                             get_task, load_examples, train_dataset)
from trainers.errors import UsageError


def resolve_task(name):
  """The `GlueTask` for `--task`, or a `UsageError` listing the tasks."""
  try:
    return get_task(name)
  except GlueDataError as error:
    raise UsageError(f"--task: {error}") from None


def _load(task, split, data_dir, max_examples, seed):
  try:
    return load_examples(task, split, data_dir, max_examples=max_examples,
                         seed=seed)
  except GlueDataError as error:
    message = str(error)
    if data_dir is not None and "--data-dir" not in message:
      message += "; check the data, or pass another --data-dir"
    raise UsageError(message) from None


def _encode(task, split, tokenizer, data_dir, max_seq_length, max_examples,
            seed, cache_dir):
  if hasattr(task, "read_split"):
    # The user's files: streamed through the on-disk token cache.
    from theseus_tf.data.token_cache import encode_file_split, subset  # pylint: disable=import-outside-toplevel
    try:
      encoded, _ = encode_file_split(task, split, tokenizer, max_seq_length,
                                     cache_dir=cache_dir)
    except GlueDataError as error:
      raise UsageError(str(error)) from None
    return subset(encoded, max_examples, seed)
  examples = _load(task, split, data_dir, max_examples, seed)
  return encode_examples(task, examples, tokenizer, max_seq_length)


def load_train_examples(task, tokenizer, data_dir, max_seq_length,
                        max_examples=None, seed=0, cache_dir=None):
  """Reads and tokenises the training split.

  Args:
    cache_dir: Token cache folder of the user's files (`FileTask`s); see
      `theseus_tf.data.token_cache`.

  Returns:
    `EncodedExamples`.

  Raises:
    UsageError: Missing or malformed data (`GlueDataError`).
  """
  return _encode(task, "train", tokenizer, data_dir, max_seq_length,
                 max_examples, seed, cache_dir)


def load_eval_sets(task, tokenizer, data_dir, max_seq_length, batch_size,
                   max_examples=None, cache_dir=None):
  """Reads and batches every dev split of `task` (two for MNLI).

  A `max_examples` subset does not depend on any seed: training runs and
  `theseus-tf evaluate` score the same examples.

  Returns:
    dev split name -> `GlueDataset` (examples in file order).
  """
  return {
      split: eval_dataset(
          _encode(task, split, tokenizer, data_dir, max_seq_length,
                  max_examples, 0, cache_dir),
          batch_size)
      for split in task.dev_splits
  }


def shard_examples(encoded, index, count):
  """Every `count`-th example of `encoded`, starting at `index`."""
  if count == 1:
    return encoded
  keep = np.arange(index, len(encoded), count)
  return dataclasses.replace(
      encoded,
      features={name: tf.gather(values, keep)
                for name, values in encoded.features.items()},
      labels=encoded.labels[keep])


def distributed_train_input(strategy, encoded, global_batch_size, seed,
                            consumed_steps):
  """The endless training input of `strategy`, at step `consumed_steps`.

  Each input pipeline (one per worker) shuffles its own shard of the
  examples and yields per-replica batches; the first `consumed_steps` steps'
  batches are skipped.

  Returns:
    A distributed dataset; iterate it inside the training function.

  Raises:
    UsageError: The batch size does not split evenly over the replicas, or a
      worker would get no examples.
  """
  replicas = strategy.num_replicas_in_sync
  if global_batch_size % replicas:
    raise UsageError(
        f"--batch-size {global_batch_size} does not split over "
        f"{replicas} replicas: use a multiple of {replicas}")

  def make_dataset(context):
    shard = shard_examples(encoded, context.input_pipeline_id,
                           context.num_input_pipelines)
    if not len(shard):
      raise UsageError(
          f"{len(encoded)} training examples cannot feed "
          f"{context.num_input_pipelines} workers: use more examples")
    per_replica = context.get_per_replica_batch_size(global_batch_size)
    replicas_per_pipeline = replicas // context.num_input_pipelines
    dataset = train_dataset(shard, per_replica, seed=seed).dataset
    return dataset.skip(consumed_steps * replicas_per_pipeline)

  return strategy.distribute_datasets_from_function(make_dataset)


def steps_per_epoch(num_examples, global_batch_size):
  return max(1, math.ceil(num_examples / global_batch_size))
