"""What remove.bg and Photoroom users expect on a cut-out: a sticker outline (a stroke of a colour
around the pet) and a soft drop shadow under it, layered with the pet at the photo's own size.

Both are shapes of the pet's silhouette, so they are worked out at a screen size (`EFFECT_SIDE`:
a distance transform and a Gaussian blur of a 12 MP plane would take seconds) and scaled up
bilinearly, which keeps their edges smooth; the pet itself keeps its full-size matte.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
from PIL import Image
from scipy import ndimage

from core.errors import PetSegError

EFFECT_SIDE = 1024
"""Outline and shadow are shaped at this longer side, then scaled to the photo."""
SHADOW_OPACITY = 0.45
SHADOW_OFFSET = 0.03
"""The shadow falls this share of the pet's larger side down (and 0.6 of it to the right)."""
SHADOW_SOFTNESS = 0.025
"""Gaussian sigma of the shadow, as a share of the pet's larger side."""
MAX_OUTLINE_PX = 200
OUTLINE_FORMAT = re.compile(r"^\s*(\d{1,3})\s*(?:px)?\s*(?:,\s*#([0-9a-fA-F]{6}))?\s*$")


class OptionError(PetSegError, ValueError):
    """A cut-out option written in a way PetSeg cannot read (e.g. an outline that is not WIDTHpx[,#RRGGBB])."""


@dataclass(frozen=True)
class Outline:
    """A sticker stroke `width` photo pixels wide around the pet, in `colour`."""

    width: int = 12
    colour: tuple[int, int, int] = (255, 255, 255)

    def __post_init__(self) -> None:
        if not 1 <= self.width <= MAX_OUTLINE_PX:
            raise OptionError(f"outline width {self.width} px: use 1 to {MAX_OUTLINE_PX} px, e.g. 12px")

    @classmethod
    def parse(cls, text: str) -> Outline:
        """`WIDTHpx` or `WIDTHpx,#RRGGBB` (white by default), e.g. `12px` or `8px,#ff8800`."""
        match = OUTLINE_FORMAT.match(text)
        if match is None:
            raise OptionError(f"outline {text!r}: write WIDTHpx or WIDTHpx,#RRGGBB, e.g. 12px or 8px,#ff8800")
        width, code = match.groups()
        colour = (255, 255, 255) if code is None else tuple(int(code[i : i + 2], 16) for i in (0, 2, 4))
        return cls(int(width), colour)

    def __str__(self) -> str:
        return f"{self.width}px,#" + "".join(f"{channel:02x}" for channel in self.colour)


def _plane(values: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """A float plane resized bilinearly to `size` = (width, height)."""
    if (values.shape[1], values.shape[0]) == tuple(size):
        return values.astype(np.float32)
    return np.asarray(Image.fromarray(values.astype(np.float32), mode="F").resize(size, Image.BILINEAR))


def _shaping_scale(shape: tuple[int, int]) -> float:
    return min(1.0, EFFECT_SIDE / max(shape))


def outline_alpha(alpha: np.ndarray, width: int) -> np.ndarray:
    """(H, W) float32: the pet and a stroke `width` px around it (anti-aliased), at alpha's size."""
    height, full_width = alpha.shape
    scale = _shaping_scale(alpha.shape)
    small_size = (max(1, round(full_width * scale)), max(1, round(height * scale)))
    small = _plane(alpha, small_size)
    distance = ndimage.distance_transform_edt(small < 0.5)
    stroke = np.clip(width * scale - distance + 0.5, 0.0, 1.0)
    return np.maximum(_plane(stroke, (full_width, height)), alpha)


def shadow_alpha(silhouette: np.ndarray) -> np.ndarray:
    """(H, W) float32: a soft shadow of `silhouette` (what stands on the photo), dropped down and to
    the right by a share of the pet's size, at `SHADOW_OPACITY`."""
    height, width = silhouette.shape
    scale = _shaping_scale(silhouette.shape)
    small = _plane(silhouette, (max(1, round(width * scale)), max(1, round(height * scale))))
    rows = np.flatnonzero((small > 0.5).any(axis=1))
    columns = np.flatnonzero((small > 0.5).any(axis=0))
    if not len(rows):
        return np.zeros_like(silhouette, np.float32)
    extent = max(rows[-1] - rows[0], columns[-1] - columns[0]) + 1
    down = round(SHADOW_OFFSET * extent)
    right = round(0.6 * SHADOW_OFFSET * extent)
    shifted = np.zeros_like(small)
    shifted[down:, right:] = small[: small.shape[0] - down, : small.shape[1] - right]
    soft = ndimage.gaussian_filter(shifted, max(0.5, SHADOW_SOFTNESS * extent))
    return _plane(soft * SHADOW_OPACITY, (width, height))


def decorate(
    foreground: np.ndarray, alpha8: np.ndarray, outline: Outline | None, shadow: bool
) -> tuple[np.ndarray, np.ndarray]:
    """The pet (RGB `foreground`, uint8 `alpha8`) over its outline over its shadow: (RGB uint8,
    alpha uint8) of the layered sticker at the same size (Porter-Duff `over`, premultiplied)."""
    pet = alpha8.astype(np.float32) / 255.0
    colour = foreground.astype(np.float32)
    below = np.zeros_like(colour)  # premultiplied colour of the layers under the pet
    coverage = np.zeros_like(pet)
    silhouette = pet
    if outline is not None:
        silhouette = outline_alpha(pet, outline.width)
    if shadow:
        coverage = shadow_alpha(silhouette)  # black: adds coverage, no colour
    if outline is not None:
        stroke = silhouette[..., None]
        below = np.asarray(outline.colour, np.float32) * stroke + below * (1.0 - stroke)
        coverage = silhouette + coverage * (1.0 - silhouette)
    a = pet[..., None]
    premultiplied = colour * a + below * (1.0 - a)
    total = pet + coverage * (1.0 - pet)
    rgb = premultiplied / np.maximum(total, 1e-6)[..., None]
    return np.clip(rgb, 0, 255).round().astype(np.uint8), np.clip(total * 255.0, 0, 255).round().astype(np.uint8)
