#!/usr/bin/env bash
# Fine-tuning recipe for the pretrained encoder (issue 21): 4 epochs on the first 1600 training
# pairs, scored on the full 1000 validation pairs, as the large model's search (bench/RESULTS.md).
cd "$(dirname "$0")/.."
D=${DATA_DIR:-../shared/data/oxford-iiit-pet}
mkdir -p runs/search
for spec in "joint|--encoder-lr-scale 1.0" "freeze1-s0.1|--freeze-encoder-epochs 1 --encoder-lr-scale 0.1"; do
  name=effnet-${spec%%|*}; options=${spec#*|}
  # shellcheck disable=SC2086  # options is a list of flags
  .venv/bin/python -m core train --data-dir "$D" --out runs/search/$name --preset effnet-lite0 $options \
    --epochs 4 --limit 1600 >> runs/search/$name.log 2>&1
done
