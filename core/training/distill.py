"""Distillation: train a student U-Net on a mix of the ground truth and a teacher's probabilities.

`Distiller` wraps the student; it predicts what the student predicts, so the compiled metrics
score the student against the ground truth. While training, its loss is
`(1 - weight) * focal_dice(truth, student) + weight * soft_target_cross_entropy(teacher, student)`,
the teacher seeing the same augmented batch as the student (optionally flip-averaged, as with
`--tta`). Validation loss is the plain focal + Dice loss against the ground truth, so epochs and
runs compare as before. Only the student is ever saved as a model (`inference_model`).
"""

from __future__ import annotations

import keras
from keras import ops

from core.errors import PetSegError
from core.inference.runtime import flip_averaged
from core.model.losses.soft_target import soft_target_cross_entropy


class DistillError(PetSegError, ValueError):
    """A teacher that cannot teach this student (another input size) or a weight outside [0, 1]."""


class Distiller(keras.Model):
    def __init__(
        self, student: keras.Model, teacher: keras.Model, weight: float, teacher_tta: bool = False, **kwargs
    ) -> None:
        super().__init__(name=f"{student.name}_distilled", **kwargs)
        if not 0.0 <= weight <= 1.0:
            raise DistillError(f"distillation weight must be in [0, 1], got {weight}")
        if tuple(teacher.input_shape) != tuple(student.input_shape):
            raise DistillError(
                f"the teacher takes {teacher.input_shape[1:]} images and the student {student.input_shape[1:]}: "
                "distil from a model of the same input size"
            )
        teacher.trainable = False
        self.student, self.weight, self.teacher_tta = student, float(weight), bool(teacher_tta)
        # Kept out of Keras' tracking, so the resume state (`save_weights`) holds the student and
        # its optimizer only: the teacher is loaded from its own file, and half the state's size
        # was its weights.
        self._teacher = _Untracked(teacher)

    def call(self, images, training=False):
        return self.student(images, training=training)

    def teacher_probabilities(self, images):
        """The teacher's probabilities; with `teacher_tta`, averaged with its mirrored prediction
        (flip test-time augmentation: a better teacher, at twice its compute)."""
        if self.teacher_tta:
            return flip_averaged(self._teacher.model, images)
        return self._teacher.model(images, training=False)

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        hard = super().compute_loss(x, y, y_pred, sample_weight, training)
        if not training or self.weight == 0.0:
            return hard
        soft = ops.mean(soft_target_cross_entropy(self.teacher_probabilities(x), y_pred))
        return (1.0 - self.weight) * hard + self.weight * soft


class _Untracked:
    """Holds a model where Keras neither tracks nor saves it (it walks layers, lists and dicts)."""

    def __init__(self, model: keras.Model) -> None:
        self.model = model


def inference_model(model: keras.Model) -> keras.Model:
    """The model to save and count: the student of a `Distiller`, otherwise the model itself."""
    return model.student if isinstance(model, Distiller) else model
