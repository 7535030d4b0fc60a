"""Small shared helpers: synthetic pets written as real files, tiny models, common assertions."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "oxford-iiit-pet"


def synthetic_pet(width: int, height: int, seed: int) -> tuple[Image.Image, np.ndarray]:
    """A photo with an ellipse 'pet' on a noisy background, and its trimap (1 pet, 2 bg, 3 border)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width]
    cx, cy = rng.uniform(0.35, 0.65) * width, rng.uniform(0.35, 0.65) * height
    rx, ry = rng.uniform(0.2, 0.35) * width, rng.uniform(0.2, 0.35) * height
    distance = ((xx - cx) / rx) ** 2 + ((yy - cy) / ry) ** 2
    trimap = np.full((height, width), 2, np.uint8)
    trimap[distance <= 1.15] = 3
    trimap[distance <= 0.85] = 1
    pixels = rng.integers(0, 60, (height, width, 3)).astype(np.uint8) + np.array([20, 90, 160], np.uint8)
    pixels[distance <= 1.0] = np.array([230, 150, 40], np.uint8)
    return Image.fromarray(pixels), trimap


def write_dataset(root: Path, count: int = 12, size: tuple[int, int] = (48, 40)) -> Path:
    """An Oxford-IIIT Pet style folder with `count` synthetic pairs (cat and dog breed names)."""
    (root / "images").mkdir(parents=True, exist_ok=True)
    (root / "annotations" / "trimaps").mkdir(parents=True, exist_ok=True)
    for index in range(count):
        stem = f"{'Persian' if index % 2 else 'beagle'}_{index + 1}"
        photo, trimap = synthetic_pet(*size, seed=index)
        photo.save(root / "images" / f"{stem}.jpg", quality=95)
        Image.fromarray(trimap).save(root / "annotations" / "trimaps" / f"{stem}.png")
    return root


def jpeg_bytes(image: Image.Image, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", **options)
    return buffer.getvalue()


def png_bytes(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def assert_trimap(trimap: np.ndarray, size: tuple[int, int]) -> None:
    """A mask as PetSeg promises it: (height, width) of the displayed photo, uint8 values in {1, 2, 3}."""
    width, height = size
    assert trimap.shape == (height, width), f"mask shape {trimap.shape} != displayed size {(height, width)}"
    assert trimap.dtype == np.uint8
    assert set(np.unique(trimap)) <= {1, 2, 3}, f"unexpected values {np.unique(trimap)}"
