"""README pictures: two models' cut-outs of the same bundled photos, side by side.

    python scripts/before_after.py [--old models/petseg-lean.keras] [--new models/petseg.keras]
        [--out docs/before-after.png] [--data-dir ../shared/data/oxford-iiit-pet] [STEM ...]

Each row: the photo, the old model's cut-out, the new model's (`matting`, on a checkerboard), each
captioned with its score against the photo's ground truth. Without `--data-dir` the photos are the
bundled sample's, scored by pet IoU at 128 px; without STEMs the two where the new model gains most
are shown (the sample is validation data: neither model trained on it), and the script prints every
photo's scores so the choice can be checked. With `--data-dir` the STEMs are the dataset's photos
(issue 28 names native-aspect validation photos) and each cut-out is scored at the photo's own size:
its IoU of pet against background, the ground truth's border left out (`bench.cutout`'s measure).
"""

from __future__ import annotations

import argparse
import functools
import sys
from pathlib import Path

from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.cutout import iou  # noqa: E402
from core.data.dataset import load_arrays  # noqa: E402
from core.data.imaging import load_trimap  # noqa: E402
from core.data.sample import sample_pairs  # noqa: E402
from core.evaluation.evaluate import score_images  # noqa: E402
from core.inference import render  # noqa: E402
from core.inference.matte import Matte  # noqa: E402
from core.inference.predict import Segmenter  # noqa: E402

SIDE = 300
CAPTION = 22


def captioned(image: Image.Image, text: str) -> Image.Image:
    """`image` scaled to SIDE px high with `text` under it."""
    scaled = image.resize((round(image.width * SIDE / image.height), SIDE), Image.LANCZOS)
    tile = Image.new("RGB", (scaled.width, SIDE + CAPTION), "white")
    tile.paste(scaled.convert("RGB"), (0, 0))
    ImageDraw.Draw(tile).text((4, SIDE + 5), text, fill="black")
    return tile


@functools.cache
def matting(segmenter: Segmenter, path: Path) -> tuple[Image.Image, Matte]:
    """The photo and its `matting` matte, made once for both its score and its tile."""
    result = segmenter.segment(path)
    return result.photo.rgb, result.matte("matting")


def cutout_tile(segmenter: Segmenter, path: Path, label: str, score: str) -> Image.Image:
    cut = render.on_checkerboard(render.cutout(*matting(segmenter, path)))
    return captioned(cut, f"{label}: {score}")


def sample_scores(old: Segmenter, new: Segmenter) -> tuple[dict[str, Path], dict[str, dict[str, float]]]:
    """The bundled photos and each model's pet IoU on them at 128 px."""
    arrays, _ = load_arrays(sample_pairs(), old.input_size)
    scores = {
        label: {result.pair.stem: result.scores["pet_iou"] for result in score_images(segmenter, arrays)}
        for label, segmenter in (("old", old), ("new", new))
    }
    return {pair.stem: pair.image for pair in arrays.pairs}, scores


def cutout_iou(segmenter: Segmenter, image: Path, trimap: Path) -> float:
    """IoU of the `matting` cut-out's pet against the ground truth at the photo's own size."""
    intersection, union = iou(matting(segmenter, image)[1].alpha, load_trimap(trimap))
    return intersection / union


def dataset_scores(
    old: Segmenter, new: Segmenter, data_dir: Path, stems: list[str]
) -> tuple[dict[str, Path], dict[str, dict[str, float]]]:
    """The dataset's photos named by `stems` and each model's cut-out IoU on them at their own size."""
    paths = {stem: data_dir / "images" / f"{stem}.jpg" for stem in stems}
    missing = [str(path) for path in paths.values() if not path.is_file()]
    if missing:
        raise SystemExit(f"not in the dataset: {', '.join(missing)}; pass stems of {data_dir / 'images'}")
    trimaps = {stem: data_dir / "annotations" / "trimaps" / f"{stem}.png" for stem in stems}
    scores = {
        label: {stem: cutout_iou(segmenter, paths[stem], trimaps[stem]) for stem in stems}
        for label, segmenter in (("old", old), ("new", new))
    }
    return paths, scores


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--old", type=Path, default=ROOT / "models" / "petseg-lean.keras")
    parser.add_argument("--new", type=Path, default=ROOT / "models" / "petseg.keras")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "before-after.png")
    parser.add_argument("--data-dir", type=Path, help="show the dataset's photos named by STEMs, scored at their size")
    parser.add_argument("stems", nargs="*", help="photos to show (default: the two largest gains of the bundled ones)")
    args = parser.parse_args()
    if args.data_dir and not args.stems:
        parser.error("--data-dir needs the STEMs of the photos to show")
    old, new = Segmenter(args.old), Segmenter(args.new)
    if args.data_dir:
        measure = "cut-out IoU"
        paths, scores = dataset_scores(old, new, args.data_dir, args.stems)
    else:
        measure = "pet IoU"
        paths, scores = sample_scores(old, new)
    gains = sorted(scores["new"], key=lambda stem: scores["new"][stem] - scores["old"][stem], reverse=True)
    for stem in gains:
        print(f"{stem:32s} {measure} {scores['old'][stem]:.3f} -> {scores['new'][stem]:.3f}")
    rows = []
    for stem in args.stems or gains[:2]:
        tiles = [captioned(Image.open(paths[stem]), stem)]
        for label, segmenter, model in (("old", old, args.old), ("new", new, args.new)):
            tiles.append(cutout_tile(segmenter, paths[stem], model.stem, f"{measure} {scores[label][stem]:.3f}"))
        rows.append(render.side_by_side(tiles))
    sheet = Image.new("RGB", (max(row.width for row in rows), sum(row.height + 10 for row in rows)), "white")
    for index, row in enumerate(rows):
        sheet.paste(row, (0, index * (row.height + 10)))
    sheet.save(args.out)
    print(f"wrote {args.out}: photo | {args.old.stem} | {args.new.stem}, for {', '.join(args.stems or gains[:2])}")


if __name__ == "__main__":
    main()
