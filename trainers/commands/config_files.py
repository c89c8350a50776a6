"""Flags <-> config files, and the resolved config a run records.

A config file (YAML or JSON) is a mapping from flag names to values:
`learning_rate: 5e-5` or `"learning-rate": 5e-5` stands for
`--learning-rate 5e-5`; a switch takes `true`/`false`. Flags given on the
command line win over the file, which wins over the defaults. A run writes
the resolved config (every flag, defaults filled in) to `config.json` in its
output folder; `--config config.json` repeats the run.
"""

import argparse
import json
import pathlib

from trainers.atomic_io import atomic_write_json, read_json
from trainers.commands.flags import (DEFAULT_LABEL_DELIMITER,
                                     deprecation_warning, flag_actions,
                                     flag_name, renamed_dest)
from trainers.errors import UsageError

CONFIG_FILE = "config.json"

# Flags that do not change what a run computes: a run may resume with other
# values of these.
RESUME_INDEPENDENT = frozenset({
    "config", "output_dir", "overwrite_output_dir", "no_progress_bar",
    "logging_steps", "save_steps", "eval_batch_size", "strategy",
    "token_cache_dir", "tfds_data_dir"})

# ---------------------------------------------------------------------------
# Config files.
# ---------------------------------------------------------------------------


def load_config_file(path):
  """Reads a YAML or JSON config file into a dict.

  Raises:
    UsageError: Missing file, syntax error, or not a mapping.
  """
  path = pathlib.Path(path).expanduser()
  if not path.is_file():
    raise UsageError(f"config file {path} not found: pass an existing YAML or "
                     "JSON file to --config")
  text = path.read_text(encoding="utf-8")
  try:
    if path.suffix.lower() == ".json":
      values = json.loads(text)
    else:
      import yaml  # YAML is a superset of JSON: any other suffix.
      values = yaml.safe_load(text)
  except Exception as error:  # pylint: disable=broad-except
    raise UsageError(f"config file {path} is not valid "
                     f"{'JSON' if path.suffix.lower() == '.json' else 'YAML'}: "
                     f"{error}") from None
  if values is None:
    values = {}
  if not isinstance(values, dict):
    raise UsageError(f"config file {path} must hold a mapping of flag names to "
                     f"values (e.g. 'learning_rate: 5e-5'), not a "
                     f"{type(values).__name__}")
  return values


def config_file_defaults(parser, command, path):
  """Reads `path` and converts it to defaults for `parser` (a subcommand).

  Keys are flag names with or without leading dashes, `-` or `_`; values are
  converted and checked like the command-line strings are. A `command` key,
  as `config.json` holds, must name this subcommand.

  Returns:
    dest -> value.

  Raises:
    UsageError: Unknown key, bad value, or another subcommand's config.
  """
  values = load_config_file(path)
  actions = flag_actions(parser)
  defaults = {}
  for key, value in values.items():
    dest = str(key).lstrip("-").replace("-", "_")
    if dest == "command":
      if value != command:
        raise UsageError(
            f"config file {path} is for 'theseus-tf {value}', not "
            f"'theseus-tf {command}': run that subcommand or remove the "
            "'command' key")
      continue
    if renamed_dest(command, dest) != dest:
      deprecation_warning(f"config key {key!r}",
                          f"{renamed_dest(command, dest)!r}")
      dest = renamed_dest(command, dest)
    action = actions.get(dest)
    if action is None:
      raise UsageError(
          f"config file {path}: unknown key {key!r} for 'theseus-tf {command}' "
          f"(known: {', '.join(sorted(actions))}; see theseus-tf {command} "
          "--help)")
    defaults[dest] = _convert(action, value, path, key)
  return defaults


def _convert(action, value, path, key):
  where = f"config file {path}, key {key!r}"
  if isinstance(action, (argparse._StoreTrueAction,  # pylint: disable=protected-access
                         argparse._StoreFalseAction)):  # pylint: disable=protected-access
    if not isinstance(value, bool):
      raise UsageError(f"{where}: expected true or false, got {value!r}")
    return value
  if value is None:
    return None
  if action.type is not None:
    try:
      value = action.type(value)
    except (argparse.ArgumentTypeError, TypeError, ValueError) as error:
      raise UsageError(f"{where}: {error}") from None
  elif not isinstance(value, str):
    value = str(value)
  if action.choices is not None and value not in action.choices:
    raise UsageError(f"{where}: {value!r} is not one of "
                     f"{', '.join(map(str, action.choices))}")
  return value


# ---------------------------------------------------------------------------
# The resolved config.
# ---------------------------------------------------------------------------


def resolved_config(args, parser):
  """The run's settings: the subcommand and the value of each of its flags."""
  config = {"command": args.command}
  for dest in flag_actions(parser):
    value = getattr(args, dest)
    config[dest] = list(value) if isinstance(value, tuple) else value
  return config


def write_config(run_dir, config):
  """Writes `config.json` into `run_dir` (atomically)."""
  return atomic_write_json(pathlib.Path(run_dir) / CONFIG_FILE, config)


def check_same_run(run_dir, config):
  """Checks that `run_dir` holds no run, or one with the same settings.

  Raises:
    UsageError: The folder's `config.json` differs in a setting that changes
      what the run computes.
  """
  previous = read_json(pathlib.Path(run_dir) / CONFIG_FILE)
  if previous is None:
    return
  # A run recorded under old flag names resumes under the new ones.
  previous = {renamed_dest(previous.get("command"), key): value
              for key, value in previous.items()}
  # Runs recorded when --label-delimiter defaulted to "," (now None, which
  # means ",") resume as the same run.
  if previous.get("label_delimiter") == DEFAULT_LABEL_DELIMITER and (
      config.get("label_delimiter") is None):
    previous["label_delimiter"] = None
  keys = (set(previous) | set(config)) - RESUME_INDEPENDENT
  changed = sorted(k for k in keys if previous.get(k) != config.get(k))
  if changed:
    shown = ", ".join(
        f"{'command' if k == 'command' else flag_name(k)}: "
        f"{previous.get(k)!r} -> {config.get(k)!r}" for k in changed[:4])
    more = f" and {len(changed) - 4} more" if len(changed) > 4 else ""
    raise UsageError(
        f"--output-dir {run_dir} holds a run with other settings ({shown}"
        f"{more}): repeat its command (or --config {run_dir / CONFIG_FILE}) "
        "to resume it, pick another --output-dir, or add "
        "--overwrite-output-dir to start over")
