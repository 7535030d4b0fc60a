"""Photo to mask through `Segmenter` for a 12-megapixel JPEG: full decode vs Pillow `draft()`.

    python -m bench.photo_latency [--model models/petseg.keras] [--repeats 10]

Both paths run in the same process on the same photo; the baseline decodes every pixel before
downscaling and shows the model the whole photo only, ours lets the JPEG decoder downscale (1/8
scale for a 128 px model) and shows the model the whole photo and its square crops (`core.inference.views`);
the same without the crops is timed too, and the same on Keras (the Segmenter runs on the default
runtime: OpenVINO, int8 where the model ships an int8 folder).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

from bench.measure import median_seconds  # noqa: E402
from core.config import DEFAULT_MODEL_PATH, WHOLE_PHOTO_ONLY  # noqa: E402
from core.data import imaging  # noqa: E402
from core.inference.predict import Segmenter, probabilities_to_trimap  # noqa: E402


def twelve_megapixel_jpeg(folder: Path) -> Path:
    """A 4000x3000 photo-like JPEG: smooth gradients, an ellipse and sensor-like noise."""
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:3000, 0:4000].astype(np.float32)
    base = np.stack([xx / 4000 * 200, yy / 3000 * 180, (xx + yy) / 7000 * 160], axis=-1)
    inside = ((xx - 2000) / 1200) ** 2 + ((yy - 1500) / 900) ** 2 < 1
    base[inside] = [210, 140, 60]
    pixels = np.clip(base + rng.normal(0, 8, base.shape), 0, 255).astype(np.uint8)
    path = folder / "photo_12mp.jpg"
    Image.fromarray(pixels).save(path, quality=90)
    return path


def segment_full_decode(segmenter: Segmenter, path: Path):
    """Baseline: decode the whole photo, then resize for the model (what the code did without draft
    and without crops)."""
    photo = imaging.Photo.open(path)
    array = imaging.resize_for_model(photo.rgb, segmenter.input_size)
    probabilities = segmenter.predict_arrays(array[None])[0]
    return probabilities_to_trimap(probabilities, photo.size)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL_PATH)
    parser.add_argument("--repeats", type=int, default=10)
    args = parser.parse_args()
    segmenter = Segmenter(args.model)
    with tempfile.TemporaryDirectory() as folder:
        path = twelve_megapixel_jpeg(Path(folder))
        megabytes = path.stat().st_size / 1e6
        print(f"# {time.strftime('%Y-%m-%d %H:%M')}, model {args.model}, photo 4000x3000 JPEG ({megabytes:.1f} MB)")
        photo = imaging.Photo.open(path)
        decode_full = median_seconds(lambda: imaging.Photo.open(path).rgb, args.repeats)
        decode_draft = median_seconds(lambda: imaging.Photo.open(path).rgb_at_least(segmenter.input_size), args.repeats)
        views = segmenter.model_input(photo)
        probabilities = segmenter.segmentation(photo, segmenter.predict_arrays(views)).probabilities
        model_only = median_seconds(lambda: segmenter.predict_arrays(segmenter.model_input(photo)), args.repeats)
        upscale = median_seconds(lambda: probabilities_to_trimap(probabilities, photo.size), args.repeats)
        baseline = median_seconds(lambda: segment_full_decode(segmenter, path), args.repeats)
        whole_only = segmenter.with_options(views=WHOLE_PHOTO_ONLY)
        single = median_seconds(lambda: whole_only.segment(path).trimap, args.repeats)
        ours = median_seconds(lambda: segmenter.segment(path).trimap, args.repeats)
        on_keras = Segmenter(args.model, runtime="keras")
        keras_time = median_seconds(lambda: on_keras.segment(path).trimap, args.repeats)
    rows = [
        ("decode, full resolution", decode_full),
        ("decode with draft (>= model size)", decode_draft),
        (f"model inputs ({len(views)} views) + inference", model_only),
        ("probabilities -> 12 MP mask (resize + argmax)", upscale),
        ("photo -> mask, full decode (baseline)", baseline),
        ("photo -> mask, Segmenter with draft, whole photo only", single),
        ("photo -> mask, Segmenter with draft (whole + crops)", ours),
        ("photo -> mask, the same on Keras", keras_time),
    ]
    print("| step | median ms |\n|---|---:|")
    for name, seconds in rows:
        print(f"| {name} | {seconds * 1000:.0f} |")
    print(
        f"\nSegmenter photo -> mask: {ours * 1000:.0f} ms, {baseline / ours:.1f}x faster than the full-decode baseline;"
        f" the crops cost {ours / single:.2f}x the whole-photo-only time; on {segmenter.runtime} "
        f"({segmenter.network.precision}), {keras_time / ours:.2f}x faster than on Keras"
    )


if __name__ == "__main__":
    main()
