"""Bulk prediction over files and folder trees of any size, streamed in batches.

Files are discovered lazily (one folder at a time), at most one batch of photos is held in
memory, outputs mirror the input tree, inputs whose outputs all exist are skipped (resume), and
bad files are reported and listed without stopping the run.

Nothing is lost or done twice: each input's outputs are named by `outputs.output_stems` (same-stem
photos of a folder keep their extension), an input that would still write another input's files
is refused and listed, the output folder is never walked as input, and every file is written
under a temporary name and renamed, so a killed run leaves only whole files and a rerun redoes
exactly the inputs whose outputs are not all there. `shard` splits the inputs among machines.
"""

from __future__ import annotations

import os
import time
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from tqdm import tqdm

from core.data.dataset import IMAGE_SUFFIXES
from core.data.imaging import ImageError
from core.errors import PetSegError
from core.files import write_bytes
from core.inference.marks import Mark
from core.inference.outputs import DEFAULT_FORMATS, output_files, output_names, output_stems
from core.inference.predict import Segmenter
from core.inference.render import CutoutOptions


class ShardError(PetSegError, ValueError):
    """A `--shard` value that is not K/N with 0 <= K < N."""


@dataclass(frozen=True)
class Shard:
    """Part `index` of `count`: an input belongs to it when a checksum of its path relative to the
    argument it was found under is `index` modulo `count`. Deterministic on every machine, so N
    machines given the same arguments split the work without talking to each other."""

    index: int = 0
    count: int = 1

    @classmethod
    def parse(cls, text: str) -> Shard:
        try:
            index, count = (int(part) for part in text.split("/"))
        except ValueError:
            raise ShardError(f"--shard {text!r}: expected K/N, e.g. 0/4 for the first of 4 parts") from None
        if not 0 <= index < count:
            raise ShardError(f"--shard {text!r}: K must be in 0..N-1 (0/{count} to {count - 1}/{count})")
        return cls(index, count)

    def holds(self, relative: str) -> bool:
        return self.count == 1 or zlib.crc32(relative.encode("utf-8")) % self.count == self.index


@dataclass
class BulkSummary:
    written: int = 0
    skipped_existing: int = 0
    failed: list[str] = field(default_factory=list)
    images_per_second: float = 0.0


@dataclass(frozen=True)
class Planned:
    """One input: where its outputs go and the stem they are named after."""

    file: Path
    folder: Path
    stem: str
    relative: str
    """Its path relative to the argument it was found under (what `Shard` splits on)."""


def _is_image(name: str) -> bool:
    return not name.startswith(".") and Path(name).suffix.lower() in IMAGE_SUFFIXES


def walk_folders(
    path: Path, exclude: Path | None = None, accepts: Callable[[str], bool] = _is_image
) -> Iterator[tuple[Path, list[str]]]:
    """(folder, sorted names of the files `accepts`: images by default) under `path`, one folder at a
    time; hidden entries and the folder `exclude` (an output folder inside the input tree) are not entered."""
    excluded = exclude.resolve() if exclude is not None else None
    for folder, subfolders, files in os.walk(path):
        subfolders[:] = sorted(
            name
            for name in subfolders
            if not name.startswith(".") and (excluded is None or (Path(folder) / name).resolve() != excluded)
        )
        yield Path(folder), sorted(name for name in files if accepts(name))


def planned(paths: list[Path], out: Path, accepts: Callable[[str], bool] = _is_image) -> Iterator[Planned]:
    """Every input with its output folder and stem: a folder's tree is mirrored under `out`, files
    given by name write to `out` itself. In folders, only the files `accepts` (images by default)."""
    files = list(dict.fromkeys(path for path in paths if not path.is_dir()))
    for path, stem in zip(files, output_stems([path.name for path in files])):
        yield Planned(path, out, stem, path.name)
    for root in (path for path in paths if path.is_dir()):
        for folder, names in walk_folders(root, exclude=out, accepts=accepts):
            relative = folder.relative_to(root)
            for name, stem in zip(names, output_stems(names)):
                yield Planned(folder / name, out / relative, stem, (relative / name).as_posix())


def remove_interrupted_writes(folder: Path, names: list[str]) -> None:
    """Temporary files a killed run left for these outputs (`files.atomic_path` names them `.NAME.*`)."""
    for name in names:
        for stray in folder.glob(f".{name}.*"):
            stray.unlink(missing_ok=True)


def predict_tree(
    segmenter: Segmenter,
    paths: list[Path],
    out: Path,
    stream: TextIO,
    formats: tuple[str, ...] = DEFAULT_FORMATS,
    overwrite: bool = False,
    batch_size: int = 16,
    cleanup: bool = False,
    shard: Shard = Shard(),
    cutout: CutoutOptions = CutoutOptions(),
    marks: dict[str, list[Mark]] | None = None,
) -> BulkSummary:
    summary = BulkSummary()
    destinations: dict[Path, Planned] = {}
    writers: dict[Path, Path] = {}  # output file -> the input that writes it, in this run
    started = time.perf_counter()
    # disable=None: a live bar on a terminal, nothing on a pipe or a log file (the CLI prints a summary)
    progress = tqdm(desc="predict", unit="img", file=stream, mininterval=0.5, dynamic_ncols=True, disable=None)

    def todo() -> Iterator[Path]:
        for item in planned(paths, out):
            if not shard.holds(item.relative):
                continue
            targets = [item.folder / name for name in output_names(item.stem, formats)]
            other = next((writers[target] for target in targets if writers.get(target, item.file) != item.file), None)
            if other is not None:
                summary.failed.append(str(item.file))
                progress.write(
                    f"error: {item.file}: its outputs would overwrite those of {other} "
                    "(same name, same output folder); segment it into another --out",
                    file=stream,
                )
                continue
            writers.update((target, item.file) for target in targets)
            if not overwrite and all(target.exists() for target in targets):
                summary.skipped_existing += 1
                continue
            destinations[item.file] = item
            yield item.file

    for file, result in segmenter.segment_many(todo(), batch_size=batch_size, cleanup=cleanup):
        item = destinations.pop(file)
        if isinstance(result, ImageError):
            summary.failed.append(str(file))
            progress.write(f"error: {result}", file=stream)
            continue
        files = output_files(item.stem, result, formats=formats, cutout=cutout, marks=(marks or {}).get(file.name))
        remove_interrupted_writes(item.folder, list(files))
        for name, payload in files.items():
            write_bytes(item.folder / name, payload)
        summary.written += 1
        progress.update(1)
    progress.close()
    summary.images_per_second = summary.written / max(time.perf_counter() - started, 1e-9)
    return summary
