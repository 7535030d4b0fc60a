"""Bulk prediction over files and folder trees of any size, streamed in batches.

Files are discovered lazily (one folder at a time), at most one batch of photos is held in
memory, outputs mirror the input tree, inputs whose outputs all exist are skipped (resume),
and bad files are reported and listed without stopping the run.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, TextIO

from core.data import IMAGE_SUFFIXES
from core.files import write_bytes
from core.imaging import ImageError
from core.outputs import output_files, output_names
from core.predict import Segmenter
from core.progress import Progress


@dataclass
class BulkSummary:
    written: int = 0
    skipped_existing: int = 0
    failed: list[str] = field(default_factory=list)
    images_per_second: float = 0.0


def walk_images(path: Path) -> Iterator[Path]:
    """Image files under `path` in sorted order, one folder at a time (hidden entries ignored)."""
    for folder, subfolders, files in os.walk(path):
        subfolders[:] = sorted(name for name in subfolders if not name.startswith("."))
        for name in sorted(files):
            if not name.startswith(".") and Path(name).suffix.lower() in IMAGE_SUFFIXES:
                yield Path(folder) / name


def planned(paths: list[Path], out: Path) -> Iterator[tuple[Path, Path]]:
    """(input file, output folder) pairs: a folder's tree is mirrored under `out`."""
    for path in paths:
        if path.is_dir():
            for file in walk_images(path):
                yield file, out / file.parent.relative_to(path)
        else:
            yield path, out


def predict_tree(
    segmenter: Segmenter,
    paths: list[Path],
    out: Path,
    stream: TextIO,
    formats: tuple[str, ...] = ("mask", "overlay"),
    overwrite: bool = False,
    batch_size: int = 16,
    cleanup: bool = False,
) -> BulkSummary:
    summary = BulkSummary()
    destinations: dict[Path, Path] = {}
    progress = Progress("predict", stream, unit="img", scale=1, interval=0.5)

    def todo() -> Iterator[Path]:
        for file, folder in planned(paths, out):
            if not overwrite and all((folder / name).exists() for name in output_names(file.stem, formats)):
                summary.skipped_existing += 1
                continue
            destinations[file] = folder
            yield file

    for file, result in segmenter.segment_many(todo(), batch_size=batch_size, cleanup=cleanup):
        folder = destinations.pop(file)
        if isinstance(result, ImageError):
            summary.failed.append(str(file))
            stream.write(f"\rerror: {result}\n")
            continue
        for name, payload in output_files(file.stem, result, formats=formats).items():
            write_bytes(folder / name, payload)
        summary.written += 1
        progress.update(1)
    progress.close()
    summary.images_per_second = progress.rate
    return summary
