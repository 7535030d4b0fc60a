"""Label handling shared by the losses and metrics."""

from __future__ import annotations

import keras
from keras import ops


def one_hot_labels(y_true, num_classes: int, dtype: str = "float32"):
    """Sparse labels (B, H, W) or (B, H, W, 1) with class indices to one-hot (B, H, W, C)."""
    if len(y_true.shape) == 4 and y_true.shape[-1] == 1:
        y_true = ops.squeeze(y_true, axis=-1)
    return ops.one_hot(ops.cast(y_true, "int32"), num_classes, dtype=dtype)


def serialisable(cls):
    return keras.saving.register_keras_serializable(package="petseg")(cls)
