"""`theseus-tf demo` on the tiny model, its table and its errors."""

import subprocess
import sys

import pytest

from tests.trainers.cli_helpers import REPO_ROOT, cli_env, read_json
from trainers import cli
from trainers.commands import demo
from trainers.commands.demo import format_table
from trainers.commands.settings import command_line


def _result(layers, accuracy, parameters, latency):
  return {"num_layers": layers, "metrics": {"accuracy": accuracy},
          "num_parameters": parameters, "latency_ms_batch_1": latency}


def test_format_table():
  table = format_table(_result(6, 0.9, 22_700_000, 20.0),
                       _result(3, 0.87, 17_400_000, 10.0))
  lines = table.splitlines()
  assert "dev accuracy" in lines[0] and "latency (batch 1)" in lines[0]
  assert lines[1].split()[:5] == ["predecessor", "(6", "layers)", "0.9000",
                                  "22.7M"]
  assert "96.7%" in lines[3] and "2.00x faster" in lines[3]


def test_demo_without_glue_data(run_cli, tmp_path):
  result = run_cli("demo", "--data-dir", tmp_path, "--output-dir", tmp_path)
  assert result.returncode == 2
  assert result.error_lines == [
      f"theseus-tf: error: no SST-2 data in {tmp_path} (expected "
      f"{tmp_path}/SST-2/train.tsv and dev.tsv): pass --data-dir <GLUE folder "
      "holding SST-2/>"]


@pytest.mark.slow
def test_demo_on_the_tiny_model(run_cli, tiny_model_dir, glue_dir, tmp_path):
  result = run_cli(
      "demo", "--model", tiny_model_dir, "--data-dir", glue_dir,
      "--output-dir", tmp_path, "--max-train-examples", "32",
      "--max-eval-examples", "16", "--max-seq-length", "16", "--batch-size",
      "8", "--num-layers", "2", "--no-progress-bar")
  assert result.returncode == 0, result.stderr
  assert "predecessor (4 layers)" in result.stdout
  assert "successor (2 layers)" in result.stdout
  results = read_json(tmp_path / "demo_results.json")
  assert results["successor"]["num_layers"] == 2
  assert (results["successor"]["num_parameters"] <
          results["predecessor"]["num_parameters"])
  for run in ("finetune", "compress"):
    assert read_json(tmp_path / run / "metrics.json")["completed"]
  assert read_json(tmp_path / "compress" / "config.json")["model"] == str(
      tmp_path / "finetune" / "best_model")


def test_demo_calls_the_commands_with_typed_settings(tmp_path):
  args, _ = cli.parse_args(["demo", "--model", "m", "--max-seq-length", "16",
                            "--num-layers", "2"])
  (finetune_args, _), (compress_args, parser) = demo.run_settings(
      args, tmp_path / "glue", tmp_path / "out")
  assert (finetune_args.command, compress_args.command) == ("finetune",
                                                            "compress")
  assert finetune_args.model == "m" and finetune_args.reinit_head
  assert compress_args.model == str(tmp_path / "out/finetune/best_model")
  assert compress_args.max_seq_length == 16 and compress_args.num_layers == 2
  assert compress_args.replacement_rate == 0.7  # Checked like parsed flags.
  line = command_line(compress_args, parser)
  assert line[:4] == ["theseus-tf", "compress", "--model",
                      compress_args.model]
  # The printed command line means the same settings.
  again, _ = cli.parse_args(line[1:])
  assert vars(again) == vars(compress_args)


def test_demo_does_not_import_the_cli():
  code = ("import sys, trainers.commands.demo; "
          "print(sorted(m for m in sys.modules if m in ('trainers.cli', "
          "'tensorflow')))")
  done = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT,
                        env=cli_env(), capture_output=True, text=True,
                        check=True)
  assert done.stdout.strip() == "[]"
