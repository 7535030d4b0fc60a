"""The Oxford-IIIT Pet dataset: discovery, the reference split, decoding and the tf.data pipeline.

Flow: `find_pairs` matches `images/<stem>.*` with `annotations/trimaps/<stem>.png` by stem;
`reference_split` splits the stems as the reference report's code does (`split_pairs` also knows
the dataset's official trainval/test lists); `load_arrays` decodes
and resizes each pair once (threads; Pillow releases the GIL) into uint8 arrays held in memory;
`make_dataset` shuffles, augments image and mask together, batches and prefetches.
Anything unusable is skipped and counted, never fatal.
"""

from __future__ import annotations

import random
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, get_args

import numpy as np

from core.data.imaging import ImageError, Photo, TrimapError, load_trimap, resize_for_model, resize_mask
from core.data.labels import to_class_index
from core.errors import PetSegError

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".gif", ".webp", ".bmp", ".tif", ".tiff"}


class DatasetError(PetSegError, RuntimeError):
    """The dataset folder is missing or holds no usable pair; the message says how to fix it."""


@dataclass(frozen=True)
class Pair:
    stem: str
    image: Path
    trimap: Path

    @property
    def breed(self) -> str:
        return breed_of(self.stem)

    @property
    def species(self) -> str:
        return species_of(self.stem)


def breed_of(stem: str) -> str:
    return stem.rsplit("_", 1)[0]


def species_of(stem: str) -> str:
    """Oxford-IIIT Pet convention: cat breeds are capitalised, dog breeds are not."""
    return "cat" if stem[:1].isupper() else "dog"


@dataclass
class SkipReport:
    """What was left out and why; `summary()` gives the one-line account."""

    reasons: Counter = field(default_factory=Counter)
    examples: dict[str, list[str]] = field(default_factory=dict)

    def add(self, reason: str, detail: str) -> None:
        self.reasons[reason] += 1
        self.examples.setdefault(reason, [])
        if len(self.examples[reason]) < 5:
            self.examples[reason].append(detail)

    def merge(self, other: SkipReport) -> None:
        for reason, details in other.examples.items():
            for detail in details:
                self.add(reason, detail)
            self.reasons[reason] += other.reasons[reason] - len(details)

    @property
    def total(self) -> int:
        return sum(self.reasons.values())

    def summary(self) -> str:
        if not self.total:
            return "skipped nothing"
        parts = ", ".join(f"{count} {reason}" for reason, count in sorted(self.reasons.items()))
        return f"skipped {self.total}: {parts}"

    def to_dict(self) -> dict:
        return {"total": self.total, "reasons": dict(self.reasons), "examples": self.examples}


def _missing_dataset_message(root: Path) -> str:
    return (
        f"no Oxford-IIIT Pet dataset at {root}: expected {root / 'images'} and "
        f"{root / 'annotations' / 'trimaps'}. Download it with `python -m core download --dest {root}` "
        "or point --data-dir at an existing copy"
    )


def find_pairs(root: Path) -> tuple[list[Pair], SkipReport]:
    """Image/trimap pairs matched by file stem, sorted by stem; unmatched files are reported."""
    root = Path(root)
    image_dir, trimap_dir = root / "images", root / "annotations" / "trimaps"
    if not image_dir.is_dir() or not trimap_dir.is_dir():
        raise DatasetError(_missing_dataset_message(root))
    report = SkipReport()

    def visible(folder: Path, suffixes: set[str]) -> dict[str, Path]:
        files = {}
        for path in folder.iterdir():
            if path.name.startswith(".") or not path.is_file():
                continue
            if path.suffix.lower() not in suffixes:
                report.add("stray files", path.name)
                continue
            files[path.stem] = path
        return files

    images = visible(image_dir, IMAGE_SUFFIXES)
    trimaps = visible(trimap_dir, {".png"})
    for stem in sorted(images.keys() - trimaps.keys()):
        report.add("images without trimap", stem)
    for stem in sorted(trimaps.keys() - images.keys()):
        report.add("trimaps without image", stem)
    pairs = [Pair(stem, images[stem], trimaps[stem]) for stem in sorted(images.keys() & trimaps.keys())]
    if not pairs:
        raise DatasetError(f"no image/trimap pairs in {root} ({report.summary()}). " + _missing_dataset_message(root))
    return pairs, report


def validation_count(total: int, val_size: int = 1000) -> int:
    """`val_size`, capped at 20% of the pairs so that small datasets still train."""
    return max(1, min(val_size, int(total * 0.2)))


Split = Literal["reference", "official", "official-test"]
SPLITS: tuple[str, ...] = get_args(Split)
"""Which pairs train and which are scored: `reference` (the report's 1000 random validation pairs),
`official` (the official `trainval.txt`, a seeded tenth of it held out for validation) and
`official-test` (trainval trains, the official `test.txt` is scored: for evaluation only)."""
OFFICIAL_HOLDOUT_SHARE = 0.1


def official_list(root: Path, name: str, pairs: list[Pair], report: SkipReport) -> list[Pair]:
    """The pairs named in `annotations/<name>.txt` (official format: stem and three ids per line);
    listed stems without a pair are counted in `report`."""
    path = Path(root) / "annotations" / f"{name}.txt"
    if not path.is_file():
        raise DatasetError(
            f"{path} is missing: the official split lists come with the dataset's annotations archive. "
            f"Download it with `python -m core download --dest {root}`, or use the reference split"
        )
    by_stem = {pair.stem: pair for pair in pairs}
    listed = []
    for line in path.read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        stem = line.split()[0]
        if stem in by_stem:
            listed.append(by_stem[stem])
        else:
            report.add(f"listed in {name}.txt without a pair", stem)
    return listed


def split_pairs(
    root: Path, pairs: list[Pair], split: Split, report: SkipReport, val_size: int = 1000, seed: int = 1337
) -> tuple[list[Pair], list[Pair]]:
    """(training pairs, scored pairs) of the named split (`SPLITS`)."""
    if split == "reference":
        return reference_split(pairs, val_size, seed)
    trainval = official_list(root, "trainval", pairs, report)
    if split == "official-test":
        return trainval, official_list(root, "test", pairs, report)
    if split != "official":
        raise ValueError(f"unknown split {split!r}; choose one of {', '.join(SPLITS)}")
    random.Random(seed).shuffle(trainval)
    held_out = max(1, round(len(trainval) * OFFICIAL_HOLDOUT_SHARE))
    return trainval[:-held_out], trainval[-held_out:]


def reference_split(pairs: list[Pair], val_size: int = 1000, seed: int = 1337) -> tuple[list[Pair], list[Pair]]:
    """The reference report's split: sort by stem, shuffle with `random.Random(seed)`, last N validate."""
    ordered = sorted(pairs, key=lambda pair: pair.stem)
    random.Random(seed).shuffle(ordered)
    count = validation_count(len(ordered), val_size)
    return ordered[:-count], ordered[-count:]


@dataclass
class ArraySet:
    """Decoded pairs: images (N, S, S, 3) uint8 and class-index masks (N, S, S) uint8 (0 pet, 1 bg, 2 border)."""

    pairs: list[Pair]
    images: np.ndarray
    masks: np.ndarray

    def __len__(self) -> int:
        return len(self.pairs)


def _decode_pair(pair: Pair, size: int, mask_size: int) -> tuple[np.ndarray, np.ndarray]:
    photo = Photo.open(pair.image)
    trimap = load_trimap(pair.trimap)
    if trimap.shape[::-1] != photo.size:
        raise TrimapError(f"{pair.trimap.name}: trimap is {trimap.shape[::-1]}, image is {photo.size}")
    return resize_for_model(photo.rgb_at_least(size), size), to_class_index(resize_mask(trimap, mask_size))


def load_arrays(
    pairs: list[Pair], size: int, workers: int = 4, mask_size: int | None = None
) -> tuple[ArraySet, SkipReport]:
    """Decode and resize every pair once (images bilinear to `size`, masks nearest to `mask_size`,
    by default the same); skip and count bad ones."""
    report = SkipReport()
    mask_size = mask_size or size
    images = np.zeros((len(pairs), size, size, 3), np.uint8)
    masks = np.zeros((len(pairs), mask_size, mask_size), np.uint8)
    kept: list[Pair] = []

    def decode(pair: Pair):
        try:
            return _decode_pair(pair, size, mask_size)
        except ImageError as error:
            return ("undecodable images", str(error))
        except TrimapError as error:
            return ("bad trimaps", str(error))

    with ThreadPoolExecutor(workers) as pool:
        for pair, result in zip(pairs, pool.map(decode, pairs)):
            if isinstance(result[0], str):
                report.add(*result)
                continue
            images[len(kept)], masks[len(kept)] = result
            kept.append(pair)
    return ArraySet(kept, images[: len(kept)], masks[: len(kept)]), report


@dataclass
class SplitData:
    train: ArraySet
    val: ArraySet
    report: SkipReport

    def summary(self) -> dict:
        return {
            "train_pairs": len(self.train),
            "val_pairs": len(self.val),
            "skipped": self.report.to_dict(),
        }


def load_split(
    root: Path,
    size: int,
    val_size: int = 1000,
    seed: int = 1337,
    limit: int | None = None,
    need_train: bool = True,
    split: Split = "reference",
    mask_size: int | None = None,
) -> SplitData:
    """Find, split (`split_pairs`), optionally limit (first N of each part) and decode the dataset;
    `mask_size` decodes the scored part's masks at another size than the images (scoring at 128 px)."""
    pairs, report = find_pairs(root)
    train_pairs, val_pairs = split_pairs(root, pairs, split, report, val_size, seed)
    if limit is not None:
        train_pairs, val_pairs = train_pairs[:limit], val_pairs[:limit]
    train, train_report = load_arrays(train_pairs if need_train else [], size)
    val, val_report = load_arrays(val_pairs, size, mask_size=mask_size)
    report.merge(train_report)
    report.merge(val_report)
    if need_train and not len(train):
        raise DatasetError(f"no usable training pairs in {root} ({report.summary()})")
    if not len(val):
        raise DatasetError(f"no usable validation pairs in {root} ({report.summary()})")
    return SplitData(train, val, report)


def augment_batch(images, masks, seed, max_zoom: float = 0.25):
    """Random zoom/crop/translation and horizontal flip (one `crop_and_resize` for image and mask
    alike, masks with nearest sampling), then brightness, contrast and saturation jitter.

    Stateless: the same `seed` (shape [2]) always gives the same augmentation.
    """
    import tensorflow as tf

    batch = tf.shape(images)[0]
    size = (images.shape[1], images.shape[2])
    seeds = iter(tf.unstack(tf.random.experimental.stateless_split(seed, num=7)))

    def uniform(low: float, high: float):
        return tf.random.stateless_uniform([batch], next(seeds), low, high)

    scale = uniform(1.0 - max_zoom, 1.0)
    top = uniform(0.0, 1.0) * (1.0 - scale)
    left = uniform(0.0, 1.0) * (1.0 - scale)
    flip = uniform(0.0, 1.0) < 0.5
    x1 = tf.where(flip, left + scale, left)
    x2 = tf.where(flip, left, left + scale)
    boxes = tf.stack([top, x1, top + scale, x2], axis=1)
    index = tf.range(batch)
    images = tf.image.crop_and_resize(tf.cast(images, tf.float32), boxes, index, size, method="bilinear")
    masks = tf.image.crop_and_resize(tf.cast(masks[..., None], tf.float32), boxes, index, size, method="nearest")
    brightness = uniform(-0.15, 0.15)[:, None, None, None] * 255.0
    contrast = uniform(0.8, 1.2)[:, None, None, None]
    saturation = uniform(0.7, 1.3)[:, None, None, None]
    grey = tf.reduce_mean(images, axis=-1, keepdims=True)
    images = grey + (images - grey) * saturation
    mean = tf.reduce_mean(images, axis=(1, 2, 3), keepdims=True)
    images = (images - mean) * contrast + mean + brightness
    return tf.clip_by_value(images, 0.0, 255.0), tf.cast(tf.squeeze(masks, -1), tf.uint8)


def make_dataset(arrays: ArraySet, batch_size: int, training: bool, augment: bool = True, seed: int = 1337):
    """A tf.data pipeline over decoded arrays: (shuffle, augment,) batch, prefetch."""
    import tensorflow as tf

    dataset = tf.data.Dataset.from_tensor_slices((arrays.images, arrays.masks))
    if training:
        dataset = dataset.shuffle(len(arrays), seed=seed, reshuffle_each_iteration=True)
    # Training drops the last partial batch (reshuffled each epoch, so no pair is always left
    # out); equal batches also keep replicas in step under a multi-worker strategy.
    dataset = dataset.batch(batch_size, drop_remainder=training and len(arrays) >= batch_size)
    if training and augment:
        seeds = tf.data.Dataset.random(seed=seed).batch(2)
        dataset = tf.data.Dataset.zip(dataset, seeds).map(
            lambda batch, seed: augment_batch(*batch, seed), num_parallel_calls=tf.data.AUTOTUNE
        )
    else:
        dataset = dataset.map(lambda x, y: (tf.cast(x, tf.float32), y))
    options = tf.data.Options()
    # In-memory data has no files to shard: under a multi-worker strategy each worker takes its share of batches.
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return dataset.with_options(options).prefetch(tf.data.AUTOTUNE)
