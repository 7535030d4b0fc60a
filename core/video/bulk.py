"""Clips in bulk prediction: `python -m core predict` takes clips beside photos, in folders too.

The same rules as photos (`core.inference.bulk`): outputs mirror the input tree, a clip whose
videos all exist is skipped (resume: each video is written under a temporary name and renamed, so
a killed run leaves none half-written), a clip that fails is listed and the rest go on, `--shard`
splits clips among machines as it splits photos.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from tqdm import tqdm

from core.inference.bulk import Shard, planned, remove_interrupted_writes
from core.inference.predict import Segmenter
from core.video.clip import ClipError, is_clip_name
from core.video.segment_clip import ClipRequest, clip_output_names, segment_clip


@dataclass
class ClipsSummary:
    written: int = 0
    skipped_existing: int = 0
    frames: int = 0
    seconds: float = 0.0
    failed: list[str] = field(default_factory=list)

    @property
    def frames_per_second(self) -> float:
        return self.frames / max(self.seconds, 1e-9)


def predict_clips(
    segmenter: Segmenter,
    paths: list[Path],
    out: Path,
    stream: TextIO,
    request: ClipRequest | None,
    overwrite: bool = False,
    shard: Shard | None = None,
) -> ClipsSummary:
    """Segment every clip among `paths` (files, and clips found in folders) into `out`. `request`
    None: none of the asked formats has a video form, and each clip found is listed as failed."""
    summary = ClipsSummary()
    for item in planned(paths, out, accepts=is_clip_name):
        if shard is not None and not shard.holds(item.relative):
            continue
        if request is None:
            summary.failed.append(str(item.file))
            print(
                f"error: {item.file}: a clip is written as cutout, alpha, overlay or colour; add one to --format",
                file=stream,
            )
            continue
        names = list(clip_output_names(item.stem, request).values())
        if not overwrite and all((item.folder / name).exists() for name in names):
            summary.skipped_existing += 1
            continue
        remove_interrupted_writes(item.folder, names)
        with tqdm(desc=item.file.name, unit="frame", file=stream, mininterval=0.5, disable=None) as bar:

            def advance(done: int, total: int) -> None:
                bar.total = max(total, done)
                bar.update(done - bar.n)

            try:
                result = segment_clip(segmenter, item.file, item.folder, item.stem, request, progress=advance)
            except ClipError as error:
                summary.failed.append(str(item.file))
                bar.write(f"error: {error}", file=stream)
                continue
        summary.written += 1
        summary.frames += result.frames
        summary.seconds += result.seconds
    return summary
