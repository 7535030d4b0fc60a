"""The files PetSeg writes for a segmented photo, shared by the CLI and the dashboard downloads."""

from __future__ import annotations

import io
import zipfile

import numpy as np

from core.imaging import png_bytes
from core.predict import Segmentation

FORMATS = ("mask", "overlay", "npy")
"""mask: `<stem>_mask.png`, single channel, values 1/2/3, the photo's size;
overlay: `<stem>_overlay.png`; npy: `<stem>_probs.npy`, (S, S, 3) float32 class probabilities
at the model's input size."""
SUFFIXES = {"mask": "_mask.png", "overlay": "_overlay.png", "npy": "_probs.npy"}


def output_names(stem: str, formats: tuple[str, ...] = ("mask", "overlay")) -> list[str]:
    return [stem + SUFFIXES[kind] for kind in formats]


def _npy_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array.astype(np.float32))
    return buffer.getvalue()


def output_files(
    stem: str, result: Segmentation, overlay_alpha: float = 0.5, formats: tuple[str, ...] = ("mask", "overlay")
) -> dict[str, bytes]:
    makers = {
        "mask": result.mask_png,
        "overlay": lambda: png_bytes(result.overlay(overlay_alpha)),
        "npy": lambda: _npy_bytes(result.probabilities),
    }
    return {stem + SUFFIXES[kind]: makers[kind]() for kind in formats}


def zip_outputs(results: dict[str, Segmentation], overlay_alpha: float = 0.5) -> bytes:
    """All output files of several photos in one ZIP archive."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for stem, result in results.items():
            for name, payload in output_files(stem, result, overlay_alpha).items():
                archive.writestr(name, payload)
    return buffer.getvalue()
