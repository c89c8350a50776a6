"""Short real runs of finetune, compress (theseus, baselines) and evaluate."""

import json
import os

import numpy as np
import pytest
import tensorflow as tf
from safetensors.numpy import load_file

from tests.trainers.cli_helpers import read_json
from trainers import cli

pytestmark = pytest.mark.slow

RUN_FILES = ("config.json", "versions.json", "trainer_state.json",
             "metrics.json", "checkpoints/checkpoint",
             "best_model/config.json", "best_model/model.safetensors",
             "best_model/tokenizer.json", "best_model/tokenizer_config.json",
             "best_model/eval_results.json",
             "best_model/training_settings.json", "final_model/config.json",
             "final_model/training_settings.json",
             "final_model/model.safetensors", "final_model/tokenizer.json",
             "final_model/tokenizer_config.json")
EMBEDDINGS = "bert.embeddings.word_embeddings.weight"


def _summary_tags(folder):
  tags = set()
  for path in folder.glob("events.out.tfevents.*"):
    for event in tf.compat.v1.train.summary_iterator(str(path)):
      tags.update(value.tag for value in event.summary.value)
  return tags


def _check_run_folder(run, train_tags):
  for name in RUN_FILES:
    assert (run / name).is_file(), f"{name} missing from {run}"
  assert not [p for p in run.rglob(".*")], "temporary files left behind"
  assert train_tags <= _summary_tags(run / "logs" / "train")
  assert {"accuracy", "score"} <= _summary_tags(run / "logs" / "eval")
  metrics = read_json(run / "metrics.json")
  assert metrics["completed"] is True
  assert metrics["global_step"] == metrics["plan"]["total_steps"]
  assert metrics["best"]["score"] >= metrics["final"]["metrics"]["score"]
  return metrics


def _evaluate(run_cli, model, glue_dir, *extra):
  result = run_cli("evaluate", "--model", model, "--task", "sst2",
                   "--data-dir", glue_dir, "--max-eval-examples", "24",
                   "--max-seq-length", "32", *extra)
  assert result.returncode == 0, result.stderr
  return json.loads(result.stdout)


def _modes(folder):
  """The permission bits of every folder and file under `folder`."""
  return ({oct(p.stat().st_mode & 0o777) for p in folder.rglob("*")
           if p.is_dir()},
          {oct(p.stat().st_mode & 0o777) for p in folder.rglob("*")
           if p.is_file()})


@pytest.fixture
def umask_022():
  old = os.umask(0o022)
  yield
  os.umask(old)


def test_finetune_then_evaluate(run_cli, tiny_model_dir, small_data, glue_dir,
                                tmp_path, umask_022):  # pylint: disable=unused-argument
  run = tmp_path / "run"
  argv = ["finetune", "--model", tiny_model_dir, "--reinit-head",
          "--output-dir", run, "--max-steps", "4", "--eval-steps", "2",
          "--save-steps", "2", "--learning-rate", "1e-3", *small_data]
  result = run_cli(*argv)
  assert result.returncode == 0, result.stderr
  metrics = _check_run_folder(run, {"loss", "learning_rate"})
  # Readable by other users (a model server), as the umask allows.
  assert _modes(run) == ({"0o755"}, {"0o644"})
  # The training length (small_data: 32 tokens) travels with the model.
  assert read_json(run / "best_model/training_settings.json") == {
      "command": "finetune", "task": "SST-2", "max_seq_length": 32}
  for command in (["export", "--format", "tflite", "--output-dir", "o"],
                  ["evaluate", "--task", "sst2"],
                  ["benchmark", "--output-dir", "o"]):
    args, _ = cli.parse_args(command + ["--model", str(run / "best_model")])
    assert args.max_seq_length == 32, command
  assert [e["step"] for e in metrics["eval_history"]] == [2, 4]
  assert read_json(run / "config.json")["command"] == "finetune"
  assert read_json(run / "versions.json")["tensorflow"] == tf.__version__
  assert read_json(run / "final_model/config.json")["num_hidden_layers"] == 4

  output = tmp_path / "eval.json"
  evaluated = _evaluate(run_cli, run / "final_model", glue_dir,
                        "--output-file", output)
  assert read_json(output) == evaluated
  np.testing.assert_allclose(evaluated["metrics"]["accuracy"],
                             metrics["final"]["metrics"]["accuracy"])

  # The same command again: already complete, nothing retrained or lost.
  before = read_json(run / "trainer_state.json")
  again = run_cli(*argv)
  assert again.returncode == 0, again.stderr
  assert read_json(run / "trainer_state.json") == before
  assert read_json(run / "metrics.json")["best"] == metrics["best"]


@pytest.mark.parametrize("unfreeze", [False, True])
def test_compress_theseus(run_cli, sst2_predecessor, small_data, glue_dir,
                          tmp_path, unfreeze):
  run = tmp_path / "run"
  extra = ["--unfreeze-shared"] if unfreeze else []
  result = run_cli(
      "compress", "--model", sst2_predecessor, "--output-dir", run,
      "--num-layers", "2", "--schedule", "linear", "--base-rate", "0.5",
      "--replacing-steps", "4", "--max-steps", "6", "--eval-steps", "3",
      "--save-steps", "3", "--learning-rate", "1e-3", *small_data, *extra)
  assert result.returncode == 0, result.stderr
  metrics = _check_run_folder(
      run, {"loss", "learning_rate", "replacement_rate"})
  assert metrics["plan"]["replacing_steps"] == 4
  rates = [r["replacement_rate"]
           for r in read_json(run / "trainer_state.json")["log_history"]]
  np.testing.assert_allclose(rates, [0.5, 0.625, 0.75, 0.875, 1.0, 1.0])
  final = run / "final_model"
  assert read_json(final / "config.json")["num_hidden_layers"] == 2
  assert (metrics["num_parameters"]["exported_model"] <
          metrics["num_parameters"]["trained_model"])

  embeddings = load_file(str(final / "model.safetensors"))[EMBEDDINGS]
  original = load_file(str(sst2_predecessor / "model.safetensors"))[EMBEDDINGS]
  # Frozen in the paper's setting; trained once p = 1 with --unfreeze-shared.
  assert np.array_equal(embeddings, original) != unfreeze

  evaluated = _evaluate(run_cli, final, glue_dir)
  np.testing.assert_allclose(evaluated["metrics"]["accuracy"],
                             metrics["final"]["metrics"]["accuracy"])
  assert evaluated["num_parameters"] == metrics["num_parameters"][
      "exported_model"]


@pytest.mark.parametrize("method", ["finetune", "distill"])
def test_compress_baselines(run_cli, sst2_predecessor, small_data, tmp_path,
                            method):
  run = tmp_path / "run"
  extra = (["--temperature", "3", "--alpha", "0.7"] if method == "distill"
           else [])
  result = run_cli(
      "compress", "--model", sst2_predecessor, "--output-dir", run,
      "--method", method, "--num-layers", "2", "--init", "1,3",
      "--replacing-steps", "2", "--successor-steps", "2", "--eval-steps", "2",
      *small_data, *extra)
  assert result.returncode == 0, result.stderr
  metrics = _check_run_folder(run, {"loss", "learning_rate"})
  assert metrics["method"] == method and metrics["global_step"] == 4
  assert metrics["plan"]["schedule"] is None
  log = read_json(run / "trainer_state.json")["log_history"]
  assert all("replacement_rate" not in r and np.isfinite(r["loss"])
             for r in log)
  assert read_json(run / "final_model/config.json")["num_hidden_layers"] == 2
  # --init 1,3: the student starts from predecessor layers 1 and 3; the
  # distilled student trains copies, the predecessor's file is untouched.
  weights = load_file(str(run / "final_model/model.safetensors"))
  assert weights["bert.encoder.layer.1.output.dense.weight"].shape == (64, 256)


def test_keras_file_evaluate(run_cli, sst2_predecessor, glue_dir, tmp_path):
  from theseus_tf.utils.transformers import from_pretrained
  folder = tmp_path / "model"
  folder.mkdir()
  for name in ("tokenizer.json", "tokenizer_config.json"):
    (folder / name).write_bytes((sst2_predecessor / name).read_bytes())
  from_pretrained(sst2_predecessor).save(folder / "model.keras")
  from_keras = _evaluate(run_cli, folder / "model.keras", glue_dir)
  from_hf = _evaluate(run_cli, sst2_predecessor, glue_dir)
  assert from_keras["metrics"] == from_hf["metrics"]
  assert from_keras["num_parameters"] == from_hf["num_parameters"]


def test_mixed_precision_smoke(run_cli, sst2_predecessor, small_data,
                               tmp_path):
  run = tmp_path / "run"
  result = run_cli(
      "compress", "--model", sst2_predecessor, "--output-dir", run,
      "--mixed-precision", "--num-layers", "2", "--max-steps", "2",
      *small_data)
  assert result.returncode == 0, result.stderr
  metrics = _check_run_folder(run, {"loss", "replacement_rate"})
  assert all(np.isfinite(r["loss"])
             for r in read_json(run / "trainer_state.json")["log_history"])
  weights = load_file(str(run / "final_model/model.safetensors"))
  assert all(w.dtype == np.float32 for w in weights.values())
  assert 0 <= metrics["final"]["metrics"]["accuracy"] <= 1


def test_mirrored_strategy_on_two_replicas(run_cli, sst2_predecessor,
                                           small_data, tmp_path):
  if len(tf.config.list_logical_devices("CPU")) < 2:
    pytest.skip("needs the 2 logical CPUs of tests/conftest.py")
  run = tmp_path / "run"
  result = run_cli(
      "compress", "--model", sst2_predecessor, "--output-dir", run,
      "--strategy", "mirrored", "--num-layers", "2", "--schedule", "linear",
      "--base-rate", "0.5", "--replacing-steps", "2", "--max-steps", "3",
      *small_data)
  assert result.returncode == 0, result.stderr
  _check_run_folder(run, {"loss", "replacement_rate"})
  # One replacement step per training step, however many replicas.
  rates = [r["replacement_rate"]
           for r in read_json(run / "trainer_state.json")["log_history"]]
  assert rates == [0.5, 0.75, 1.0]
