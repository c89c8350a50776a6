"""A subcommand's settings, from its command line or from typed values.

Both ways end in `complete`: required flags, then the command's own checks
(which also fill in defaults that depend on other flags).
"""

from trainers.commands import flags
from trainers.errors import UsageError


def standalone_parser(command):
  """The parser of `command` (a module of `trainers.commands`) alone."""
  subparsers = flags.ArgumentParser(prog=flags.PROG).add_subparsers(
      dest="command")
  return command.add_parser(subparsers)


def complete(command, args):
  """Checks `args` of `command` in place; fills dependent defaults.

  Raises:
    UsageError: A required flag is missing or flags contradict each other.
  """
  for dest in command.REQUIRED:
    if getattr(args, dest) in (None, ""):
      raise UsageError(
          f"{flags.flag_name(dest)} is required for '{flags.PROG} "
          f"{command.NAME}' (on the command line or as '{dest}' in the "
          "--config file)")
  check = getattr(command, "check", None)
  if check is not None:
    check(args)
  return args


def typed_settings(command, **values):
  """The settings of `command` for `values` (flag dests -> typed values).

  What the command line would give, without writing or parsing one.

  Returns:
    `(args, parser)`, as `trainers.cli.parse_args`.

  Raises:
    TypeError: A value names no flag of the command.
    UsageError: As `complete`.
  """
  parser = standalone_parser(command)
  args = parser.parse_args([])
  unknown = sorted(set(values) - set(vars(args)))
  if unknown:
    raise TypeError(f"'{command.NAME}' has no flags {unknown}")
  vars(args).update(values, command=command.NAME)
  return complete(command, args), parser


def command_line(args, parser):
  """The `theseus-tf` command line of `args`: flags not at their default."""
  argv = [flags.PROG, args.command]
  for action in flags.flag_actions(parser).values():
    value = getattr(args, action.dest)
    if value == action.default or value is None:
      continue
    flag = action.option_strings[0]
    if value is True:
      argv.append(flag)
    elif isinstance(value, list):
      argv += [flag, ",".join(map(str, value))]
    else:
      argv += [flag, str(value)]
  return argv
