"""Comparing two models: where masks disagree on pet vs background, and images by score difference."""

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from core.data.dataset import Pair
from core.evaluation.compare import DISAGREEMENT_COLOUR, compare, disagreement_image, pet_disagreement
from core.evaluation.evaluate import ImageResult


def test_only_pet_against_background_counts_as_disagreement():
    first = np.array([[1, 1, 2], [3, 2, 2]], np.uint8)
    second = np.array([[3, 2, 2], [1, 1, 2]], np.uint8)  # pet vs border is agreement: both pet
    assert pet_disagreement(first, second).tolist() == [[False, True, False], [False, True, False]]
    shown = np.asarray(disagreement_image(Image.new("RGB", (3, 2), (0, 0, 0)), pet_disagreement(first, second)))
    assert tuple(shown[0, 1]) == DISAGREEMENT_COLOUR and tuple(shown[0, 0]) != DISAGREEMENT_COLOUR
    with pytest.raises(ValueError, match="different sizes"):
        pet_disagreement(first, second[:, :2])


def result(stem: str, pet_iou: float) -> ImageResult:
    empty = np.zeros((2, 2), np.uint8)
    pair = Pair(stem, Path(f"{stem}.jpg"), Path(f"{stem}.png"))
    return ImageResult(pair, empty, empty, empty, np.zeros((3, 3)), {"pet_iou": pet_iou})


def test_images_where_the_models_differ_most_come_first():
    first = [result("a", 0.9), result("b", 0.5), result("c", 0.7)]
    second = [result("c", 0.71), result("a", 0.6), result("b", 0.9), result("d", 0.1)]
    pairs = compare(first, second)
    assert [p.first.pair.stem for p in pairs] == ["b", "a", "c"]  # d: only the second model scored it
    assert [round(p.difference("pet_iou"), 3) for p in pairs] == [0.4, -0.3, 0.01]
