"""`compress` on two worker processes: MultiWorkerMirroredStrategy, loopback."""

import json
import subprocess

import numpy as np
import pytest
from safetensors.numpy import load_file

from tests.trainers.cli_helpers import (REPO_ROOT, cli_command, cli_env,
                                        read_json)

pytestmark = pytest.mark.slow


def test_two_workers_end_identical(sst2_predecessor, glue_dir, tmp_path):
  portpicker = pytest.importorskip("portpicker")
  workers = [f"localhost:{portpicker.pick_unused_port()}" for _ in range(2)]
  run = tmp_path / "run"
  argv = cli_command(
      "compress", "--model", sst2_predecessor, "--output-dir", run,
      "--strategy", "multi-worker", "--num-layers", "2", "--schedule",
      "linear", "--base-rate", "0.4", "--replacing-steps", "4", "--max-steps",
      "6", "--learning-rate", "1e-3", "--eval-steps", "3", "--logging-steps",
      "1", "--task", "sst2", "--data-dir", glue_dir, "--max-train-examples",
      "64", "--max-eval-examples", "16", "--max-seq-length", "32",
      "--batch-size", "8", "--no-progress-bar")
  processes, logs = [], []
  for index in range(2):
    tf_config = {"cluster": {"worker": workers},
                 "task": {"type": "worker", "index": index}}
    logs.append(tmp_path / f"worker-{index}.log")
    with open(logs[-1], "w") as log:
      processes.append(subprocess.Popen(
          argv, cwd=REPO_ROOT, env=cli_env(TF_CONFIG=json.dumps(tf_config)),
          stdout=log, stderr=subprocess.STDOUT))
  try:
    codes = [p.wait(timeout=420) for p in processes]
  finally:
    for process in processes:
      if process.poll() is None:
        process.kill()
  assert codes == [0, 0], "\n\n".join(log.read_text()[-3000:] for log in logs)

  chief, other = run, run / "worker-1"
  weights = [load_file(str(folder / "final_model" / "model.safetensors"))
             for folder in (chief, other)]
  assert weights[0].keys() == weights[1].keys()
  for name in weights[0]:
    np.testing.assert_array_equal(weights[0][name], weights[1][name], name)

  traces = [read_json(folder / "trainer_state.json")["log_history"]
            for folder in (chief, other)]
  rates = [[r["replacement_rate"] for r in trace] for trace in traces]
  assert rates[0] == rates[1]
  np.testing.assert_allclose(rates[0], [0.4, 0.55, 0.7, 0.85, 1.0, 1.0],
                             rtol=1e-6)
  assert [r["loss"] for r in traces[0]] == [r["loss"] for r in traces[1]]
  for folder in (chief, other):
    assert read_json(folder / "metrics.json")["global_step"] == 6
