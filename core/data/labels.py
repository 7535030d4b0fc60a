"""The label encoding, in one place: class indices (what the model predicts) and trimap values
(what the Oxford-IIIT Pet files hold), their names and their colours.

Shapes, as in segmentation_models_pytorch's `losses/constants.py`:
- class-index masks: (H, W) or (N, H, W) uint8, values `Class` 0 pet, 1 background, 2 border;
  the model's probabilities are (N, H, W, NUM_CLASSES) in the same order;
- trimaps: (H, W) uint8, values `TrimapValue` 1 pet, 2 background, 3 border (the dataset's
  `annotations/trimaps/*.png`, the CLI's `_mask.png` and the SavedModel's `trimap` output).
"""

from __future__ import annotations

from enum import IntEnum

import numpy as np


class Class(IntEnum):
    """A class index: a channel of the model's output."""

    PET = 0
    BACKGROUND = 1
    BORDER = 2


class TrimapValue(IntEnum):
    """A pixel value of a trimap file: `Class` + 1."""

    PET = 1
    BACKGROUND = 2
    BORDER = 3


NUM_CLASSES = len(Class)
CLASS_NAMES = tuple(member.name.lower() for member in Class)
"""("pet", "background", "border"), in class-index order."""
CLASS_COLOURS = np.array(
    [
        [245, 133, 24],  # pet: orange
        [76, 120, 168],  # background: blue
        [238, 202, 59],  # border: yellow
    ],
    dtype=np.uint8,
)
"""RGB colour of each class, in class-index order (the dashboard's legend and the coloured mask)."""

OFFSET = TrimapValue.PET - Class.PET


def to_class_index(trimap):
    """Trimap values (1..3) to class indices (0..2); NumPy arrays and tensors alike."""
    return trimap - OFFSET


def to_trimap(classes):
    """Class indices (0..2) to trimap values (1..3); NumPy arrays and tensors alike."""
    return classes + OFFSET
