"""Inference speed of every model variant in every format.

Each variant is exported to each format in a temporary folder and loaded
back the way it would be served:

- `keras`: the Keras model, a `tf.function` called in inference mode;
- `saved_model`: the `predict_ids` signature of `export_saved_model`
  (token ids in; TF Serving's model);
- `saved_model-xla`: `predict_ids` of a SavedModel exported with
  `jit_compile=True` (the encoder compiled by XLA);
- `saved_model-text`: the same SavedModel's `serving_default` signature,
  raw sentences in, tokenized in the graph (timed on synthetic English
  sentences that fill the sequence length; not scored: the dev sets are
  token ids, and the ids signature is the same model);
- `tflite-*`: `export_tflite(..., inputs="ids", quantize=...)`, run by the
  LiteRT interpreter (with the tensorflow-text op registrar, as serving/
  does) through its `serving_default` signature runner;
- `pytorch`, `pytorch-dynamic`: the reference to beat, the `save_pretrained`
  folder loaded by Hugging Face transformers on PyTorch (eager, SDPA
  attention; dynamic: int8 `Linear` layers), where torch is installed.

Timing: warm-up calls, then `runs` rounds in which every (variant, format)
is called once, in a new random order each round, so that load changes on a
shared machine hit all alike. Reported: the median time per call, examples
per second at that median, and speed-ups as the median over rounds of the
reference's time divided by the variant's (pairs from the same round).
"""

import dataclasses
import os
import pathlib
import statistics
import time
from typing import Callable

import numpy as np
import tensorflow as tf

from theseus_tf.export import export_saved_model, export_tflite
from theseus_tf.export.signatures import text_input_names
from theseus_tf.utils.transformers import save_pretrained
from trainers.benchmarking.formats import FORMATS, TORCH_FORMATS
from trainers.benchmarking.models import (example_features, example_texts,
                                          model_inputs, weight_bytes)
from trainers.evaluation import make_predict_function
from trainers.timing import time_interleaved

@dataclasses.dataclass
class Exported:
  """One variant in one format, loaded and ready to run.

  Attributes:
    variant: The variant's name.
    format: One of `FORMATS`.
    size_bytes: Bytes on disk (`keras`: bytes of the weights as held in
      memory, float32).
    device: Where it runs ("GPU:0", "CPU", "CPU, 2 threads").
    bind: `bind(features)` -> a no-argument function making one call on the
      numpy `features` and fetching the logits (inputs converted up front;
      raw-text formats call on as many sentences as `features` has rows).
    predict: `predict(features)` -> logits with `.numpy()`, for
      `trainers.evaluation.evaluate` (features: `[batch, <= seq]` tensors);
      None for raw-text formats, which take no token ids.
  """
  variant: str
  format: str
  size_bytes: int
  device: str
  bind: Callable
  predict: Callable


def folder_bytes(path):
  path = pathlib.Path(path)
  if path.is_file():
    return path.stat().st_size
  return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def tensorflow_device():
  return "GPU:0" if tf.config.list_logical_devices("GPU") else "CPU"


def _keras(variant):
  predict = make_predict_function(variant.model)

  def bind(features):
    tensors = {k: tf.constant(v) for k, v in features.items()}
    return lambda: predict(tensors).numpy()

  return Exported(variant.name, "keras", weight_bytes(variant.model),
                  tensorflow_device(), bind, predict)


def _saved_model(variant, fmt, workdir, seq_length, text_pair, loaded):
  """`saved_model`, `saved_model-text` or `saved_model-xla`.

  The first two are two signatures of one export. `loaded` maps (variant
  name, jit_compile) to `(path, signatures)` of SavedModels already
  exported, so that the second format reuses the first's.
  """
  import tensorflow_text  # pylint: disable=import-outside-toplevel,unused-import  (the tokenizer ops)
  jit_compile = fmt == "saved_model-xla"
  key = (variant.name, jit_compile)
  if key not in loaded:
    path = export_saved_model(
        variant.model, variant.tokenizer_dir,
        workdir / ("saved_model-xla" if jit_compile else "saved_model"),
        variant.name, version=1, max_seq_length=seq_length,
        text_pair=text_pair, allow_untrained=True, jit_compile=jit_compile)
    loaded[key] = (path, tf.saved_model.load(os.fspath(path)).signatures)
  path, signatures = loaded[key]
  if fmt == "saved_model-text":
    return Exported(variant.name, fmt, folder_bytes(path), tensorflow_device(),
                    _text_binder(signatures["serving_default"], seq_length,
                                 text_pair), predict=None)
  signature = signatures["predict_ids"]
  # The model's own inputs: no token_type_ids for RoBERTa, XLM-R, DistilBERT.
  names = set(signature.structured_input_signature[1])

  def predict(features):
    return signature(**{k: features[k] for k in names})["logits"]

  def bind(features):
    tensors = {k: tf.constant(features[k]) for k in names}
    return lambda: signature(**tensors)["logits"].numpy()

  return Exported(variant.name, fmt, folder_bytes(path), tensorflow_device(),
                  bind, predict)


def _text_binder(signature, seq_length, text_pair):
  """`bind` of a raw-text signature: a sentence (pair) per row of features."""

  def bind(features):
    batch_size = len(next(iter(features.values())))
    texts = {name: tf.constant(example_texts(batch_size, seq_length, seed=i))
             for i, name in enumerate(text_input_names(text_pair))}
    return lambda: signature(**texts)["logits"].numpy()

  return bind


def tflite_runner(path, threads):
  """The `serving_default` signature runner of a `.tflite` file."""
  import tensorflow_text as tf_text  # pylint: disable=import-outside-toplevel
  from ai_edge_litert import interpreter  # pylint: disable=import-outside-toplevel
  return interpreter.InterpreterWithCustomOps(
      model_path=os.fspath(path), num_threads=threads,
      custom_op_registerers=tf_text.tflite_registrar.SELECT_TFTEXT_OPS
  ).get_signature_runner("serving_default")


def _check_dynamic_batch(runner, path):
  # The ids endpoint is exported as [None, seq]: the runner resizes inputs
  # to each call's batch. Check it rather than time batch 1 twice.
  for name, details in runner.get_input_details().items():
    signature = list(details["shape_signature"])
    if len(signature) != 2 or signature[0] != -1:
      raise RuntimeError(
          f"{path}: input {name} has shape {signature}, expected a "
          "resizable batch [-1, seq_length]")


def _tflite(variant, fmt, workdir, seq_length, calibration_texts, threads,
            text_pair):
  quantize = FORMATS[fmt]
  int8 = quantize == "int8"
  path = export_tflite(
      variant.model, workdir / f"{variant.name}.{fmt}.tflite",
      quantize=quantize, inputs="ids",
      tokenizer=os.fspath(variant.tokenizer_dir) if int8 else None,
      max_seq_length=seq_length, text_pair=text_pair,
      representative_texts=calibration_texts if int8 else None,
      allow_untrained=True, overwrite=True)
  runner = tflite_runner(path, threads)
  _check_dynamic_batch(runner, path)

  def predict(features):
    # The model takes exactly seq_length tokens: pad (masked) to it.
    padded = {}
    for name, value in features.items():
      value = np.asarray(value, np.int32)
      padded[name] = np.pad(value, ((0, 0), (0, seq_length - value.shape[1])))
    return tf.constant(runner(**padded)["logits"])

  def bind(features):
    arrays = {k: np.ascontiguousarray(v, np.int32) for k, v in features.items()}
    return lambda: runner(**arrays)["logits"]

  return Exported(variant.name, fmt, path.stat().st_size,
                  f"CPU, {threads} threads", bind, predict)


def _pytorch(variant, fmt, workdir):
  """The variant as Hugging Face transformers runs it on PyTorch, eagerly."""
  import torch  # pylint: disable=import-outside-toplevel
  from transformers import AutoModelForSequenceClassification  # pylint: disable=import-outside-toplevel
  from transformers.utils import logging as transformers_logging  # pylint: disable=import-outside-toplevel
  transformers_logging.disable_progress_bar()  # The benchmark logs its own.
  folder = workdir / f"{variant.name}.pytorch"
  save_pretrained(variant.model, folder)
  model = AutoModelForSequenceClassification.from_pretrained(
      folder, attn_implementation="sdpa").eval()
  size = folder_bytes(folder / "model.safetensors")
  if fmt == "pytorch-dynamic":
    model = torch.ao.quantization.quantize_dynamic(
        model, {torch.nn.Linear}, dtype=torch.qint8)
    state = workdir / f"{variant.name}.pytorch-dynamic.pt"
    torch.save(model.state_dict(), state)
    size = state.stat().st_size

  def run(tensors):
    with torch.inference_mode():
      return model(**tensors).logits.numpy()

  def as_tensors(features):
    return {k: torch.as_tensor(np.asarray(v, np.int64))
            for k, v in features.items()}

  def bind(features):
    tensors = as_tensors(features)
    return lambda: run(tensors)

  return Exported(variant.name, fmt, size,
                  f"CPU, {torch.get_num_threads()} threads", bind,
                  lambda features: tf.constant(run(as_tensors(features))))


def export_variants(variants, formats, workdir, seq_length, threads,
                    calibration_texts=None, text_pair=False, log=None):
  """Exports and loads every variant in every format.

  Args:
    variants: `Variant`s.
    formats: Names from `FORMATS`.
    workdir: A scratch folder for the exported files.
    seq_length: Tokens per example of the exports.
    threads: LiteRT interpreter threads.
    calibration_texts: int8 calibration texts (or pairs).
    text_pair: Whether the task has sentence pairs (the SavedModel's text
      signature; int8 calibration).
    log: `log(message)` for progress, or None.

  Returns:
    `{(variant name, format): Exported}`, in variant then format order.
  """
  workdir = pathlib.Path(workdir)
  exported = {}
  saved_models = {}
  for variant in variants:
    for fmt in formats:
      began = time.perf_counter()
      if fmt == "keras":
        entry = _keras(variant)
      elif fmt.startswith("saved_model"):
        entry = _saved_model(variant, fmt, workdir, seq_length, text_pair,
                             saved_models)
      elif fmt in TORCH_FORMATS:
        entry = _pytorch(variant, fmt, workdir)
      else:
        entry = _tflite(variant, fmt, workdir, seq_length, calibration_texts,
                        threads, text_pair)
      exported[(variant.name, fmt)] = _only_model_inputs(entry, variant.model)
      if log and fmt != "keras":
        log(f"exported {variant.name} as {fmt}: "
            f"{entry.size_bytes / 2**20:.1f} MiB "
            f"({time.perf_counter() - began:.0f} s)")
  return exported


def _only_model_inputs(entry, model):
  """`entry` fed only the inputs `model` takes (RoBERTa: no token types)."""
  bind, predict = entry.bind, entry.predict
  entry.bind = lambda features: bind(model_inputs(model, features))
  if predict is not None:
    entry.predict = lambda features: predict(model_inputs(model, features))
  return entry


def paired_speedup(reference_times, times):
  """Median over rounds of reference time / time (> 1: faster)."""
  return statistics.median(r / t for r, t in zip(reference_times, times))


def measure(exported, batch_sizes, seq_length, runs, warmup, vocabulary_size,
            reference_variant="predecessor", log=None):
  """Times every export at every batch size.

  Args:
    exported: `export_variants`' result.
    batch_sizes: Batch sizes to time, each on its own.
    seq_length: Tokens per example.
    runs, warmup: See `time_interleaved`.
    vocabulary_size: Upper bound of the random token ids.
    reference_variant: Speed-ups are relative to this variant.
    log: `log(message)` for progress, or None.

  Returns:
    `{(variant, format): {"ms": {b: ..}, "examples_per_second": {b: ..},
    "speedup_vs_reference_keras": {b: ..},
    "speedup_vs_reference_same_format": {b: ..}}}` with string batch keys.
  """
  results = {key: {"ms": {}, "examples_per_second": {},
                   "speedup_vs_reference_keras": {},
                   "speedup_vs_reference_same_format": {}}
             for key in exported}
  for batch_size in batch_sizes:
    features = example_features(batch_size, seq_length, vocabulary_size)
    calls = {key: entry.bind(features) for key, entry in exported.items()}
    if log:
      log(f"timing batch {batch_size}: {len(calls)} model/format pairs x "
          f"({warmup} warm-up + {runs} timed calls), interleaved")
    times = time_interleaved(calls, runs, warmup, seed=batch_size)
    b = str(batch_size)
    for key, seconds in times.items():
      median = statistics.median(seconds)
      row = results[key]
      row["ms"][b] = 1000.0 * median
      row["examples_per_second"][b] = batch_size / median
      name, fmt = key
      for label, reference in (
          ("speedup_vs_reference_keras", (reference_variant, "keras")),
          ("speedup_vs_reference_same_format", (reference_variant, fmt))):
        if reference in times:
          row[label][b] = paired_speedup(times[reference], seconds)
    del calls
  return results

