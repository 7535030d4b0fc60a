"""README pictures: two models' cut-outs of the same bundled photos, side by side.

    python scripts/before_after.py [--old models/petseg-lean.keras] [--new models/petseg.keras]
        [--out docs/before-after.png] [STEM ...]

Each row: the photo, the old model's cut-out, the new model's (`matting`, on a checkerboard), each
captioned with its pet IoU against the photo's ground truth at 128 px. Without STEMs the two bundled
photos where the new model gains most pet IoU are shown (the sample is validation data: neither
model trained on it), and the script prints every photo's scores so the choice can be checked.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from core.data.dataset import load_arrays  # noqa: E402
from core.data.sample import sample_pairs  # noqa: E402
from core.evaluation.evaluate import score_images  # noqa: E402
from core.inference import render  # noqa: E402
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


def cutout_tile(segmenter: Segmenter, path: Path, label: str, pet_iou: float) -> Image.Image:
    result = segmenter.segment(path)
    cut = render.on_checkerboard(render.cutout(result.photo.rgb, result.matte("matting")))
    return captioned(cut, f"{label}: pet IoU {pet_iou:.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--old", type=Path, default=ROOT / "models" / "petseg-lean.keras")
    parser.add_argument("--new", type=Path, default=ROOT / "models" / "petseg.keras")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "before-after.png")
    parser.add_argument("stems", nargs="*", help="bundled photos to show (default: the two largest gains)")
    args = parser.parse_args()
    old, new = Segmenter(args.old), Segmenter(args.new)
    arrays, _ = load_arrays(sample_pairs(), old.input_size)
    scores = {
        label: {result.pair.stem: result.scores["pet_iou"] for result in score_images(segmenter, arrays)}
        for label, segmenter in (("old", old), ("new", new))
    }
    gains = sorted(scores["new"], key=lambda stem: scores["new"][stem] - scores["old"][stem], reverse=True)
    for stem in gains:
        print(f"{stem:32s} pet IoU {scores['old'][stem]:.3f} -> {scores['new'][stem]:.3f}")
    paths = {pair.stem: pair.image for pair in arrays.pairs}
    rows = []
    for stem in args.stems or gains[:2]:
        tiles = [captioned(Image.open(paths[stem]), stem)]
        for label, segmenter, model in (("old", old, args.old), ("new", new, args.new)):
            tiles.append(cutout_tile(segmenter, paths[stem], model.stem, scores[label][stem]))
        rows.append(render.side_by_side(tiles))
    sheet = Image.new("RGB", (max(row.width for row in rows), sum(row.height + 10 for row in rows)), "white")
    for index, row in enumerate(rows):
        sheet.paste(row, (0, index * (row.height + 10)))
    sheet.save(args.out)
    print(f"wrote {args.out}: photo | {args.old.stem} | {args.new.stem}, for {', '.join(args.stems or gains[:2])}")


if __name__ == "__main__":
    main()
