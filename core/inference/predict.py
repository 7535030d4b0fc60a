"""Prediction: `Segmenter` loads a model once and turns any photo into a trimap.

The photo is decoded safely (`core.data.imaging.Photo`), stretched to the model's input size exactly
as the training data was (a wide or tall photo also seen in square crops, `core.inference.views`),
segmented, and the class probabilities are resized back to the size the photo is displayed at
before the argmax, so the mask lines up with what a person sees.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np
from PIL import Image

from core.config import DEFAULT_MODEL_PATH, RuntimeConfig, ViewConfig
from core.data.imaging import ImageError, ImageSource, Photo, preview
from core.data.labels import Class, TrimapValue
from core.inference.marks import Mark, rasterize
from core.inference.matte import Matte, compute_matte
from core.inference.runtime import KerasNetwork, Network, load_network
from core.inference.views import merge_views, view_inputs
from core.model.model_io import load_model

PET_CONFIDENCE = 0.75
"""A photo holds a pet when some pixel is pet with at least this probability. Measured with the
shipped model: 99% of validation photos reach 0.84 or more (all but 9 of 1000 reach 0.8),
while gradients and noise stay below 0.6 even where they get a few pet-labelled pixels."""


@functools.cache
def _upscale_argmax():
    """A compiled function: (s, s, 3) probabilities and a target (height, width) to a uint8 trimap.

    Bilinear interpolation is linear, so argmax over the resized probabilities equals comparing
    the resized differences pet - background and border - background: two channels to resize
    instead of three and no full-size argmax (about 25% faster on a 12-megapixel photo).
    Ties resolve as `argmax` does (pet before background before border).
    """
    import tensorflow as tf

    @tf.function(input_signature=[tf.TensorSpec([None, None, 3], tf.float32), tf.TensorSpec([2], tf.int32)])
    def upscale(probabilities, size):
        differences = tf.stack(
            [probabilities[..., 0] - probabilities[..., 1], probabilities[..., 2] - probabilities[..., 1]], axis=-1
        )
        resized = tf.image.resize(differences[None], size, method="bilinear")[0]
        pet, border = resized[..., 0], resized[..., 1]
        background = (pet < 0) & (border <= 0)
        return tf.where(
            background,
            tf.constant(2, tf.uint8),
            tf.where(pet >= border, tf.constant(1, tf.uint8), tf.constant(3, tf.uint8)),
        )

    return upscale


def probabilities_to_trimap(probabilities: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize (s, s, 3) probabilities to `size` = (width, height) bilinearly, then argmax to values 1..3."""
    width, height = size
    return _upscale_argmax()(np.asarray(probabilities, np.float32), np.array([height, width], np.int32)).numpy()


STRAY_SHARE = 0.1
"""`cleanup` drops a pet region smaller than this share of the largest one. Measured on the 1000
validation images (`python -m bench.cleanup`, bench/RESULTS.md): it drops 263 of the 266 false
regions beside the largest (and 181 of 186 real but tiny ones: a paw cut off by a bar), while a
second pet, whose area is rarely under a tenth of the first's, is kept; pooled pet IoU is the same
(0.8763 vs 0.8762 without clean-up). Keeping only the largest region deleted any second pet."""


def drop_stray_pet_regions(trimap: np.ndarray, min_share: float = STRAY_SHARE) -> np.ndarray:
    """Turn pet regions (pet and border connected) smaller than `min_share` of the largest into background."""
    from scipy import ndimage

    labels, count = ndimage.label(trimap != TrimapValue.BACKGROUND)
    if count <= 1:
        return trimap
    sizes = np.bincount(labels.ravel())
    sizes[0] = 0
    stray = np.flatnonzero(sizes < min_share * sizes.max())
    cleaned = trimap.copy()
    cleaned[np.isin(labels, stray[stray != 0])] = TrimapValue.BACKGROUND
    return cleaned


@dataclass
class Segmentation:
    """The result for one photo."""

    photo: Photo
    probabilities: np.ndarray
    """(H, W, 3) float32 class probabilities at the model's scale: (S, S, 3) for a squarish photo,
    else the short side S and the long side in proportion (`core.inference.views`)."""
    seconds: float
    """Decoding, model input and inference: the prediction itself."""
    cleanup: bool = False
    """Drop stray pet regions (`drop_stray_pet_regions`) from the trimap."""

    @cached_property
    def resolved(self) -> np.ndarray:
        """The probabilities every output is drawn from: the model's own when it found a pet
        (`found_pet`); otherwise certain background everywhere, so that the mask, the pet share,
        the cut-out and the matte all say what the page says: no pet (not a few faint blobs)."""
        if self.found_pet:
            return self.probabilities
        nothing = np.zeros_like(self.probabilities)
        nothing[..., Class.BACKGROUND] = 1.0
        return nothing

    @cached_property
    def trimap(self) -> np.ndarray:
        """(H, W) uint8 at the displayed size: 1 pet, 2 background, 3 border. Made on first use
        (70 ms on a 12 MP photo, which a cut-out alone does not need)."""
        trimap = probabilities_to_trimap(self.resolved, self.photo.size)
        return drop_stray_pet_regions(trimap) if self.cleanup else trimap

    def matte(self, refine: str = "matting", marks: list[Mark] | None = None, max_side: int | None = None) -> Matte:
        """The alpha matte at the photo's size (`core.inference.matte`); empty when no pet was found (and none
        is marked). `marks`: touch-up marks in the photo's pixels (`core.inference.marks`), obeyed.
        `max_side`: made for a screen instead, at most this large (a 12 MP photo's matte costs seconds more,
        which a 1024 px view does not show)."""
        photo = self.photo.rgb if max_side is None else preview(self.photo.rgb, max_side)
        scale = photo.width / self.photo.size[0]
        return compute_matte(photo, self.resolved, refine, marks=rasterize(marks or [], photo.size, scale))

    @property
    def found_pet(self) -> bool:
        """Whether the model is anywhere confident of a pet (`PET_CONFIDENCE`)."""
        return bool(self.probabilities[..., Class.PET].max() >= PET_CONFIDENCE)

    @property
    def pet_fraction(self) -> float:
        """Share of the photo that is pet (pet plus border)."""
        return float(np.mean(self.trimap != TrimapValue.BACKGROUND))


def batch_bucket(count: int, step: int = 4) -> int:
    """The batch size a call of `count` images runs at: itself up to `step`, then the next multiple
    of `step` (a 16-photo API batch of 3 views each: 13 shapes in all, at most 3 padded images)."""
    return count if count <= step else -(-count // step) * step


class Segmenter:
    """A loaded model and everything needed to segment photos with it.

    `runtime` chooses what runs the network (`core.inference.runtime`: OpenVINO where installed,
    else Keras); a Keras `model` given in memory runs on Keras. `tta=True` averages each prediction
    with that of the mirrored photo (flip test-time augmentation): higher mean IoU at twice the
    compute (the model cards give the figures). Safe to share between threads: the network runs
    one call at a time, under its own lock (shared by `with_options` copies).
    """

    def __init__(
        self,
        model_path: Path | str = DEFAULT_MODEL_PATH,
        model=None,
        tta: bool = False,
        views: ViewConfig = ViewConfig(),
        runtime: RuntimeConfig | str = "auto",
        network: Network | None = None,
    ) -> None:
        self.model_path = Path(model_path)
        config = runtime if isinstance(runtime, RuntimeConfig) else RuntimeConfig(runtime)
        if network is None:
            network = KerasNetwork(model) if model is not None else load_network(self.model_path, config)
        self.runtime_config = config
        self.network = network
        self.input_size = network.input_size
        self.tta = tta
        self.views = views

    @property
    def runtime(self) -> str:
        """`openvino` or `keras`: what runs the network."""
        return self.network.runtime

    @cached_property
    def model(self):
        """The Keras model (loaded from the file when the network runs on OpenVINO)."""
        return self.network.model if isinstance(self.network, KerasNetwork) else load_model(self.model_path)

    def with_options(self, tta: bool | None = None, views: ViewConfig | None = None) -> Segmenter:
        """This segmenter with other TTA or views, sharing its loaded network."""
        return Segmenter(
            self.model_path,
            tta=self.tta if tta is None else tta,
            views=self.views if views is None else views,
            runtime=self.runtime_config,
            network=self.network,
        )

    def predict_arrays(self, images: np.ndarray) -> np.ndarray:
        """Class probabilities (N, S, S, 3) for uint8 or float images (N, S, S, 3) in 0..255. Runs
        as calls of at most `RuntimeConfig.images_per_call` images, each padded to
        `batch_bucket(n)`, so a server sees few batch shapes and bounded buffers: either runtime
        keeps memory for every shape and for the largest batch it has run."""
        images = np.asarray(images, dtype=np.float32)
        per_call = self.runtime_config.images_per_call
        starts = range(0, len(images), per_call)
        calls = [self._predict_call(images[start : start + per_call], per_call) for start in starts]
        return np.concatenate(calls) if calls else np.zeros((0, *images.shape[1:]), np.float32)

    def _predict_call(self, images: np.ndarray, per_call: int) -> np.ndarray:
        count = len(images)
        padded = min(batch_bucket(count), per_call)
        if padded != count:
            images = np.concatenate([images, np.zeros((padded - count, *images.shape[1:]), np.float32)])
        with self.network.lock:
            return self.network.predict(images, self.tta)[:count]

    def warm_up(self) -> Segmenter:
        """Trace the compiled functions once, so the first real photo is not the slow one."""
        self.predict_arrays(np.zeros((1, self.input_size, self.input_size, 3), np.float32))
        probabilities_to_trimap(np.full((self.input_size, self.input_size, 3), 1 / 3, np.float32), (8, 8))
        return self

    def model_input(self, photo: Photo) -> np.ndarray:
        """(K, S, S, 3) uint8: the photo's views (`core.inference.views`), the whole photo first."""
        return view_inputs(photo.rgb_at_least(self.input_size), self.input_size, self.views, photo.size)

    def segmentation(
        self, photo: Photo, view_probabilities: np.ndarray, cleanup: bool = False, started: float | None = None
    ) -> Segmentation:
        """The result for `photo` from its views' probabilities (K, S, S, 3), merged; `started`: the
        `time.perf_counter()` at which its prediction began."""
        probabilities = merge_views(view_probabilities, photo.size, self.views)
        seconds = 0.0 if started is None else time.perf_counter() - started
        return Segmentation(photo, probabilities, seconds, cleanup)

    def decode_for_model(self, source: ImageSource | Image.Image | Photo) -> tuple[Photo, np.ndarray]:
        """The photo and its model inputs: everything before the model (the HTTP API batches the rest)."""
        photo = as_photo(source)
        return photo, self.model_input(photo)

    def segment(self, source: ImageSource | Image.Image | Photo, cleanup: bool = False) -> Segmentation:
        """Segment one photo: a path, bytes, a file object, a Pillow image or a `Photo`."""
        started = time.perf_counter()
        photo, model_input = self.decode_for_model(source)
        return self.segmentation(photo, self.predict_arrays(model_input), cleanup, started)

    def segment_many(
        self, sources: Iterable[ImageSource], batch_size: int = 16, cleanup: bool = False
    ) -> Iterator[tuple[ImageSource, Segmentation | ImageError]]:
        """Segment photos in batches; yields (source, result or the error for that file), in input order."""
        pending: list[tuple[ImageSource, Photo | ImageError, np.ndarray | None]] = []

        def flush() -> Iterator[tuple[ImageSource, Segmentation | ImageError]]:
            started = time.perf_counter()
            inputs = [item[2] for item in pending if item[2] is not None]
            probabilities = self.predict_arrays(np.concatenate(inputs)) if inputs else None
            done = 0
            for source, photo, views in pending:
                if views is None:
                    yield source, photo
                    continue
                yield source, self.segmentation(photo, probabilities[done : done + len(views)], cleanup, started)
                done += len(views)
            pending.clear()

        for source in sources:
            try:
                photo = as_photo(source)
                pending.append((source, photo, self.model_input(photo)))
            except ImageError as error:
                pending.append((source, error, None))
            if len(pending) >= batch_size:
                yield from flush()
        if pending:
            yield from flush()


def as_photo(source: ImageSource | Image.Image | Photo) -> Photo:
    if isinstance(source, Photo):
        return source
    if isinstance(source, Image.Image):
        return Photo.from_pil(source)
    return Photo.open(source)
