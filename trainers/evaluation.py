"""Dev-set metrics, size and latency of a classifier; `theseus-tf evaluate`."""

import json
import pathlib
import sys
import time

import numpy as np
import tensorflow as tf

from theseus_tf.data import FEATURE_NAMES
from theseus_tf.metrics import compute_glue_metrics
from trainers.atomic_io import atomic_write_json
from trainers.inputs import load_eval_sets, resolve_task
from trainers.model_io import load_saved_classifier, load_task_tokenizer

_FEATURE_SPEC = {
    name: tf.TensorSpec([None, None], tf.int32) for name in FEATURE_NAMES}


def make_predict_function(model):
  """A compiled `features -> logits` function in inference mode.

  For a Theseus model inference mode runs the successors only, so it scores
  what `strip_successor` would export.
  """
  return tf.function(lambda features: model(features, training=False),
                     input_signature=[_FEATURE_SPEC])


def evaluate(predict, task, eval_sets):
  """Metrics of `predict` on the dev sets of `task`.

  Args:
    predict: A `make_predict_function` result.
    task: The `GlueTask`.
    eval_sets: dev split -> `GlueDataset` (from `load_eval_sets`).

  Returns:
    `compute_glue_metrics`' dict: each metric and the aggregate `score`.
  """
  logits, labels = {}, {}
  for split, data in eval_sets.items():
    batches = [(predict(features).numpy(), batch_labels.numpy())
               for features, batch_labels in data.dataset]
    logits[split] = np.concatenate([b[0] for b in batches])
    labels[split] = np.concatenate([b[1] for b in batches])
  if len(eval_sets) == 1:
    (split,) = eval_sets
    return compute_glue_metrics(task, logits[split], labels[split])
  return compute_glue_metrics(task, logits, labels)


def count_parameters(model):
  """Number of scalars in the model's weights."""
  return int(sum(np.prod(v.shape) for v in model.weights))


def measure_latency(model, features, runs=30, warmup=5):
  """Median wall time (ms) of one inference call on `features`."""
  predict = make_predict_function(model)
  for _ in range(warmup):
    predict(features)
  times = []
  for _ in range(runs):
    start = time.perf_counter()
    predict(features).numpy()
    times.append(time.perf_counter() - start)
  return float(np.median(times) * 1000.0)


def run_evaluate(args):
  """`theseus-tf evaluate`: prints (and with --output writes) the metrics."""
  task = resolve_task(args.task)
  model = load_saved_classifier(args.model, task)
  tokenizer_path = args.tokenizer or _tokenizer_folder(args.model)
  tokenizer = load_task_tokenizer(
      "--tokenizer" if args.tokenizer else "--model", tokenizer_path)
  eval_sets = load_eval_sets(task, tokenizer, args.data_dir,
                             args.max_seq_length, args.eval_batch_size,
                             args.max_eval_examples)
  metrics = evaluate(make_predict_function(model), task, eval_sets)
  result = {
      "model": str(args.model),
      "task": task.name,
      "eval_examples": {s: d.num_examples for s, d in eval_sets.items()},
      "num_parameters": count_parameters(model),
      "metrics": metrics,
  }
  if args.output:
    atomic_write_json(args.output, result)
  json.dump(result, sys.stdout, indent=2, sort_keys=True)
  print()
  return result


def _tokenizer_folder(model_path):
  path = pathlib.Path(model_path)
  return path.parent if path.suffix == ".keras" else model_path
