"""How long a touch-up correction takes to show on a 12-megapixel photo, against the prediction.

    python -m bench.touchup [--model models/petseg.keras] [--repeats 5]

The photo is a bundled cat photo (`samples/pets`) scaled to 4000x3000 with sensor-like noise, as
in `bench.cutout`. It is segmented once (the model's prediction, timed); then the cut-out's matte is made
with and without two marks (a pet lasso and a background box, as a user draws them), for `fast`
and `matting`. The model's calls are counted: a correction must not redo the prediction, only
the matte (the dashboard caches the `Segmentation`, so this is what a new mark costs there).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from bench.cutout import twelve_megapixel  # noqa: E402
from bench.measure import median_seconds  # noqa: E402
from core.config import DEFAULT_MODEL_PATH  # noqa: E402
from core.inference.marks import Mark  # noqa: E402
from core.inference.predict import Segmenter  # noqa: E402

PHOTO = Path(__file__).resolve().parent.parent / "samples" / "pets" / "images" / "Ragdoll_100.jpg"
# In the 4000x3000 photo's pixels: a lasso across the cat's outline, a box in a corner.
MARKS = [
    Mark("pet", ((700.0, 1300.0), (1100.0, 1100.0), (1200.0, 1700.0), (800.0, 1900.0))),
    Mark("background", ((0.0, 0.0), (900.0, 0.0), (900.0, 600.0), (0.0, 600.0))),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL_PATH)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    segmenter = Segmenter(args.model)
    model_calls = 0
    predict = segmenter.predict_arrays

    def counted(*call_args, **kwargs):
        nonlocal model_calls
        model_calls += 1
        return predict(*call_args, **kwargs)

    segmenter.predict_arrays = counted
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "cat_12mp.jpg"
        twelve_megapixel(PHOTO).save(path, quality=90)
        print(f"# {time.strftime('%Y-%m-%d %H:%M')}, model {args.model}, photo 4000x3000 JPEG, {len(MARKS)} marks")
        prediction = median_seconds(lambda: segmenter.segment(path).trimap, args.repeats)
        result = segmenter.segment(path)
        assert result.found_pet, f"{args.model} finds no pet in {PHOTO.name}: nothing to correct"
        calls_before = model_calls
        rows = [("photo -> mask (the prediction)", prediction)]
        for refine in ("fast", "matting"):
            plain = median_seconds(lambda refine=refine: result.matte(refine), args.repeats)
            marked = median_seconds(lambda refine=refine: result.matte(refine, MARKS), args.repeats)
            rows += [(f"`{refine}` matte, no marks", plain), (f"`{refine}` matte with the marks", marked)]
    print("| step | median ms | x the prediction |\n|---|---:|---:|")
    for name, seconds in rows:
        print(f"| {name} | {seconds * 1000:.0f} | {seconds / prediction:.2f} |")
    print(f"\nmodel calls during the corrections: {model_calls - calls_before} (the prediction is not redone)")


if __name__ == "__main__":
    main()
