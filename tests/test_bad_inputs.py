"""The hardening matrix: 20 odd or hostile inputs through the predictor, the CLI and the upload path."""

import numpy as np
import pytest
from PIL import Image

from core.cli import main
from core.data.imaging import ImageError
from core.inference.predict import Segmenter
from tests.helpers import ODD_INPUT_NAMES, assert_trimap, odd_inputs


@pytest.fixture(scope="module")
def cases(tmp_path_factory):
    return odd_inputs(tmp_path_factory.mktemp("odd"))


@pytest.fixture(scope="module")
def segmenter(tiny_model_path):
    return Segmenter(tiny_model_path)


@pytest.mark.parametrize("name", ODD_INPUT_NAMES)
def test_predictor_gives_a_mask_or_one_clear_error(cases, segmenter, name):
    path, size = cases[name]
    if size is None:
        with pytest.raises(ImageError) as error:
            segmenter.segment(path)
        message = str(error.value)
        assert name.split(".")[0] in message or "does_not_exist" in message
        assert "\n" not in message
    else:
        for source in (path, path.read_bytes()):  # CLI path and upload path (bytes)
            assert_trimap(segmenter.segment(source).trimap, size)


def test_animated_gif_segments_the_first_frame(cases, segmenter):
    first = Image.open(cases["animated.gif"][0]).convert("RGB")
    expected = segmenter.segment(first).trimap
    assert np.array_equal(segmenter.segment(cases["animated.gif"][0]).trimap, expected)


def test_cli_mixed_folder_writes_good_masks_and_lists_bad_files(cases, tiny_model_path, tmp_path, capsys):
    folder = next(iter(cases.values()))[0].parent
    out = tmp_path / "out"
    status = main(
        ["predict", str(folder), str(cases["missing.jpg"][0]), "--model", str(tiny_model_path), "--out", str(out)]
    )
    captured = capsys.readouterr()
    assert status == 2 and "Traceback" not in captured.err
    errors = [line for line in captured.err.splitlines() if line.startswith("error:")]
    refused = [name for name, (_, size) in cases.items() if size is None and name != "a_folder.jpg"]
    assert len(errors) == len(refused)
    for path, size in cases.values():
        if size is not None:
            assert_trimap(np.asarray(Image.open(out / f"{path.stem}_mask.png")), size)
