#!/usr/bin/env bash
# The demo, offline: fine-tune all-MiniLM-L6-v2 on (a subset of) SST-2, compress
# it 6 -> 3 layers with BERT-of-Theseus, and compare the two models.
#   bash scripts/demo.sh                                  # ~15 min on 2 CPU cores
#   bash scripts/demo.sh --data-dir /path/to/glue         # another GLUE folder
#   bash scripts/demo.sh --max-train-examples 67349 --max-seq-length 128 \
#       --finetune-epochs 3 --compress-epochs 3           # full settings
# Extra arguments go to `theseus-tf demo` (see `theseus-tf demo --help`).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup_env.sh
export TF_CPP_MIN_LOG_LEVEL=${TF_CPP_MIN_LOG_LEVEL:-2}
# `python -m trainers.cli` is the `theseus-tf` console script, run from the
# repository so that it works whichever way the package was installed.
exec "${THESEUS_VENV:-.venv}/bin/python" -m trainers.cli demo "$@"
