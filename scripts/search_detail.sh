#!/usr/bin/env bash
# Issue 28's short runs: which recipe sees more detail. The protocol of bench/RESULTS.md's earlier
# searches (4 epochs on the first 1,600 training pairs, the 1000 validation pairs) and issue 21's
# recipe (encoder frozen for epoch 1, then at 0.1x the rate); only the input size and the encoder
# change. Resumable: rerun it after a stop and finished runs are skipped, a killed one resumes.
# Each model is then scored at 128 px and at the photos' own size (bench/RESULTS.md, issue 28).
cd "$(dirname "$0")/.."
D=${DATA_DIR:-../shared/data/oxford-iiit-pet}
mkdir -p runs/search
for spec in "lite0-192|effnet-lite0|192" "lite2-128|effnet-lite2|128" "lite0-128|effnet-lite0|128" \
            "lite0-160|effnet-lite0|160" "lite2-192|effnet-lite2|192" "lite0-224|effnet-lite0|224"; do
  IFS='|' read -r name preset size <<< "$spec"
  grep -q '"status": "finished"' "runs/search/$name/run.json" 2>/dev/null && continue
  .venv/bin/python -m core train --data-dir "$D" --out "runs/search/$name" --preset "$preset" \
    --arch "input_size=$size" --freeze-encoder-epochs 1 --encoder-lr-scale 0.1 \
    --epochs 4 --limit 1600 >> "runs/search/$name.log" 2>&1
done
# Scoring: the 1000 validation pairs at 128 px (whatever the model's input), then the 96 native-aspect
# validation photos at their own size (cut-out IoU, see-through, thin-part recall), all models in one table.
models=()
for name in lite0-128 lite0-160 lite0-192 lite0-224 lite2-128 lite2-192; do
  [ -f "runs/search/$name.eval.json" ] || .venv/bin/python -m core evaluate --data-dir "$D" \
    --model "runs/search/$name/model.keras" --json "runs/search/$name.eval.json" > "runs/search/$name.eval.txt"
  models+=("runs/search/$name/model.keras")
done
[ -f runs/search/cutout.txt ] || .venv/bin/python -m bench.cutout --data-dir "$D" --repeats 0 \
  --model "${models[@]}" > runs/search/cutout.txt
