"""`theseus-tf finetune`: fine-tune a BERT checkpoint on a GLUE task."""

from trainers.commands import flags
from trainers import data_source
from trainers.commands import validation

NAME = "finetune"
REQUIRED = ("model", "output_dir")
WHEN_INTERRUPTED = "run the same command again to resume"


def add_parser(subparsers):
  parser = flags.add_command_parser(
      subparsers, NAME, "fine-tune a BERT checkpoint on a GLUE task or your data",
      flags.paragraph(
          "Fine-tune a BERT checkpoint (a Hugging Face folder or hub id) on a "
          "GLUE task: the predecessor that 'compress' then compresses."),
      epilog="example:\n  theseus-tf finetune --model bert-base-uncased "
      "--task mrpc --data-dir glue_data --output-dir runs/bert-mrpc\n"
      "  theseus-tf finetune --model bert-base-uncased --train-file "
      "tickets.csv --validation-file tickets-dev.csv --text-columns body "
      "--label-column queue --output-dir runs/bert-tickets")
  group = parser.add_argument_group("model")
  flags.add_model(
      group, "Hugging Face BERT checkpoint: a local folder (config.json, "
      "model.safetensors, tokenizer files) or a hub id. A checkpoint without "
      "a classifier head gets a new one. Required.")
  group.add_argument(
      "--reinit-head", action="store_true",
      help="replace a classifier head whose number of labels differs from the "
      "task's by a new one (otherwise that is an error).")
  flags.add_training_data_flags(parser)
  flags.add_training_flags(parser, default_learning_rate=2e-5)
  return parser


def check(args):
  data_source.check_data_flags(args)
  validation.check_training(args)


def run(args, parser):
  """Trains; returns the content of metrics.json."""
  from trainers.commands.config_files import resolved_config  # pylint: disable=import-outside-toplevel
  from trainers.training.loop import run_training  # pylint: disable=import-outside-toplevel
  return run_training(args, resolved_config(args, parser))
