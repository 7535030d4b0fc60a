"""Segmentation metrics: the reference's soft Dice, pixel accuracy, per-class IoU, mean IoU, pet IoU.

The formulas live once, in `scores_from_confusion` (Keras ops, so they run on NumPy arrays and
inside a compiled training step alike); the Keras metric classes accumulate a confusion matrix
or Dice sums over batches and call them.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import ops

from core.data.labels import CLASS_NAMES, NUM_CLASSES, Class
from core.model.losses import soft_dice
from core.model.losses._labels import one_hot_labels, serialisable

SCORE_KEYS = ("pixel_accuracy", *(f"iou.{name}" for name in CLASS_NAMES), "mean_iou", "pet_iou")
METRIC_KEYS = ("dice", *SCORE_KEYS)


def _ratio(numerator, denominator):
    """numerator / denominator, and 1.0 where both are zero (a class absent from truth and prediction)."""
    safe = ops.where(denominator > 0, denominator, 1.0)
    return ops.where(denominator > 0, numerator / safe, 1.0)


def scores_from_confusion(confusion) -> dict:
    """All scores from confusion matrices (..., C, C): rows are true classes, columns predictions.

    Leading axes are kept, so one call scores a single matrix or a batch of per-image matrices.
    """
    confusion = ops.cast(confusion, "float64")
    total = ops.sum(confusion, axis=(-2, -1))
    true_positive = ops.diagonal(confusion, axis1=-2, axis2=-1)
    union = ops.sum(confusion, axis=-2) + ops.sum(confusion, axis=-1) - true_positive
    per_class = _ratio(true_positive, union)
    # Pet IoU is binary: pet and border together against background. Its intersection is the pixels
    # background in neither truth nor prediction, its union those not background in both.
    background = Class.BACKGROUND
    background_both = confusion[..., background, background]
    truth_background = ops.sum(confusion[..., background, :], axis=-1)
    predicted_background = ops.sum(confusion[..., background], axis=-1)
    pet_both = total - truth_background - predicted_background + background_both
    scores = {
        "pixel_accuracy": _ratio(ops.sum(true_positive, axis=-1), total),
        "mean_iou": ops.mean(per_class, axis=-1),
        "pet_iou": _ratio(pet_both, total - background_both),
    }
    for index, name in enumerate(CLASS_NAMES):
        scores[f"iou.{name}"] = per_class[..., index]
    return scores


def confusion_matrix(y_true, y_pred_classes, num_classes: int = NUM_CLASSES):
    """Confusion matrix of class-index arrays of any equal shape."""
    flat = ops.reshape(ops.cast(y_true, "int32") * num_classes + ops.cast(y_pred_classes, "int32"), (-1,))
    counts = ops.bincount(flat, minlength=num_classes * num_classes)
    return ops.reshape(ops.cast(counts, "float64"), (num_classes, num_classes))


def confusion_matrices(y_true: np.ndarray, y_pred_classes: np.ndarray, num_classes: int = NUM_CLASSES) -> np.ndarray:
    """One confusion matrix per image: (N, H, W) class indices to (N, C, C) counts."""
    count = len(y_true)
    index = np.arange(count)[:, None] * num_classes**2 + (
        y_true.reshape(count, -1).astype(np.int64) * num_classes + y_pred_classes.reshape(count, -1)
    )
    return np.bincount(index.ravel(), minlength=count * num_classes**2).reshape(count, num_classes, num_classes)


def batch_image_scores(y_true: np.ndarray, probabilities: np.ndarray) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Per-image confusion matrices and scores for (N, H, W) labels and (N, H, W, C) probabilities."""
    confusion = confusion_matrices(y_true, np.argmax(probabilities, axis=-1))
    scores = {key: np.asarray(value) for key, value in scores_from_confusion(confusion).items()}
    scores["dice"] = np.asarray(soft_dice(y_true, probabilities.astype("float32"), axis=(1, 2, 3)))
    return confusion, scores


def image_scores(y_true: np.ndarray, probabilities: np.ndarray) -> dict[str, float]:
    """All metrics for one image: class indices (H, W) and probabilities (H, W, C)."""
    _, scores = batch_image_scores(y_true[None], probabilities[None])
    return {key: float(scores[key][0]) for key in METRIC_KEYS}


@serialisable
class ConfusionScore(keras.metrics.Metric):
    """One score of `scores_from_confusion`, accumulated over all pixels seen."""

    def __init__(
        self, score: str = "pixel_accuracy", num_classes: int = NUM_CLASSES, name: str | None = None, **kwargs
    ):
        if score not in SCORE_KEYS:
            raise ValueError(f"unknown score {score!r}; choose one of {', '.join(SCORE_KEYS)}")
        super().__init__(name=name or score, **kwargs)
        self.score = score
        self.num_classes = num_classes
        self.confusion = self.add_variable(
            shape=(num_classes, num_classes), initializer="zeros", dtype="float64", name="confusion"
        )

    def update_state(self, y_true, y_pred, sample_weight=None):
        if len(y_true.shape) == 4:
            y_true = ops.squeeze(y_true, axis=-1)
        self.confusion.assign_add(confusion_matrix(y_true, ops.argmax(y_pred, axis=-1), self.num_classes))

    def result(self):
        return ops.cast(scores_from_confusion(self.confusion)[self.score], "float32")

    def reset_state(self):
        self.confusion.assign(ops.zeros((self.num_classes, self.num_classes), dtype="float64"))

    def get_config(self) -> dict:
        return {**super().get_config(), "score": self.score, "num_classes": self.num_classes}


@serialisable
class SoftDice(keras.metrics.Metric):
    """The reference's soft Dice (smooth 1), pooled over every pixel and class seen."""

    def __init__(self, smooth: float = 1.0, name: str = "dice", **kwargs):
        super().__init__(name=name, **kwargs)
        self.smooth = smooth
        self.intersection = self.add_variable(shape=(), initializer="zeros", dtype="float64", name="intersection")
        self.total = self.add_variable(shape=(), initializer="zeros", dtype="float64", name="total")

    def update_state(self, y_true, y_pred, sample_weight=None):
        one_hot = one_hot_labels(y_true, y_pred.shape[-1], y_pred.dtype)
        self.intersection.assign_add(ops.cast(ops.sum(one_hot * y_pred), "float64"))
        self.total.assign_add(ops.cast(ops.sum(one_hot) + ops.sum(y_pred), "float64"))

    def result(self):
        return ops.cast((2.0 * self.intersection + self.smooth) / (self.total + self.smooth), "float32")

    def reset_state(self):
        self.intersection.assign(0.0)
        self.total.assign(0.0)

    def get_config(self) -> dict:
        return {**super().get_config(), "smooth": self.smooth}


def training_metrics() -> list[keras.metrics.Metric]:
    """Fresh metric objects for `model.compile` and evaluation, named as `METRIC_KEYS`."""
    return [SoftDice(), *(ConfusionScore(key) for key in SCORE_KEYS)]
