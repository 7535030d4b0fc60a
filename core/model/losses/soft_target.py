"""Cross-entropy against soft targets: a teacher model's class probabilities (distillation)."""

from __future__ import annotations

from keras import ops

EPSILON = 1e-7


def soft_target_cross_entropy(teacher, student):
    """Per-image mean over pixels of -sum_c teacher_c * log(student_c), both (B, H, W, C)
    probabilities. Its gradient equals that of KL(teacher || student): the entropy of the
    teacher is a constant."""
    student = ops.clip(student, EPSILON, 1.0)
    return ops.mean(-ops.sum(ops.cast(teacher, student.dtype) * ops.log(student), axis=-1), axis=(1, 2))
