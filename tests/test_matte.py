"""Alpha mattes and cut-outs: the `fast` and `matting` levels on real images the tests draw."""

import io

import numpy as np
import pytest
from PIL import Image

from core.cli import main
from core.inference import render
from core.inference.matte import REFINE_LEVELS, compute_matte
from core.inference.render import Background, BackgroundError, CutoutOptions, crop_box
from tests.helpers import encode

SIDE = 64


def disc_probabilities(centre=(0.5, 0.5), radius=0.3, band=0.06) -> np.ndarray:
    """Model-size probabilities of a round pet: pet inside, a border ring, background outside."""
    yy, xx = (np.mgrid[0:SIDE, 0:SIDE] + 0.5) / SIDE
    distance = np.hypot(xx - centre[0], yy - centre[1])
    probabilities = np.zeros((SIDE, SIDE, 3), np.float32)
    probabilities[..., 0] = distance < radius - band / 2
    probabilities[..., 2] = np.abs(distance - radius) <= band / 2
    probabilities[..., 1] = distance > radius + band / 2
    return 0.9 * probabilities + 0.1 / 3


def disc_photo(size=(180, 120), centre=(0.5, 0.5), radius=0.3) -> Image.Image:
    """A photo matching `disc_probabilities` (stretched to the photo, as the model sees it)."""
    width, height = size
    yy, xx = (np.mgrid[0:height, 0:width] + 0.5) / np.array([height, width])[:, None, None]
    inside = np.hypot(xx - centre[0], yy - centre[1]) < radius
    rng = np.random.default_rng(0)
    pixels = np.where(inside[..., None], [200, 140, 60], [40, 110, 170]) + rng.normal(0, 6, (height, width, 3))
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))


@pytest.mark.parametrize("refine", REFINE_LEVELS)
def test_matte_is_in_range_at_photo_size_sure_inside_and_outside(refine):
    photo = disc_photo()
    matte = compute_matte(photo, disc_probabilities(), refine)
    alpha = matte.alpha
    assert alpha.shape == (120, 180) and alpha.dtype == np.float32
    assert alpha.min() >= 0.0 and alpha.max() <= 1.0 and not matte.is_empty
    assert alpha[60, 90] >= 0.9 and alpha[55:66, 85:96].min() >= 0.9  # far inside the outline
    assert alpha[:10, :10].max() <= 0.1 and alpha[-10:, -10:].max() <= 0.1  # far outside


def test_matting_follows_the_photo_where_the_prediction_is_coarse():
    """Prediction: a disc 20% too large; the photo's own edge decides inside the unknown band."""
    photo = disc_photo(radius=0.3)
    matte = compute_matte(photo, disc_probabilities(radius=0.33, band=0.12), "matting")
    fast = compute_matte(photo, disc_probabilities(radius=0.33, band=0.12), "fast")
    truth = np.asarray(disc_photo(radius=0.3))[..., 0] > 120
    assert np.mean((matte.alpha >= 0.5) == truth) > np.mean((fast.alpha >= 0.5) == truth)


@pytest.mark.parametrize("refine", REFINE_LEVELS)
def test_a_photo_with_no_pet_gives_an_empty_matte(refine):
    probabilities = np.zeros((SIDE, SIDE, 3), np.float32)
    probabilities[..., 1] = 1.0
    photo = disc_photo()
    matte = compute_matte(photo, probabilities, refine)
    assert matte.is_empty and matte.alpha.shape == (120, 180) and not matte.alpha.any()
    assert crop_box(matte.alpha) == (0, 0, 180, 120)
    assert np.asarray(render.cutout(photo, matte))[..., 3].max() == 0


@pytest.mark.parametrize("refine", REFINE_LEVELS)
def test_a_pet_touching_the_photos_edge_keeps_its_edge_pixels(refine):
    centre = (0.0, 0.5)  # half the disc is outside the photo, on the left
    matte = compute_matte(disc_photo(centre=centre), disc_probabilities(centre=centre), refine)
    assert matte.alpha[50:70, 0].min() >= 0.9


def test_exif_rotated_photo_gets_its_matte_in_displayed_orientation(tmp_path, tiny_model_path):
    from core.inference.predict import Segmenter

    photo = disc_photo((180, 120))
    exif = photo.getexif()
    exif[0x0112] = 6  # displayed rotated by 90 degrees: 120 wide, 180 high
    (tmp_path / "rotated.jpg").write_bytes(encode(photo, "JPEG", exif=exif.tobytes()))
    result = Segmenter(tiny_model_path).segment(tmp_path / "rotated.jpg")
    for refine in REFINE_LEVELS:
        matte = compute_matte(result.photo.rgb, disc_probabilities(), refine)
        assert matte.alpha.shape == (180, 120)


def test_renderings_transparent_colour_blur_image_and_crop():
    photo = disc_photo()
    matte = compute_matte(photo, disc_probabilities(), "fast")
    transparent = render.cutout(photo, matte)
    assert transparent.mode == "RGBA" and transparent.size == photo.size
    assert np.array_equal(np.asarray(transparent)[..., 3], matte.alpha8)
    green = np.asarray(render.cutout(photo, matte, CutoutOptions(background=Background.parse("#00ff00"))))
    assert green.shape == (120, 180, 3) and tuple(green[2, 2]) == (0, 255, 0)
    blurred = np.asarray(render.cutout(photo, matte, CutoutOptions(background=Background.parse("blur"))))
    assert blurred.shape == (120, 180, 3) and not np.array_equal(blurred[:5, :5], np.asarray(photo)[:5, :5])
    other = Image.new("RGB", (50, 400), (255, 0, 0))
    on_other = np.asarray(render.cutout(photo, matte, CutoutOptions(background=Background("image", image=other))))
    assert tuple(on_other[2, 2]) == (255, 0, 0)  # scaled to cover: no gap at the corners
    cropped = render.cutout(photo, matte, CutoutOptions(crop=True))
    left, top, right, bottom = crop_box(matte.alpha)
    assert cropped.size == (right - left, bottom - top) and cropped.size < photo.size
    rows, columns = np.nonzero(matte.alpha > 0.5)
    assert left <= columns.min() and columns.max() < right and top <= rows.min() and rows.max() < bottom


@pytest.mark.parametrize("value", ["#12345", "#gggggg", "nowhere.png", "chartreuse"])
def test_bad_backgrounds_are_explained(value, tmp_path):
    with pytest.raises(BackgroundError, match="--background"):
        Background.parse(value)


def test_cli_cutout_and_alpha_files_agree_and_crop_holds_the_pet(tmp_path, tiny_model_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    disc_photo().save(folder / "cat.png")
    out = tmp_path / "out"
    args = [str(folder), "--model", str(tiny_model_path), "--format", "cutout,alpha,mask"]
    assert main(["predict", *args, "--out", str(out), "--refine", "fast"]) == 0
    cutout, alpha = Image.open(out / "cat_cutout.png"), Image.open(out / "cat_alpha.png")
    assert cutout.mode == "RGBA" and alpha.mode == "L" and cutout.size == alpha.size == (180, 120)
    assert np.array_equal(np.asarray(cutout)[..., 3], np.asarray(alpha))
    assert main(["predict", *args, "--out", str(out)]) == 0  # resumed: all three exist
    cropped = tmp_path / "cropped"
    assert main(["predict", *args, "--out", str(cropped), "--refine", "fast", "--crop", "--background", "#ffffff"]) == 0
    whole = np.asarray(Image.open(out / "cat_alpha.png"))  # the same fast matte, not cropped
    left, top, right, bottom = crop_box(whole / 255.0)
    cropped_alpha = np.asarray(Image.open(cropped / "cat_alpha.png"))
    assert Image.open(cropped / "cat_cutout.png").size == (right - left, bottom - top)
    assert np.array_equal(cropped_alpha, whole[top:bottom, left:right])  # crop applies to both files alike


def test_cli_bad_background_is_one_error_line_before_loading(tmp_path, capsys):
    assert (
        main(
            [
                "predict",
                str(tmp_path),
                "--model",
                str(tmp_path / "none.keras"),
                "--out",
                str(tmp_path / "o"),
                "--format",
                "cutout",
                "--background",
                "#12",
            ]
        )
        == 2
    )
    assert capsys.readouterr().err == "error: --background '#12': a colour is written #RRGGBB, e.g. #00ff00\n"


def test_matting_falls_back_to_fast_when_nothing_is_sure_background():
    """A close-up where the pet fills the photo: closed-form matting needs sure background."""
    probabilities = disc_probabilities(radius=0.9, band=0.3)
    matte = compute_matte(disc_photo(radius=0.9), probabilities, "matting")
    assert matte.refine == "fast" and not matte.is_empty
    assert np.array_equal(matte.alpha8, compute_matte(disc_photo(radius=0.9), probabilities, "fast").alpha8)


def test_crop_to_pet_crops_the_cut_out_and_the_alpha_matte_alike():
    from core.data.imaging import Photo
    from core.inference.outputs import output_files
    from core.inference.predict import Segmentation
    from core.inference.render import CutoutOptions

    photo = disc_photo()  # 180x120
    yy, xx = np.mgrid[0:32, 0:32]
    inside = np.hypot(xx - 12, yy - 14) < 6
    probabilities = np.stack([inside, ~inside, np.zeros_like(inside)], axis=-1).astype(np.float32)
    result = Segmentation(Photo.from_pil(photo), probabilities, 0.01)
    options = CutoutOptions("fast", Background(), crop=True)
    files = output_files("cat", result, formats=("cutout", "alpha"), cutout=options)
    cutout, alpha = (Image.open(io.BytesIO(files[name])) for name in ("cat_cutout.png", "cat_alpha.png"))
    assert cutout.size == alpha.size and cutout.size[0] < 100 and cutout.size[1] < 80
    assert np.array_equal(np.asarray(cutout)[..., 3], np.asarray(alpha))


def test_side_by_side_makes_one_row_picture():
    from core.inference.render import side_by_side

    row = side_by_side([Image.new("RGB", (40, 30), (255, 0, 0)), Image.new("L", (20, 30), 0)], gap=4)
    assert row.size == (64, 30) and row.getpixel((0, 0)) == (255, 0, 0) and row.getpixel((42, 5)) == (255, 255, 255)
    assert row.getpixel((50, 5)) == (0, 0, 0)


def test_fast_edges_follow_the_photo_not_the_models_grid_and_lose_the_background_colour():
    """A 12x enlarged photo of a disc with the prediction on a coarse 16-cell grid: plain upscaling
    shows the grid's steps; the guided `fast` edge lies closer to the photo's own circle, and its edge
    pixels carry the pet's colour, not a blend with the blue background (no halo)."""
    from PIL import ImageFilter

    from core.config import MatteConfig

    photo = disc_photo(size=(768, 512)).filter(ImageFilter.GaussianBlur(3))  # a soft edge, as fur has
    coarse = np.asarray(Image.fromarray((disc_probabilities(band=0.0) * 255).astype(np.uint8)).resize((16, 16)))
    probabilities = coarse.astype(np.float32) / 255.0
    truth = np.asarray(photo)[..., 0] > 120  # orange pet on blue: red crosses the middle at the edge
    plain = compute_matte(photo, probabilities, "fast", MatteConfig(fast_guided=False))
    guided = compute_matte(photo, probabilities, "fast")
    assert plain.foreground is None and guided.foreground is not None
    errors = {name: np.abs(m.alpha - truth).mean() for name, m in (("plain", plain), ("guided", guided))}
    assert errors["guided"] < 0.6 * errors["plain"], errors
    edge = (guided.alpha > 0.3) & (guided.alpha < 0.7)
    blue_in_edge = {  # the background's blue in the colours a cut-out shows at the edge
        "photo": np.asarray(photo)[..., 2][edge].mean(),
        "guided": guided.foreground[..., 2][edge].mean(),
    }
    assert blue_in_edge["guided"] < blue_in_edge["photo"] - 30, blue_in_edge
