"""Focal + Dice: the reference report's training loss."""

from __future__ import annotations

import keras
from keras import ops

from core.model.losses._labels import serialisable
from core.model.losses._replicas import replica_count, replica_sum
from core.model.losses.dice import SMOOTH, dice_from_sums, dice_loss, dice_sums
from core.model.losses.focal import focal_loss


def focal_dice_loss(y_true, y_pred, gamma: float = 2.0, smooth: float = SMOOTH):
    """Batch mean of the focal loss plus the batch-pooled Dice loss (a scalar)."""
    return ops.mean(focal_loss(y_true, y_pred, gamma)) + dice_loss(y_true, y_pred, smooth)


def replica_share_of_focal_dice_loss(y_true, y_pred, gamma: float = 2.0, smooth: float = SMOOTH):
    """This replica's share of the global batch's `focal_dice_loss` (`core.model.losses._replicas`):
    the shares of all replicas add up to it, and so do their gradients. Equal to
    `focal_dice_loss` without a distribution strategy."""
    per_image = focal_loss(y_true, y_pred, gamma)
    images = replica_sum(ops.cast(ops.shape(per_image)[0], per_image.dtype))
    intersection, total = (replica_sum(value) for value in dice_sums(y_true, y_pred))
    dice = dice_from_sums(intersection, total, smooth)
    return ops.sum(per_image) / images + (1.0 - dice) / replica_count()


@serialisable
class FocalDiceLoss(keras.losses.Loss):
    """Focal + Dice over the global batch, also when training on several replicas (Keras's own
    per-replica scaling does not apply to a loss that returns a scalar)."""

    def __init__(self, gamma: float = 2.0, smooth: float = SMOOTH, name: str = "focal_dice_loss", **kwargs) -> None:
        super().__init__(name=name, **kwargs)
        self.gamma = gamma
        self.smooth = smooth

    def call(self, y_true, y_pred):
        return replica_share_of_focal_dice_loss(y_true, y_pred, self.gamma, self.smooth)

    def get_config(self) -> dict:
        return {**super().get_config(), "gamma": self.gamma, "smooth": self.smooth}
