"""Dev scores of every variant in every format, and int8 calibration texts.

A variant is scored in each format on the same dev examples
(`trainers.inputs.load_eval_sets`, `--max-eval-examples` of them), with the
task's metrics (`compute_glue_metrics`, through
`trainers.evaluation.evaluate`): the Keras model in inference mode, the
SavedModel's `predict_ids` signature, the TFLite signature runner (inputs
padded to the model's sequence length). Not scored: variants whose head is
freshly initialised (the score would be chance), and the plain model, which
holds the successor's weights and gets the successor's scores.
"""

from theseus_tf.data import GlueDataError, load_examples
from theseus_tf.export import representative_texts_from_task
from trainers.benchmarking.models import synthetic_sentences
from trainers.errors import UsageError
from trainers.evaluation import evaluate
from trainers.inputs import load_eval_sets
from trainers.model_io import load_task_tokenizer

EVAL_BATCH_SIZE = 32


def builtin_calibration_texts(count, seed=0):
  """Synthetic English-like sentences for int8 calibration without --task.

  They give the quantizer activation ranges of real tokens; scores of such a
  model are not computed (there is no task), only its speed.
  """
  return synthetic_sentences(count, 4, 60, seed)


def calibration_texts(task, data_dir, count):
  """int8 calibration texts: the task's training data, else synthetic.

  Returns:
    `(texts, description)`.

  Raises:
    UsageError: --task data that cannot be read.
  """
  if task is None:
    return (builtin_calibration_texts(count),
            f"{count} synthetic sentences (no --task)")
  split = "train" if "train" in task.splits else task.dev_splits[0]
  try:
    if split == "train":
      texts = representative_texts_from_task(task, data_dir,
                                             num_examples=count)
    else:  # Own data given by --validation-file alone.
      texts = [e.text_a if e.text_b is None else (e.text_a, e.text_b)
               for e in load_examples(task, split, max_examples=count)]
  except GlueDataError as error:
    raise UsageError(f"int8 calibration data: {error}") from None
  kind = "training" if split == "train" else "validation"
  return texts, f"{len(texts)} {task.name} {kind} examples"


def load_dev_sets(variants, task, data_dir, seq_length, max_examples,
                  cache_dir=None):
  """Dev sets for every tokenizer the scored variants use.

  Loaded before any export, so that missing data fails fast.

  Args:
    variants: The benchmarked `Variant`s.
    task: The `GlueTask` or `FileTask`.
    data_dir: The GLUE folder (--data-dir), or None.
    seq_length: Tokens per example.
    max_examples: A subset of each dev set, or None for all.
    cache_dir: Token cache folder of the user's files (--token-cache-dir);
      None: the default one.

  Returns:
    `{tokenizer folder: {split: GlueDataset}}`.

  Raises:
    UsageError: Missing or malformed data, or an unreadable tokenizer.
  """
  dev_sets = {}
  for variant in variants:
    if not scored_here(variant) or variant.tokenizer_dir in dev_sets:
      continue
    tokenizer = load_task_tokenizer(f"tokenizer of {variant.name}",
                                    variant.tokenizer_dir)
    dev_sets[variant.tokenizer_dir] = load_eval_sets(
        task, tokenizer, data_dir, seq_length, EVAL_BATCH_SIZE, max_examples,
        cache_dir=cache_dir)
  return dev_sets


def scored_here(variant):
  """Whether `variant` is evaluated itself (not skipped, not copied)."""
  return variant.trained_head and variant.score_from is None


def score_exports(variants, exported, task, dev_sets, log=None):
  """Dev metrics of every (variant, format).

  Args:
    variants: The `Variant`s.
    exported: `{(variant, format): Exported}`.
    task: The `GlueTask`.
    dev_sets: `load_dev_sets`' result.
    log: `log(message)` for progress, or None.

  Returns:
    `{(variant, format): {"score": float or None, "metrics": dict or None,
    "eval_examples": {split: n}, "score_from": the variant whose score it
    copies or None, "note": str}}`.
  """
  results = {}
  by_name = {variant.name: variant for variant in variants}
  for (name, fmt), entry in exported.items():
    variant = by_name[name]
    if not variant.trained_head:
      results[(name, fmt)] = {
          "score": None, "metrics": None, "eval_examples": None,
          "score_from": None,
          "note": "not scored: freshly initialised classifier head"}
      continue
    if entry.predict is None:
      results[(name, fmt)] = {
          "score": None, "metrics": None, "eval_examples": None,
          "score_from": None,
          "note": "not scored: raw-text input (the same SavedModel's ids "
                  "signature is scored as saved_model)"}
      continue
    if variant.score_from is not None:
      continue  # Filled in below, from the variant it copies.
    eval_sets = dev_sets[variant.tokenizer_dir]
    if log:
      log(f"scoring {name} as {fmt} on {task.name} dev")
    metrics = evaluate(entry.predict, task, eval_sets)
    results[(name, fmt)] = {
        "score": float(metrics["score"]),
        "metrics": {k: float(v) for k, v in metrics.items()},
        "eval_examples": {s: d.num_examples for s, d in eval_sets.items()},
        "score_from": None, "note": ""}
  for (name, fmt) in exported:
    source = by_name[name].score_from
    if (source is not None and by_name[name].trained_head and
        (name, fmt) not in results):
      copied = dict(results[(source, fmt)], score_from=source)
      copied["note"] = f"the {source}'s score (same weights), not re-evaluated"
      results[(name, fmt)] = copied
  return results
