"""Training-step timing of the benchmark."""

import pytest

from trainers.benchmarking import models, training


@pytest.mark.slow  # A new Python process: about 10 s.
def test_training_subprocess_reports_its_peak_memory(tiny_dirs):
  spec = models.PredecessorSpec(str(tiny_dirs["predecessor"]), None, 2)
  row = training.run_subprocess(
      spec, training.configurations([0.5], depth=1)[2],
      {"depth": 1, "batch_size": 2, "seq_length": 16, "steps": 1,
       "warmup": 1})
  assert row["name"] == "theseus p=0.5" and row["step_ms"] > 0
  assert row["memory"] == training.MEMORY_RSS
  assert row["peak_memory_mib"] >= row["baseline_memory_mib"] > 50
