"""Dev-set metrics, size and latency of a classifier (evaluate, demo, training)."""

import numpy as np
import tensorflow as tf

from theseus_tf.data import FEATURE_NAMES
from theseus_tf.metrics import compute_glue_metrics
from trainers.timing import time_calls

def make_predict_function(model):
  """A compiled `features -> logits` function in inference mode.

  For a Theseus model inference mode runs the successors only, so it scores
  what `strip_successor` would export. The features are the model's own
  inputs (`feature_names`: no `token_type_ids` for RoBERTa or DistilBERT).
  """
  names = getattr(model, "feature_names", FEATURE_NAMES)
  spec = {name: tf.TensorSpec([None, None], tf.int32) for name in names}
  return tf.function(lambda features: model(features, training=False),
                     input_signature=[spec])


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
  times = time_calls(lambda: predict(features).numpy(), runs, warmup)
  return float(np.median(times) * 1000.0)
