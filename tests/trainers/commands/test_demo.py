"""`theseus-tf demo` on the tiny model, its table and its errors."""

import pytest

from tests.trainers.cli_helpers import read_json
from trainers.commands.demo import format_table


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
  assert read_json(tmp_path / "compress" / "config.json")["predecessor"] == str(
      tmp_path / "finetune" / "best_model")
