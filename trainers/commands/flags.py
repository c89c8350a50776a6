"""The flag vocabulary of `theseus-tf`: one name, one type, one help per concept.

Every subcommand builds its parser from these pieces, so that a concept has
the same flag everywhere:

  --model              the model the command reads (for compress and
                       benchmark: the predecessor)
  --tokenizer          its tokenizer, when not in the model's folder
  --max-seq-length     tokens per example
  --output-dir         the folder a command writes; --output-file one file
  --config             flag values from a YAML/JSON file (every subcommand)

Pure Python: parsing and checking flags does not load TensorFlow.
"""

import argparse
import math
import os
import sys
import textwrap

from trainers.errors import UsageError

PROG = "theseus-tf"

# Mirrors of library constants (tests/trainers/commands/test_flags.py checks
# that they match): importing the library here would load TensorFlow before
# `--help` or a flag error could be printed.
SUCCESSOR_INIT_CHOICES = ("bottom", "top", "every_k")  # theseus_tf.module_grouping
QUANTIZATIONS = ("none", "float16", "dynamic", "int8")  # theseus_tf.export
INPUT_KINDS = ("ids", "text")  # theseus_tf.export
FILE_FORMATS = ("csv", "tsv", "jsonl")  # theseus_tf.data.text_files
PROBLEM_TYPES = ("single_label_classification", "regression",
                 "multi_label_classification")  # theseus_tf.data.file_task
DEFAULT_LABEL_DELIMITER = ","  # theseus_tf.data.file_task
# Every metric of theseus_tf.data.file_task.METRIC_NAMES.
METRICS = ("accuracy", "f1", "f1_macro", "f1_micro", "matthews_correlation",
           "pearson", "spearmanr")

DEFAULT_MAX_SEQ_LENGTH = 128

# Old flag names, accepted for one release with a warning: command -> old ->
# new. Config-file keys and the config.json of earlier runs are renamed too.
RENAMED_FLAGS = {
    "compress": {"--predecessor": "--model"},
    "evaluate": {"--output": "--output-file"},
    "export": {"--model-dir": "--model", "--tokenizer-dir": "--tokenizer"},
    "benchmark": {"--predecessor": "--model",
                  "--seq-length": "--max-seq-length"},
}


def dest_of(flag):
  """`--max-seq-length` -> `max_seq_length`."""
  return flag.lstrip("-").replace("-", "_")


def flag_name(dest):
  """`max_seq_length` -> `--max-seq-length`."""
  return "--" + dest.replace("_", "-")


def flag_actions(parser):
  """dest -> action for every flag of `parser` except --help and --config."""
  return {
      action.dest: action
      for action in parser._actions  # pylint: disable=protected-access
      if action.option_strings and action.dest not in ("help", "config")
  }


def flag_given(args, dest):
  """Whether the flag `dest` was set (on the command line or in --config).

  Every optional flag defaults to None, switches to False: any other value
  was given, including 0 (`--alpha 0`) and an empty string.

  Args:
    args: The parsed flags.
    dest: The flag's dest, e.g. `max_seq_length`.

  Returns:
    True if the flag holds a value other than None or False.
  """
  value = getattr(args, dest, None)
  # `is`, not `in (None, False)`: 0 == False, and 0 is a value.
  return value is not None and value is not False


def deprecation_warning(old, new):
  """Tells, on stderr, that `old` (a flag or config key) is now `new`."""
  print(f"{PROG}: warning: {old} is deprecated and will be removed in the "
        f"next release: use {new}", file=sys.stderr)


def rename_deprecated_flags(command, argv):
  """`argv` (of one subcommand) with old flag names replaced by new ones.

  Benchmark's old `--model NAME=PATH` (a model to compare) became
  `--compare NAME=PATH`: a `--model` value of that form that is not an
  existing path is moved there.
  """
  renamed = RENAMED_FLAGS.get(command, {})
  result = []
  argv = list(argv)
  for index, item in enumerate(argv):
    flag, equals, value = item.partition("=")
    if command == "benchmark" and flag == "--model":
      value = value if equals else (
          argv[index + 1] if index + 1 < len(argv) else "")
      name, _, path = value.partition("=")
      if name and path and "/" not in name and not os.path.exists(value):
        deprecation_warning("--model NAME=PATH", "--compare NAME=PATH")
        result.append("--compare" + equals + value if equals else "--compare")
        continue
    if flag in renamed:
      deprecation_warning(flag, renamed[flag])
      item = renamed[flag] + equals + value
    result.append(item)
  return result


def renamed_dest(command, dest):
  """The current dest of a config key `dest` that may be an old flag's."""
  renamed = RENAMED_FLAGS.get(command, {})
  old = flag_name(dest)
  return dest_of(renamed[old]) if old in renamed else dest


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
  """The help layout of every subcommand; defaults are written in the help."""

  def __init__(self, prog):
    super().__init__(prog, max_help_position=34, width=100)


class ArgumentParser(argparse.ArgumentParser):
  """Reports argparse's own errors as `UsageError`s: one line, status 2."""

  def error(self, message):
    raise UsageError(message)


def paragraph(text):
  """A description wrapped to the help width (the formatter keeps layout)."""
  return textwrap.fill(text, width=78)


def add_command_parser(subparsers, name, summary, description, epilog=None):
  """A subcommand's parser, in the common style, with `--config`."""
  parser = subparsers.add_parser(
      name, help=summary, description=description, epilog=epilog,
      formatter_class=HelpFormatter)
  parser.add_argument(
      "--config", metavar="FILE",
      help="YAML or JSON file of flag values ('learning_rate: 5e-5', switches "
      "as true/false); flags given on the command line win. A run's "
      "config.json can be passed back to repeat it.")
  return parser


# ---------------------------------------------------------------------------
# Flag value types. Each accepts a string (command line) or an already typed
# value (YAML/JSON config file), and raises argparse.ArgumentTypeError.
# ---------------------------------------------------------------------------


def _number(value, kind, name):
  if isinstance(value, bool):
    raise argparse.ArgumentTypeError(f"expected {name}, got {value!r}")
  try:
    number = float(value)
  except (TypeError, ValueError):
    raise argparse.ArgumentTypeError(
        f"expected {name}, got {value!r}") from None
  if kind is int:
    if not number.is_integer():
      raise argparse.ArgumentTypeError(f"expected {name}, got {value!r}")
    return int(number)
  if not math.isfinite(number):
    raise argparse.ArgumentTypeError(f"expected {name}, got {value!r}")
  return number


def _bounded(kind, name, accept):

  def convert(value):
    number = _number(value, kind, name)
    if not accept(number):
      raise argparse.ArgumentTypeError(f"expected {name}, got {value!r}")
    return number

  return convert


positive_int = _bounded(int, "a positive integer", lambda n: n >= 1)
non_negative_int = _bounded(int, "an integer >= 0", lambda n: n >= 0)
positive_float = _bounded(float, "a number > 0", lambda n: n > 0)
non_negative_float = _bounded(float, "a number >= 0", lambda n: n >= 0)
probability = _bounded(float, "a probability in [0, 1]",
                       lambda n: 0 <= n <= 1)


def int_list(value):
  """`"3,3,2"` or `[3, 3, 2]` -> `[3, 3, 2]`."""
  items = value.split(",") if isinstance(value, str) else value
  if not isinstance(items, (list, tuple)) or not items:
    raise argparse.ArgumentTypeError(
        f"expected comma-separated integers such as 3,3,2, got {value!r}")
  return [non_negative_int(str(i).strip()) for i in items]


def name_list(value):
  """`"question,sentence"` or `["question", "sentence"]` -> a list of names."""
  items = value.split(",") if isinstance(value, str) else value
  if not isinstance(items, (list, tuple)):
    raise argparse.ArgumentTypeError(
        f"expected comma-separated names, got {value!r}")
  names = [str(item).strip() for item in items]
  if not names or not all(names):
    raise argparse.ArgumentTypeError(
        f"expected comma-separated names such as question,sentence, got "
        f"{value!r}")
  return names


def successor_init(value):
  """`bottom`, `top`, `every_k`, or predecessor layer indices `0,2,4`."""
  if isinstance(value, str) and value.strip() in SUCCESSOR_INIT_CHOICES:
    return value.strip()
  try:
    return int_list(value)
  except argparse.ArgumentTypeError:
    raise argparse.ArgumentTypeError(
        f"expected one of {', '.join(SUCCESSOR_INIT_CHOICES)} or layer "
        f"indices such as 0,2,4, got {value!r}") from None


# ---------------------------------------------------------------------------
# Flags shared by several subcommands.
# ---------------------------------------------------------------------------


def add_model(group, help_text, metavar="PATH_OR_ID"):
  group.add_argument("--model", metavar=metavar, help=help_text)


def add_tokenizer(group):
  group.add_argument(
      "--tokenizer", metavar="PATH_OR_ID",
      help="tokenizer folder (vocab.txt or tokenizer.json) or hub id "
      "(default: the model's folder; for a .keras file, the folder it is in).")


def add_task(group, help_text="GLUE task: CoLA, SST-2, MRPC, STS-B, QQP, MNLI "
             "(both dev sets), MNLI-M, MNLI-MM, QNLI, RTE, WNLI; case and "
             "dashes do not matter. Required."):
  group.add_argument("--task", metavar="TASK", help=help_text)


def add_data_dir(group, help_text="local GLUE folder holding <TASK>/train.tsv "
                 "and dev.tsv (or the task folder itself). Default: "
                 "tensorflow-datasets, which needs internet the first time."):
  group.add_argument("--data-dir", metavar="DIR", help=help_text)


def add_text_column_flags(group):
  """How to read the user's files: format and text columns."""
  group.add_argument(
      "--file-format", choices=FILE_FORMATS,
      help="format of the data files: csv, tsv (both with a header row) or "
      "jsonl (one JSON object per line). Default: from each file's "
      "extension (.csv, .tsv, .jsonl/.ndjson).")
  group.add_argument(
      "--text-columns", type=name_list, metavar="COLS",
      help="the text column, or two for sentence pairs: "
      "--text-columns question,sentence (default: text, else "
      "sentence1,sentence2, else sentence).")


def add_data_file_flags(group, train_file=True):
  """The user's own data: files, columns, labels, problem type, metric.

  `trainers.data_source` checks them against --task and reads the files.
  """
  if train_file:
    group.add_argument(
        "--train-file", metavar="FILE",
        help="your training data: a UTF-8 CSV, TSV or JSON Lines file, "
        "instead of --task. The label set comes from it.")
  group.add_argument(
      "--tfds-name", metavar="NAME",
      help="a tensorflow-datasets text classification set (imdb_reviews, "
      "ag_news_subset, ...), prepared locally, instead of --task or files: "
      "train on its train split, evaluate on validation (else test). Never "
      "downloads: offline, an unprepared set fails at once.")
  group.add_argument(
      "--tfds-data-dir", metavar="DIR",
      help="tensorflow-datasets data folder (default: TFDS' own, "
      "~/tensorflow_datasets).")
  group.add_argument(
      "--validation-file", metavar="FILE",
      help="your validation data, in the same form (columns, labels) as "
      "--train-file; instead of --task.")
  add_text_column_flags(group)
  group.add_argument(
      "--label-column", metavar="COL",
      help="the label column (default: label).")
  group.add_argument(
      "--labels", type=name_list, metavar="NAMES",
      help="the label names in id order, e.g. negative,positive (default: a "
      "trained model's id2label, else the training file's labels sorted: "
      "numerically if all are integers, else as strings).")
  group.add_argument(
      "--problem-type", choices=PROBLEM_TYPES,
      help="single_label_classification: one label per row; regression: a "
      "number per row; multi_label_classification: a JSON list or a "
      "--label-delimiter separated string of labels per row (sigmoid outputs). "
      "Default: a trained model's, else single_label_classification.")
  # No default in the parser (None means ","): so that a --label-delimiter
  # given with --task or a single-label problem can be refused.
  group.add_argument(
      "--label-delimiter", metavar="SEP",
      help="separator of the labels of a multi-label row; only with "
      "--problem-type multi_label_classification (default: ,).")
  group.add_argument(
      "--metric-for-best", choices=METRICS, metavar="METRIC",
      help="the dev metric that picks the best checkpoint (the 'score'): "
      f"one of {', '.join(METRICS)}; all that apply are reported (default: "
      "accuracy; pearson for regression; f1_micro for multi-label).")
  group.add_argument(
      "--force-labels", action="store_true",
      help="accept a label column with more distinct values than half the "
      "training rows (refused by default: likely the wrong column).")
  group.add_argument(
      "--token-cache-dir", metavar="DIR",
      help="where the tokenised files are cached, keyed by file content, "
      "tokenizer and --max-seq-length, so that a resumed or repeated run "
      "does not tokenise again (default: $THESEUS_TF_TOKEN_CACHE, else "
      "~/.cache/theseus_tf/tokens).")


def add_max_seq_length(group, default=DEFAULT_MAX_SEQ_LENGTH):
  """`--max-seq-length`; `default=None`: the length the model trained at."""
  if default is None:
    shown = ("the length the model was trained at, which its folder records; "
             f"else {DEFAULT_MAX_SEQ_LENGTH}")
  else:
    shown = str(default)
  group.add_argument(
      "--max-seq-length", type=positive_int, default=default, metavar="N",
      help="tokens per example, special tokens included; longer inputs are "
      f"truncated (default: {shown}).")


def add_batch_size(group, help_text="global training batch size, split over "
                   "all replicas (default: 32)."):
  group.add_argument("--batch-size", type=positive_int, default=32,
                     metavar="N", help=help_text)


def add_max_train_examples(group, default=None):
  shown = "all" if default is None else str(default)
  group.add_argument(
      "--max-train-examples", type=positive_int, default=default, metavar="N",
      help=f"train on a random subset of N training examples (default: "
      f"{shown}).")


def add_eval_batch_size(group):
  group.add_argument("--eval-batch-size", type=positive_int, default=64,
                     metavar="N", help="evaluation batch size (default: 64).")


def add_max_eval_examples(group):
  group.add_argument(
      "--max-eval-examples", type=positive_int, metavar="N",
      help="evaluate on a fixed random subset of N examples of each dev set, "
      "the same for every command (default: all).")


def add_num_layers(group, help_text):
  group.add_argument("--num-layers", type=positive_int, metavar="N",
                     help=help_text)


def add_num_calibration_examples(group, default, source="the --task "
                                 "training data"):
  group.add_argument(
      "--num-calibration-examples", type=positive_int, default=default,
      metavar="N",
      help=f"int8 calibration examples, from {source} (default: {default}).")


def add_output_dir(group, help_text):
  group.add_argument("--output-dir", metavar="DIR", help=help_text)


def add_output_file(group, help_text):
  group.add_argument("--output-file", metavar="FILE", help=help_text)


def add_overwrite_output_dir(group, help_text="delete what --output-dir holds "
                             "and start over, instead of resuming."):
  group.add_argument("--overwrite-output-dir", action="store_true",
                     help=help_text)


def add_seed(group, help_text="seed of initialisation, dropout, data subsets, "
             "shuffling and replacement draws (default: 42)."):
  group.add_argument("--seed", type=non_negative_int, default=42, metavar="N",
                     help=help_text)


def add_no_progress_bar(group):
  group.add_argument("--no-progress-bar", action="store_true",
                     help="do not show progress bars.")


def add_training_data_flags(parser,
                            max_seq_length_default=DEFAULT_MAX_SEQ_LENGTH):
  """The data flags of finetune and compress."""
  group = parser.add_argument_group("data")
  add_task(group, help_text="GLUE task: CoLA, SST-2, MRPC, STS-B, QQP, MNLI "
           "(both dev sets), MNLI-M, MNLI-MM, QNLI, RTE, WNLI; case and "
           "dashes do not matter. Required unless --train-file and "
           "--validation-file are given.")
  add_data_dir(group)
  add_data_file_flags(group)
  add_max_seq_length(group, max_seq_length_default)
  add_batch_size(group)
  add_max_train_examples(group)
  add_eval_batch_size(group)
  add_max_eval_examples(group)


def add_training_flags(parser, default_learning_rate):
  """The run flags of finetune and compress."""
  group = parser.add_argument_group("training")
  add_output_dir(
      group, "run folder: config.json, versions.json, logs/ (TensorBoard), "
      "checkpoints/, best_model/, final_model/, metrics.json. Required. "
      "Running the same command again resumes from the last checkpoint.")
  add_overwrite_output_dir(group)
  group.add_argument(
      "--epochs", type=positive_float, metavar="E",
      help="training budget in passes over the training set (default: 3). "
      "Exclusive with --max-steps.")
  group.add_argument(
      "--max-steps", type=positive_int, metavar="N",
      help="training budget in optimizer steps, instead of --epochs.")
  group.add_argument(
      "--learning-rate", type=positive_float, default=default_learning_rate,
      metavar="LR",
      help=f"peak learning rate of AdamW (default: {default_learning_rate:g}).")
  group.add_argument(
      "--warmup-ratio", type=probability, metavar="R",
      help="linear warm-up over this fraction of the steps, then linear decay "
      "to 0 (default: 0.1). Exclusive with --warmup-steps.")
  group.add_argument(
      "--warmup-steps", type=non_negative_int, metavar="N",
      help="linear warm-up over N steps, instead of --warmup-ratio.")
  group.add_argument(
      "--weight-decay", type=non_negative_float, default=0.0, metavar="W",
      help="AdamW decoupled weight decay; biases and layer norms are exempt "
      "(default: 0).")
  group.add_argument(
      "--adam-epsilon", type=positive_float, default=1e-8, metavar="EPS",
      help="AdamW epsilon (default: 1e-8).")
  group.add_argument(
      "--max-grad-norm", type=non_negative_float, default=1.0, metavar="N",
      help="clip gradients to this global norm; 0 disables (default: 1.0).")
  group.add_argument(
      "--eval-steps", type=positive_int, metavar="N",
      help="evaluate on the dev set every N steps and at the end, keeping the "
      "best model in best_model/ (default: once per epoch).")
  group.add_argument(
      "--save-steps", type=positive_int, default=500, metavar="N",
      help="save a resumable checkpoint every N steps and at the end "
      "(default: 500).")
  group.add_argument(
      "--logging-steps", type=positive_int, default=10, metavar="N",
      help="log loss, learning rate and replacement rate to TensorBoard and "
      "trainer_state.json every N steps (default: 10).")
  add_seed(group)
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
  add_no_progress_bar(group)
