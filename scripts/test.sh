#!/usr/bin/env bash
# Runs the whole test suite twice: under Keras 3 (TensorFlow's default) and
# under tf-keras (TF_USE_LEGACY_KERAS=1). Extra arguments go to pytest, e.g.
#   bash scripts/test.sh -m "not slow"     # skip the real-weight, real-data tests
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup_env.sh
PY=${THESEUS_VENV:-.venv}/bin/python
export TF_CPP_MIN_LOG_LEVEL=${TF_CPP_MIN_LOG_LEVEL:-2}

status=0
echo "=== Keras 3 ==="
TF_USE_LEGACY_KERAS=0 "$PY" -m pytest tests "$@" || status=1
echo "=== tf-keras (TF_USE_LEGACY_KERAS=1) ==="
TF_USE_LEGACY_KERAS=1 "$PY" -m pytest tests "$@" || status=1
exit $status
