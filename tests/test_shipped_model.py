"""The model shipped in models/: loads, stays above a quality floor, and its card tells the truth."""

import json
import re

import keras
import pytest

from core.config import DEFAULT_MODEL_PATH, MODELS_DIR
from core.data import load_arrays
from core.evaluate import evaluate_arrays
from core.history import best_epoch, kept_epoch, read_history
from core.predict import Segmenter
from core.sample import sample_pairs
from tests.helpers import assert_trimap, synthetic_pet

# Just under what the shipped model scores on the bundled sample (see models/README.md), so a
# broken, swapped or untrained model fails here.
SAMPLE_FLOOR = {"pixel_accuracy": 0.89, "mean_iou": 0.735, "pet_iou": 0.88, "dice": 0.85}


@pytest.fixture(scope="module")
def segmenter():
    return Segmenter(DEFAULT_MODEL_PATH)


def test_shipped_model_loads_and_is_small(segmenter):
    assert segmenter.input_size == 128 and segmenter.model.name == "petseg_lean"
    assert not any(isinstance(layer, keras.layers.BatchNormalization) for layer in segmenter.model.layers), "not folded"
    assert DEFAULT_MODEL_PATH.stat().st_size <= 5 * 2**20
    assert_trimap(segmenter.segment(synthetic_pet(300, 200, seed=0)[0]).trimap, (300, 200))


def test_shipped_model_quality_on_the_bundled_sample(segmenter):
    arrays, report = load_arrays(sample_pairs(), segmenter.input_size)
    assert len(arrays) >= 24 and report.total == 0
    scores = evaluate_arrays(segmenter, arrays)
    for key, floor in SAMPLE_FLOOR.items():
        assert scores[key] >= floor, f"{key} {scores[key]:.4f} below the floor {floor}"


def test_metrics_file_agrees_with_the_card_and_the_history():
    metrics = json.loads((MODELS_DIR / "petseg.metrics.json").read_text())
    assert metrics["images"] == 1000 and metrics["input_size"] == 128
    card = (MODELS_DIR / "README.md").read_text()
    for key in ("dice", "mean_iou", "pet_iou", "pixel_accuracy", "iou.pet", "iou.background", "iou.border", "loss"):
        row = re.search(rf"^\| `{re.escape(key)}` \| ([0-9.]+) \|", card, re.MULTILINE)
        assert row, f"the card has no row for {key}"
        assert float(row.group(1)) == pytest.approx(metrics[key], abs=5e-4), key
    rows = read_history(MODELS_DIR / "petseg.history.csv")
    run = json.loads((MODELS_DIR / "petseg.run.json").read_text())
    kept = kept_epoch(rows, run["config"]["keep"])
    assert f"shipped weights: epoch {int(kept['epoch'])} of {len(rows)}" in card
    assert f"lowest validation loss: epoch {int(best_epoch(rows)['epoch'])}" in card.lower()
