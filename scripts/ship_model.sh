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
# The int8 model of the file this replaces is stale (the runtime would fall back to f32 and warn): make it
# again, and keep it only if `python -m bench.runtime --quality` shows it keeps the masks (issue 29's rule).
rm -rf "models/$name.int8"
$py -m core quantize --model "models/$name.keras" --data-dir "$data"
# The card's metrics: float32 (the Keras reference path); bench.runtime scores the int8 model beside them.
$py -m core evaluate --data-dir "$data" --model "models/$name.keras" --json "models/$name.metrics.json" --worst 12 \
  --runtime keras
ls -l models/
