"""Rebuild the bundled sample: one validation pair per breed (reference split), copied as is.

python scripts/make_sample.py --data-dir ../shared/data/oxford-iiit-pet
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

from core.data.dataset import find_pairs, reference_split
from core.data.sample import SAMPLE_DIR


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data-dir", type=Path, required=True)
    args = parser.parse_args()
    _, val = reference_split(find_pairs(args.data_dir)[0])
    chosen: dict[str, object] = {}
    for pair in sorted(val, key=lambda p: p.stem):
        chosen.setdefault(pair.breed, pair)
    for folder in ("images", "annotations/trimaps"):
        shutil.rmtree(SAMPLE_DIR / folder, ignore_errors=True)
        (SAMPLE_DIR / folder).mkdir(parents=True)
    for pair in chosen.values():
        shutil.copy(pair.image, SAMPLE_DIR / "images" / pair.image.name)
        shutil.copy(pair.trimap, SAMPLE_DIR / "annotations" / "trimaps" / pair.trimap.name)
    print(f"{len(chosen)} pairs in {SAMPLE_DIR}")


if __name__ == "__main__":
    main()
