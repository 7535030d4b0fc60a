"""Categorical focal loss (Lin et al. 2017) on sparse labels."""

from __future__ import annotations

import keras
from keras import ops

from core.model.losses._labels import one_hot_labels, serialisable

EPSILON = 1e-7


def focal_loss(y_true, y_pred, gamma: float = 2.0):
    """Per-image mean of -(1 - p_t)^gamma * log(p_t), where p_t is the true class probability."""
    one_hot = one_hot_labels(y_true, y_pred.shape[-1], y_pred.dtype)
    probs = ops.clip(y_pred, EPSILON, 1.0 - EPSILON)
    p_true = ops.sum(one_hot * probs, axis=-1)
    per_pixel = -ops.power(1.0 - p_true, gamma) * ops.log(p_true)
    return ops.mean(per_pixel, axis=(1, 2))


@serialisable
class FocalLoss(keras.losses.Loss):
    def __init__(self, gamma: float = 2.0, name: str = "focal_loss", **kwargs) -> None:
        super().__init__(name=name, **kwargs)
        self.gamma = gamma

    def call(self, y_true, y_pred):
        return focal_loss(y_true, y_pred, self.gamma)

    def get_config(self) -> dict:
        return {**super().get_config(), "gamma": self.gamma}
