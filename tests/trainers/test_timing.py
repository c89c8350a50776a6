"""The timing helper: warm-up calls, then one time per timed call."""

from trainers.timing import time_calls, time_interleaved


def _counter(calls, key):
  def call():
    calls[key] += 1
  return call


def test_interleaved_timing():
  calls = {"a": 0, "b": 0}
  times = time_interleaved(
      {"a": _counter(calls, "a"), "b": _counter(calls, "b")}, runs=5,
      warmup=2)
  assert calls == {"a": 7, "b": 7}
  assert all(len(t) == 5 for t in times.values())
  assert all(t >= 0 for ts in times.values() for t in ts)


def test_time_calls():
  calls = {"a": 0}
  times = time_calls(_counter(calls, "a"), runs=3, warmup=1)
  assert calls == {"a": 4} and len(times) == 3
