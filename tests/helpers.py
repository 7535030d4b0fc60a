"""Small shared helpers: synthetic pets written as real files, tiny models, common assertions."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "oxford-iiit-pet"
BUNDLED_CAT = Path(__file__).resolve().parents[1] / "samples" / "pets" / "images" / "Ragdoll_100.jpg"


def real_pet(width: int, height: int) -> Image.Image:
    """A real cat photo (bundled validation sample) at this size: for tests that need the shipped
    model to find a pet. The synthetic ellipse is no pet to an ImageNet-pretrained model."""
    with Image.open(BUNDLED_CAT) as photo:
        return photo.convert("RGB").resize((width, height), Image.LANCZOS)


def synthetic_pet(width: int, height: int, seed: int) -> tuple[Image.Image, np.ndarray]:
    """A photo with an ellipse 'pet' on a noisy background, and its trimap (1 pet, 2 bg, 3 border)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width]
    cx, cy = rng.uniform(0.35, 0.65) * width, rng.uniform(0.35, 0.65) * height
    rx, ry = rng.uniform(0.2, 0.35) * width, rng.uniform(0.2, 0.35) * height
    distance = ((xx - cx) / rx) ** 2 + ((yy - cy) / ry) ** 2
    trimap = np.full((height, width), 2, np.uint8)
    trimap[distance <= 1.15] = 3
    trimap[distance <= 0.85] = 1
    pixels = rng.integers(0, 60, (height, width, 3)).astype(np.uint8) + np.array([20, 90, 160], np.uint8)
    pixels[distance <= 1.0] = np.array([230, 150, 40], np.uint8)
    return Image.fromarray(pixels), trimap


def write_dataset(root: Path, count: int = 12, size: tuple[int, int] = (48, 40)) -> Path:
    """An Oxford-IIIT Pet style folder with `count` synthetic pairs (cat and dog breed names)."""
    (root / "images").mkdir(parents=True, exist_ok=True)
    (root / "annotations" / "trimaps").mkdir(parents=True, exist_ok=True)
    for index in range(count):
        stem = f"{'Persian' if index % 2 else 'beagle'}_{index + 1}"
        photo, trimap = synthetic_pet(*size, seed=index)
        photo.save(root / "images" / f"{stem}.jpg", quality=95)
        Image.fromarray(trimap).save(root / "annotations" / "trimaps" / f"{stem}.png")
    return root


def write_official_lists(root: Path, trainval: list[str], test: list[str]) -> None:
    """The dataset's official split lists (`annotations/trainval.txt`, `test.txt`) naming these stems."""
    for name, stems in (("trainval", trainval), ("test", test)):
        (root / "annotations" / f"{name}.txt").write_text("".join(f"{stem} 1 1 1\n" for stem in stems))


def tiny_train_args(dataset: Path, out: Path, epochs: int, batch_size: int) -> list[str]:
    """The `train` arguments of a tiny-preset run, for `core.cli.main` or after `python -m core`."""
    return [
        "train",
        "--data-dir",
        str(dataset),
        "--out",
        str(out),
        "--preset",
        "tiny",
        "--epochs",
        str(epochs),
        "--batch-size",
        str(batch_size),
    ]


def encode(image: Image.Image, format: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=format, **options)
    return buffer.getvalue()


def jpeg_bytes(image: Image.Image, **options) -> bytes:
    return encode(image, "JPEG", **options)


def png_bytes(image: Image.Image) -> bytes:
    return encode(image, "PNG")


def assert_trimap(trimap: np.ndarray, size: tuple[int, int]) -> None:
    """A mask as PetSeg promises it: (height, width) of the displayed photo, uint8 values in {1, 2, 3}."""
    width, height = size
    assert trimap.shape == (height, width), f"mask shape {trimap.shape} != displayed size {(height, width)}"
    assert trimap.dtype == np.uint8
    assert set(np.unique(trimap)) <= {1, 2, 3}, f"unexpected values {np.unique(trimap)}"


ODD_INPUT_NAMES = [
    "greyscale.png",
    "rgba.png",
    "palette.gif",
    "cmyk.jpg",
    "sixteen_bit.png",
    "photo.webp",
    "png_named.jpg",
    "exif_rotated.jpg",
    "tiny_8x8.png",
    "strip_2000x50.jpg",
    "big_24mp.jpg",
    "animated.gif",
    "empty.jpg",
    "text.jpg",
    "page.png",
    "archive.jpg",
    "truncated.jpg",
    "bomb.png",
    "missing.jpg",
    "a_folder.jpg",
]


def odd_inputs(tmp: Path) -> dict[str, tuple[Path, tuple[int, int] | None]]:
    """The hardening matrix: name -> (file written under `tmp`, displayed size or None if it must be refused)."""
    photo, _ = synthetic_pet(120, 90, seed=7)
    cases: dict[str, tuple[bytes, tuple[int, int] | None]] = {}
    cases["greyscale.png"] = (encode(photo.convert("L"), "PNG"), (120, 90))
    cases["rgba.png"] = (encode(photo.convert("RGBA"), "PNG"), (120, 90))
    cases["palette.gif"] = (encode(photo.convert("P"), "GIF"), (120, 90))
    cases["cmyk.jpg"] = (encode(photo.convert("CMYK"), "JPEG"), (120, 90))
    sixteen = Image.fromarray(np.asarray(photo.convert("L"), np.uint16) * 257)
    cases["sixteen_bit.png"] = (encode(sixteen, "PNG"), (120, 90))
    cases["photo.webp"] = (encode(photo, "WEBP"), (120, 90))
    cases["png_named.jpg"] = (encode(photo, "PNG"), (120, 90))
    exif = photo.getexif()
    exif[0x0112] = 6
    cases["exif_rotated.jpg"] = (encode(photo, "JPEG", exif=exif.tobytes()), (90, 120))
    cases["tiny_8x8.png"] = (encode(photo.resize((8, 8)), "PNG"), (8, 8))
    cases["strip_2000x50.jpg"] = (encode(photo.resize((2000, 50)), "JPEG"), (2000, 50))
    big = Image.fromarray(np.asarray(photo.resize((6000, 4000), Image.NEAREST)))
    cases["big_24mp.jpg"] = (encode(big, "JPEG", quality=80), (6000, 4000))
    frames = [photo, photo.transpose(Image.FLIP_LEFT_RIGHT)]
    cases["animated.gif"] = (encode(frames[0], "GIF", save_all=True, append_images=frames[1:]), (120, 90))
    cases["empty.jpg"] = (b"", None)
    cases["text.jpg"] = (b"just some text, not an image\n" * 3, None)
    cases["page.png"] = (b"<!doctype html><html><body>hello</body></html>", None)
    cases["archive.jpg"] = (b"PK\x03\x04\x14\x00\x00\x00\x08\x00" + bytes(range(256)), None)
    whole = encode(photo.resize((600, 400)), "JPEG")
    cases["truncated.jpg"] = (whole[: len(whole) // 3], None)
    cases["bomb.png"] = (bomb_png(60000, 60000), None)
    written: dict[str, tuple[Path, tuple[int, int] | None]] = {}
    for name, (payload, size) in cases.items():
        path = tmp / name
        path.write_bytes(payload)
        written[name] = (path, size)
    written["missing.jpg"] = (tmp / "does_not_exist.jpg", None)
    folder = tmp / "a_folder.jpg"
    folder.mkdir(exist_ok=True)
    written["a_folder.jpg"] = (folder, None)
    return written


def bomb_png(width: int, height: int) -> bytes:
    """A valid PNG header declaring a huge image, with a tiny compressed body."""
    import struct
    import zlib

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00" * 1000))
        + chunk(b"IEND", b"")
    )
