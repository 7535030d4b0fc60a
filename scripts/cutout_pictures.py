"""README pictures: bundled photos cut out with the old mask (pet + border, hard edges) and with
`matting`, on a checkerboard. `python scripts/cutout_pictures.py [OUT.png] [STEM ...]`."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from core.inference import render  # noqa: E402
from core.inference.matte import Matte, compute_matte  # noqa: E402
from core.inference.predict import Segmenter  # noqa: E402

SAMPLE = ROOT / "samples" / "pets" / "images"
SCALE = 3


def row(segmenter: Segmenter, path: Path) -> list[Image.Image]:
    result = segmenter.segment(path)
    old = Matte(np.where(result.trimap == 2, 0, 255).astype(np.uint8), None, "old mask", 0.0)
    matted = compute_matte(result.photo.rgb, result.probabilities, "matting")
    big = tuple(side * SCALE for side in result.photo.size)
    return [result.photo.rgb.resize(big, Image.LANCZOS)] + [
        render.on_checkerboard(render.cutout(result.photo.rgb, matte).resize(big, Image.LANCZOS))
        for matte in (old, matted)
    ]


def main() -> None:
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docs" / "cutout.png"
    stems = sys.argv[2:] or ["samoyed_1", "Bengal_10"]
    segmenter = Segmenter()
    rows = [row(segmenter, SAMPLE / f"{stem}.jpg") for stem in stems]
    width, height = rows[0][0].size
    sheet = Image.new("RGB", (width * 3 + 20, (height + 10) * len(rows)), "white")
    for index, tiles in enumerate(rows):
        for column, tile in enumerate(tiles):
            sheet.paste(tile.resize((width, height)), (column * (width + 10), index * (height + 10)))
    sheet.save(out)
    print(f"wrote {out}: photo | old mask cut-out | matting cut-out, for {', '.join(stems)}")


if __name__ == "__main__":
    main()
