"""The views a photo is shown to the model through, and how their answers are merged.

The model sees squares (192 px for the default model), and a photo is stretched to one, as the
training data was. A wide (or tall) photo squeezed that way shows each pet narrower than the
model learned pets to be, and a second pet or a small one in a wide scene is often missed. So a
photo whose long side is at least `ViewConfig.min_aspect` times its short side is also shown as
square crops along its long side, overlapping and evenly spaced, each seen at the model's scale;
square photos are seen whole only.

The answers are merged on one grid at the model's scale: the short side `input_size` cells, the
long side in proportion. Each cell takes the mean of the crops covering it, weighed against the
whole-photo view (`full_view_weight`). Measured on the 96 native-aspect validation photos and on
45 side-by-side pairs of bundled pets (`python -m bench.cutout`, bench/RESULTS.md).
"""

from __future__ import annotations

import math

import numpy as np
from PIL import Image

from core.config import ViewConfig
from core.data.imaging import resize_for_model, resize_plane


def grid_size(size: tuple[int, int], input_size: int) -> tuple[int, int]:
    """(width, height) of the merged grid for a photo of `size` = (width, height)."""
    width, height = size
    scale = input_size / min(width, height)
    return max(input_size, round(width * scale)), max(input_size, round(height * scale))


def crop_offsets(size: tuple[int, int], input_size: int, config: ViewConfig) -> list[int]:
    """Where each square crop starts along the long side, in grid cells; none for a squarish photo."""
    width, height = size
    if max(width, height) < config.min_aspect * min(width, height):
        return []
    long_cells = max(grid_size(size, input_size))
    count = max(2, math.ceil(long_cells / input_size))
    return [round(index * (long_cells - input_size) / (count - 1)) for index in range(count)]


def view_inputs(
    image: Image.Image, input_size: int, config: ViewConfig = ViewConfig(), size: tuple[int, int] | None = None
) -> np.ndarray:
    """(K, S, S, 3) uint8 model inputs: the whole photo first, then its square crops (if any).
    `size`: the photo's own size when `image` is a reduced decode of it (the crops are placed by
    the photo's grid, so that `merge_views` with the same size puts them back exactly)."""
    views = [resize_for_model(image, input_size)]
    width, height = image.size
    side = min(width, height)
    for offset in crop_offsets(size or image.size, input_size, config):
        start = round(offset * side / input_size)
        box = (start, 0, start + side, side) if width >= height else (0, start, side, start + side)
        views.append(resize_for_model(image.crop(box), input_size))
    return np.stack(views)


def merge_views(view_probabilities: np.ndarray, size: tuple[int, int], config: ViewConfig = ViewConfig()) -> np.ndarray:
    """(H, W, 3) float32 class probabilities on the grid of a photo of `size` = (width, height), from
    `view_inputs`' views' probabilities (K, S, S, 3), in their order. One view: returned as it is."""
    view_probabilities = np.asarray(view_probabilities, np.float32)
    if len(view_probabilities) == 1:
        return view_probabilities[0]
    input_size = view_probabilities.shape[1]
    grid_width, grid_height = grid_size(size, input_size)
    whole = np.stack(
        [resize_plane(view_probabilities[0][..., channel], (grid_width, grid_height)) for channel in range(3)], axis=-1
    )
    total = np.zeros_like(whole)
    count = np.zeros(whole.shape[:2] + (1,), np.float32)
    for offset, probabilities in zip(crop_offsets(size, input_size, config), view_probabilities[1:]):
        rows, columns = (slice(None), slice(offset, offset + input_size))
        if grid_height > grid_width:
            rows, columns = columns, rows
        total[rows, columns] += probabilities[: total[rows, columns].shape[0], : total[rows, columns].shape[1]]
        count[rows, columns] += 1
    crops = total / np.maximum(count, 1)
    return config.full_view_weight * whole + (1 - config.full_view_weight) * crops
