"""Steady masks from frame to frame: a moving average of the class probabilities on the model's grid.

A per-frame segmenter flickers: the border shimmers and a faint part comes and goes from one frame
to the next although nothing moved. Averaging the probabilities over the last few frames removes
that, but a fixed average lags behind a pet that moves (its mask trails). So the new frame's weight
rises, at each place of the grid, with how much the picture itself changed there beyond its noise:
where the pet moves the mask follows at once, where nothing moves it is averaged. A scene cut (the
whole picture changes) starts the average again.
"""

from __future__ import annotations

import numpy as np
from PIL import Image
from scipy import ndimage

from core.config import SteadyConfig

GREY_WEIGHTS = np.array([0.299, 0.587, 0.114], np.float32)


def grid_grey(frame: Image.Image, shape: tuple[int, int]) -> np.ndarray:
    """The frame's grey levels in [0, 1] on a grid of `shape` = (rows, columns) (area-averaged)."""
    small = frame.convert("RGB").resize((shape[1], shape[0]), Image.BOX)
    return np.asarray(small, np.float32) @ GREY_WEIGHTS / 255.0


class Steadier:
    """Feed it each frame's probabilities (H, W, 3) and the frame, in order; it returns the steadied
    probabilities. One per clip."""

    def __init__(self, config: SteadyConfig = SteadyConfig()) -> None:
        self.config = config
        self._probabilities: np.ndarray | None = None
        self._grey: np.ndarray | None = None

    def weights(self, grey: np.ndarray) -> np.ndarray | None:
        """The new frame's weight at each place of the grid, or None to start again (first frame, cut)."""
        if self._grey is None or self._grey.shape != grey.shape:
            return None
        change = np.abs(grey - self._grey)
        if change.mean() > self.config.scene_cut:
            return None
        local = ndimage.maximum_filter(ndimage.uniform_filter(change, 3), 3)  # a moving edge and its neighbours
        excess = np.maximum(local - self.config.noise, 0.0)
        return np.clip(self.config.weight + self.config.motion_gain * excess, self.config.weight, 1.0)

    def __call__(self, probabilities: np.ndarray, frame: Image.Image) -> np.ndarray:
        probabilities = np.asarray(probabilities, np.float32)
        if not self.config.enabled:
            return probabilities
        grey = grid_grey(frame, probabilities.shape[:2])
        weight = self.weights(grey)
        if weight is not None and self._probabilities is not None and self._probabilities.shape == probabilities.shape:
            probabilities = weight[..., None] * probabilities + (1.0 - weight[..., None]) * self._probabilities
        self._probabilities, self._grey = probabilities, grey
        return probabilities
