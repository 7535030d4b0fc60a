"""The files PetSeg writes for a segmented photo, shared by the CLI and the dashboard downloads."""

from __future__ import annotations

import io
import zipfile

from core.imaging import png_bytes
from core.predict import Segmentation


def output_files(stem: str, result: Segmentation, overlay_alpha: float = 0.5) -> dict[str, bytes]:
    """`<stem>_mask.png` (single channel, values 1/2/3, photo size) and `<stem>_overlay.png`."""
    return {
        f"{stem}_mask.png": result.mask_png(),
        f"{stem}_overlay.png": png_bytes(result.overlay(overlay_alpha)),
    }


def zip_outputs(results: dict[str, Segmentation], overlay_alpha: float = 0.5) -> bytes:
    """All output files of several photos in one ZIP archive."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for stem, result in results.items():
            for name, payload in output_files(stem, result, overlay_alpha).items():
                archive.writestr(name, payload)
    return buffer.getvalue()
