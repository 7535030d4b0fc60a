from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from core.config import ViewConfig
from core.data.imaging import Photo, resize_for_model
from core.inference.predict import Segmenter
from core.inference.views import crop_offsets, grid_size, merge_views, view_inputs

SAMPLES = Path(__file__).resolve().parents[1] / "samples" / "pets" / "images"


@pytest.mark.parametrize(
    ("size", "offsets"),
    [
        ((100, 100), []),
        ((115, 100), []),  # squarish: seen whole only
        ((150, 100), [0, 64]),  # grid 192 x 128: two crops, at both ends
        ((100, 150), [0, 64]),  # tall alike
        ((300, 100), [0, 128, 256]),  # grid 384: three crops
        ((4000, 3000), [0, 43]),
    ],
)
def test_crops_cover_the_long_side_from_end_to_end(size, offsets):
    assert crop_offsets(size, 128, ViewConfig()) == offsets
    if offsets:
        assert offsets[-1] + 128 == max(grid_size(size, 128))


def test_the_whole_photo_is_the_first_view():
    image = Image.fromarray(np.random.default_rng(0).integers(0, 255, (60, 150, 3), np.uint8))
    views = view_inputs(image, 32)
    assert views.shape == (4, 32, 32, 3) and views.dtype == np.uint8  # whole + 3 crops along 80 grid cells
    np.testing.assert_array_equal(views[0], resize_for_model(image, 32))
    np.testing.assert_array_equal(views[1], resize_for_model(image.crop((0, 0, 60, 60)), 32))
    np.testing.assert_array_equal(views[-1], resize_for_model(image.crop((90, 0, 150, 60)), 32))
    assert len(view_inputs(image.resize((60, 60)), 32)) == 1


@pytest.mark.parametrize("size", [(150, 60), (60, 150), (400, 96), (97, 61)])
def test_merged_views_put_each_crop_back_where_it_was_cut(size):
    """A 'model' that answers each pixel's red level as its pet probability: merged, the grid must
    show the photo's own red levels, which it does only where every crop lands where it came from."""
    width, height = size
    red = np.fromfunction(lambda y, x: (x + 2 * y) / (width + 2 * height), (height, width), dtype=np.float32)
    image = Image.fromarray(np.stack([red * 255, np.zeros_like(red), np.zeros_like(red)], -1).round().astype(np.uint8))
    views = view_inputs(image, 32).astype(np.float32) / 255
    answers = np.stack([views[..., 0], 1 - views[..., 0], np.zeros_like(views[..., 0])], axis=-1)
    merged = merge_views(answers, size, ViewConfig(full_view_weight=0.0))  # the crops alone
    grid_width, grid_height = grid_size(size, 32)
    assert merged.shape == (grid_height, grid_width, 3)
    expected = np.asarray(Image.fromarray(red, mode="F").resize((grid_width, grid_height), Image.BILINEAR))
    assert np.abs(merged[..., 0] - expected).mean() < 0.01
    np.testing.assert_allclose(merged.sum(-1), 1.0, atol=1e-5)


def test_one_view_is_returned_as_it_is():
    answer = np.random.default_rng(1).random((1, 8, 8, 3)).astype(np.float32)
    np.testing.assert_array_equal(merge_views(answer, (50, 48)), answer[0])


def test_a_reduced_decode_gets_the_crops_of_the_photo_itself():
    """A JPEG decoded at a reduced size (draft) is cropped where the photo's own grid says, so that
    `merge_views` with the photo's size puts each crop back where it was cut. Rounding gives these
    two sizes different grids (53 and 54 cells long): placed by the small image's, the last crop
    would start 3 pixels further."""
    assert crop_offsets((1000, 600), 32, ViewConfig()) == [0, 21]
    assert crop_offsets((126, 75), 32, ViewConfig()) == [0, 22]
    small = Image.fromarray(np.random.default_rng(2).integers(0, 255, (75, 126, 3), np.uint8))
    views = view_inputs(small, 32, size=(1000, 600))
    start = round(21 * 75 / 32)  # grid cell 21 in the small image's pixels: 49
    np.testing.assert_array_equal(views[-1], resize_for_model(small.crop((start, 0, start + 75, 75)), 32))


def test_two_pets_side_by_side_are_both_found():
    """A cat and a dog side by side in a wide photo: seen also in square crops, the shipped model
    finds both. (The 128 px Lite0 default before issue 28 missed this dog seeing the whole photo only,
    0.009 of its half against 0.26 alone, and found it in the crops, 0.12; the 192 px default finds it
    either way. bench.cutout counts the pets found in 45 such pairs.)"""
    cat, dog = (Image.open(SAMPLES / f"{name}.jpg").convert("RGB") for name in ("Ragdoll_100", "american_bulldog_108"))
    cat, dog = (pet.resize((round(pet.width * 256 / pet.height), 256)) for pet in (cat, dog))
    both = Image.new("RGB", (cat.width + dog.width, 256))
    both.paste(cat, (0, 0))
    both.paste(dog, (cat.width, 0))
    segmenter = Segmenter()
    dog_alone = (segmenter.segment(dog).trimap != 2).mean()
    result = segmenter.segment(Photo.from_pil(both))
    assert (result.trimap[:, cat.width :] != 2).mean() > 0.4 * dog_alone  # 0.11 of its half vs 0.24 alone
    assert (result.trimap[:, : cat.width] != 2).mean() > 0.5  # the cat is still found


def test_predict_whole_photo_only_gives_up_the_crops(tmp_path):
    """`predict --whole-photo-only` (the API's `whole_photo_only`): probabilities on the model's
    square, as before the crops, and a different mask for this 3:2 photo."""
    from core.cli import main

    photo = SAMPLES / "Abyssinian_1.jpg"  # 256x171
    for flags, folder in (([], "crops"), (["--whole-photo-only"], "whole")):
        arguments = ["predict", str(photo), "--out", str(tmp_path / folder), "--format", "npy,mask", *flags]
        assert main(arguments) == 0
    crops, whole = (np.load(tmp_path / folder / "Abyssinian_1_probs.npy") for folder in ("crops", "whole"))
    side = Segmenter().input_size  # the shipped model's
    width, height = grid_size((256, 171), side)  # 288 x 192 less rounding at 192 px
    assert crops.shape == (height, width, 3) and whole.shape == (side, side, 3)
    masks = [np.asarray(Image.open(tmp_path / folder / "Abyssinian_1_mask.png")) for folder in ("crops", "whole")]
    assert masks[0].shape == masks[1].shape == (171, 256) and (masks[0] != masks[1]).any()
