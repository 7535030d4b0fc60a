import json

import pytest

from core.cli import main
from core.metrics import METRIC_KEYS


def test_cli_evaluate_prints_table_and_writes_json(trained_tiny_run, tiny_dataset, tmp_path, capsys):
    report = tmp_path / "metrics.json"
    assert (
        main(
            [
                "evaluate",
                "--data-dir",
                str(tiny_dataset),
                "--model",
                str(trained_tiny_run / "model.keras"),
                "--json",
                str(report),
                "--worst",
                "1",
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "mean_iou" in out and "pet_iou" in out
    result = json.loads(report.read_text())
    assert len(result["worst"]) == 1 and result["worst"][0]["image"] in out
    assert result["images"] == 2  # 20% of 12 pairs
    for key in ("loss", *METRIC_KEYS):
        assert 0.0 <= result[key] <= (10.0 if key == "loss" else 1.0)
    # The run's own last validation row was computed on the same pixels by the same formulas.
    from core.history import best_epoch, read_history

    best = best_epoch(read_history(trained_tiny_run / "history.csv"))
    assert result["pixel_accuracy"] == pytest.approx(best["val_pixel_accuracy"], abs=1e-4)
    assert result["dice"] == pytest.approx(best["val_dice"], abs=1e-4)


def test_cli_evaluate_without_dataset_says_how_to_get_it(tmp_path, tiny_model_path, capsys):
    assert main(["evaluate", "--data-dir", str(tmp_path / "none"), "--model", str(tiny_model_path)]) == 2
    assert "python -m core download" in capsys.readouterr().err


def test_per_image_scores_pool_to_the_split_metrics(trained_tiny_run, tiny_dataset):
    from core import data
    from core.evaluate import evaluate_arrays, pooled_scores, score_images
    from core.predict import Segmenter

    segmenter = Segmenter(trained_tiny_run / "model.keras")
    arrays = data.load_split(tiny_dataset, 32, need_train=False).val
    results = score_images(segmenter, arrays, batch_size=1)
    assert [r.pair.stem for r in results] == [p.stem for p in arrays.pairs]
    pooled, split = pooled_scores(results), evaluate_arrays(segmenter, arrays)
    for key in ("pixel_accuracy", "mean_iou", "pet_iou"):
        assert pooled[key] == pytest.approx(split[key], abs=1e-6)
    assert pooled["dice"] == pytest.approx(split["dice"], abs=1e-3)  # smoothing term: per image vs once
