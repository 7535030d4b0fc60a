import json

import pytest

from core.cli import main
from core.metrics import METRIC_KEYS


def test_cli_evaluate_prints_table_and_writes_json(trained_tiny_run, tiny_dataset, tmp_path, capsys):
    report = tmp_path / "metrics.json"
    assert main(["evaluate", "--data-dir", str(tiny_dataset), "--model", str(trained_tiny_run / "model.keras"),
                 "--json", str(report)]) == 0
    out = capsys.readouterr().out
    assert "mean_iou" in out and "pet_iou" in out
    result = json.loads(report.read_text())
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
