"""Which stray pet regions "Keep the pet regions only" (`--cleanup`) should drop: measured on the
1000 validation images with a shipped model.

Every connected pet region (pet + border) of each predicted mask at 128 px but the largest is a
candidate for removal; it is a *real* pet region when most of its pixels are pet or border in the
ground truth. For each rule the table gives how many real and false regions it drops and the
binary pet IoU pooled over the split (no clean-up, the old largest-region-only rule, and rules
that keep a region when it is big enough relative to the largest one, or confident enough).

    python -m bench.cleanup [--model models/petseg.keras] [--data-dir ../shared/data/oxford-iiit-pet]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from scipy import ndimage

from core.config import DEFAULT_MODEL_PATH
from core.data.dataset import load_split
from core.data.labels import Class
from core.inference.predict import Segmenter

SHARE_RULES = (0.0, 0.05, 0.1, 0.2, 0.3, 0.5, 1.0)
CONFIDENCE_RULES = (0.9, 0.95, 0.98)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL_PATH)
    parser.add_argument("--data-dir", type=Path, default=Path("../shared/data/oxford-iiit-pet"))
    args = parser.parse_args()
    segmenter = Segmenter(args.model)
    val = load_split(args.data_dir, segmenter.input_size, need_train=False).val
    probabilities = np.concatenate([segmenter.predict_arrays(val.images[i : i + 64]) for i in range(0, len(val), 64)])
    truth_pet = val.masks != Class.BACKGROUND
    regions = []  # (image, share of the largest, max p(pet), real)
    predicted = probabilities.argmax(-1) != Class.BACKGROUND
    labelled = [ndimage.label(mask) for mask in predicted]
    for index, (labels, count) in enumerate(labelled):
        if count <= 1:
            continue
        sizes = np.bincount(labels.ravel())[1:]
        largest = int(np.argmax(sizes)) + 1
        for region in range(1, count + 1):
            if region == largest:
                continue
            inside = labels == region
            real = truth_pet[index][inside].mean() > 0.5
            confidence = probabilities[index][..., Class.PET][inside].max()
            regions.append((index, region, sizes[region - 1] / sizes[largest - 1], confidence, real))
    print(f"{len(val)} images, {sum(count > 1 for _, count in labelled)} with more than one pet region, "
          f"{len(regions)} regions besides the largest: {sum(r[4] for r in regions)} real, "
          f"{sum(not r[4] for r in regions)} false\n")  # fmt: skip
    print("| rule: keep a region when | real dropped | false dropped | pet IoU |")
    print("|---|---:|---:|---:|")

    def score(drop) -> tuple[int, int, float]:
        kept = predicted.copy()
        real = false = 0
        for index, region, share, confidence, is_real in regions:
            if drop(share, confidence):
                kept[index][labelled[index][0] == region] = False
                real, false = real + is_real, false + (not is_real)
        iou = (kept & truth_pet).sum() / (kept | truth_pet).sum()
        return real, false, iou

    rules = [("always (no clean-up)", lambda s, c: False), ("largest only (old rule)", lambda s, c: True)]
    rules += [(f"area >= {share:.0%} of the largest", lambda s, c, t=share: s < t) for share in SHARE_RULES[1:-1]]
    rules += [(f"max p(pet) >= {t}", lambda s, c, t=t: c < t) for t in CONFIDENCE_RULES]
    rules += [
        (f"area >= {share:.0%} or max p(pet) >= 0.95", lambda s, c, t=share: s < t and c < 0.95) for share in (0.1, 0.2)
    ]
    for name, drop in rules:
        real, false, iou = score(drop)
        print(f"| {name} | {real} | {false} | {iou:.4f} |")


if __name__ == "__main__":
    main()
