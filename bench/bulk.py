"""Bulk prediction of 128-px photos: batched `segment_many` vs one `segment` call per photo.

python -m bench.bulk [--model models/petseg.keras] [--count 256]
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

from core.config import DEFAULT_MODEL_PATH  # noqa: E402
from core.data.imaging import Photo  # noqa: E402
from core.inference.predict import Segmenter  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL_PATH)
    parser.add_argument("--count", type=int, default=256)
    args = parser.parse_args()
    segmenter = Segmenter(args.model)
    rng = np.random.default_rng(0)
    photos = [
        Photo.from_pil(Image.fromarray(rng.integers(0, 255, (128, 128, 3), dtype=np.uint8))) for _ in range(args.count)
    ]
    segmenter.segment(photos[0])
    list(segmenter.segment_many(photos[:64], batch_size=32))

    def images_per_second(run) -> float:
        started = time.perf_counter()
        run()
        return args.count / (time.perf_counter() - started)

    single = images_per_second(lambda: [segmenter.segment(photo) for photo in photos])
    rows = [("one segment() call per photo", single)]
    for batch in (8, 16, 32, 64):
        rows.append(
            (
                f"segment_many, batch {batch}",
                images_per_second(lambda batch=batch: list(segmenter.segment_many(photos, batch_size=batch))),
            )
        )
    print(f"# {time.strftime('%Y-%m-%d %H:%M')}, {args.count} photos of 128x128, model {args.model}")
    print("| mode | images/s | x single |\n|---|---:|---:|")
    for name, value in rows:
        print(f"| {name} | {value:.1f} | {value / single:.2f}x |")


if __name__ == "__main__":
    main()
