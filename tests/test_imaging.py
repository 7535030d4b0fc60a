import io

import numpy as np
import pytest
from PIL import Image

from core.data.imaging import ImageError, Photo, TrimapError, load_trimap, resize_mask
from core.inference.render import colourise, overlay, trimap_png
from tests.helpers import bomb_png, jpeg_bytes, png_bytes


def gradient(width=40, height=30) -> Image.Image:
    x = np.linspace(0, 255, width, dtype=np.uint8)
    return Image.fromarray(np.stack([np.tile(x, (height, 1))] * 3, axis=-1))


def test_png_named_jpg_is_decoded_by_content(tmp_path):
    path = tmp_path / "photo.jpg"
    path.write_bytes(png_bytes(gradient()))
    photo = Photo.open(path)
    assert photo.format == "PNG" and photo.size == (40, 30) and photo.rgb.mode == "RGB"


@pytest.mark.parametrize("mode", ["L", "RGBA", "P", "CMYK", "LA", "I;16", "1"])
def test_every_mode_becomes_rgb(mode):
    image = gradient().convert("RGBA" if mode in ("RGBA", "LA") else "RGB")
    if mode == "I;16":
        image = Image.fromarray(np.asarray(gradient().convert("L"), np.uint16) * 257)
    else:
        image = image.convert(mode)
    buffer = io.BytesIO()
    image.save(buffer, format="TIFF" if mode == "CMYK" else "PNG")
    rgb = Photo.open(buffer.getvalue()).rgb
    assert rgb.mode == "RGB" and rgb.size == (40, 30)
    if mode == "I;16":  # 16-bit must be rescaled, not clipped to white
        assert np.asarray(rgb)[0, 0, 0] < 10 and np.asarray(rgb)[0, -1, 0] > 245


def test_exif_orientation_gives_displayed_size():
    image = gradient(60, 20)
    exif = image.getexif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise when displayed
    data = jpeg_bytes(image, exif=exif.tobytes())
    photo = Photo.open(data)
    assert photo.size == (20, 60)
    assert photo.rgb.size == (20, 60)
    assert photo.rgb_at_least(8).size[1] > photo.rgb_at_least(8).size[0]


def test_jpeg_draft_decodes_smaller_but_not_below_request():
    data = jpeg_bytes(gradient(1600, 1200))
    reduced = Photo.open(data).rgb_at_least(128)
    assert 128 <= min(reduced.size) < 1200


@pytest.mark.parametrize(
    "payload, message",
    [
        (b"", "empty"),
        (b"hello, this is text", "not an image"),
        (b"<html><body>hi</body></html>", "not an image"),
        (b"PK\x03\x04" + b"\x00" * 100, "not an image"),
    ],
)
def test_non_images_are_refused_clearly(payload, message):
    with pytest.raises(ImageError, match=message):
        Photo.open(payload)


def test_truncated_jpeg_is_refused():
    data = jpeg_bytes(gradient(400, 300))
    with pytest.raises(ImageError, match="corrupt or truncated"):
        _ = Photo.open(data[: len(data) // 2]).rgb


def test_decompression_bomb_is_refused_before_decoding():
    data = bomb_png(60000, 60000)
    assert len(data) < 4096
    with pytest.raises(ImageError, match="megapixels"):
        Photo.open(data)


def test_missing_path_and_folder(tmp_path):
    with pytest.raises(ImageError, match="no such file"):
        Photo.open(tmp_path / "nope.jpg")
    with pytest.raises(ImageError, match="folder"):
        Photo.open(tmp_path)


def test_animated_gif_uses_first_frame():
    frames = [Image.new("RGB", (10, 10), colour) for colour in ((255, 0, 0), (0, 0, 255))]
    buffer = io.BytesIO()
    frames[0].save(buffer, format="GIF", save_all=True, append_images=frames[1:])
    rgb = np.asarray(Photo.open(buffer.getvalue()).rgb)
    assert rgb[5, 5, 0] > 200 and rgb[5, 5, 2] < 50


def test_colourise_overlay_and_png():
    trimap = np.array([[1, 2], [3, 2]], np.uint8)
    photo = Image.new("RGB", (2, 2), (0, 0, 0))
    colours = np.asarray(colourise(trimap))
    assert colours.shape == (2, 2, 3) and not np.array_equal(colours[0, 0], colours[0, 1])
    blended = np.asarray(overlay(photo, trimap, alpha=1.0))
    assert np.array_equal(blended[0, 0], colours[0, 0]) and np.array_equal(blended[0, 1], [0, 0, 0])
    assert np.array_equal(np.asarray(Image.open(io.BytesIO(trimap_png(trimap)))), trimap)
    with pytest.raises(ValueError, match="does not match"):
        overlay(Image.new("RGB", (3, 2)), trimap)


def test_resize_mask_never_interpolates():
    """Pet (1) next to border (3): any interpolation would put background (2) between them."""
    mask = np.array([[1, 3], [3, 1]], np.uint8)
    resized = resize_mask(mask, 8)
    assert set(np.unique(resized)) == {1, 3}
    assert np.array_equal(resized, np.kron(mask, np.ones((4, 4), np.uint8)))  # each label a whole 4x4 block


def test_a_broken_trimap_is_named_whether_given_as_a_path_or_a_string(tmp_path):
    broken = tmp_path / "cat_1.png"
    broken.write_bytes(b"not a png")
    for given in (broken, str(broken)):
        with pytest.raises(TrimapError, match=r"cat_1\.png: unreadable trimap"):
            load_trimap(given)
    odd = tmp_path / "cat_2.png"
    Image.fromarray(np.full((4, 4), 7, np.uint8)).save(odd)
    with pytest.raises(TrimapError, match=r"cat_2\.png: trimap values \[7\]"):
        load_trimap(str(odd))
