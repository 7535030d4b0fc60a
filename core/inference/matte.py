"""Alpha mattes: how much of each pixel of the photo is pet, at the photo's own size.

The model predicts a trimap at its input size (192 px for the default model): pet (sure
foreground), background (sure background) and border (the band the annotators left undecided),
which is what alpha matting takes as input.

- `fast`: the border resolved by the pet score `p(pet) + p(border) / 2` (a pixel is pet where
  it is >= 0.5), upscaled bilinearly and turned into a ramp a fraction of a model pixel wide; then
  fitted to the photo's edges by a guided filter at 512 px (so a 12 MP edge follows the fur, not the
  model's grid), and the nearby background's colour taken out of the edge pixels (no halo).
- `matting`: closed-form alpha matting (Levin et al., pymatting's `estimate_alpha_cf`) on the
  photo at a working resolution, with the predicted border (and a band around the pet's
  outline) as the unknown region; foreground colours re-estimated there
  (`estimate_foreground_ml`) so the cut-out carries no background-coloured halo; alpha brought
  to the full photo with a fast guided filter (the photo as guide) so edges follow the photo.

Measured on the native-aspect validation photos: `python -m bench.cutout` (bench/RESULTS.md).
"""

from __future__ import annotations

import contextlib
import functools
import io
import time
from dataclasses import dataclass
from typing import Literal, get_args

import numpy as np
from PIL import Image
from scipy import ndimage

from core.config import MatteConfig
from core.data.imaging import resize_plane
from core.data.labels import Class

Refine = Literal["fast", "matting"]
REFINE_LEVELS: tuple[str, ...] = get_args(Refine)
PET_THRESHOLD = 0.5
GREY_WEIGHTS = (0.299, 0.587, 0.114)
"""ITU-R 601 luma: the guided filter's guide is the photo in grey."""
ICHOL_SHIFTS = (1e-3, 1e-2, 0.1, 1.0, 10.0)


@dataclass
class Matte:
    alpha8: np.ndarray
    """(H, W) uint8 at the photo's displayed size: 0 background .. 255 pet (what a PNG stores)."""
    foreground: np.ndarray | None
    """(H, W, 3) uint8 colours to cut out (background colour removed at the edges), or None: the photo's own."""
    refine: str
    seconds: float

    @property
    def alpha(self) -> np.ndarray:
        """(H, W) float32 in [0, 1]."""
        return self.alpha8.astype(np.float32) / 255.0

    @property
    def is_empty(self) -> bool:
        """True when no pixel is more pet than not (nothing to cut out)."""
        return not np.any(self.alpha8 >= 128)


def pet_score(probabilities: np.ndarray) -> np.ndarray:
    """(S, S, 3) class probabilities to the pet score p(pet) + p(border) / 2, in [0, 1]."""
    probabilities = np.asarray(probabilities, np.float32)
    return probabilities[..., Class.PET] + 0.5 * probabilities[..., Class.BORDER]


@functools.cache
def _full_size_ops():
    """Compiled full-resolution steps (a 12-megapixel photo has 12 million pixels per plane: NumPy's
    one pass per operation is several times slower than one fused, multi-threaded graph)."""
    import tensorflow as tf

    def to_uint8(values):
        return tf.cast(tf.round(tf.clip_by_value(values, 0.0, 1.0) * 255.0), tf.uint8)

    def upscale(planes, size):
        return tf.image.resize(planes[None], size, method="bilinear")[0]

    @tf.function(
        input_signature=[
            tf.TensorSpec([None, None], tf.float32),
            tf.TensorSpec([2], tf.int32),
            tf.TensorSpec([], tf.float32),
        ]
    )
    def ramp(score, size, gain):
        return to_uint8((upscale(score[..., None], size)[..., 0] - PET_THRESHOLD) * gain + 0.5)

    @tf.function(input_signature=[tf.TensorSpec([None, None, 2], tf.float32), tf.TensorSpec([None, None, 3], tf.uint8)])
    def linear_in_grey(coefficients, photo):
        grey = tf.tensordot(tf.cast(photo, tf.float32), tf.constant(GREY_WEIGHTS), 1) / 255.0
        full = upscale(coefficients, tf.shape(photo)[:2])
        return to_uint8(full[..., 0] * grey + full[..., 1])

    @tf.function(input_signature=[tf.TensorSpec([None, None, 3], tf.float32), tf.TensorSpec([None, None, 3], tf.uint8)])
    def corrected(correction, photo):
        return to_uint8(tf.cast(photo, tf.float32) / 255.0 + upscale(correction, tf.shape(photo)[:2]))

    return ramp, linear_in_grey, corrected


def fast_alpha(probabilities: np.ndarray, size: tuple[int, int], config: MatteConfig = MatteConfig()) -> np.ndarray:
    """The `fast` matte (uint8): the pet score upscaled to `size` = (width, height), edges as a short ramp."""
    ramp = _full_size_ops()[0]
    width, height = size
    return ramp(pet_score(probabilities), np.array([height, width], np.int32), np.float32(config.fast_gain)).numpy()


def sharpened(coefficients: np.ndarray, gain: float) -> np.ndarray:
    """Guided-filter coefficients (a, b) of `gain * (a * grey + b - 0.5) + 0.5`: the same fit, steeper at 0.5."""
    a, b = coefficients[..., 0], coefficients[..., 1]
    return np.stack([gain * a, gain * (b - 0.5) + 0.5], axis=-1).astype(np.float32)


EDGE_ALPHA = (0.1, 0.98)
"""Foreground colours are re-estimated where alpha lies between these (below, a pixel shows too little
of the pet to matter, and dividing by alpha would amplify noise)."""


def foreground_correction(photo: np.ndarray, alpha: np.ndarray, radius: int) -> np.ndarray:
    """(H, W, 3) float32 to add to the photo (RGB in [0, 1]) so that its edge pixels hold the pet's
    colour alone: solving I = a F + (1 - a) B for F, with B the mean colour of the sure background
    within `radius` (where there is none nearby, the pixel is left as it is)."""
    background = (alpha <= 0.02).astype(np.float32)
    weight = _box(background, radius)
    nearby = np.stack([_box(photo[..., channel] * background, radius) for channel in range(3)], axis=-1)
    nearby /= np.maximum(weight, 1e-6)[..., None]
    edge = (alpha > EDGE_ALPHA[0]) & (alpha < EDGE_ALPHA[1]) & (weight > 0.05)
    a = alpha[..., None]
    pet_colour = np.clip((photo - (1.0 - a) * nearby) / np.maximum(a, EDGE_ALPHA[0]), 0.0, 1.0)
    return np.where(edge[..., None], pet_colour - photo, 0.0).astype(np.float32)


def fast_matte(
    photo: Image.Image, probabilities: np.ndarray, config: MatteConfig = MatteConfig()
) -> tuple[np.ndarray, np.ndarray | None]:
    """The `fast` matte (uint8) at the photo's size and its foreground colours (None: the photo's own).

    With `config.fast_guided` the upscaled ramp is fitted, at `fast_work_side`, to the photo's grey
    levels by a guided filter whose window is one model pixel (the prediction's own uncertainty), so
    the full-size edge follows the photo and not the model's grid; its coefficients are applied to the
    full-size photo, as `matting` does. Costs about three full-size passes more than the plain ramp."""
    size = photo.size
    if not config.fast_guided:
        return fast_alpha(probabilities, size, config), None
    work = working_size(size, config.fast_work_side)
    photo_work = np.asarray(photo.resize(work, Image.BILINEAR) if work != size else photo, np.float32) / 255.0
    ramp = fast_alpha(probabilities, work, config).astype(np.float32) / 255.0
    grey = _grey(photo_work).astype(np.float32)
    radius = max(1, round(work[0] / probabilities.shape[1]))
    coefficients = sharpened(guided_coefficients(ramp, grey, radius, config.fast_epsilon), config.fast_sharpen)
    alpha = np.clip(coefficients[..., 0] * grey + coefficients[..., 1], 0.0, 1.0)
    correction = foreground_correction(photo_work, alpha, 3 * radius)
    if work == size:
        foreground = np.clip(photo_work + correction, 0.0, 1.0)
        return (alpha * 255.0).round().astype(np.uint8), (foreground * 255.0).round().astype(np.uint8)
    _, linear_in_grey, corrected = _full_size_ops()
    full = np.asarray(photo, np.uint8)
    return linear_in_grey(coefficients, full).numpy(), corrected(correction, full).numpy()


def working_size(size: tuple[int, int], longest: int) -> tuple[int, int]:
    width, height = size
    scale = min(1.0, longest / max(width, height))
    return max(1, round(width * scale)), max(1, round(height * scale))


def matting_trimap(probabilities: np.ndarray, size: tuple[int, int], band: int) -> np.ndarray:
    """pymatting's trimap at `size`: 1 sure pet, 0 sure background, 0.5 unknown (the predicted
    border, plus `band` pixels on each side of the pet's outline, so the edge is always solved)."""
    planes = [resize_plane(probabilities[..., index], size) for index in range(3)]
    pet_like = planes[0] + 0.5 * planes[2] >= PET_THRESHOLD
    border = (planes[2] > planes[0]) & (planes[2] > planes[1])
    structure = np.ones((3, 3), bool)
    sure_pet = ndimage.binary_erosion(pet_like & ~border, structure, iterations=band, border_value=1)
    sure_background = ndimage.binary_erosion(~pet_like & ~border, structure, iterations=band, border_value=1)
    trimap = np.full(pet_like.shape, 0.5)
    trimap[sure_pet] = 1.0
    trimap[sure_background] = 0.0
    return trimap


def _box(array: np.ndarray, radius: int) -> np.ndarray:
    return ndimage.uniform_filter(array, size=2 * radius + 1, mode="reflect")


def guided_coefficients(alpha: np.ndarray, guide: np.ndarray, radius: int, epsilon: float) -> np.ndarray:
    """The fast guided filter (He and Sun 2015), first half: a local linear model
    alpha = a * guide + b fitted at the working resolution (guide: grey levels in [0, 1]).
    Upsampled and applied to the full-size photo's grey levels, the matte's edges follow the photo's."""
    mean_guide, mean_alpha = _box(guide, radius), _box(alpha, radius)
    covariance = _box(guide * alpha, radius) - mean_guide * mean_alpha
    variance = _box(guide * guide, radius) - mean_guide * mean_guide
    a = covariance / (variance + epsilon)
    b = mean_alpha - a * mean_guide
    return np.stack([_box(a, radius), _box(b, radius)], axis=-1).astype(np.float32)


def _grey(rgb: np.ndarray) -> np.ndarray:
    """Grey levels of an RGB array in [0, 1]."""
    return rgb @ np.asarray(GREY_WEIGHTS)


def _unknown_box(trimap: np.ndarray, margin: int) -> tuple[slice, slice] | None:
    """The rows and columns holding every unknown pixel, widened by `margin`: matting is solved
    there only (the rest of the trimap is already decided), which keeps it fast."""
    rows, columns = np.nonzero(trimap == 0.5)
    if not len(rows):
        return None
    height, width = trimap.shape
    return (
        slice(max(0, rows.min() - margin), min(height, rows.max() + margin + 1)),
        slice(max(0, columns.min() - margin), min(width, columns.max() + margin + 1)),
    )


def with_marks(trimap: np.ndarray, marks: np.ndarray, band: int) -> np.ndarray:
    """A matting trimap obeying touch-up marks (`core.inference.marks.rasterize`, at the trimap's size): sure
    pet and sure background inside them, unknown in a `band` around their outlines (solved again)."""
    marked = marks != -1
    around = ndimage.binary_dilation(marked, np.ones((3, 3), bool), iterations=band) & ~marked
    trimap = trimap.copy()
    trimap[around] = 0.5
    trimap[marks == 1] = 1.0
    trimap[marks == 0] = 0.0
    return trimap


def obey_marks(alpha8: np.ndarray, marks: np.ndarray | None) -> np.ndarray:
    """The matte with every marked pixel hard: 255 inside pet marks, 0 inside background marks."""
    if marks is None:
        return alpha8
    alpha8 = alpha8.copy()
    alpha8[marks == 1] = 255
    alpha8[marks == 0] = 0
    return alpha8


def matting_matte(
    photo: Image.Image, probabilities: np.ndarray, config: MatteConfig = MatteConfig(), marks: np.ndarray | None = None
):
    """The `matting` matte (uint8) and its foreground colours at the photo's size: (alpha, foreground),
    or None when no pixel is sure to be pet, or none sure to be background. `marks`: touch-up marks
    at the photo's size (`with_marks`)."""
    from pymatting import estimate_alpha_cf, estimate_foreground_ml, ichol

    size = photo.size
    work = working_size(size, config.work_side)
    photo_work = np.asarray(photo.resize(work, Image.BILINEAR) if work != size else photo, np.float64) / 255.0
    band = max(1, round(work[0] / probabilities.shape[1] * config.band_model_pixels))
    trimap = matting_trimap(probabilities, work, band)
    if marks is not None:
        small = marks if work == size else np.asarray(Image.fromarray(marks).resize(work, Image.NEAREST))
        trimap = with_marks(trimap, small, band)
    if not (trimap == 1.0).any() or not (trimap == 0.0).any():
        return None  # no pixel sure to be pet (a thin pet) or background (a close-up): nothing to start from
    alpha = (trimap == 1.0).astype(np.float64)
    foreground = photo_work.copy()
    box = _unknown_box(trimap, margin=2 * band)
    if box is not None and not ((trimap[box] == 1.0).any() and (trimap[box] == 0.0).any()):
        box = (slice(None), slice(None))  # the solver needs both kinds of sure pixel
    if box is not None:
        # The incomplete Cholesky preconditioner fails with no or a tiny diagonal shift on most
        # photos (each failure costs a factorisation): start at the shift that works. Same result.
        preconditioner = functools.partial(ichol, shifts=ICHOL_SHIFTS)
        with contextlib.redirect_stdout(io.StringIO()):  # pymatting prints its performance warnings
            crop_alpha = estimate_alpha_cf(photo_work[box], trimap[box], preconditioner=preconditioner)
        alpha[box] = np.clip(crop_alpha, 0.0, 1.0)
        foreground[box] = estimate_foreground_ml(photo_work[box], alpha[box])
    if work == size:
        return (alpha * 255.0).round().astype(np.uint8), (foreground * 255.0).round().clip(0, 255).astype(np.uint8)
    _, linear_in_grey, corrected = _full_size_ops()
    full = np.asarray(photo, np.uint8)
    coefficients = guided_coefficients(alpha, _grey(photo_work), config.guided_radius, config.guided_epsilon)
    correction = (foreground - photo_work).astype(np.float32)  # zero away from the edges: detail comes from the photo
    return linear_in_grey(coefficients, full).numpy(), corrected(correction, full).numpy()


def compute_matte(
    photo: Image.Image,
    probabilities: np.ndarray,
    refine: str = "matting",
    config: MatteConfig = MatteConfig(),
    marks: np.ndarray | None = None,
) -> Matte:
    """The matte of a segmented photo (`photo` as displayed, `probabilities` at the model's size).

    A photo with no pet (and no pet mark) gives an all-zero matte (`is_empty`) without running the
    solver. `marks` (`core.inference.marks.rasterize` at the photo's size) are obeyed: `fast` applies them as
    hard edits, `matting` also solves the soft edges around them again."""
    if refine not in REFINE_LEVELS:
        raise ValueError(f"refine must be one of {', '.join(REFINE_LEVELS)}, got {refine!r}")
    started = time.perf_counter()
    pet_marked = marks is not None and bool((marks == 1).any())
    if not pet_marked and not (pet_score(probabilities) >= PET_THRESHOLD).any():
        return Matte(np.zeros(photo.size[::-1], np.uint8), None, refine, time.perf_counter() - started)
    rgb = photo if photo.mode == "RGB" else photo.convert("RGB")
    matted = matting_matte(rgb, probabilities, config, marks) if refine == "matting" else None
    if matted is None:  # `fast`, or matting with nothing sure to start from
        alpha, foreground = fast_matte(rgb, probabilities, config)
        return Matte(obey_marks(alpha, marks), foreground, "fast", time.perf_counter() - started)
    alpha, foreground = matted
    return Matte(obey_marks(alpha, marks), foreground, refine, time.perf_counter() - started)


def warm_up() -> None:
    """Load pymatting's compiled (numba) functions and trace the full-size graphs once, so the first
    cut-out a person asks for is not the slow one (about 2 s here, mostly numba's cache)."""
    yy, xx = np.mgrid[0:32, 0:32]
    inside = np.hypot(xx - 16, yy - 16) < 9
    probabilities = np.stack([inside, ~inside, np.zeros_like(inside)], axis=-1).astype(np.float32)
    photo = Image.fromarray(np.where(inside[..., None], 200, 40).astype(np.uint8).repeat(3, axis=-1)).resize((96, 64))
    compute_matte(photo, probabilities, "matting", MatteConfig(work_side=48))
