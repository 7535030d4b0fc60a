#!/usr/bin/env bash
# Turn a finished training run into shipped model files (models/NAME.*), then measure them.
# The kept checkpoint is saved with its batch norms folded into the convolutions (core.model.fold).
#   bash scripts/ship_model.sh runs/effnet ../shared/data/oxford-iiit-pet             # models/petseg.*, the default
#   bash scripts/ship_model.sh runs/lean60 ../shared/data/oxford-iiit-pet petseg-lean # the fast tier beside it
set -euo pipefail
run=${1:?run folder}; data=${2:?dataset folder}; name=${3:-petseg}
py=.venv/bin/python
$py - "$run" "models/$name" <<'PY'
import sys
from pathlib import Path
from core.model.model_io import load_model, save_for_shipping
from core.training.history import lineage_history, write_history
run, stem = Path(sys.argv[1]), sys.argv[2]
save_for_shipping(load_model(run / "model.keras"), Path(f"{stem}.keras"))
write_history(Path(f"{stem}.history.csv"), lineage_history(run))  # a fine-tuned run includes its parent's epochs
PY
cp "$run/run.json" "models/$name.run.json"  # configuration, data summary, machine, wall time
$py -m core evaluate --data-dir "$data" --model "models/$name.keras" --json "models/$name.metrics.json" --worst 12
ls -l models/
