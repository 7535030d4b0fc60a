"""Sticker outline and drop shadow on cut-outs (`core.inference.effects`), drawn on a disc 'pet'."""

import numpy as np
import pytest
from PIL import Image

from core.cli import main
from core.inference import render
from core.inference.effects import OptionError, Outline
from core.inference.matte import Matte
from core.inference.render import Background, CutoutOptions

SIZE = (200, 150)
CENTRE, RADIUS = (100, 70), 40


def disc_matte() -> tuple[Image.Image, Matte]:
    yy, xx = np.mgrid[0 : SIZE[1], 0 : SIZE[0]]
    distance = np.hypot(xx - CENTRE[0], yy - CENTRE[1])
    alpha8 = (np.clip(RADIUS + 0.5 - distance, 0, 1) * 255).round().astype(np.uint8)
    photo = Image.fromarray(np.where(distance[..., None] < RADIUS, [200, 140, 60], [40, 110, 170]).astype(np.uint8))
    return photo, Matte(alpha8, None, "fast", 0.0)


def distance_from_pet() -> np.ndarray:
    yy, xx = np.mgrid[0 : SIZE[1], 0 : SIZE[0]]
    return np.hypot(xx - CENTRE[0], yy - CENTRE[1]) - RADIUS


@pytest.mark.parametrize(
    ("text", "width", "colour"),
    [("12px", 12, (255, 255, 255)), ("8px,#ff8800", 8, (255, 136, 0)), (" 3 px , #00FF00 ", 3, (0, 255, 0))],
)
def test_outline_values_are_read(text, width, colour):
    assert Outline.parse(text) == Outline(width, colour)
    assert Outline.parse(str(Outline(width, colour))) == Outline(width, colour)


@pytest.mark.parametrize(
    ("text", "words"),
    [("thick", "WIDTHpx,#RRGGBB"), ("12px,#fff", "WIDTHpx,#RRGGBB"), ("0px", "1 to 200"), ("500px", "1 to 200")],
)
def test_bad_outline_values_say_the_form(text, words):
    with pytest.raises(OptionError, match=words):
        Outline.parse(text)


def test_outline_is_a_ring_of_its_colour_and_width_around_the_pet():
    photo, matte = disc_matte()
    cut = np.asarray(
        render.cutout(photo, matte, CutoutOptions(background=Background(), outline=Outline(10, (0, 255, 0))))
    )
    distance = distance_from_pet()
    ring = (distance > 2) & (distance < 8)
    assert (cut[..., 3][ring] == 255).all() and (cut[..., :3][ring] == (0, 255, 0)).all()
    assert (cut[..., 3][distance > 12] == 0).all()  # nothing beyond the stroke
    inside = distance < -3
    assert (cut[..., :3][inside] == (200, 140, 60)).all()  # the pet itself is untouched


def test_shadow_falls_below_and_right_of_the_pet_and_is_dark():
    photo, matte = disc_matte()
    cut = np.asarray(render.cutout(photo, matte, CutoutOptions(shadow=True)))
    alpha = cut[..., 3]
    below = (CENTRE[1] + RADIUS + 2, CENTRE[0] + 2)  # just under the disc's bottom
    above = (CENTRE[1] - RADIUS - 3, CENTRE[0])  # just over its top
    assert alpha[below] > 20 and cut[below][:3].max() < 40 and alpha[above] < 5
    assert alpha.max() == 255 and (alpha[distance_from_pet() < -2] == 255).all()
    on_white = np.asarray(render.cutout(photo, matte, CutoutOptions(background=Background("colour"), shadow=True)))
    assert on_white[below].max() < 240 and (on_white[0, 0] == 255).all()  # a grey shadow on white, white far away


def test_a_crop_keeps_the_outline_and_shadow_and_the_alpha_file_lines_up():
    photo, matte = disc_matte()
    plain = render.cutout(photo, matte, CutoutOptions(crop=True))
    options = CutoutOptions(crop=True, shadow=True, outline=Outline(12))
    decorated = render.cutout(photo, matte, options)
    assert decorated.width > plain.width and decorated.height > plain.height
    edge = np.asarray(decorated)[..., 3]
    assert edge[0].max() < 60 and edge[:, 0].max() < 60  # the margin: the stroke is not cut off
    assert render.alpha_image(matte, options).size == decorated.size


def test_cli_draws_the_outline_and_names_a_bad_one(tmp_path, capsys):
    from core.config import DEFAULT_MODEL_PATH
    from tests.helpers import real_pet

    real_pet(160, 120).save(tmp_path / "cat.png")  # the shipped model finds this cat
    args = ["predict", str(tmp_path / "cat.png"), "--model", str(DEFAULT_MODEL_PATH), "--format", "cutout"]
    assert main([*args, "--out", str(tmp_path / "plain"), "--refine", "fast"]) == 0
    assert main([*args, "--out", str(tmp_path / "sticker"), "--refine", "fast", "--outline", "6px", "--shadow"]) == 0
    plain = np.asarray(Image.open(tmp_path / "plain" / "cat_cutout.png"))
    sticker = np.asarray(Image.open(tmp_path / "sticker" / "cat_cutout.png"))
    assert plain.shape == sticker.shape and (sticker[..., 3] >= plain[..., 3]).all()
    stroke = (sticker[..., 3] == 255) & (plain[..., 3] == 0)
    assert stroke.sum() > 100 and (sticker[..., :3][stroke] == 255).all()  # white, 6 px around the cat
    assert main([*args, "--out", str(tmp_path / "bad"), "--outline", "wide"]) == 2
    assert "error: outline 'wide': write WIDTHpx or WIDTHpx,#RRGGBB" in capsys.readouterr().err
