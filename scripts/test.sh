#!/usr/bin/env bash
# Runs the whole test suite twice: under Keras 3 (TensorFlow's default) and
# under tf-keras (TF_USE_LEGACY_KERAS=1). Extra arguments go to both pytest
# runs (without paths, pytest.ini's testpaths: all of tests/), e.g.
#   bash scripts/test.sh -m "not slow"     # skip the real-weight, real-data tests
#   bash scripts/test.sh tests/export      # one folder
# Each run spreads its test files over THESEUS_TEST_WORKERS pytest-xdist
# processes (default 2; 0 runs in this process): much of a test's time is
# single-threaded tracing and Python, so two processes keep two cores busy.
# A file's tests stay in one process, so module fixtures are built once.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup_env.sh
PY=${THESEUS_VENV:-.venv}/bin/python
export TF_CPP_MIN_LOG_LEVEL=${TF_CPP_MIN_LOG_LEVEL:-2}
workers=(-n "${THESEUS_TEST_WORKERS:-2}" --dist loadfile)

status=0
echo "=== Keras 3 ==="
TF_USE_LEGACY_KERAS=0 "$PY" -m pytest "${workers[@]}" "$@" || status=1
echo "=== tf-keras (TF_USE_LEGACY_KERAS=1) ==="
TF_USE_LEGACY_KERAS=1 "$PY" -m pytest "${workers[@]}" "$@" || status=1
exit $status
