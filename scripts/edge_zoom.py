"""README picture: a 12 MP cut-out's edge zoomed in, `fast` before issue 30 (the model's grid
upscaled), `fast` now (fitted to the photo's edges, background colour taken out) and `matting`, on
a dark background where a light halo shows. `python scripts/edge_zoom.py [OUT.png] [STEM]`."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.cutout import twelve_megapixel  # noqa: E402
from core.config import MatteConfig  # noqa: E402
from core.inference import render  # noqa: E402
from core.inference.matte import compute_matte  # noqa: E402
from core.inference.predict import Segmenter  # noqa: E402

SAMPLE = ROOT / "samples" / "pets" / "images"
CROP = 360
"""Side of the zoomed square, in 12 MP photo pixels (about 12 model pixels)."""
SHOWN = 480


def edge_centre(alpha: np.ndarray) -> tuple[int, int]:
    """A point on the pet's outline: the top-most pet pixel of the middle column band."""
    columns = np.flatnonzero((alpha >= 128).any(axis=0))
    column = int(columns[len(columns) // 2])
    row = int(np.flatnonzero(alpha[:, column] >= 128)[0])
    return column, row


def main() -> None:
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docs" / "edge-zoom.png"
    stem = sys.argv[2] if len(sys.argv) > 2 else "american_bulldog_108"
    photo = twelve_megapixel(SAMPLE / f"{stem}.jpg")
    result = Segmenter().segment(photo)
    dark = render.CutoutOptions(background=render.Background.parse("#202020"))
    mattes = {
        "fast, grid upscaled (before)": compute_matte(photo, result.resolved, "fast", MatteConfig(fast_guided=False)),
        "fast, fitted to the photo (now)": result.matte("fast"),
        "matting": result.matte("matting"),
    }
    x, y = edge_centre(mattes["fast, fitted to the photo (now)"].alpha8)
    box = (x - CROP // 2, y - CROP // 2, x + CROP // 2, y + CROP // 2)
    tiles = [photo.crop(box)] + [render.cutout(photo, matte, dark).crop(box) for matte in mattes.values()]
    labels = ["12 MP photo", *mattes]
    sheet = Image.new("RGB", (len(tiles) * (SHOWN + 10) - 10, SHOWN + 28), "white")
    draw = ImageDraw.Draw(sheet)
    for index, (tile, label) in enumerate(zip(tiles, labels)):
        sheet.paste(tile.resize((SHOWN, SHOWN), Image.NEAREST), (index * (SHOWN + 10), 28))
        draw.text((index * (SHOWN + 10) + 4, 6), label, fill="black")
    sheet.save(out)
    print(f"wrote {out}: {stem} at 4000x3000, {CROP} px around ({x}, {y}): " + " | ".join(labels))


if __name__ == "__main__":
    main()
