"""Flag parsing, --help, config files and the resolved config."""

import argparse
import json
import re

import pytest

from tests.trainers.cli_helpers import REPO_ROOT
from trainers import cli
from trainers.commands import config_files as config_lib
from trainers.commands import flags
from trainers.errors import UsageError

COMMANDS = ("finetune", "compress", "evaluate", "export", "predict", "benchmark",
            "demo")


def _flags(command):
  parser = cli.build_parser().subcommands[command]
  return [option for action in parser._actions  # pylint: disable=protected-access
          for option in action.option_strings if option.startswith("--")]


def _parse(*argv):
  args, _ = cli.parse_args([str(a) for a in argv])
  return args


def _compress(*extra):
  return _parse("compress", "--model", "p", "--task", "sst2",
                "--output-dir", "out", *extra)


@pytest.mark.parametrize("command", COMMANDS)
def test_help_lists_every_flag(run_cli, command):
  result = run_cli(command, "--help")
  assert result.returncode == 0
  for flag in _flags(command):
    assert flag in result.stdout, f"{flag} missing from {command} --help"


def test_top_level_help_lists_the_commands(run_cli):
  result = run_cli("--help")
  assert result.returncode == 0
  for command in COMMANDS:
    assert command in result.stdout


@pytest.mark.parametrize("command", COMMANDS)
def test_docs_describe_every_flag(command):
  docs = (REPO_ROOT / "docs" / "CLI.md").read_text(encoding="utf-8")
  assert f"theseus-tf {command}" in docs
  for flag in _flags(command):
    assert f"`{flag}" in docs, f"{flag} of {command} is not in docs/CLI.md"


def test_defaults_are_resolved():
  args = _compress()
  # The recommended recipe (trainers/recipe.py).
  assert (args.method, args.schedule, args.base_rate) == (
      "theseus", "linear", 0.1)
  assert args.epochs == 3.0 and args.max_steps is None
  assert args.warmup_ratio == 0.1
  assert args.replacement_rate is None and args.temperature is None
  # --replacement-rate is the constant schedule's: it picks that one.
  constant = _compress("--replacement-rate", "0.7")
  assert (constant.schedule, constant.base_rate) == ("constant", None)
  constant = _compress("--schedule", "constant")
  assert (constant.replacement_rate, constant.base_rate) == (0.5, None)
  distill = _compress("--method", "distill")
  assert (distill.temperature, distill.alpha) == (2.0, 0.5)
  assert args.alpha is None  # Theseus: the task loss alone by default.
  theseus_kd = _compress("--alpha", "0.3")  # Theseus + KD.
  assert (theseus_kd.temperature, theseus_kd.alpha) == (2.0, 0.3)


def test_typed_values():
  args = _compress("--grouping", "2,1,1", "--init", "0,2,3", "--max-steps",
                   "10", "--learning-rate", "1e-4")
  assert args.grouping == [2, 1, 1] and args.init == [0, 2, 3]
  assert args.max_steps == 10 and args.learning_rate == 1e-4
  assert _compress("--init", "top").init == "top"


@pytest.mark.parametrize("argv", [
    ("--batch-size", "0"), ("--learning-rate", "-1"), ("--max-steps", "2.5"),
    ("--replacement-rate", "1.5"), ("--init", "middle"), ("--strategy", "tpu"),
])
def test_bad_values_are_rejected_by_argparse(run_cli, argv):
  result = run_cli("compress", "--model", "p", "--task", "sst2",
                   "--output-dir", "out", *argv)
  assert result.returncode == 2
  assert argv[0] in result.stderr and "Traceback" not in result.stderr


def test_config_file_round_trip(tmp_path):
  argv = ["compress", "--model", "p", "--task", "mrpc", "--output-dir",
          "out", "--schedule", "linear", "--base-rate", "0.2",
          "--replacing-steps", "30", "--successor-steps", "20",
          "--grouping", "2,2", "--unfreeze-shared", "--mixed-precision"]
  args, subparser = cli.parse_args(argv)
  resolved = config_lib.resolved_config(args, subparser)
  config_lib.write_config(tmp_path, resolved)
  again, subparser = cli.parse_args(
      ["compress", "--config", str(tmp_path / config_lib.CONFIG_FILE)])
  again_resolved = config_lib.resolved_config(again, subparser)
  assert again_resolved == resolved
  assert resolved["command"] == "compress" and resolved["grouping"] == [2, 2]
  assert resolved["unfreeze_shared"] is True and resolved["epochs"] is None


def test_yaml_config_with_dashes_and_command_line_precedence(tmp_path):
  path = tmp_path / "run.yaml"
  path.write_text("task: rte\nmodel: p\noutput-dir: out\n"
                  "learning-rate: 5.0e-5\nmixed_precision: true\n"
                  "grouping: [3, 3]\nbatch_size: 16\n")
  args = _parse("compress", "--config", path, "--batch-size", "8")
  assert (args.task, args.learning_rate, args.grouping) == ("rte", 5e-5,
                                                            [3, 3])
  assert args.mixed_precision is True
  assert args.batch_size == 8  # The command line wins.


@pytest.mark.parametrize("content, message", [
    ("task: sst2\nlearning_rat: 1e-4\n", "unknown key 'learning_rat'"),
    ("task: sst2\nbatch_size: many\n", "key 'batch_size'"),
    ("task: sst2\nmixed_precision: 3\n", "expected true or false"),
    ("command: finetune\n", "is for 'theseus-tf finetune'"),
    ("- task\n", "must hold a mapping"),
    ("task: [unclosed\n", "not valid YAML"),
])
def test_bad_config_files(tmp_path, content, message):
  path = tmp_path / "bad.yaml"
  path.write_text(content)
  with pytest.raises(UsageError, match=message):
    _parse("compress", "--config", path)


def test_missing_config_file(tmp_path):
  with pytest.raises(UsageError, match="not found"):
    _parse("evaluate", "--config", tmp_path / "nope.json")


@pytest.mark.parametrize("argv, message", [
    (("--schedule", "constant", "--base-rate", "0.3"),
     "--base-rate only applies to --schedule linear"),
    (("--replacement-rate", "0.5", "--slope", "1e-3"),  # Constant, then.
     "--slope only applies to --schedule linear"),
    (("--schedule", "linear", "--replacement-rate", "0.5"),
     "--replacement-rate only applies to --schedule constant"),
    (("--schedule", "linear", "--slope", "1e-3", "--replacing-steps", "9"),
     "--slope and --replacing-steps exclude each other"),
    (("--replacing-steps", "9", "--successor-steps", "5",
      "--successor-epochs", "1"), "exclude each other"),
    (("--replacing-steps", "9", "--successor-steps", "5", "--epochs", "2"),
     "both set the budget"),
    (("--successor-steps", "5",), "need the length of the replacing phase"),
    (("--temperature", "2"),
     "--temperature only applies to --method distill, or --method theseus "
     "with --alpha"),
    (("--method", "finetune", "--alpha", "0.5"),
     "--alpha only applies to --method distill or --method theseus"),
    (("--alpha", "0.5", "--unfreeze-shared"),
     "--alpha and --unfreeze-shared exclude each other"),
    (("--method", "finetune", "--unfreeze-shared"),
     "--unfreeze-shared only applies to --method theseus"),
    (("--epochs", "2", "--max-steps", "9"), "exclude each other"),
    (("--warmup-steps", "2", "--warmup-ratio", "0.1"), "exclude each other"),
    (("--grouping", "2,2", "--num-layers", "3"), "--grouping has 2 modules"),
    (("--num-layers", "2", "--init", "0,1,2"), "--init lists 3 layers"),
    (("--replacement-rate", "0"), "never replaces"),
])
def test_inconsistent_flags(argv, message):
  with pytest.raises(UsageError, match=message):
    _compress(*argv)


@pytest.mark.parametrize("command, missing", [
    (("finetune", "--task", "sst2", "--output-dir", "o"), "--model"),
    (("compress", "--model", "p", "--task", "sst2"), "--output-dir"),
    (("evaluate", "--model", "m"), "--task"),
])
def test_required_flags(command, missing):
  with pytest.raises(UsageError, match=f"{missing} is required"):
    _parse(*command)


def test_same_run_check(tmp_path):
  args, subparser = cli.parse_args(
      ["finetune", "--model", "m", "--task", "sst2", "--output-dir",
       str(tmp_path)])
  config = config_lib.resolved_config(args, subparser)
  config_lib.check_same_run(tmp_path, config)  # Empty folder: fine.
  config_lib.write_config(tmp_path, config)
  config_lib.check_same_run(tmp_path, dict(config, save_steps=7))
  with pytest.raises(UsageError, match="--learning-rate: 2e-05 -> 0.001"):
    config_lib.check_same_run(tmp_path, dict(config, learning_rate=1e-3))


def test_int_list_and_init_types():
  assert flags.int_list("3, 3,2") == [3, 3, 2]
  assert flags.int_list([1, 2]) == [1, 2]
  assert flags.successor_init("every_k") == "every_k"
  with pytest.raises(argparse.ArgumentTypeError):
    flags.int_list("a,b")
  with pytest.raises(argparse.ArgumentTypeError):
    flags.positive_int(True)
  assert json.loads(json.dumps(flags.successor_init("1,3"))) == [1, 3]


def _all_flags():
  return {flag for command in COMMANDS for flag in _flags(command)}


@pytest.mark.parametrize("document", [
    "docs/CLI.md", "README.md", "scripts/demo.sh"])
def test_every_flag_a_document_names_exists(document):
  """The reference, the README and the demo script name no flag that the
  parsers lack (old names only in the reference's table of renames)."""
  text = (REPO_ROOT / document).read_text(encoding="utf-8")
  deprecated = {old for renamed in flags.RENAMED_FLAGS.values()
                for old in renamed} if document == "docs/CLI.md" else set()
  # Other programs' flags: `tensorboard --logdir`, `pip install --no-deps`.
  other_programs = {"--logdir", "--no-deps"}
  named = set(re.findall(r"(?<![\w-])--[a-z][a-z0-9-]*", text))
  assert "--data-dir" in named  # The pattern finds flags.
  missing = sorted(named - _all_flags() - deprecated - other_programs -
                   {"--help"})
  assert not missing, f"{document} names flags no parser has: {missing}"


@pytest.mark.parametrize("command", COMMANDS)
def test_help_states_each_default_once(run_cli, command):
  result = run_cli(command, "--help")
  text = " ".join(result.stdout.split())
  assert "(default: None)" not in text
  assert ") (default:" not in text


def test_one_name_per_concept():
  """The model, tokenizer, length and output flags have one name each."""
  for command in COMMANDS:
    names = _flags(command)
    assert "--model" in names, command
    for old in ("--predecessor", "--model-dir", "--tokenizer-dir",
                "--seq-length", "--output"):
      assert old not in names, (command, old)
  assert "--compare" in _flags("benchmark")


def test_library_choices_are_mirrored():
  from theseus_tf.export import INPUT_KINDS, QUANTIZATIONS
  from theseus_tf.module_grouping import SUCCESSOR_INIT_CHOICES
  assert flags.QUANTIZATIONS == QUANTIZATIONS
  assert flags.INPUT_KINDS == INPUT_KINDS
  assert flags.SUCCESSOR_INIT_CHOICES == SUCCESSOR_INIT_CHOICES
  from theseus_tf.data.file_task import DEFAULT_LABEL_DELIMITER
  assert flags.DEFAULT_LABEL_DELIMITER == DEFAULT_LABEL_DELIMITER


@pytest.mark.parametrize("argv, new_flag, dest, value", [
    (("compress", "--predecessor", "p", "--task", "sst2", "--output-dir",
      "o"), "--model", "model", "p"),
    (("evaluate", "--model", "m", "--task", "sst2", "--output", "e.json"),
     "--output-file", "output_file", "e.json"),
    (("export", "--model-dir", "m", "--format", "tflite", "--output-dir",
      "o"), "--model", "model", "m"),
    (("export", "--model", "m", "--tokenizer-dir=t", "--format", "tflite",
      "--output-dir", "o"), "--tokenizer", "tokenizer", "t"),
    (("benchmark", "--predecessor", "p", "--output-dir", "o"), "--model",
     "model", "p"),
    (("benchmark", "--seq-length", "32", "--output-dir", "o"),
     "--max-seq-length", "max_seq_length", 32),
    (("benchmark", "--model", "distill=runs/d", "--output-dir", "o"),
     "--compare NAME=PATH", "compare", ["distill=runs/d"]),
])
def test_old_flag_names_work_with_a_warning(capsys, argv, new_flag, dest,
                                            value):
  args, _ = cli.parse_args(list(argv))
  assert getattr(args, dest) == value
  warning = capsys.readouterr().err
  assert "is deprecated" in warning and f"use {new_flag}" in warning


def test_old_config_keys_and_runs_are_renamed(tmp_path, capsys):
  path = tmp_path / "old.yaml"
  path.write_text("predecessor: p\ntask: sst2\noutput_dir: out\n")
  args, parser = cli.parse_args(["compress", "--config", str(path)])
  assert args.model == "p"
  assert "use 'model'" in capsys.readouterr().err
  # A run recorded under the old name resumes under the new one.
  config = config_lib.resolved_config(args, parser)
  old = dict(config, predecessor=config.pop("model"))
  config_lib.write_config(tmp_path, old)
  config_lib.check_same_run(tmp_path, dict(old, model=old.pop("predecessor")))


@pytest.mark.parametrize("argv, flag", [
    (("export", "--model", "m", "--format", "tflite", "--output-dir", "o",
      "--max-seq-length", "0"), "--max-seq-length"),
    (("export", "--model", "m", "--format", "tflite", "--output-dir", "o",
      "--num-calibration-examples", "-5"), "--num-calibration-examples"),
    (("benchmark", "--output-dir", "o", "--max-seq-length", "-1"),
     "--max-seq-length"),
])
def test_counts_must_be_positive(run_cli, argv, flag):
  """One line naming the flag (export took any int before)."""
  result = run_cli(*argv)
  assert result.returncode == 2
  assert len(result.error_lines) == 1, result.error_lines
  assert result.error_lines[0].startswith("theseus-tf: error: argument "
                                          f"{flag}: expected a positive")


def test_export_version_is_an_integer_from_0(run_cli):
  result = run_cli("export", "--model", "m", "--format", "saved_model",
                   "--output-dir", "o", "--version", "-1")
  assert result.returncode == 2
  assert "argument --version: expected an integer >= 0" in result.stderr


@pytest.mark.parametrize("command, required", [
    ("export", ("--model", "--format", "--output-dir")),
    ("benchmark", ("--output-dir",)),
])
def test_config_files_for_export_and_benchmark(tmp_path, command, required):
  with pytest.raises(UsageError, match=f"{required[0]} is required"):
    _parse(command)
  path = tmp_path / "flags.json"
  values = {"model": "m", "format": "tflite", "output-dir": "o"}
  path.write_text(json.dumps({k: values[k] for k in values
                              if f"--{k}" in required}))
  args = _parse(command, "--config", path)
  assert args.output_dir == "o"


@pytest.mark.parametrize("value, given", [
    (None, False), (False, False), (0, True), (0.0, True), ("", True),
    (",", True), (True, True), ([], True)])
def test_one_rule_for_a_given_flag(value, given):
  assert flags.flag_given(argparse.Namespace(flag=value), "flag") is given
  assert not flags.flag_given(argparse.Namespace(), "flag")


def test_flag_checks_share_the_rule():
  # Both the data-source and the compress checks use flags.flag_given: a
  # value that compares equal to False (0, "") still counts as given.
  from trainers import data_source
  from trainers.commands import validation
  assert data_source.flag_given is flags.flag_given
  assert validation.flag_given is flags.flag_given
  with pytest.raises(UsageError, match="--label-column only applies to"):
    data_source.check_data_flags(argparse.Namespace(task="sst2",
                                                    label_column=""))
  with pytest.raises(UsageError, match="--alpha only applies to"):
    _compress("--method", "finetune", "--alpha", "0")


@pytest.mark.parametrize("argv", [
    ("finetune", "--model", "m", "--output-dir", "o", "--task", "sst2",
     "--label-delimiter", ";"),
    ("evaluate", "--model", "m", "--task", "sst2", "--label-delimiter", ","),
])
def test_label_delimiter_only_with_files(argv):
  with pytest.raises(UsageError, match="--label-delimiter only applies to "
                     "--train-file/--validation-file"):
    _parse(*argv)


def test_label_delimiter_defaults_to_none():
  args = _parse("finetune", "--model", "m", "--output-dir", "o", "--task",
                "sst2")
  assert args.label_delimiter is None


def test_runs_recorded_with_the_old_label_delimiter_default_resume(tmp_path):
  config = {"command": "finetune", "task": "sst2", "label_delimiter": None}
  (tmp_path / "config.json").write_text(
      json.dumps({**config, "label_delimiter": ","}), encoding="utf-8")
  config_lib.check_same_run(tmp_path, config)
  with pytest.raises(UsageError, match="--label-delimiter"):
    config_lib.check_same_run(tmp_path, {**config, "label_delimiter": ";"})
