"""The PyTorch reference of the training-step benchmark."""

import pytest

from trainers.benchmarking import formats, models, torch_reference, training


@pytest.mark.slow  # A new Python process that imports torch: ~15 s.
def test_torch_reference_times_the_configurations_the_tf_benchmark_times(
    tiny_dirs):
  pytest.importorskip("torch")
  spec = models.PredecessorSpec(str(tiny_dirs["predecessor"]), None, 2)
  rows = torch_reference.measure_torch_training(
      spec, depth=1, rates=[0.0, 1.0], batch_size=2, seq_length=8, steps=1,
      warmup=1)
  expected = [c["name"] for c in training.configurations([0.0, 1.0], depth=1)]
  assert [row["name"] for row in rows] == expected
  assert all(row["step_ms"] > 0 for row in rows)
  finetune, plain, theseus_p0, theseus_p1 = rows
  assert plain["trainable_parameters"] < finetune["trainable_parameters"]
  # Theseus trains one successor layer: what one plain layer has, minus the
  # embeddings, pooler and head.
  assert theseus_p0["trainable_parameters"] == theseus_p1["trainable_parameters"]
  assert theseus_p1["trainable_parameters"] < plain["trainable_parameters"]


def test_without_torch_there_is_nothing_to_time(monkeypatch):
  monkeypatch.setattr(formats.importlib.util, "find_spec", lambda name: None)
  assert torch_reference.measure_torch_training(
      None, 1, [0.5], 2, 8, 1, 1) is None
