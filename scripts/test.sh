#!/usr/bin/env bash
# Runs the whole test suite twice: under Keras 3 (TensorFlow's default) and
# under tf-keras (TF_USE_LEGACY_KERAS=1). Extra arguments go to both pytest
# runs (without paths, pytest.ini's testpaths: all of tests/), e.g.
#   bash scripts/test.sh -m "not slow"     # skip the real-weight, real-data tests
#   bash scripts/test.sh tests/export      # one folder
# The two runs go side by side: much of a test's time is single-threaded
# tracing and Python, so two processes keep two cores busier than one. The
# Keras 3 run prints as it goes; the tf-keras run's output follows it.
# THESEUS_TEST_SEQUENTIAL=1 runs them one after the other instead.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup_env.sh
PY=${THESEUS_VENV:-.venv}/bin/python
export TF_CPP_MIN_LOG_LEVEL=${TF_CPP_MIN_LOG_LEVEL:-2}

keras3() { TF_USE_LEGACY_KERAS=0 "$PY" -m pytest "$@"; }
# No pytest cache for this run: two runs would write the same cache files.
tf_keras() { TF_USE_LEGACY_KERAS=1 "$PY" -m pytest -p no:cacheprovider "$@"; }

status=0
if [[ "${THESEUS_TEST_SEQUENTIAL:-0}" == 1 ]]; then
  echo "=== Keras 3 ==="
  keras3 "$@" || status=1
  echo "=== tf-keras (TF_USE_LEGACY_KERAS=1) ==="
  tf_keras "$@" || status=1
  exit $status
fi

log=$(mktemp "${TMPDIR:-/tmp}/theseus-tf-keras-tests.XXXXXX")
tf_keras "$@" >"$log" 2>&1 &
tf_keras_pid=$!
trap 'kill "$tf_keras_pid" 2>/dev/null || true; rm -f "$log"' EXIT
echo "=== Keras 3 (tf-keras runs beside it; its output follows) ==="
keras3 "$@" || status=1
echo "=== tf-keras (TF_USE_LEGACY_KERAS=1) ==="
wait "$tf_keras_pid" || status=1
cat "$log"
exit $status
