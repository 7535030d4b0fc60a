"""Touch-up marks: regions a person draws on a photo as "pet" or "background", which the cut-out
then obeys (`core.inference.matte`: hard inside each mark, the soft edges around it solved again).

Marks are polygons in the photo's own pixel coordinates (x to the right, y down, as displayed,
EXIF orientation applied), so they hold at every view and at full size. A marks file maps photo
file names to their marks, the form the dashboard downloads and `predict --marks` replays:

    {"photos": {"cat.jpg": [{"label": "pet", "points": [[12, 30], [80, 30], [80, 90]]},
                            {"label": "background", "points": [[0, 0], [40, 0], [40, 25], [0, 25]]}]}}

Later marks win where marks overlap. Points outside the photo are clipped to it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw

from core.errors import PetSegError

LABELS = ("pet", "background")
NOT_MARKED = -1
"""In a marks raster: no mark; 0 background, 1 pet."""


class MarksError(PetSegError, ValueError):
    """A marks file or value that is not in the documented form; the message says where."""


@dataclass(frozen=True)
class Mark:
    label: str
    """`pet` or `background`."""
    points: tuple[tuple[float, float], ...]
    """The polygon's corners (x, y) in the photo's pixels."""

    def to_dict(self) -> dict[str, Any]:
        return {"label": self.label, "points": [list(point) for point in self.points]}


def parse_marks(value: Any, where: str = "marks") -> list[Mark]:
    """A list of `{"label": "pet"|"background", "points": [[x, y], ...]}` (3 points at least)."""
    if not isinstance(value, list):
        raise MarksError(f"{where}: expected a list of marks, got {type(value).__name__}")
    marks = []
    for index, item in enumerate(value):
        here = f"{where}[{index}]"
        if not isinstance(item, dict) or item.get("label") not in LABELS:
            raise MarksError(f'{here}: each mark needs "label": "pet" or "background"')
        points = item.get("points")
        if not isinstance(points, list) or len(points) < 3:
            raise MarksError(f'{here}: "points" must be a list of at least 3 [x, y] pairs (a polygon)')
        try:
            corners = tuple((float(x), float(y)) for x, y in points)
        except (TypeError, ValueError):
            raise MarksError(f"{here}: every point must be [x, y] with numbers") from None
        if not all(np.isfinite(corners).ravel()):
            raise MarksError(f"{here}: points must be finite numbers")
        marks.append(Mark(item["label"], corners))
    return marks


def read_marks_file(path: Path) -> dict[str, list[Mark]]:
    """Photo file name -> its marks, from a marks file (`{"photos": {name: [marks]}}`)."""
    try:
        content = json.loads(Path(path).read_text())
    except OSError as error:
        raise MarksError(f"--marks {path}: cannot read it ({error.strerror or error})") from None
    except ValueError as error:
        raise MarksError(f"--marks {path}: not JSON ({error})") from None
    photos = content.get("photos") if isinstance(content, dict) else None
    if not isinstance(photos, dict):
        raise MarksError(f'--marks {path}: expected {{"photos": {{"photo.jpg": [marks]}}}}, see README "Touch-up"')
    return {str(name): parse_marks(marks, f"--marks {path}: photos[{name!r}]") for name, marks in photos.items()}


def marks_json(name: str, marks: list[Mark]) -> str:
    """One photo's marks as a marks file."""
    return json.dumps({"photos": {name: [mark.to_dict() for mark in marks]}}, indent=1)


def rasterize(marks: list[Mark], size: tuple[int, int], scale: float = 1.0) -> np.ndarray | None:
    """(H, W) int8 at `size` = (width, height): 1 pet, 0 background, -1 unmarked; None without marks.
    `scale`: `size` over the photo's size (marks are in the photo's pixels; a preview is smaller)."""
    if not marks:
        return None
    canvas = Image.new("L", size, 255)  # 255: unmarked (0 and 1 are the labels)
    draw = ImageDraw.Draw(canvas)
    for mark in marks:  # drawn in order: a later mark wins where they overlap; Pillow clips to the photo
        draw.polygon([(x * scale, y * scale) for x, y in mark.points], fill=int(mark.label == "pet"))
    raster = np.asarray(canvas).astype(np.int8)
    raster[np.asarray(canvas) == 255] = NOT_MARKED
    return raster
