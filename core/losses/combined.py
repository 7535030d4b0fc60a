"""Focal + Dice: the reference report's training loss."""

from __future__ import annotations

import keras
from keras import ops

from core.losses._labels import serialisable
from core.losses.dice import SMOOTH, dice_loss
from core.losses.focal import focal_loss


def focal_dice_loss(y_true, y_pred, gamma: float = 2.0, smooth: float = SMOOTH):
    """Batch mean of the focal loss plus the batch-pooled Dice loss (a scalar)."""
    return ops.mean(focal_loss(y_true, y_pred, gamma)) + dice_loss(y_true, y_pred, smooth)


@serialisable
class FocalDiceLoss(keras.losses.Loss):
    def __init__(self, gamma: float = 2.0, smooth: float = SMOOTH, name: str = "focal_dice_loss", **kwargs) -> None:
        super().__init__(name=name, **kwargs)
        self.gamma = gamma
        self.smooth = smooth

    def call(self, y_true, y_pred):
        return focal_dice_loss(y_true, y_pred, self.gamma, self.smooth)

    def get_config(self) -> dict:
        return {**super().get_config(), "gamma": self.gamma, "smooth": self.smooth}
