"""`theseus-tf`: finetune, compress (Theseus or baselines), evaluate, export,
predict, benchmark, demo.

Each subcommand is a module of `trainers.commands` (its flags, its checks,
its `run`); they share the flag vocabulary of `trainers.commands.flags`.
Every flag can also come from a YAML or JSON file given with `--config`.
Bad input is reported as one line, `theseus-tf: error: ...`, with exit
status 2, before any work starts. See docs/CLI.md for the full reference.
"""

import os
import sys

from trainers.commands import (benchmark, compress, config_files, demo,
                               evaluate, export, finetune, flags, predict)
from trainers.commands.settings import complete
from trainers.errors import CommandFailed, UsageError

PROG = flags.PROG
COMMANDS = {command.NAME: command for command in (
    finetune, compress, evaluate, export, predict, benchmark, demo)}

_DESCRIPTION = """\
BERT-of-Theseus compression (Xu et al., EMNLP 2020) on GLUE or your own
data (CSV, TSV, JSON Lines), in TensorFlow.
Run 'theseus-tf <command> --help' for the flags of a command.
"""

def build_parser():
  """The `theseus-tf` parser; `parser.subcommands` maps names to subparsers."""
  parser = flags.ArgumentParser(
      prog=PROG, description=_DESCRIPTION, formatter_class=flags.HelpFormatter)
  subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
  parser.subcommands = {name: command.add_parser(subparsers)
                        for name, command in COMMANDS.items()}
  return parser


def _with_current_flag_names(argv):
  for index, item in enumerate(argv):
    if item in COMMANDS:
      return argv[:index + 1] + flags.rename_deprecated_flags(
          item, argv[index + 1:])
  return argv


def parse_args(argv=None):
  """Parses `argv` (with its --config file) into the checked settings.

  Returns:
    `(args, subparser)`; `args.command` names the subcommand.

  Raises:
    UsageError: Bad flags, config file or flag combination.
    SystemExit: --help (status 0).
  """
  parser = build_parser()
  argv = _with_current_flag_names(
      list(sys.argv[1:] if argv is None else argv))
  args = parser.parse_args(argv)
  if args.command is None:
    parser.print_help(sys.stderr)
    raise UsageError(f"missing COMMAND: use one of {', '.join(COMMANDS)}")
  subparser = parser.subcommands[args.command]
  if args.config:
    subparser.set_defaults(**config_files.config_file_defaults(
        subparser, args.command, args.config))
    args = parser.parse_args(argv)
  return complete(COMMANDS[args.command], args), subparser


def main(argv=None):
  """Console entry point; returns the exit status."""
  os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
  os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")
  command = None
  try:
    args, subparser = parse_args(argv)
    command = COMMANDS[args.command]
    # The heavy imports (TensorFlow) happen here, after the flags are checked.
    from trainers.tf_setup import quiet_tensorflow_import  # pylint: disable=import-outside-toplevel
    quiet_tensorflow_import()
    command.run(args, subparser)
  except UsageError as error:
    print(f"{PROG}: error: {error}", file=sys.stderr)
    return 2
  except CommandFailed as error:
    print(f"{PROG}: error: {error}", file=sys.stderr)
    return 1
  except KeyboardInterrupt:
    print(f"{PROG}: interrupted; "
          f"{getattr(command, 'WHEN_INTERRUPTED', 'nothing was written')}",
          file=sys.stderr)
    return 130
  return 0


if __name__ == "__main__":
  sys.exit(main())
