#!/usr/bin/env bash
# Turn a finished training run into the shipped model files (models/petseg.*), then measure.
# The best checkpoint is saved with its batch norms folded into the convolutions (core.fold).
#   bash scripts/ship_model.sh runs/petseg ../shared/data/oxford-iiit-pet
set -euo pipefail
run=${1:?run folder}; data=${2:?dataset folder}
py=.venv/bin/python
$py - "$run" <<'PY'
import sys
from pathlib import Path
from core.model_io import load_model, save_for_shipping
from core.history import lineage_history, write_history
run = Path(sys.argv[1])
save_for_shipping(load_model(run / "model.keras"), Path("models/petseg.keras"))
write_history(Path("models/petseg.history.csv"), lineage_history(run))  # a fine-tuned run includes its parent's epochs
PY
cp "$run/run.json" models/petseg.run.json  # configuration, data summary, machine, wall time
$py -m core evaluate --data-dir "$data" --model models/petseg.keras --json models/petseg.metrics.json --worst 12
ls -l models/
