import math

import keras
import numpy as np
import pytest

from core.model.losses import DiceLoss, FocalDiceLoss, FocalLoss, dice_loss, focal_dice_loss, focal_loss, soft_dice
from core.model.metrics import (
    ConfusionScore,
    SoftDice,
    confusion_matrix,
    image_scores,
    scores_from_confusion,
    training_metrics,
)

# One image of two pixels: true classes pet, background.
TRUE_2 = np.array([[[0, 1]]], np.uint8)
PROBS_2 = np.array([[[[0.8, 0.1, 0.1], [0.3, 0.6, 0.1]]]], np.float32)

# One 2x2 image: true [[pet, pet], [bg, border]], predicted [[pet, bg], [bg, bg]].
TRUE_4 = np.array([[0, 0], [1, 2]], np.uint8)
PRED_4 = np.array([[0, 1], [1, 1]], np.uint8)


def test_soft_dice_by_hand():
    # intersection 0.8 + 0.6 = 1.4; sums 2 + 2; (2 * 1.4 + 1) / (4 + 1)
    assert float(soft_dice(TRUE_2, PROBS_2)) == pytest.approx(0.76)
    assert float(dice_loss(TRUE_2, PROBS_2)) == pytest.approx(0.24)


def test_focal_by_hand():
    expected = (0.2**2 * -math.log(0.8) + 0.4**2 * -math.log(0.6)) / 2
    assert float(focal_loss(TRUE_2, PROBS_2)[0]) == pytest.approx(expected, rel=1e-5)
    assert float(focal_dice_loss(TRUE_2, PROBS_2)) == pytest.approx(expected + 0.24, rel=1e-5)
    assert float(FocalDiceLoss()(TRUE_2, PROBS_2)) == pytest.approx(expected + 0.24, rel=1e-5)


def test_focal_gamma_zero_is_cross_entropy():
    expected = (-math.log(0.8) - math.log(0.6)) / 2
    assert float(focal_loss(TRUE_2, PROBS_2, gamma=0.0)[0]) == pytest.approx(expected, rel=1e-5)


def test_scores_by_hand():
    cm = confusion_matrix(TRUE_4, PRED_4)
    assert np.asarray(cm).tolist() == [[1, 1, 0], [0, 1, 0], [0, 1, 0]]
    scores = {key: float(value) for key, value in scores_from_confusion(cm).items()}
    assert scores["pixel_accuracy"] == pytest.approx(0.5)
    assert scores["iou.pet"] == pytest.approx(0.5)
    assert scores["iou.background"] == pytest.approx(1 / 3)
    assert scores["iou.border"] == pytest.approx(0.0)
    assert scores["mean_iou"] == pytest.approx((0.5 + 1 / 3) / 3)
    assert scores["pet_iou"] == pytest.approx(1 / 3)  # pet+border: 3 true pixels, 1 predicted, 1 shared


def test_absent_class_counts_as_perfect_agreement():
    background = np.ones((2, 2), np.uint8)
    scores = scores_from_confusion(confusion_matrix(background, background))
    assert float(scores["iou.pet"]) == 1.0 and float(scores["pet_iou"]) == 1.0


def test_keras_metrics_pool_over_batches():
    probs_4 = np.eye(3, dtype=np.float32)[PRED_4][None]
    metrics = {metric.name: metric for metric in training_metrics()}
    for metric in metrics.values():
        metric.update_state(TRUE_4[None], probs_4)
        metric.update_state(TRUE_4[None], probs_4)
    assert float(metrics["pixel_accuracy"].result()) == pytest.approx(0.5)
    assert float(metrics["pet_iou"].result()) == pytest.approx(1 / 3)
    assert float(metrics["dice"].result()) == pytest.approx((2 * 4 + 1) / (16 + 1))
    metrics["mean_iou"].reset_state()
    metrics["mean_iou"].update_state(TRUE_4[None], np.eye(3, dtype=np.float32)[TRUE_4][None])
    assert float(metrics["mean_iou"].result()) == pytest.approx(1.0)


def test_image_scores_keys_and_values():
    scores = image_scores(TRUE_4, np.eye(3, dtype=np.float32)[PRED_4])
    assert scores["pixel_accuracy"] == pytest.approx(0.5) and scores["dice"] == pytest.approx(5 / 9)
    assert set(scores) == {"dice", "pixel_accuracy", "iou.pet", "iou.background", "iou.border", "mean_iou", "pet_iou"}


@pytest.mark.parametrize(
    "obj",
    [FocalLoss(gamma=1.5), DiceLoss(smooth=2.0), FocalDiceLoss(gamma=3.0), ConfusionScore("iou.border"), SoftDice()],
)
def test_custom_objects_round_trip_through_keras_serialisation(obj):
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(obj))
    assert type(restored) is type(obj) and restored.get_config() == obj.get_config()


def test_unknown_score_is_refused():
    with pytest.raises(ValueError, match="choose one of"):
        ConfusionScore("accuracy")


def test_batch_image_scores_equal_one_by_one():
    rng = np.random.default_rng(0)
    truth = rng.integers(0, 3, (4, 8, 8)).astype(np.uint8)
    probs = rng.dirichlet([1, 1, 1], (4, 8, 8)).astype(np.float32)
    from core.model.metrics import batch_image_scores

    confusion, scores = batch_image_scores(truth, probs)
    for index in range(4):
        single = image_scores(truth[index], probs[index])
        assert np.array_equal(confusion[index], np.asarray(confusion_matrix(truth[index], probs[index].argmax(-1))))
        for key, value in single.items():
            assert scores[key][index] == pytest.approx(value, abs=1e-6)
