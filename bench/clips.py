"""Synthetic clips with ground truth for every frame, made from a dataset photo and its trimap.

A still photo filmed without camera motion (still, with sensor-like noise per frame), a pan, a zoom,
and the pet walking across the photo's own background: the trimap is moved exactly as the photo,
so each frame's true mask is known. Used by `bench/video.py` and the video tests.
"""

from __future__ import annotations

from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import numpy as np
from PIL import Image

MOTIONS = ("still", "pan", "zoom", "walk")


def _window(photo_size: tuple[int, int], motion: str, t: float, size: tuple[int, int]) -> tuple[float, ...]:
    """The crop (left, top, right, bottom) of the photo that frame t (0..1) shows."""
    width, height = photo_size
    aspect = size[0] / size[1]
    crop_w = min(width, height * aspect) * (0.8 if motion in ("pan", "still", "walk") else 1.0)
    crop_h = crop_w / aspect
    if motion == "zoom":
        scale = 1.0 - 0.25 * t
        crop_w, crop_h = crop_w * scale, crop_h * scale
    left = (width - crop_w) / 2 + (((t - 0.5) * 0.2 * width) if motion == "pan" else 0.0)
    top = (height - crop_h) / 2
    left = min(max(left, 0.0), width - crop_w)
    return left, top, left + crop_w, top + crop_h


def synthetic_frames(
    photo: Image.Image, trimap: np.ndarray, motion: str, frames: int, size: tuple[int, int], seed: int = 0
) -> Iterator[tuple[Image.Image, np.ndarray]]:
    """(frame, true trimap at the frame's size) for each frame of a `motion` clip of `photo`."""
    rng = np.random.default_rng(seed)
    labels = Image.fromarray(trimap.astype(np.uint8))
    photo = photo.convert("RGB")
    pet = trimap != 2
    for index in range(frames):
        t = index / max(frames - 1, 1)
        box = _window(photo.size, motion, t, size)
        if motion == "walk":
            shift = round((t - 0.5) * 0.3 * photo.width)
            moved_photo, moved_labels = _walked(photo, labels, pet, shift)
            frame = moved_photo.resize(size, Image.BILINEAR, box=box)
            truth = np.asarray(moved_labels.resize(size, Image.NEAREST, box=box))
        else:
            frame = photo.resize(size, Image.BILINEAR, box=box)
            truth = np.asarray(labels.resize(size, Image.NEAREST, box=box))
        noisy = np.asarray(frame, np.float32) + rng.normal(0, 3, (size[1], size[0], 3))
        yield Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8)), truth


def _walked(photo: Image.Image, labels: Image.Image, pet: np.ndarray, shift: int) -> tuple[Image.Image, Image.Image]:
    """The pet (and its border) moved `shift` px sideways over the photo's background, the hole it
    leaves filled from each row's background pixels (a rough but steady plate)."""
    pixels = np.asarray(photo).copy()
    plate = pixels.copy()
    for row in range(pixels.shape[0]):
        fill = pixels[row][~pet[row]]
        if len(fill):
            plate[row][pet[row]] = fill.mean(axis=0)
    moved = np.roll(pet, shift, axis=1)
    plate[moved] = np.roll(pixels, shift, axis=1)[moved]
    truth = np.full(pet.shape, 2, np.uint8)
    truth[moved] = np.roll(np.asarray(labels), shift, axis=1)[moved]
    return Image.fromarray(plate), Image.fromarray(truth)


def write_mp4(path: Path, frames: list[Image.Image], fps: int = 15, tone_hz: float | None = None) -> Path:
    """An H.264 MP4 of `frames`, with a sine tone as its audio track when `tone_hz` is given."""
    import av

    with av.open(str(path), mode="w") as container:
        video = container.add_stream("libx264", rate=fps, options={"preset": "ultrafast", "crf": "18"})
        video.width, video.height = frames[0].size
        video.pix_fmt = "yuv420p"
        audio = container.add_stream("aac", rate=44100, layout="mono") if tone_hz else None
        for index, picture in enumerate(frames):
            frame = av.VideoFrame.from_image(picture)
            frame.pts = index
            container.mux(video.encode(frame))
        container.mux(video.encode(None))
        if audio is not None:
            samples = round(44100 * len(frames) / fps)
            wave = (0.2 * np.sin(2 * np.pi * tone_hz * np.arange(samples) / 44100)).astype(np.float32)
            for start in range(0, samples, 1024):
                chunk = av.AudioFrame.from_ndarray(wave[None, start : start + 1024], format="fltp", layout="mono")
                chunk.sample_rate = 44100
                chunk.pts = start
                chunk.time_base = Fraction(1, 44100)
                container.mux(audio.encode(chunk))
            container.mux(audio.encode(None))
    return path
