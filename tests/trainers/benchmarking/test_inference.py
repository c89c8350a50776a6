"""Inference timing of the benchmark."""

from trainers.benchmarking import inference


def test_paired_speedup():
  assert inference.paired_speedup([2.0, 4.0, 6.0], [1.0, 1.0, 3.0]) == 2.0
