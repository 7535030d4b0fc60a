"""Touch-up marks: the matte obeys them (hard inside, edges solved again only near them), marks
files are read or refused in one line, and `predict --marks` replays them."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image
from scipy import ndimage

from core.cli import main
from core.data.imaging import Photo
from core.inference.marks import Mark, MarksError, marks_json, parse_marks, rasterize, read_marks_file
from core.inference.predict import Segmentation
from tests.test_matte import disc_photo, disc_probabilities

SQUARE = ((4.0, 4.0), (24.0, 4.0), (24.0, 24.0), (4.0, 24.0))  # in the disc photo's background
INSIDE_PET = ((80.0, 50.0), (100.0, 50.0), (100.0, 70.0), (80.0, 70.0))  # in the middle of the disc


def segmentation() -> Segmentation:
    return Segmentation(Photo.from_pil(disc_photo()), disc_probabilities(), 0.01)


@pytest.mark.parametrize("refine", ["fast", "matting"])
def test_a_pet_mark_over_background_is_pet_there_and_changes_only_its_surroundings(refine):
    result = segmentation()
    before = result.matte(refine).alpha8
    after = result.matte(refine, [Mark("pet", SQUARE)]).alpha8
    inside = rasterize([Mark("pet", SQUARE)], (180, 120)) == 1
    assert (before[inside] == 0).all() and (after[inside] == 255).all()
    near = ndimage.binary_dilation(inside, iterations=12)  # the re-solved band, at most a few model pixels
    changed = after != before
    assert changed[inside].all() and not changed[~near].any()
    soft = (after > 0) & (after < 255) & ~(before > 0)  # new soft edges: only around the mark's outline
    assert not soft[~near].any()


@pytest.mark.parametrize("refine", ["fast", "matting"])
def test_a_background_mark_over_the_pet_is_transparent_there(refine):
    result = segmentation()
    after = result.matte(refine, [Mark("background", INSIDE_PET)]).alpha8
    inside = rasterize([Mark("background", INSIDE_PET)], (180, 120)) == 0
    assert inside.sum() > 300 and (after[inside] == 0).all()
    assert after[36:44, 85:95].mean() > 200  # the pet above the hole stays pet


def test_marks_outside_the_photo_are_clipped_and_later_marks_win():
    spilling = Mark("pet", ((-50.0, -50.0), (30.0, -50.0), (30.0, 20.0), (-50.0, 20.0)))
    raster = rasterize([spilling, Mark("background", ((0.0, 0.0), (5.0, 0.0), (5.0, 5.0)))], (40, 30))
    assert raster.shape == (30, 40) and raster[15, 25] == 1 and raster[25, 35] == -1
    assert raster[0, 4] == 0  # the later background mark over the pet mark
    assert rasterize([], (40, 30)) is None


def test_marks_round_trip_through_a_marks_file(tmp_path):
    marks = [Mark("pet", SQUARE), Mark("background", INSIDE_PET)]
    (tmp_path / "marks.json").write_text(marks_json("cat.jpg", marks))
    assert read_marks_file(tmp_path / "marks.json") == {"cat.jpg": marks}


@pytest.mark.parametrize(
    ("content", "words"),
    [
        ("not json", "not JSON"),
        ('{"cat.jpg": []}', 'expected {"photos"'),
        ('{"photos": {"cat.jpg": [{"label": "cat", "points": [[0, 0], [1, 0], [1, 1]]}]}}', '"label": "pet" or'),
        ('{"photos": {"cat.jpg": [{"label": "pet", "points": [[0, 0], [1, 0]]}]}}', "at least 3"),
        ('{"photos": {"cat.jpg": [{"label": "pet", "points": [[0, 0], [1, "x"], [1, 1]]}]}}', "numbers"),
    ],
)
def test_a_malformed_marks_file_is_one_error_line(tmp_path, tiny_model_path, capsys, content, words):
    (tmp_path / "marks.json").write_text(content)
    disc_photo().save(tmp_path / "cat.jpg")
    args = ["predict", str(tmp_path / "cat.jpg"), "--model", str(tiny_model_path), "--out", str(tmp_path / "out")]
    assert main([*args, "--marks", str(tmp_path / "marks.json")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: --marks") and words in err[0], err
    with pytest.raises(MarksError):
        parse_marks("nope")


def test_predict_replays_marks_by_photo_name(tmp_path, tiny_model_path):
    photos = tmp_path / "photos"
    photos.mkdir()
    disc_photo().save(photos / "cat.png")
    disc_photo().save(photos / "dog.png")
    (tmp_path / "marks.json").write_text(json.dumps({"photos": {"cat.png": [Mark("pet", SQUARE).to_dict()]}}))
    args = ["predict", str(photos), "--model", str(tiny_model_path), "--format", "alpha", "--refine", "fast"]
    assert main([*args, "--out", str(tmp_path / "out"), "--marks", str(tmp_path / "marks.json")]) == 0
    inside = rasterize([Mark("pet", SQUARE)], (180, 120)) == 1
    assert (np.asarray(Image.open(tmp_path / "out" / "cat_alpha.png"))[inside] == 255).all()
    assert not (np.asarray(Image.open(tmp_path / "out" / "dog_alpha.png"))[inside] == 255).all()
