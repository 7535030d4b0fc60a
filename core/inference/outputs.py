"""The files PetSeg writes for a segmented photo, shared by the CLI and the dashboard downloads."""

from __future__ import annotations

import functools
import io
import zipfile
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import PurePath
from typing import TYPE_CHECKING

import numpy as np

from core.inference import render
from core.inference.marks import Mark
from core.inference.matte import Matte
from core.inference.render import CutoutOptions

if (
    TYPE_CHECKING
):  # importing core.inference.predict would load TensorFlow, which the CLI does only after checking options
    from core.inference.predict import Segmentation

FORMATS = ("mask", "colour", "overlay", "npy", "cutout", "alpha")
"""mask: `<stem>_mask.png`, the label map: single channel, values 1/2/3 (the dataset's format; an
image viewer shows it near-black), the photo's size; colour: `<stem>_mask_colour.png`, the mask in
the dashboard's colours;
overlay: `<stem>_overlay.png`; npy: `<stem>_probs.npy`, (H, W, 3) float32 class probabilities
at the model's scale (short side the input size, `core.inference.views`); cutout: `<stem>_cutout.png`, the
pet cut out (RGBA when the background is transparent), the photo's size unless cropped; alpha:
`<stem>_alpha.png`, the alpha matte, 8-bit 0 (background) .. 255 (pet), the photo's size, or
cropped as the cut-out is."""
DEFAULT_FORMATS = ("mask", "overlay")
"""What `python -m core predict` writes unless `--format` says otherwise."""
SUFFIXES = {
    "mask": "_mask.png",
    "colour": "_mask_colour.png",
    "overlay": "_overlay.png",
    "npy": "_probs.npy",
    "cutout": "_cutout.png",
    "alpha": "_alpha.png",
}


def output_stems(names: Sequence[str]) -> list[str]:
    """The stem each input's outputs are named after, for inputs whose outputs share a folder (or a ZIP).

    A file's own stem (`cat.jpg` -> `cat_mask.png`), unless another input there has the same stem:
    then all of them use their whole name (`cat.jpg_mask.png`, `cat.png_mask.png`). It depends only
    on the set of names, so a rerun over the same files finds the same outputs. Names in a folder
    are unique; uploads may repeat one, and a repeated name is numbered in order (`cat.jpg (2)`)."""
    stems = [PurePath(name).stem for name in names]
    while True:
        counts = Counter(stems)
        clashing = [index for index, stem in enumerate(stems) if counts[stem] > 1 and stem != names[index]]
        if not clashing:
            break
        for index in clashing:
            stems[index] = names[index]
    seen: Counter[str] = Counter()
    for index, stem in enumerate(stems):
        seen[stem] += 1
        if seen[stem] > 1:
            stems[index] = f"{stem} ({seen[stem]})"
    return stems


def output_names(stem: str, formats: tuple[str, ...] = DEFAULT_FORMATS) -> list[str]:
    return [stem + SUFFIXES[kind] for kind in formats]


def _npy_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array.astype(np.float32))
    return buffer.getvalue()


def output_makers(
    stem: str,
    result: Segmentation,
    overlay_alpha: float = 0.5,
    formats: tuple[str, ...] = DEFAULT_FORMATS,
    cutout: CutoutOptions = CutoutOptions(),
    matte: Matte | None = None,
    marks: list[Mark] | None = None,
) -> dict[str, Callable[[], bytes]]:
    """For each file of `formats`, by file name, a function that encodes it (so a download can be
    encoded only when it is asked for). The matte (`matte`, if already computed for `cutout.refine`
    and `marks`) is computed at most once, and only for a cut-out or alpha file, obeying `marks`."""
    matte_once = functools.cache(lambda: matte if matte is not None else result.matte(cutout.refine, marks))
    makers = {
        "mask": lambda: render.trimap_png(result.trimap),
        "colour": lambda: render.png_bytes(render.colourise(result.trimap)),
        "overlay": lambda: render.png_bytes(render.overlay(result.photo.rgb, result.trimap, overlay_alpha)),
        "npy": lambda: _npy_bytes(result.probabilities),
        "cutout": lambda: render.png_bytes(render.cutout(result.photo.rgb, matte_once(), cutout)),
        "alpha": lambda: render.png_bytes(render.alpha_image(matte_once(), cutout)),
    }
    return {stem + SUFFIXES[kind]: makers[kind] for kind in formats}


def output_files(
    stem: str,
    result: Segmentation,
    overlay_alpha: float = 0.5,
    formats: tuple[str, ...] = DEFAULT_FORMATS,
    cutout: CutoutOptions = CutoutOptions(),
    marks: list[Mark] | None = None,
) -> dict[str, bytes]:
    """The files of `formats` for one photo, encoded, by file name (`marks`: its touch-up marks)."""
    makers = output_makers(stem, result, overlay_alpha, formats, cutout, marks=marks)
    return {name: make() for name, make in makers.items()}


def zip_outputs(
    results: dict[str, Segmentation],
    overlay_alpha: float = 0.5,
    formats: tuple[str, ...] = DEFAULT_FORMATS,
    cutout: CutoutOptions = CutoutOptions(),
    model_note: str | None = None,
    marks: dict[str, list[Mark]] | None = None,
) -> bytes:
    """All output files of several photos in one ZIP archive, keyed by output stem (`output_stems`);
    `model_note` (which model made them) goes in as `MODEL.txt`; `marks`: touch-up marks by stem."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        if model_note:
            archive.writestr("MODEL.txt", model_note.rstrip() + "\n")
        for stem, result in results.items():
            files = output_files(stem, result, overlay_alpha, formats, cutout, (marks or {}).get(stem))
            for name, payload in files.items():
                archive.writestr(name, payload)
    return buffer.getvalue()
