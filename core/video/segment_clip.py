"""A clip to videos: every frame segmented through the photos' own path, steadied, then written.

Frames go through `Segmenter.segment_many` in batches (views, TTA, runtime, clean-up as for
photos), their probabilities through `core.video.steady.Steadier`, and each frame's matte, cut-out,
overlay or mask colours through `core.inference.render`, into one `VideoWriter` per format. At
most one batch of frames is held in memory.
"""

from __future__ import annotations

import contextlib
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

from PIL import Image

from core.config import ClipLimits, SteadyConfig
from core.data.imaging import ImageError
from core.inference import render
from core.inference.matte import Matte
from core.inference.predict import Segmentation, Segmenter
from core.inference.render import CutoutOptions
from core.video.clip import ClipError, ClipInfo, ClipSource, check_limits, probe, read_frames
from core.video.encode import VIDEO_KINDS, VideoWriter
from core.video.steady import Steadier

CLIP_FORMATS = ("cutout", "alpha", "overlay", "colour")
"""What a clip can be turned into (`--format`); a photo's `mask` and `npy` have no video form."""
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class ClipRequest:
    """What to make of a clip: formats, cut-out options (clips default to `fast` edges: matting costs
    seconds a frame), the transparent cut-out's container, steadying, limits."""

    formats: tuple[str, ...] = ("cutout",)
    cutout: CutoutOptions = CutoutOptions(refine="fast")
    video_format: str = "webm"
    overlay_alpha: float = 0.5
    cleanup: bool = False
    steady: SteadyConfig = SteadyConfig()
    limits: ClipLimits = ClipLimits()

    def __post_init__(self) -> None:
        unknown = [kind for kind in self.formats if kind not in CLIP_FORMATS]
        if unknown or not self.formats:
            raise ValueError(f"clip formats are {', '.join(CLIP_FORMATS)}; got {', '.join(self.formats) or 'none'}")
        if self.video_format not in VIDEO_KINDS:
            raise ValueError(f"video_format must be one of {', '.join(VIDEO_KINDS)}, got {self.video_format!r}")

    def kind_of(self, format: str) -> str:
        """The container a format is written in."""
        if format == "cutout" and self.cutout.background.transparent:
            return self.video_format
        return "mp4"


def clip_output_names(stem: str, request: ClipRequest) -> dict[str, str]:
    """Format -> file name: `<stem>_cutout.webm`, `<stem>_alpha.mp4`, `<stem>_overlay.mp4`, `<stem>_colour.mp4`."""
    return {format: f"{stem}_{format}.{request.kind_of(format)}" for format in request.formats}


@dataclass
class ClipSummary:
    info: ClipInfo
    frames: int
    seconds: float
    outputs: dict[str, Path]

    @property
    def frames_per_second(self) -> float:
        return self.frames / max(self.seconds, 1e-9)


def frame_picture(format: str, result: Segmentation, request: ClipRequest, matte: Matte | None) -> Image.Image:
    """One frame of one format's video (`matte`: the frame's, for `cutout` and `alpha`)."""
    if format == "alpha":
        return Image.fromarray(matte.alpha8, mode="L")
    if format == "cutout":
        return render.cutout(result.photo.rgb, matte, replace(request.cutout, crop=False))  # every frame one size
    if format == "overlay":
        return render.overlay(result.photo.rgb, result.trimap, request.overlay_alpha)
    return render.colourise(result.trimap)


def steadied_results(
    segmenter: Segmenter,
    frames: Iterable[Image.Image],
    steady: SteadyConfig = SteadyConfig(),
    cleanup: bool = False,
    batch_size: int = 8,
) -> Iterator[Segmentation]:
    """Each frame segmented (in batches, through the photos' path) with its probabilities steadied."""
    steadier = Steadier(steady)
    for index, (frame, result) in enumerate(segmenter.segment_many(frames, batch_size, cleanup)):
        if isinstance(result, ImageError):
            raise ClipError(f"frame {index + 1} cannot be read ({result})")
        yield Segmentation(result.photo, steadier(result.probabilities, frame), result.seconds, cleanup)


def segment_clip(
    segmenter: Segmenter,
    source: ClipSource,
    out_dir: Path,
    stem: str,
    request: ClipRequest = ClipRequest(),
    name: str | None = None,
    progress: Progress | None = None,
    batch_size: int = 8,
) -> ClipSummary:
    """Segment every frame of `source` and write the videos `request` asks for into `out_dir`.
    `progress(done, total)` is called after each frame. Raises `ClipError` (unreadable, over a limit)
    before anything is written."""
    started = time.perf_counter()
    info = probe(source, name)
    check_limits(info, request.limits)
    names = clip_output_names(stem, request)
    needs_matte = any(format in ("cutout", "alpha") for format in request.formats)
    done = 0
    with contextlib.ExitStack() as stack:  # on an error every writer is aborted: no half video is left
        writers = {
            format: stack.enter_context(
                VideoWriter(out_dir / file_name, request.kind_of(format), info.fps, (info.width, info.height),
                            None if request.kind_of(format) == "gif" or not info.has_audio else source)
            )
            for format, file_name in names.items()
        }  # fmt: skip
        frames = read_frames(source, name)
        for steadied in steadied_results(segmenter, frames, request.steady, request.cleanup, batch_size):
            matte = steadied.matte(request.cutout.refine) if needs_matte else None
            for format, writer in writers.items():
                writer.write(frame_picture(format, steadied, request, matte))
            done += 1
            if progress is not None:
                progress(done, info.frames)
    outputs = {format: out_dir / file_name for format, file_name in names.items()}
    return ClipSummary(info, done, time.perf_counter() - started, outputs)


def segment_clip_bytes(
    segmenter: Segmenter, data: bytes, name: str, request: ClipRequest, progress: Progress | None = None
) -> tuple[ClipSummary, dict[str, bytes]]:
    """`segment_clip` for an upload (the API and the dashboard): the videos' bytes by format."""
    with tempfile.TemporaryDirectory(prefix="petseg-clip-") as folder:
        summary = segment_clip(segmenter, data, Path(folder), Path(name).stem, request, name, progress)
        return summary, {format: path.read_bytes() for format, path in summary.outputs.items()}
