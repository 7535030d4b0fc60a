"""Soft Dice loss, pooled over pixels and one-hot classes as in the reference report."""

from __future__ import annotations

import keras
from keras import ops

from core.model.losses._labels import one_hot_labels, serialisable

SMOOTH = 1.0


def dice_sums(y_true, y_pred, axis=None):
    """The sums soft Dice is made of: (sum(y * p), sum(y) + sum(p))."""
    one_hot = one_hot_labels(y_true, y_pred.shape[-1], y_pred.dtype)
    return ops.sum(one_hot * y_pred, axis=axis), ops.sum(one_hot, axis=axis) + ops.sum(y_pred, axis=axis)


def dice_from_sums(intersection, total, smooth: float = SMOOTH):
    return (2.0 * intersection + smooth) / (total + smooth)


def soft_dice(y_true, y_pred, smooth: float = SMOOTH, axis=None):
    """(2 * sum(y * p) + smooth) / (sum(y) + sum(p) + smooth), pooled over the whole batch
    (`axis=None`, as in training) or per image (`axis=(1, 2, 3)`)."""
    return dice_from_sums(*dice_sums(y_true, y_pred, axis), smooth)


def dice_loss(y_true, y_pred, smooth: float = SMOOTH):
    return 1.0 - soft_dice(y_true, y_pred, smooth)


@serialisable
class DiceLoss(keras.losses.Loss):
    def __init__(self, smooth: float = SMOOTH, name: str = "dice_loss", **kwargs) -> None:
        super().__init__(name=name, **kwargs)
        self.smooth = smooth

    def call(self, y_true, y_pred):
        return dice_loss(y_true, y_pred, self.smooth)

    def get_config(self) -> dict:
        return {**super().get_config(), "smooth": self.smooth}
