import json

import numpy as np
import pytest

from core.cli import main
from core.model.metrics import METRIC_KEYS


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
                "--score-size",
                "0",  # at the model's 32 px, as training validates
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
    from core.training.history import best_epoch, read_history

    best = best_epoch(read_history(trained_tiny_run / "history.csv"))
    assert result["pixel_accuracy"] == pytest.approx(best["val_pixel_accuracy"], abs=1e-4)
    assert result["dice"] == pytest.approx(best["val_dice"], abs=1e-4)


def test_cli_evaluate_without_dataset_says_how_to_get_it(tmp_path, tiny_model_path, capsys):
    assert main(["evaluate", "--data-dir", str(tmp_path / "none"), "--model", str(tiny_model_path)]) == 2
    assert "python -m core download" in capsys.readouterr().err


def test_per_image_scores_pool_to_the_split_metrics(trained_tiny_run, tiny_dataset):
    from core.data import dataset as data
    from core.evaluation.evaluate import evaluate_arrays, pooled_scores, score_images
    from core.inference.predict import Segmenter

    segmenter = Segmenter(trained_tiny_run / "model.keras")
    arrays = data.load_split(tiny_dataset, 32, need_train=False).val
    results = score_images(segmenter, arrays, batch_size=1)
    assert [r.pair.stem for r in results] == [p.stem for p in arrays.pairs]
    pooled, split = pooled_scores(results), evaluate_arrays(segmenter, arrays)
    for key in ("pixel_accuracy", "mean_iou", "pet_iou"):
        assert pooled[key] == pytest.approx(split[key], abs=1e-6)
    assert pooled["dice"] == pytest.approx(split["dice"], abs=1e-3)  # smoothing term: per image vs once


def test_a_larger_model_is_scored_on_the_same_128_px_labels(tmp_path, tiny_dataset):
    """Probabilities are resized to the labels' size: a model at 48 px scored at 32 px gets the
    scores of its own probabilities area-averaged to 32 px against the 32 px labels."""
    from core.config import model_config
    from core.data import dataset as data
    from core.evaluation.evaluate import evaluate, pooled_metrics, probabilities_at
    from core.inference.predict import Segmenter
    from core.model.unet import build_unet

    path = tmp_path / "tiny48.keras"
    build_unet(model_config("tiny", input_size=48), name="petseg_tiny").save(path)
    result = evaluate(path, tiny_dataset, score_size=32)
    assert (result["input_size"], result["score_size"], result["images"]) == (48, 32, 2)
    segmenter = Segmenter(path)
    images = data.load_split(tiny_dataset, 48, need_train=False).val.images
    labels = data.load_split(tiny_dataset, 32, need_train=False).val.masks
    probabilities = probabilities_at(segmenter.predict_arrays(images), 32)
    assert probabilities.shape == (2, 32, 32, 3)
    np.testing.assert_allclose(probabilities.sum(-1), 1.0, atol=1e-5)
    expected = pooled_metrics([(labels, probabilities)])
    for key in ("pixel_accuracy", "mean_iou", "pet_iou"):
        assert result[key] == pytest.approx(expected[key], abs=1e-6)
    assert evaluate(path, tiny_dataset, score_size=None)["score_size"] == 48


def test_cli_evaluates_the_official_test_list(tmp_path, tiny_model_path, capsys):
    from tests.helpers import write_dataset, write_official_lists

    root = write_dataset(tmp_path / "pets", count=10)
    stems = sorted(p.stem for p in (root / "images").iterdir())
    write_official_lists(root, stems[:6], stems[6:])
    report = tmp_path / "test.json"
    args = ["evaluate", "--data-dir", str(root), "--model", str(tiny_model_path), "--split", "official-test"]
    assert main([*args, "--json", str(report)]) == 0
    assert "official-test split" in capsys.readouterr().out
    result = json.loads(report.read_text())
    assert result["images"] == 4 and result["split"] == "official-test" and result["score_size"] == 128
