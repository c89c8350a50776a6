"""The one way `theseus-tf` times calls: untimed warm-up calls first
(tracing, allocation), then the wall time of each timed call."""

import random
import time


def time_calls(call, runs, warmup=0):
  """Seconds of each of `runs` calls of `call()`, after `warmup` untimed ones.

  `call` must wait for its result (e.g. end with `.numpy()`).
  """
  return time_interleaved({None: call}, runs, warmup)[None]


def time_interleaved(calls, runs, warmup, seed=0):
  """Seconds per call of each function, timed in shuffled rounds.

  Args:
    calls: `{key: no-argument function}`.
    runs: Rounds; each calls every function once, in a new random order.
    warmup: Untimed calls of each function first (tracing, allocation).
    seed: Seed of the orders.

  Returns:
    `{key: [seconds of round 0, round 1, ...]}`.
  """
  for call in calls.values():
    for _ in range(warmup):
      call()
  times = {key: [] for key in calls}
  order = list(calls)
  rng = random.Random(seed)
  for _ in range(runs):
    rng.shuffle(order)  # No variant always runs right after another.
    for key in order:
      start = time.perf_counter()
      calls[key]()
      times[key].append(time.perf_counter() - start)
  return times
