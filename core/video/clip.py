"""Reading video clips with PyAV (FFmpeg's libraries inside its wheels; no system ffmpeg needed).

A clip is checked against `ClipLimits` from its container's header before any frame is decoded,
so a two-hour film is refused in milliseconds with one line that says the limit and how to cut
the clip. Frames come out as RGB Pillow images as displayed (the container's display rotation, as
phones record portrait clips, applied), one at a time: a clip is never held whole in memory.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from PIL import Image

from core.config import ClipLimits
from core.errors import PetSegError

CLIP_SUFFIXES = frozenset({".mp4", ".m4v", ".mov", ".webm", ".mkv", ".avi"})
IMAGE_BRANDS = (b"heic", b"heix", b"mif1", b"msf1", b"avif", b"avis")
"""ISO-BMFF brands of still pictures (HEIF/AVIF): the same box layout as an MP4, but a photo."""


class ClipError(PetSegError, ValueError):
    """A clip PetSeg cannot read or that is over a limit; the message names the clip and the fix."""


class ClipTooLarge(ClipError):
    """A clip over one of `ClipLimits` (an API answers 413)."""


ClipSource = Path | bytes


def is_clip_name(name: str) -> bool:
    return not name.startswith(".") and Path(name).suffix.lower() in CLIP_SUFFIXES


def looks_like_clip(head: bytes) -> bool:
    """Whether the first bytes of a file are a video container's (MP4/MOV, WebM/Matroska, AVI):
    how an upload without a trustworthy name is told from a photo."""
    if len(head) >= 12 and head[4:8] == b"ftyp":
        return head[8:12] not in IMAGE_BRANDS
    return head.startswith(b"\x1a\x45\xdf\xa3") or (head[:4] == b"RIFF" and head[8:12] == b"AVI ")


@dataclass(frozen=True)
class ClipInfo:
    name: str
    width: int
    """As displayed (after the display rotation)."""
    height: int
    fps: Fraction
    frames: int
    """Frames in the video stream: the container's count, or duration x rate where it has none."""
    seconds: float
    rotation: int
    """Display rotation in degrees, counter-clockwise (0, 90, 180, 270)."""
    has_audio: bool


def _open(source: ClipSource):
    import av

    return av.open(io.BytesIO(source) if isinstance(source, bytes) else str(source))


def _name(source: ClipSource, name: str | None) -> str:
    return name or (source.name if isinstance(source, Path) else "clip")


def probe(source: ClipSource, name: str | None = None) -> ClipInfo:
    """The clip's size, rate, length and audio, from its header (and its first frame's rotation)."""
    import av

    label = _name(source, name)
    try:
        with _open(source) as container:
            if not container.streams.video:
                raise ClipError(f"{label}: no video stream in it (an audio file?); send a video clip or a photo")
            stream = container.streams.video[0]
            fps = stream.average_rate or stream.guessed_rate or Fraction(30)
            if stream.duration is not None and stream.time_base is not None:
                seconds = float(stream.duration * stream.time_base)
            elif container.duration is not None:
                seconds = container.duration / av.time_base
            else:
                seconds = 0.0
            frames = stream.frames or round(seconds * float(fps))
            first = next(container.decode(stream), None)
            if first is None:
                raise ClipError(f"{label}: the clip holds no frame that can be decoded; is it cut short?")
            rotation = round(first.rotation) % 360 if first.rotation else 0
            width, height = first.width, first.height
            if rotation in (90, 270):
                width, height = height, width
            if not seconds:
                seconds = frames / float(fps)
            return ClipInfo(
                label, width, height, Fraction(fps), frames, seconds, rotation, bool(container.streams.audio)
            )
    except av.FFmpegError as error:
        raise ClipError(
            f"{label}: not a video PetSeg can read ({error.strerror or error}); try an MP4 or WebM"
        ) from None


def check_limits(info: ClipInfo, limits: ClipLimits = ClipLimits()) -> None:
    """Raise `ClipTooLarge` naming the first limit `info` is over and an ffmpeg command that fixes it."""
    cut = f"ffmpeg -i {info.name} -t {limits.max_seconds:g} -c copy short.mp4"
    if info.seconds > limits.max_seconds + 0.05:
        raise ClipTooLarge(
            f"{info.name}: {info.seconds:.1f} s is over the {limits.max_seconds:g} s limit; cut it: {cut}"
        )
    if info.frames > limits.max_frames:
        raise ClipTooLarge(
            f"{info.name}: {info.frames} frames is over the {limits.max_frames} frame limit; cut it shorter "
            f"(ffmpeg -i {info.name} -frames:v {limits.max_frames} short.mp4) or lower its frame rate "
            f"(ffmpeg -i {info.name} -r 30 slower.mp4)"
        )
    long_side, short_side = max(info.width, info.height), min(info.width, info.height)
    if long_side > limits.max_long_side or short_side > limits.max_short_side:
        raise ClipTooLarge(
            f"{info.name}: {info.width}x{info.height} is over the 4K limit "
            f"({limits.max_long_side}x{limits.max_short_side}); scale it down: "
            f"ffmpeg -i {info.name} -vf scale=-2:1080 smaller.mp4"
        )


def _displayed(frame) -> Image.Image:
    picture = frame.to_image()
    rotation = round(frame.rotation) % 360 if frame.rotation else 0
    return picture.rotate(rotation, expand=True) if rotation else picture


def read_frames(source: ClipSource, name: str | None = None) -> Iterator[Image.Image]:
    """The clip's frames in order, RGB as displayed."""
    import av

    label = _name(source, name)
    try:
        with _open(source) as container:
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            for frame in container.decode(stream):
                yield _displayed(frame)
    except av.FFmpegError as error:
        raise ClipError(f"{label}: the clip is damaged after its start ({error.strerror or error})") from None


def frame_at(source: ClipSource, index: int, name: str | None = None) -> Image.Image:
    """Frame `index` (0-based) of the clip, as displayed; the last one when the clip is shorter."""
    last = None
    for position, frame in enumerate(read_frames(source, name)):
        last = frame
        if position == index:
            break
    if last is None:
        raise ClipError(f"{_name(source, name)}: the clip holds no frame")
    return last
