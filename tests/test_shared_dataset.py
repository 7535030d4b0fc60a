"""The whole command line on the real dataset copy (skipped with a reason when it is absent)."""

import json

import numpy as np
import pytest
from PIL import Image

from core.cli import main
from tests.helpers import assert_trimap

pytestmark = pytest.mark.slow


def test_train_evaluate_predict_on_the_shared_dataset(shared_data, tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", "--data-dir", str(shared_data), "--out", str(run), "--epochs", "1", "--limit", "32"]) == 0
    assert "data: 32 training, 32 validation pairs" in capsys.readouterr().out
    report = tmp_path / "metrics.json"
    assert (
        main(
            [
                "evaluate",
                "--data-dir",
                str(shared_data),
                "--model",
                str(run / "model.keras"),
                "--limit",
                "32",
                "--json",
                str(report),
            ]
        )
        == 0
    )
    assert json.loads(report.read_text())["images"] == 32
    folder = tmp_path / "photos"
    folder.mkdir()
    for name in ("Abyssinian_1.jpg", "pug_1.jpg"):  # 256x171 original aspect, and a 128x128 square
        (folder / name).write_bytes((shared_data / "images" / name).read_bytes())
    single = shared_data / "images" / "Bengal_1.jpg"
    out = tmp_path / "masks"
    assert main(["predict", str(single), str(folder), "--model", str(run / "model.keras"), "--out", str(out)]) == 0
    for stem in ("Abyssinian_1", "pug_1", "Bengal_1"):
        source = Image.open(shared_data / "images" / f"{stem}.jpg")
        assert_trimap(np.asarray(Image.open(out / f"{stem}_mask.png")), source.size)
