"""The report's loss: categorical focal loss plus soft Dice loss, on sparse class labels.

Each loss is a pure function of `(y_true, y_pred)` beside a Keras-serialisable class, so a
saved model reloads with `keras.saving.load_model` once `core` is imported.
"""

from core.model.losses.combined import FocalDiceLoss, focal_dice_loss
from core.model.losses.dice import DiceLoss, dice_loss, soft_dice
from core.model.losses.focal import FocalLoss, focal_loss
from core.model.losses.soft_target import soft_target_cross_entropy

__all__ = [
    "DiceLoss",
    "FocalDiceLoss",
    "FocalLoss",
    "dice_loss",
    "focal_dice_loss",
    "focal_loss",
    "soft_dice",
    "soft_target_cross_entropy",
]
