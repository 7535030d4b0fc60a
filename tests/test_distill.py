"""Distillation: the student learns from the ground truth and a teacher's probabilities."""

import json

import numpy as np
import pytest

from core.cli import main
from core.config import TrainConfig, model_config
from core.model.losses import focal_dice_loss, soft_target_cross_entropy
from core.model.model_io import load_model
from core.model.unet import build_unet
from core.training.distill import Distiller, DistillError
from core.training.train import compile_model
from tests.helpers import tiny_train_args


def test_the_training_loss_mixes_truth_and_teacher_and_validation_uses_the_truth_alone():
    student = build_unet(model_config("tiny"), name="petseg_tiny")
    teacher = build_unet(model_config("tiny"), name="teacher")
    distiller = Distiller(student, teacher, weight=0.3)
    rng = np.random.default_rng(0)
    images = rng.uniform(0, 255, (2, 32, 32, 3)).astype("float32")
    labels = rng.integers(0, 3, (2, 32, 32)).astype("int32")
    distiller(images)
    compile_model(distiller, TrainConfig(preset="tiny"), 1)
    predicted = distiller(images)
    hard = float(np.mean(focal_dice_loss(labels, predicted)))
    soft = float(np.mean(soft_target_cross_entropy(teacher(images), predicted)))
    assert soft > 0 and abs(soft - hard) > 1e-3  # the two terms differ, so the mix is visible
    training = float(distiller.compute_loss(images, labels, predicted, training=True))
    assert training == pytest.approx(0.7 * hard + 0.3 * soft, rel=1e-5)
    assert float(distiller.compute_loss(images, labels, predicted, training=False)) == pytest.approx(hard, rel=1e-5)


def test_a_flip_averaged_teacher_teaches_the_mean_of_the_batch_and_its_mirror():
    teacher = build_unet(model_config("tiny"), name="teacher")
    images = np.random.default_rng(2).uniform(0, 255, (2, 32, 32, 3)).astype("float32")
    plain = Distiller(build_unet(model_config("tiny")), teacher, 0.5).teacher_probabilities(images)
    averaged = Distiller(build_unet(model_config("tiny")), teacher, 0.5, teacher_tta=True).teacher_probabilities(images)
    mirrored = np.asarray(teacher(images[:, :, ::-1]))[:, :, ::-1]
    np.testing.assert_allclose(np.asarray(plain), np.asarray(teacher(images)), atol=1e-6)
    np.testing.assert_allclose(np.asarray(averaged), (np.asarray(plain) + mirrored) / 2, atol=1e-5)
    assert np.abs(np.asarray(averaged) - np.asarray(plain)).max() > 1e-3  # the mirror's view changes it


def test_a_teacher_of_another_input_size_or_a_bad_weight_is_refused():
    student = build_unet(model_config("tiny"))
    with pytest.raises(DistillError, match="distil from a model of the same input size"):
        Distiller(student, build_unet(model_config("tiny", input_size=64)), 0.5)
    with pytest.raises(DistillError, match=r"weight must be in \[0, 1\]"):
        Distiller(student, build_unet(model_config("tiny")), 1.5)


def test_the_resume_state_holds_the_student_and_its_optimizer_not_the_teacher(tmp_path):
    """The teacher is loaded from its own file; in the state it doubled the size of each commit."""
    rng = np.random.default_rng(1)
    images = rng.uniform(0, 255, (4, 32, 32, 3)).astype("float32")
    labels = rng.integers(0, 3, (4, 32, 32)).astype("int32")

    def trained_distiller(teacher_width: int) -> Distiller:
        student = build_unet(model_config("tiny"), name="petseg_tiny")
        distiller = Distiller(student, build_unet(model_config("tiny", base_filters=teacher_width)), 0.5)
        compile_model(distiller, TrainConfig(preset="tiny"), 1)
        distiller.fit(images, labels, batch_size=4, epochs=1, verbose=0)
        return distiller

    distiller = trained_distiller(teacher_width=32)
    distiller.save_weights(tmp_path / "state.weights.h5")
    distiller.student.save_weights(tmp_path / "student.weights.h5")
    state_size = (tmp_path / "state.weights.h5").stat().st_size
    # The student's weights plus Adam's two moments: about three times the student, whatever the teacher.
    assert state_size < 4 * (tmp_path / "student.weights.h5").stat().st_size
    resumed = trained_distiller(teacher_width=8)  # another teacher's shapes do not matter to the state
    resumed.load_weights(tmp_path / "state.weights.h5")
    for saved, loaded in zip(distiller.student.weights, resumed.student.weights, strict=True):
        np.testing.assert_array_equal(np.asarray(saved), np.asarray(loaded))


@pytest.mark.slow
def test_a_distilled_run_ships_only_the_student_and_resumes(tmp_path, tiny_dataset, tiny_model_path, capsys):
    teacher = ["--teacher", str(tiny_model_path), "--teacher-tta"]
    args = [*tiny_train_args(tiny_dataset, tmp_path, epochs=1, batch_size=4), *teacher]
    assert main(args) == 0
    shipped = load_model(tmp_path / "model.keras")
    assert shipped.name == "petseg_tiny" and shipped.count_params() == build_unet(model_config("tiny")).count_params()
    record = json.loads((tmp_path / "run.json").read_text())
    assert record["config"]["teacher"] == str(tiny_model_path) and record["config"]["distill_weight"] == 0.5
    assert record["config"]["teacher_tta"] is True
    assert record["model"]["parameters"] == shipped.count_params()
    capsys.readouterr()
    assert main([*tiny_train_args(tiny_dataset, tmp_path, epochs=2, batch_size=4), *teacher]) == 0
    assert "resuming after epoch 1 of 2" in capsys.readouterr().out
    assert main([*tiny_train_args(tiny_dataset, tmp_path, epochs=3, batch_size=4), *teacher[:2]]) == 2
    assert "teacher_tta: True -> False" in capsys.readouterr().err
    assert main([*args, "--distill-weight", "1.5"]) == 2
    assert "error: distill_weight must be in [0, 1], got 1.5" in capsys.readouterr().err
