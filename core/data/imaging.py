"""Safe image decoding, colour maps and overlays.

Every photo that enters PetSeg, from the dataset, the CLI or a browser upload, goes through
`Photo.open`: the format is sniffed from the bytes (never the file name), the pixel count is
checked before any pixel is decoded (decompression bombs), EXIF orientation is applied and the
result is always RGB. Anything that is not a usable image raises `ImageError` with a message
that names the problem.
"""

from __future__ import annotations

import io
import os
from functools import cached_property
from pathlib import Path
from typing import BinaryIO

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from core.data.labels import TrimapValue
from core.errors import PetSegError

MAX_PIXELS = 64_000_000
"""Largest image accepted (64 megapixels); bigger ones are refused before decoding."""
MAX_FILE_BYTES = 100 * 1024 * 1024
"""Largest file accepted (a 24 MP PNG is about 70 MB); the dashboard's upload limit
(`.streamlit/config.toml`, maxUploadSize) is the same."""

# Pillow's own bomb guard is replaced by ours, which says what is wrong and what to do.
Image.MAX_IMAGE_PIXELS = None

ImageSource = str | os.PathLike | bytes | BinaryIO


class ImageError(PetSegError, ValueError):
    """A file or upload that cannot be used as a photo; the message says why."""


def _read_bytes(source: ImageSource) -> tuple[bytes, str]:
    """The raw bytes of `source` and a name for messages."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        return bytes(source), "upload"
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if not path.exists():
            raise ImageError(f"{path}: no such file")
        if path.is_dir():
            raise ImageError(f"{path}: is a folder, not an image")
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise ImageError(f"{path}: file is {size / 2**20:.0f} MB; the limit is {MAX_FILE_BYTES // 2**20} MB")
        return path.read_bytes(), str(path)
    data = source.read(MAX_FILE_BYTES + 1)
    if len(data) > MAX_FILE_BYTES:
        raise ImageError(f"upload is larger than {MAX_FILE_BYTES // 2**20} MB")
    return data, getattr(source, "name", "upload")


def _to_rgb(image: Image.Image) -> Image.Image:
    """Any Pillow mode to 8-bit RGB; transparency is composited over white."""
    if image.mode == "RGB":
        return image
    if image.mode.startswith("I") or image.mode == "F":
        # 16/32-bit greyscale: Pillow's convert() would clip, so rescale 16-bit ranges to 8 bits.
        array = np.asarray(image, dtype=np.float64)
        if array.size and array.max() > 255:
            array = array * (255.0 / 65535.0)
        return Image.fromarray(np.clip(array, 0, 255).astype(np.uint8)).convert("RGB")
    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in image.info:
        rgba = image.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    return image.convert("RGB")


class Photo:
    """A validated image: header checked, displayed size known, pixels decoded on demand."""

    def __init__(self, data: bytes, name: str = "upload", max_pixels: int = MAX_PIXELS) -> None:
        self.name = name
        self._data = data
        if not data:
            raise ImageError(f"{name}: file is empty")
        image = self._open()
        width, height = image.size
        if width < 1 or height < 1:
            raise ImageError(f"{name}: image has no pixels ({width}x{height})")
        if width * height > max_pixels:
            raise ImageError(
                f"{name}: image is {width}x{height} = {width * height / 1e6:.0f} megapixels; "
                f"the limit is {max_pixels / 1e6:.0f} megapixels (possible decompression bomb); "
                "resize it first"
            )
        self.format = image.format or "unknown"
        try:  # reading EXIF can touch the pixel data (PNG keeps it after the image)
            orientation = image.getexif().get(0x0112, 1)
        except Exception as error:  # noqa: BLE001 - Pillow raises many types on damaged files
            raise ImageError(f"{name}: image data is corrupt or truncated ({error})") from None
        swap = orientation in (5, 6, 7, 8)
        self.size: tuple[int, int] = (height, width) if swap else (width, height)
        """Width and height as a person sees the photo (EXIF orientation applied)."""

    @classmethod
    def open(cls, source: ImageSource, max_pixels: int = MAX_PIXELS) -> Photo:
        data, name = _read_bytes(source)
        return cls(data, name, max_pixels)

    @classmethod
    def from_pil(cls, image: Image.Image) -> Photo:
        """Wrap an already decoded Pillow image (any mode, any EXIF orientation)."""
        photo = cls.__new__(cls)
        photo.name, photo._data, photo.format = "image", b"", image.format or "pil"
        oriented = ImageOps.exif_transpose(image)
        photo.size = oriented.size
        photo.__dict__["rgb"] = _to_rgb(oriented)
        return photo

    def _open(self) -> Image.Image:
        try:
            return Image.open(io.BytesIO(self._data))
        except UnidentifiedImageError:
            if self._data[4:12] in (b"ftypheic", b"ftypheix", b"ftypmif1", b"ftyphevc", b"ftypavif"):
                raise ImageError(
                    f"{self.name}: HEIC/AVIF photos (as iPhones save them) cannot be read here; "
                    "export or share the photo as JPEG"
                ) from None
            raise ImageError(f"{self.name}: not an image (unrecognised format)") from None
        except Exception as error:  # noqa: BLE001 - Pillow raises many types on damaged headers
            raise ImageError(f"{self.name}: cannot read image header ({error})") from None

    def _decode(self, image: Image.Image) -> Image.Image:
        try:
            image.seek(0)
            image.load()
            oriented = ImageOps.exif_transpose(image)
            return _to_rgb(oriented)
        except MemoryError:
            raise ImageError(f"{self.name}: image too large to decode in memory") from None
        except Exception as error:  # noqa: BLE001 - Pillow raises many types on damaged data
            raise ImageError(f"{self.name}: image data is corrupt or truncated ({error})") from None

    @cached_property
    def rgb(self) -> Image.Image:
        """The full-resolution RGB image, oriented as displayed."""
        return self._decode(self._open())

    def rgb_at_least(self, side: int) -> Image.Image:
        """An RGB version at least `side` pixels on each axis, decoded cheaply when possible.

        JPEGs are decoded at 1/2, 1/4 or 1/8 scale with Pillow's `draft` (the DCT does the
        downscaling), which makes a 12-megapixel photo several times cheaper to segment.
        """
        if "rgb" in self.__dict__ or not self._data:
            return self.rgb
        image = self._open()
        if image.format == "JPEG":
            image.draft("RGB", (side, side))
        return self._decode(image)


class TrimapError(ValueError):
    """A trimap file that is unreadable or holds values outside {1, 2, 3}."""


def load_trimap(path: Path | str) -> np.ndarray:
    """A trimap as a (H, W) uint8 array with values in {1, 2, 3}."""
    path = Path(path)
    try:
        with Image.open(path) as image:
            array = np.asarray(image)
    except (OSError, ValueError, SyntaxError) as error:
        raise TrimapError(f"{path.name}: unreadable trimap ({error})") from None
    if array.ndim == 3:
        array = array[..., 0]
    values = np.unique(array)
    bad = [int(v) for v in values if v not in set(TrimapValue)]
    if bad:
        raise TrimapError(f"{path.name}: trimap values {bad} outside {{1, 2, 3}}")
    return array.astype(np.uint8)


def resize_for_model(image: Image.Image, size: int) -> np.ndarray:
    """The model's view of a photo: stretched to size x size with bilinear filtering, uint8 RGB.

    Training data and every prediction go through this one function, so they always match.
    """
    return np.asarray(image.convert("RGB").resize((size, size), Image.BILINEAR), dtype=np.uint8)


def resize_plane(plane: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """A float (h, w) array resized bilinearly to `size` = (width, height), pixel centres aligned."""
    if (plane.shape[1], plane.shape[0]) == tuple(size):
        return plane.astype(np.float32, copy=False)
    return np.asarray(Image.fromarray(plane.astype(np.float32), mode="F").resize(size, Image.BILINEAR))


def resize_mask(trimap: np.ndarray, size: int | tuple[int, int]) -> np.ndarray:
    """A label map stretched to size x size (or `size` = (width, height)) with nearest-neighbour
    sampling (never interpolated)."""
    size = (size, size) if isinstance(size, int) else tuple(size)
    return np.asarray(Image.fromarray(trimap).resize(size, Image.NEAREST), dtype=np.uint8)


def preview(image: Image.Image, max_side: int) -> Image.Image:
    """A copy no larger than `max_side` on either axis, for display."""
    if max(image.size) <= max_side:
        return image
    copy = image.copy()
    copy.thumbnail((max_side, max_side), Image.BILINEAR)
    return copy
