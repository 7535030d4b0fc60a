#!/usr/bin/env bash
# Architecture search for the quality tier (issue 13): 4 epochs on 1600 training pairs, full 1000 validation.
cd "$(dirname "$0")/.."
D=../shared/data/oxford-iiit-pet
mkdir -p runs/search
for spec in "lean|" "w8m512|base_filters=8,max_filters=512" "w16m256|base_filters=16,max_filters=256" "w12m384|base_filters=12,max_filters=384"; do
  name=${spec%%|*}; arch=${spec#*|}
  .venv/bin/python -m core train --data-dir $D --out runs/search/$name --preset lean --arch "$arch" --epochs 4 --limit 1600 >> runs/search/$name.log 2>&1
done
