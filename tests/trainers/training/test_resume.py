"""A run killed with SIGKILL resumes at the same step, learning rate and
replacement rate, and keeps what it had written; under Keras 3 it computes
exactly what an uninterrupted run does."""

import os
import signal
import subprocess
import time

import numpy as np
import pytest
import tensorflow as tf

from theseus_tf import schedules
from theseus_tf.backend import IS_KERAS_3
from tests.trainers.cli_helpers import (REPO_ROOT, cli_command, cli_env,
                                        read_json, run_subprocess)
from trainers.training.optimization import WarmupLinearDecay

pytestmark = pytest.mark.slow

TOTAL_STEPS = 40
KILL_AFTER_CHECKPOINT = 6


def _latest_step(run):
  latest = tf.train.latest_checkpoint(str(run / "checkpoints"))
  return int(latest.rsplit("-", 1)[1]) if latest else 0


def test_sigkill_mid_training_then_resume(sst2_predecessor, glue_dir,
                                          tmp_path):
  run = tmp_path / "run"
  argv = ["compress", "--model", sst2_predecessor, "--output-dir", run,
          "--num-layers", "2", "--schedule", "linear", "--base-rate", "0.2",
          "--replacing-steps", "16", "--max-steps", str(TOTAL_STEPS),
          "--warmup-steps", "4", "--learning-rate", "1e-3", "--save-steps",
          "3", "--eval-steps", "5", "--logging-steps", "1", "--task", "sst2",
          "--data-dir", glue_dir, "--max-train-examples", "64",
          "--max-eval-examples", "16", "--max-seq-length", "32",
          "--batch-size", "8", "--no-progress-bar"]
  with open(tmp_path / "killed.log", "w") as log:
    process = subprocess.Popen(cli_command(*argv), cwd=REPO_ROOT,
                               env=cli_env(), stdout=log,
                               stderr=subprocess.STDOUT)
    deadline = time.time() + 240
    while _latest_step(run) < KILL_AFTER_CHECKPOINT:
      assert process.poll() is None, (tmp_path / "killed.log").read_text()
      assert time.time() < deadline, "no checkpoint in time"
      time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    process.wait()
  assert process.returncode == -signal.SIGKILL
  killed_at = _latest_step(run)
  assert KILL_AFTER_CHECKPOINT <= killed_at < TOTAL_STEPS
  before = read_json(run / "trainer_state.json")
  best_before = read_json(run / "best_model" / "eval_results.json")
  assert not read_json(run / "metrics.json")["completed"]

  result = run_subprocess(*argv)  # The same command.
  assert result.returncode == 0, result.stderr
  assert f"at step {killed_at} of {TOTAL_STEPS}" in result.stderr

  state = read_json(run / "trainer_state.json")
  log = state["log_history"]
  assert [r["step"] for r in log] == list(range(1, TOTAL_STEPS + 1))
  # Values are read back from the optimizer's and the modules' own step
  # counters: equal to an uninterrupted run's schedules only if those were
  # restored.
  learning_rate = WarmupLinearDecay(1e-3, 4, TOTAL_STEPS)
  replacement = schedules.LinearReplacement(0.2, 0.05)
  for record in log:
    step = record["step"] - 1
    np.testing.assert_allclose(record["learning_rate"],
                               float(learning_rate(step)), rtol=1e-6)
    assert record["replacement_rate"] == float(replacement(step))
  # Nothing written before the kill is lost.
  kept = [r for r in before["log_history"] if r["step"] <= killed_at]
  assert log[:len(kept)] == kept
  assert [e["step"] for e in state["eval_history"]] == list(
      range(5, TOTAL_STEPS + 1, 5))
  metrics = read_json(run / "metrics.json")
  assert metrics["completed"] and metrics["global_step"] == TOTAL_STEPS
  assert metrics["best"]["score"] >= best_before["score"]
  assert not [p for p in run.rglob(".*")], "temporary files left behind"
  assert os.path.isdir(run / "final_model")

  # The same run, uninterrupted. Steps before the checkpoint match in both
  # Keras modes; after it only Keras 3 restores the dropout layers' random
  # streams (tf-keras draws them from stateful ops), so only there do the
  # resumed steps match too.
  reference = run_subprocess(*argv[:4], tmp_path / "reference", *argv[5:])
  assert reference.returncode == 0, reference.stderr
  reference_log = read_json(tmp_path / "reference" /
                            "trainer_state.json")["log_history"]
  matching = len(log) if IS_KERAS_3 else killed_at
  np.testing.assert_allclose([r["loss"] for r in log[:matching]],
                             [r["loss"] for r in reference_log[:matching]],
                             rtol=1e-5)
