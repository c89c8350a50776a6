"""Time per training step: fine-tuning the predecessor vs BERT-of-Theseus.

Configurations, all on the same random batch (`batch_size` x `seq_length`
token ids) with the same AdamW (`trainers.training.optimization.make_optimizer`) and
task loss, each a compiled `tf.function` step as in `theseus-tf`'s trainer:

- `fine-tuning`: the predecessor, every weight trainable;
- `fine-tuning <depth> layers`: a plain classifier of the successor's depth
  (the stripped successor), every weight trainable: what a Theseus step at
  p = 1 should cost at most;
- `theseus p=<p>`: `build_theseus_classifier(predecessor)` at a constant
  replacement rate p (successor layers trainable; embeddings, pooler and
  head frozen, as in the paper).

Every step may be compiled with XLA (`jit_compile`) and computed in mixed
precision (`mixed_precision`: the policy of `theseus-tf --mixed-precision`,
bfloat16 on a CPU, float16 on a GPU; float32 weights).

Reported: the median step time over `steps` steps after `warmup` untimed
ones (the first traces the step), and the peak memory of the configuration:
on a GPU the peak bytes allocated on GPU:0
(`tf.config.experimental.get_memory_info`); on a CPU the peak resident set
size of a subprocess that runs only that configuration (`VmHWM`), TF
runtime included. Run as `python -m trainers.benchmarking.training SPEC`
it is that subprocess: SPEC is a JSON object, the result a JSON line.
"""

import gc
import json
import os
import pathlib
import resource
import statistics
import subprocess
import sys

import numpy as np
import tensorflow as tf

from theseus_tf import schedules
from theseus_tf.backend import keras
from theseus_tf.models import build_theseus_classifier, set_shared_trainable
from theseus_tf.strip_successor import strip_successor
from trainers import tf_setup
from trainers.errors import CommandFailed
from trainers.timing import time_calls, time_interleaved
from trainers.training import losses, optimization
from trainers.benchmarking.models import (PredecessorSpec, build_predecessor,
                                          equal_grouping, example_features,
                                          model_inputs)

FINETUNE = "fine-tuning"
# The folder that holds the trainers package: the repository, or
# site-packages after a non-editable install.
PACKAGE_PARENT = pathlib.Path(__file__).resolve().parents[2]

MEMORY_GPU = ("GPU:0 peak bytes allocated "
              "(tf.config.experimental.get_memory_info)")
MEMORY_RSS = ("peak resident set size (VmHWM) of a process running only "
              "this configuration, TensorFlow runtime included")
MEMORY_NONE = "not measured (in-process on a CPU)"


class MeasurementError(CommandFailed):
  """A training configuration's subprocess failed."""


def configurations(rates, depth):
  """Fine-tuning the predecessor and a plain model of `depth` layers, then
  Theseus at each replacement rate."""
  return [{"name": FINETUNE, "replacement_rate": None},
          {"name": plain_finetune_name(depth), "replacement_rate": None,
           "plain": True}] + [
              {"name": f"theseus p={rate:g}", "replacement_rate": float(rate)}
              for rate in rates]


def plain_finetune_name(depth):
  return f"{FINETUNE} plain {depth}-layer"


def _gpu():
  return bool(tf.config.list_logical_devices("GPU"))


def _build(spec, depth, config, seed):
  """The model a `configurations()` item trains."""
  predecessor, _ = build_predecessor(spec)
  rate = config["replacement_rate"]
  if rate is None and not config.get("plain"):
    return predecessor
  # A constant rate p (LinearReplacement with slope 0 also allows p = 0).
  model = build_theseus_classifier(
      predecessor,
      grouping=equal_grouping(predecessor.backbone.num_layers, depth),
      schedule=schedules.LinearReplacement(rate or 0.0, 0.0), seed=seed)
  if config.get("plain"):
    model = strip_successor(model)
    set_shared_trainable(model, True)
  return model


def build_step(spec, config, depth, batch_size, seq_length, seed=0,
               jit_compile=False, mixed_precision=False):
  """Builds one configuration: its compiled step and its result row.

  Args:
    spec: The predecessor's `PredecessorSpec`.
    config: A `configurations()` item.
    depth: Successor depth (Theseus modules).
    batch_size, seq_length: Shape of the training batch.
    seed: Seed of the weights' initialisation, dropout and draws.
    jit_compile: Compile the step with XLA.
    mixed_precision: Compute in mixed precision (`tf_setup.set_precision`).

  Returns:
    `(step, row)`: `step()` runs one optimizer step and waits for it; `row`
    describes the configuration (no timings yet).
  """
  keras.utils.set_random_seed(seed)
  tf_setup.set_precision(mixed_precision)
  try:
    model = _build(spec, depth, config, seed)
  finally:
    tf_setup.set_precision(False)
  variables = list(model.trainable_variables)
  optimizer = optimization.make_optimizer(
      2e-5, weight_decay=0.0, epsilon=1e-8, max_grad_norm=1.0,
      variables=variables)
  vocabulary = model.backbone.embeddings.vocabulary_size
  features = {k: tf.constant(v) for k, v in model_inputs(
      model, example_features(batch_size, seq_length, vocabulary,
                              seed=seed)).items()}
  rng = np.random.default_rng(seed)
  if model.is_regression:
    labels = tf.constant(rng.random(batch_size, dtype=np.float32))
  else:
    labels = tf.constant(rng.integers(0, model.num_classes, batch_size,
                                      dtype=np.int32))

  @tf.function(jit_compile=jit_compile)
  def train_step(features, labels):
    with tf.GradientTape() as tape:
      logits = model(features, training=True)
      loss = tf.reduce_mean(
          losses.task_loss(logits, labels, model.is_regression))
    gradients = tape.gradient(loss, variables)
    optimizer.apply_gradients(zip(gradients, variables))
    return loss

  row = {
      "name": config["name"],
      "replacement_rate": config["replacement_rate"],
      "trainable_parameters": int(sum(np.prod(v.shape) for v in variables)),
  }
  # .numpy() waits for the step.
  return (lambda: train_step(features, labels).numpy()), row


def add_timings(row, times, batch_size):
  """Adds the median step time of `times` (seconds) to a result row."""
  median = statistics.median(times)
  row.update({
      "step_ms": 1000.0 * median,
      "step_ms_all": [1000.0 * t for t in times],
      "examples_per_second": batch_size / median,
  })
  return row


def time_configuration(spec, config, depth, batch_size, seq_length, steps,
                       warmup, seed=0, jit_compile=False,
                       mixed_precision=False):
  """Builds one configuration in this process and times its steps.

  Args:
    steps: Timed steps.
    warmup: Untimed steps first (at least one: it traces the step).
    Others: See `build_step`.

  Returns:
    A result row (without memory).
  """
  step, row = build_step(spec, config, depth, batch_size, seq_length, seed,
                         jit_compile, mixed_precision)
  return add_timings(row, time_calls(step, steps, warmup=max(1, warmup)),
                     batch_size)


def time_interleaved_configurations(spec, configs, depth, batch_size,
                                    seq_length, steps, warmup,
                                    jit_compile=False, mixed_precision=False):
  """Times every configuration in this process, one step of each per round.

  On a shared machine load changes hit every configuration alike, so their
  ratios hold even when absolute times do not. All models live at once.

  Returns:
    The result rows, in the order of `configs` (without memory).
  """
  built = [build_step(spec, config, depth, batch_size, seq_length,
                      jit_compile=jit_compile, mixed_precision=mixed_precision)
           for config in configs]
  times = time_interleaved(dict(enumerate(step for step, _ in built)), steps,
                           warmup=max(1, warmup))
  return [add_timings(row, times[i], batch_size)
          for i, (_, row) in enumerate(built)]


def _gpu_memory_start():
  tf.config.experimental.reset_memory_stats("GPU:0")
  return tf.config.experimental.get_memory_info("GPU:0")["current"]


def _gpu_memory_peak():
  return tf.config.experimental.get_memory_info("GPU:0")["peak"]


def _rss_bytes():
  """Peak resident set size of this process since it started its program.

  Linux keeps `ru_maxrss` across execve, so a subprocess would report the
  peak of the parent it was forked from; `VmHWM` starts afresh at exec.
  """
  try:
    with open("/proc/self/status", encoding="ascii") as status:
      for line in status:
        if line.startswith("VmHWM:"):
          return int(line.split()[1]) * 1024  # In kB.
  except OSError:
    pass
  return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB.


def run_here(spec, config, settings, subprocess_mode):
  """Times one configuration in this process, with its memory.

  Args:
    spec: The `PredecessorSpec`.
    config: A `configurations()` item.
    settings: `depth`, `batch_size`, `seq_length`, `steps`, `warmup`.
    subprocess_mode: Whether this process runs this configuration only (so
      its peak RSS is the configuration's).

  Returns:
    The result row.
  """
  gpu = _gpu()
  if gpu:
    baseline = _gpu_memory_start()
  else:
    baseline = _rss_bytes()
  row = time_configuration(spec, config, **settings)
  if gpu:
    peak, kind = _gpu_memory_peak(), MEMORY_GPU
  elif subprocess_mode:
    peak, kind = _rss_bytes(), MEMORY_RSS
  else:
    peak, baseline, kind = None, None, MEMORY_NONE
  row["peak_memory_mib"] = None if peak is None else peak / 2**20
  # GPU: still allocated when the configuration started; CPU: peak RSS
  # before the model was built (the runtime's share).
  row["baseline_memory_mib"] = None if baseline is None else baseline / 2**20
  row["memory"] = kind
  return row


def run_subprocess(spec, config, settings):
  """Times one configuration in a fresh Python process (same Keras mode)."""
  payload = json.dumps({"spec": spec.to_json(), "config": config,
                        "settings": settings})
  env = dict(os.environ)
  env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
  env["PYTHONPATH"] = os.pathsep.join(
      [str(PACKAGE_PARENT)] + [p for p in [env.get("PYTHONPATH")] if p])
  done = subprocess.run(
      [sys.executable, "-m", "trainers.benchmarking.training", payload],
      env=env, capture_output=True, text=True, check=False)
  lines = done.stdout.strip().splitlines()
  if done.returncode or not lines:
    tail = " | ".join(done.stderr.strip().splitlines()[-5:])
    raise MeasurementError(
        f"the training benchmark of {config['name']} failed (exit "
        f"{done.returncode}): {tail}")
  return json.loads(lines[-1])


def measure_training(spec, depth, rates, batch_size, seq_length, steps,
                     warmup, in_process=False, log=None, jit_compile=False,
                     mixed_precision=False):
  """Times fine-tuning and Theseus at each rate.

  Args:
    spec: The predecessor's `PredecessorSpec`.
    depth: Successor depth (Theseus modules).
    rates: Replacement rates.
    batch_size, seq_length, steps, warmup: See `time_configuration`.
    in_process: Run every configuration in this process, one step of each
      per round (ratios robust to a changing load; memory not measured)
      instead of one subprocess each (peak memory measured).
    log: `log(message)` for progress, or None.
    jit_compile, mixed_precision: See `time_configuration`.

  Returns:
    One row per configuration, fine-tuning first; `ratio_to_finetuning` and
    `ratio_to_plain` are the step time over fine-tuning the predecessor's
    and over fine-tuning the plain model's.
  """
  settings = {"depth": depth, "batch_size": batch_size,
              "seq_length": seq_length, "steps": steps, "warmup": warmup,
              "jit_compile": jit_compile, "mixed_precision": mixed_precision}
  configs = configurations(rates, depth)
  if in_process:
    if log:
      log(f"training steps: {len(configs)} configurations in this process, "
          f"interleaved (batch {batch_size} x {seq_length} tokens, "
          f"{max(1, warmup)} warm-up + {steps} rounds)")
    rows = time_interleaved_configurations(
        spec, configs, **settings)
    for row in rows:
      row.update(peak_memory_mib=None, baseline_memory_mib=None,
                 memory=MEMORY_NONE)
    _release()
  else:
    rows = []
    for config in configs:
      if log:
        log(f"training step: {config['name']} (batch {batch_size} x "
            f"{seq_length} tokens, {max(1, warmup)} warm-up + {steps} timed "
            "steps)")
      rows.append(run_subprocess(spec, config, settings))
  finetuning, plain = rows[0]["step_ms"], rows[1]["step_ms"]
  for row in rows:
    row["ratio_to_finetuning"] = row["step_ms"] / finetuning
    row["ratio_to_plain"] = row["step_ms"] / plain
  return rows


def _release():
  keras.backend.clear_session()
  gc.collect()


def main(argv=None):
  """The subprocess: runs the configuration of argv[0]; prints its row."""
  argv = sys.argv[1:] if argv is None else argv
  request = json.loads(argv[0])
  for gpu in tf.config.list_physical_devices("GPU"):
    # Only what it uses, beside the parent process's share.
    tf.config.experimental.set_memory_growth(gpu, True)
  row = run_here(PredecessorSpec.from_json(request["spec"]), request["config"],
                 request["settings"], subprocess_mode=True)
  print(json.dumps(row), flush=True)
  return 0


if __name__ == "__main__":
  sys.exit(main())
