"""finetune / compress / evaluate / export / predict on the user's own files.

Real text throughout: GLUE splits written at test time as CSV or JSON Lines
with other column names and string labels, and SST-2 sentences with derived
regression and multi-label targets (tests/data/glue_files.py says how).
"""

import json

import numpy as np
import pytest

from tests.data.glue_files import (LABEL_COLUMN, STRING_LABELS, TEXT_COLUMNS,
                                   derived_rows, glue_rows, write_rows)
from tests.trainers.cli_helpers import read_json

@pytest.fixture(autouse=True)
def _token_cache(tmp_path, monkeypatch):
  """Token cache entries go to the test's folder, not ~/.cache."""
  monkeypatch.setenv("THESEUS_TF_TOKEN_CACHE", str(tmp_path / "token-cache"))


_RUN = ["--max-seq-length", "32", "--batch-size", "8", "--max-steps", "3",
        "--logging-steps", "1", "--no-progress-bar", "--seed", "7"]


def _glue_files(glue_dir, tmp_path, task, suffix, train=48, dev=24):
  paths = []
  for split, count in (("train", train), ("dev", dev)):
    # The same subsets as --max-train-examples/--max-eval-examples with
    # seeds 7 and 0 (the GLUE path's), so both runs see the same examples.
    rows, _ = glue_rows(glue_dir, task, split, count,
                        seed=7 if split == "train" else 0)
    paths.append(write_rows(tmp_path / f"{task}-{split}{suffix}", rows))
  return paths


@pytest.mark.parametrize("task,suffix", [("sst2", ".csv"), ("mrpc", ".jsonl"),
                                         ("cola", ".tsv")])
def test_files_give_the_glue_metrics(run_cli, tiny_model_dir, glue_dir,
                                     tmp_path, task, suffix):
  """Same seed, same examples: the same dev metrics at every evaluation."""
  train, dev = _glue_files(glue_dir, tmp_path, task, suffix)
  common = ["finetune", "--model", tiny_model_dir, "--reinit-head", *_RUN,
            "--eval-steps", "1"]
  glue = run_cli(*common, "--task", task, "--data-dir", glue_dir,
                 "--max-train-examples", 48, "--max-eval-examples", 24,
                 "--output-dir", tmp_path / "glue")
  assert glue.returncode == 0, glue.stderr
  labels = ["--labels", ",".join(STRING_LABELS[task])] if task == "cola" else []
  files = run_cli(*common, "--train-file", train, "--validation-file", dev,
                  "--text-columns", ",".join(TEXT_COLUMNS[task]),
                  "--label-column", LABEL_COLUMN, *labels,
                  "--output-dir", tmp_path / "files")
  assert files.returncode == 0, files.stderr
  glue_history = read_json(tmp_path / "glue" / "metrics.json")["eval_history"]
  file_history = read_json(tmp_path / "files" / "metrics.json")["eval_history"]
  assert len(glue_history) == len(file_history) == 3
  for ours, theirs in zip(file_history, glue_history):
    for name, value in theirs.items():
      if name != "score":
        assert ours[name] == pytest.approx(value, abs=1e-6), name
  config = read_json(tmp_path / "files" / "best_model" / "config.json")
  assert config["id2label"] == {str(i): name for i, name in
                                enumerate(STRING_LABELS[task])}
  assert config["label2id"] == {name: i for i, name in
                                enumerate(STRING_LABELS[task])}
  assert config["problem_type"] == "single_label_classification"


@pytest.fixture
def multi_label_files(glue_dir, tmp_path):
  train = write_rows(tmp_path / "ml-train.jsonl",
                     derived_rows(glue_dir, "train", "multi", 48))
  dev = write_rows(tmp_path / "ml-dev.csv",
                   derived_rows(glue_dir, "dev", "multi", 24,
                                multi_label_as=str))
  return train, dev


def test_multi_label_end_to_end(run_cli, tiny_model_dir, multi_label_files,
                                tmp_path):
  """finetune, compress (theseus and distill), evaluate, export, predict."""
  train, dev = multi_label_files
  data = ["--train-file", train, "--validation-file", dev]
  result = run_cli("finetune", "--model", tiny_model_dir, "--reinit-head",
                   *data, "--problem-type", "multi_label_classification",
                   *_RUN, "--output-dir", tmp_path / "ft")
  assert result.returncode == 0, result.stderr
  folder = tmp_path / "ft" / "best_model"
  config = read_json(folder / "config.json")
  assert config["problem_type"] == "multi_label_classification"
  assert config["id2label"] == {"0": "long", "1": "negative", "2": "positive"}
  metrics = read_json(tmp_path / "ft" / "metrics.json")["best"]["metrics"]
  assert set(metrics) == {"f1_micro", "f1_macro", "accuracy", "score"}

  # The problem type and labels come from the predecessor's config.json.
  for method in ("theseus", "distill"):
    result = run_cli("compress", "--model", folder, *data, "--method", method,
                     "--num-layers", "2", *_RUN,
                     "--output-dir", tmp_path / method)
    assert result.returncode == 0, result.stderr
    assert read_json(tmp_path / method / "best_model" / "config.json")[
        "id2label"] == config["id2label"]
  successor = tmp_path / "theseus" / "final_model"

  result = run_cli("evaluate", "--model", successor, "--validation-file", dev,
                   "--output-file", tmp_path / "eval.json")
  assert result.returncode == 0, result.stderr
  evaluation = read_json(tmp_path / "eval.json")
  assert evaluation["problem_type"] == "multi_label_classification"
  assert evaluation["metrics"]["score"] == evaluation["metrics"]["f1_micro"]

  result = run_cli("predict", "--model", successor, "--input-file", dev,
                   "--output-file", tmp_path / "pred.jsonl",
                   "--no-progress-bar")
  assert result.returncode == 0, result.stderr
  rows = [json.loads(line) for line in
          (tmp_path / "pred.jsonl").read_text("utf-8").splitlines()]
  assert len(rows) == 24
  assert set(rows[0]["predicted_probabilities"]) == {"long", "negative",
                                                     "positive"}
  for row in rows:
    assert row["predicted_labels"] == [
        name for name, p in row["predicted_probabilities"].items() if p > 0.5]

  # SavedModel: sigmoid outputs, and predict reads it the same way.
  pytest.importorskip("tensorflow_text")
  result = run_cli("export", "--model", successor, "--format", "saved_model",
                   "--output-dir", tmp_path / "serving", "--model-name", "ml",
                   "--allow-untrained")
  assert result.returncode == 0, result.stderr
  version = tmp_path / "serving" / "ml" / "1"
  result = run_cli("predict", "--model", version, "--input-file", dev,
                   "--output-file", tmp_path / "pred-sm.jsonl",
                   "--no-progress-bar")
  assert result.returncode == 0, result.stderr
  served = [json.loads(line) for line in
            (tmp_path / "pred-sm.jsonl").read_text("utf-8").splitlines()]
  for mine, theirs in zip(rows, served):
    assert mine["predicted_labels"] == theirs["predicted_labels"]
    for name, p in mine["predicted_probabilities"].items():
      assert theirs["predicted_probabilities"][name] == pytest.approx(
          p, abs=1e-4)


def test_regression_end_to_end(run_cli, tiny_model_dir, glue_dir, tmp_path):
  """Target: the sentence's word count / 10 (tests/data/glue_files.py)."""
  train = write_rows(tmp_path / "train.jsonl",
                     derived_rows(glue_dir, "train", "regression", 48))
  dev = write_rows(tmp_path / "dev.tsv",
                   derived_rows(glue_dir, "dev", "regression", 24))
  data = ["--train-file", train, "--validation-file", dev]
  result = run_cli("finetune", "--model", tiny_model_dir, "--reinit-head",
                   *data, "--problem-type", "regression", *_RUN,
                   "--output-dir", tmp_path / "ft")
  assert result.returncode == 0, result.stderr
  folder = tmp_path / "ft" / "best_model"
  assert read_json(folder / "config.json")["problem_type"] == "regression"
  for method in ("theseus", "finetune", "distill"):
    result = run_cli("compress", "--model", folder, *data, "--method",
                     method, "--num-layers", "2", *_RUN,
                     "--output-dir", tmp_path / method)
    assert result.returncode == 0, result.stderr
    metrics = read_json(tmp_path / method / "metrics.json")["best"]["metrics"]
    assert set(metrics) == {"pearson", "spearmanr", "score"}
  (tmp_path / "distill").rename(tmp_path / "kd")
  result = run_cli("predict", "--model", tmp_path / "kd" / "final_model",
                   "--input-file", dev, "--output-file", tmp_path / "p.csv",
                   "--no-progress-bar")
  assert result.returncode == 0, result.stderr
  lines = (tmp_path / "p.csv").read_text("utf-8").splitlines()
  assert lines[0] == "text,label,predicted_value"
  assert len(lines) == 25
  assert np.isfinite(float(lines[1].rsplit(",", 1)[1]))


def test_single_label_every_method(run_cli, tiny_model_dir, glue_dir,
                                   tmp_path):
  """String labels from a CSV: every compress method keeps the names."""
  train, dev = _glue_files(glue_dir, tmp_path, "sst2", ".csv")
  data = ["--train-file", train, "--validation-file", dev, "--text-columns",
          "review", "--label-column", LABEL_COLUMN]
  result = run_cli("finetune", "--model", tiny_model_dir, "--reinit-head",
                   *data, *_RUN, "--metric-for-best", "f1_macro",
                   "--output-dir", tmp_path / "ft")
  assert result.returncode == 0, result.stderr
  best = read_json(tmp_path / "ft" / "metrics.json")["best"]
  assert best["score"] == best["metrics"]["f1_macro"]
  for method in ("theseus", "finetune", "distill"):
    result = run_cli("compress", "--model", tmp_path / "ft" / "best_model",
                     *data, "--method", method, "--num-layers", "2", *_RUN,
                     "--output-dir", tmp_path / method)
    assert result.returncode == 0, result.stderr
    config = read_json(tmp_path / method / "final_model" / "config.json")
    assert config["id2label"] == {"0": "negative", "1": "positive"}
