"""Video: how steady the masks are and how fast a clip is cut out, in one run.

    python -m bench.video [--data-dir ../shared/data/oxford-iiit-pet] [--photos 12] [--frames 16]

1. Steadiness on synthetic clips with ground truth (`bench.clips`): validation photos filmed still
   (sensor noise only), panned, zoomed, and with the pet walking across its background. Per clip,
   frame by frame (steadying off) against steadied (`SteadyConfig`, and a fixed 0.3 average for
   comparison): the per-frame IoU of the `fast` matte (alpha >= 0.5 vs the moved trimap's pet,
   border left out) and the flicker, the mean |alpha change| between consecutive frames within
   `FLICKER_BAND` px of the true outline (where a still pet's mask shimmers).
2. Speed: a 10 s 1080p clip (30 frames/s, a validation photo panned) to a VP9-alpha WebM cut-out
   (`fast`), frames per second, for each model, segmenting alone and with the encoding; and what
   `matting` costs per 1080p frame.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
from scipy import ndimage  # noqa: E402

from bench.clips import MOTIONS, synthetic_frames, write_mp4  # noqa: E402
from core.config import SteadyConfig  # noqa: E402
from core.data.imaging import load_trimap  # noqa: E402
from core.inference.predict import Segmenter  # noqa: E402
from core.video.clip import read_frames  # noqa: E402
from core.video.segment_clip import ClipRequest, segment_clip, steadied_results  # noqa: E402

FLICKER_BAND = 6
CLIP_SIZE = (256, 192)
VARIANTS = {
    "frame by frame": SteadyConfig(enabled=False),
    "steadied": SteadyConfig(),
    "fixed 0.3 average": SteadyConfig(motion_gain=0.0),
}
ROOT = Path(__file__).resolve().parents[1]


def clip_scores(segmenter: Segmenter, clip: Path, truths: list[np.ndarray], steady: SteadyConfig) -> dict[str, float]:
    """Mean per-frame IoU and flicker (`FLICKER_BAND`) of the `fast` matte over one clip."""
    ious, changes, previous = [], [], None
    for result, truth in zip(steadied_results(segmenter, read_frames(clip), steady), truths):
        alpha = result.matte("fast").alpha
        scored, pet = truth != 3, truth == 1
        predicted = (alpha >= 0.5) & scored
        ious.append((predicted & pet).sum() / max((predicted | pet).sum(), 1))
        if previous is not None:
            outline = ndimage.distance_transform_edt(pet) + ndimage.distance_transform_edt(~pet)
            band = outline <= FLICKER_BAND + 1
            changes.append(float(np.abs(alpha - previous)[band].mean()))
        previous = alpha
    return {"iou": float(np.mean(ious)), "flicker": float(np.mean(changes)) if changes else 0.0}


def steadiness(segmenter: Segmenter, pairs, frames: int, folder: Path) -> dict[tuple[str, str], dict[str, float]]:
    """(motion, variant) -> mean IoU and flicker over the photos' clips."""
    scores: dict[tuple[str, str], list[dict[str, float]]] = {}
    for index, pair in enumerate(pairs):
        from PIL import Image

        photo, trimap = Image.open(pair.image).convert("RGB"), load_trimap(pair.trimap)
        for motion in MOTIONS:
            made = list(synthetic_frames(photo, trimap, motion, frames, CLIP_SIZE, seed=index))
            clip = write_mp4(folder / f"{pair.stem}-{motion}.mp4", [frame for frame, _ in made])
            truths = [truth for _, truth in made]
            for variant, config in VARIANTS.items():
                scores.setdefault((motion, variant), []).append(clip_scores(segmenter, clip, truths, config))
    return {
        key: {name: statistics.mean(s[name] for s in found) for name in ("iou", "flicker")}
        for key, found in scores.items()
    }


def hd_clip(pair, folder: Path, seconds: int = 10, fps: int = 30) -> Path:
    from PIL import Image

    photo, trimap = Image.open(pair.image).convert("RGB"), load_trimap(pair.trimap)
    frames = [frame for frame, _ in synthetic_frames(photo, trimap, "pan", seconds * fps, (1920, 1080))]
    return write_mp4(folder / "hd.mp4", frames, fps)


def speed(models: dict[str, Segmenter], clip: Path) -> dict[str, tuple[float, float]]:
    """Model -> (frames/s segmenting alone, frames/s to a WebM cut-out)."""
    figures = {}
    for label, segmenter in models.items():
        started = time.perf_counter()
        count = sum(1 for _ in steadied_results(segmenter, read_frames(clip)))
        alone = count / (time.perf_counter() - started)
        with tempfile.TemporaryDirectory() as out:
            summary = segment_clip(segmenter, clip, Path(out), "hd", ClipRequest(("cutout",)))
        figures[label] = (alone, summary.frames_per_second)
    return figures


def matting_seconds(segmenter: Segmenter, clip: Path, frames: int = 3) -> float:
    """Median seconds of `matting` on one of the clip's frames (what `--refine matting` adds per frame)."""
    results = [result for result, _ in zip(steadied_results(segmenter, read_frames(clip)), range(frames))]
    timings = []
    for result in results:
        started = time.perf_counter()
        result.matte("matting")
        timings.append(time.perf_counter() - started)
    return statistics.median(timings)


def main() -> None:
    from bench.cutout import native_validation_pairs

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=Path("../shared/data/oxford-iiit-pet"))
    parser.add_argument("--photos", type=int, default=12)
    parser.add_argument("--frames", type=int, default=16)
    parser.add_argument("--seconds", type=int, default=10, help="length of the 1080p clip timed; 0 skips the timing")
    args = parser.parse_args()
    pairs = native_validation_pairs(args.data_dir)[: args.photos]
    models = {name: Segmenter(ROOT / "models" / f"{name}.keras").warm_up() for name in ("petseg", "petseg-lean")}
    with tempfile.TemporaryDirectory() as folder:
        print(
            f"Steadiness, petseg, {len(pairs)} validation photos x {len(MOTIONS)} motions, {args.frames} frames each:"
        )
        print("| motion | variant | per-frame IoU | flicker (mean |alpha change| near the outline) |")
        print("|---|---|---:|---:|")
        results = steadiness(models["petseg"], pairs, args.frames, Path(folder))
        for (motion, variant), score in results.items():
            print(f"| {motion} | {variant} | {score['iou']:.4f} | {score['flicker']:.4f} |")
        still = {variant: results[("still", variant)]["flicker"] for variant in VARIANTS}
        print(
            f"\nflicker on still clips, steadied / frame by frame: {still['steadied'] / still['frame by frame']:.2f}x"
        )
        if args.seconds:
            clip = hd_clip(pairs[0], Path(folder), args.seconds)
            print(f"\n{args.seconds} s 1080p clip at 30 frames/s to a VP9-alpha WebM cut-out (fast):")
            print(f"  matting, per 1080p frame (petseg): {matting_seconds(models['petseg'], clip):.2f} s")
            for label, (alone, total) in speed(models, clip).items():
                print(f"  {label:<12} segmenting {alone:5.1f} frames/s, with cut-out and encoding {total:5.1f}")


if __name__ == "__main__":
    main()
