"""The whole benchmark: load, export, time, score, time training, report.

Everything the flags name is loaded and checked before the first export,
and nothing is written to the output folder before the end: a failed or
interrupted run leaves it as it was. Exports go to a temporary folder that
is removed afterwards.
"""

import datetime
import os
import pathlib
import sys
import tempfile
import time

from trainers.benchmarking import inference, models, report, scores
from trainers.benchmarking import torch_reference, training
from trainers.benchmarking.formats import torch_available
from trainers.commands.flags import flag_given
from trainers.errors import UsageError
from trainers import data_source


def make_log():
  """`log(message)`: progress on stderr, with the time since this call."""
  started = time.monotonic()

  def log(message):
    minutes, seconds = divmod(int(time.monotonic() - started), 60)
    print(f"[benchmark {minutes}:{seconds:02d}] {message}", file=sys.stderr,
          flush=True)

  return log


def run(args, settings):
  """Runs the benchmark the checked flags describe.

  Args:
    args: The parsed `benchmark` flags.
    settings: The checked list flags and resolved defaults
      (`trainers.commands.benchmark.check_flags`).

  Returns:
    The report (the content of benchmark.json).

  Raises:
    UsageError: Bad models, data or flag combinations, before any export.
  """
  log = make_log()
  output_dir = pathlib.Path(args.output_dir).expanduser()
  if output_dir.exists() and not output_dir.is_dir():
    raise UsageError(f"--output-dir {output_dir} is a file: pass a folder")
  own_data = any(flag_given(args, dest) for dest in data_source.FILE_FLAGS)
  task = (data_source.resolve_data_task(args, model=args.model)
          if args.task or own_data else None)
  formats = settings["formats"]
  inference_on = not args.skip_inference
  training_on = not args.skip_training

  log("loading the models")
  loaded = models.load_variants(args, task)
  variants = loaded.variants
  models.check_tokenizers(variants, args.max_seq_length)
  calibration, calibration_note = None, None
  if inference_on and "tflite-int8" in formats:
    calibration, calibration_note = scores.calibration_texts(
        task, args.data_dir, args.num_calibration_examples)
  dev_sets = None
  if inference_on and task is not None:
    dev_sets = scores.load_dev_sets(
        variants, task, args.data_dir, args.max_seq_length,
        args.max_eval_examples, cache_dir=args.token_cache_dir)

  result = {
      "created": datetime.datetime.now(datetime.timezone.utc).isoformat(
          timespec="seconds"),
      "settings": dict(
          settings, seq_length=args.max_seq_length, runs=args.runs,
          warmup=args.warmup, calibration=calibration_note,
          task=task.name if task else None,
          max_eval_examples=args.max_eval_examples,
          train_batch_size=args.train_batch_size, train_steps=args.train_steps,
          training_in_process=args.training_in_process,
          jit_compile=args.jit_compile, mixed_precision=args.mixed_precision),
      "machine": report.machine_info(),
      "models": [variant.describe() for variant in variants],
      "inference": [],
      "training": [],
      "notes": _notes(args, loaded, task, inference_on),
  }
  if inference_on:
    result["inference"] = _inference(args, settings, loaded, task, calibration,
                                     dev_sets, log)
  if training_on:
    result["training"] = training.measure_training(
        loaded.predecessor_spec, loaded.successor_depth,
        settings["replacement_rates"], args.train_batch_size,
        args.max_seq_length, args.train_steps, args.warmup,
        in_process=args.training_in_process, log=log,
        jit_compile=args.jit_compile, mixed_precision=args.mixed_precision)
    _add_torch_reference(result, args, settings, loaded, log)
  result["machine"]["load_average_at_end"] = list(os.getloadavg())
  paths = report.write_report(output_dir, result)
  for path in paths:
    log(f"wrote {path}")
  return result


def _inference(args, settings, loaded, task, calibration, dev_sets, log):
  variants = loaded.variants
  vocabulary = min(v.model.backbone.vocabulary_size for v in variants)
  with tempfile.TemporaryDirectory(prefix="theseus-benchmark-") as workdir:
    exported = inference.export_variants(
        variants, settings["formats"], workdir, args.max_seq_length,
        settings["tflite_threads"], calibration_texts=calibration,
        text_pair=bool(task and task.is_pair), log=log)
    timings = inference.measure(
        exported, settings["batch_sizes"], args.max_seq_length, args.runs,
        args.warmup, vocabulary, reference_variant="predecessor", log=log)
    dev = {}
    if dev_sets is not None:
      dev = scores.score_exports(variants, exported, task, dev_sets, log=log)
    rows = []
    by_name = {v.name: v for v in variants}
    for key, entry in exported.items():
      name, fmt = key
      timing = timings[key]
      score = dev.get(key, {})
      rows.append({
          "model": name,
          "format": fmt,
          "num_layers": by_name[name].num_layers,
          "size_bytes": entry.size_bytes,
          "device": entry.device,
          "ms": timing["ms"],
          "examples_per_second": timing["examples_per_second"],
          "speedup_vs_predecessor_keras": timing["speedup_vs_reference_keras"],
          "speedup_vs_predecessor_same_format":
              timing["speedup_vs_reference_same_format"],
          "score": score.get("score"),
          "metrics": score.get("metrics"),
          "eval_examples": score.get("eval_examples"),
          "score_from": score.get("score_from"),
          "score_note": score.get("note", ""),
      })
    del exported
  return rows


def _add_torch_reference(result, args, settings, loaded, log):
  """Times the same steps in PyTorch, if installed, beside each TF row."""
  if not torch_available():
    result["notes"].append(
        "No PyTorch reference: install torch (CPU wheel) to time the same "
        "training steps with Hugging Face transformers on PyTorch.")
    return
  model_type = loaded.variants[0].model.backbone.model_type
  if model_type != "bert":
    result["notes"].append(
        f"No PyTorch training reference for model_type {model_type!r}: it "
        "re-implements BERT-of-Theseus on BertForSequenceClassification only.")
    return
  log("training step: the PyTorch reference (transformers on torch)")
  torch_rows = torch_reference.measure_torch_training(
      loaded.predecessor_spec, loaded.successor_depth,
      settings["replacement_rates"], args.train_batch_size,
      args.max_seq_length, args.train_steps, args.warmup)
  by_name = {row["name"]: row for row in torch_rows}
  for row in result["training"]:
    reference = by_name.get(row["name"])
    if reference is not None:
      row["torch_step_ms"] = reference["step_ms"]
      row["ratio_to_torch"] = row["step_ms"] / reference["step_ms"]
  result["torch_training"] = torch_rows


def _notes(args, loaded, task, inference_on):
  """What a reader of the tables must know."""
  notes = []
  if not loaded["predecessor"].trained_head:
    notes.append(
        "The predecessor's classifier head is freshly initialised (default "
        "MiniLM, a checkpoint without a fine-tuned head, or --architecture): "
        "its speed is meaningful, a dev score would not be, so none is "
        "computed.")
  if not args.successor:
    notes.append(
        "The successor was built from the predecessor's bottom layers and not "
        "trained: its speed and size are those of a trained successor of "
        "that depth, its score is not (pass --successor "
        "<compress run>/final_model).")
  notes.append(
      "plain: a fresh BertClassifier of the successor's configuration with "
      "the successor's weights copied in; it should match the successor in "
      "size and speed (stripping leaves nothing of the predecessor).")
  if task is not None and inference_on:
    unscored = [v.name for v in loaded.variants if not v.trained_head]
    if unscored:
      notes.append(f"Not scored (fresh head): {', '.join(unscored)}.")
  return notes

