"""Two models on the same photos: where their masks disagree, and which images they score most
differently on (the validation gallery's comparison)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

from core.data.labels import TrimapValue
from core.evaluation.evaluate import ImageResult

DISAGREEMENT_COLOUR = (255, 0, 200)
"""Magenta: no class colour of the masks (`core.data.labels`) uses it."""


def pet_disagreement(trimap_a: np.ndarray, trimap_b: np.ndarray) -> np.ndarray:
    """(H, W) bool: pixels one mask calls pet (pet or border) and the other background."""
    if trimap_a.shape != trimap_b.shape:
        raise ValueError(f"masks of different sizes: {trimap_a.shape} and {trimap_b.shape}")
    return (trimap_a != TrimapValue.BACKGROUND) != (trimap_b != TrimapValue.BACKGROUND)


def disagreement_image(photo: Image.Image, disagree: np.ndarray) -> Image.Image:
    """The photo dimmed, with the pixels where the models disagree in magenta."""
    base = np.asarray(photo.convert("RGB"), dtype=np.float32) * 0.45 + 255 * 0.55 * 0.35
    base[disagree] = DISAGREEMENT_COLOUR
    return Image.fromarray(base.round().clip(0, 255).astype(np.uint8))


@dataclass(frozen=True)
class Comparison:
    """One validation image scored by two models: `first` (the selected one) and `second`."""

    first: ImageResult
    second: ImageResult

    def difference(self, score: str) -> float:
        """The second model's score minus the first's."""
        return self.second.scores[score] - self.first.scores[score]


def compare(first: list[ImageResult], second: list[ImageResult], score: str = "pet_iou") -> list[Comparison]:
    """The images both models scored, those where their `score` differs most first."""
    others = {result.pair.stem: result for result in second}
    paired = [Comparison(result, others[result.pair.stem]) for result in first if result.pair.stem in others]
    return sorted(paired, key=lambda pair: abs(pair.difference(score)), reverse=True)
