import zipfile

import keras
import numpy as np
import pytest

from core.config import model_config
from core.model.fold import fold_batch_norm
from core.model.model_io import load_model, save_for_inference
from core.model.unet import build_unet


def trained_looking(overrides: dict) -> keras.Model:
    """A tiny U-Net whose batch norms hold non-trivial statistics, as after training."""
    model = build_unet(model_config("tiny", **overrides))
    rng = np.random.default_rng(0)
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            channels = layer.moving_mean.shape[0]
            layer.moving_mean.assign(rng.normal(size=channels))
            layer.moving_variance.assign(rng.uniform(0.2, 3.0, size=channels))
            layer.gamma.assign(rng.normal(1.0, 0.3, size=channels))
            layer.beta.assign(rng.normal(size=channels))
    return model


def batch_norms(model: keras.Model) -> int:
    return sum(isinstance(layer, keras.layers.BatchNormalization) for layer in model.layers)


@pytest.mark.parametrize("overrides", [{}, {"conv": "separable", "residual": True}, {"upsampling": "transpose"}])
def test_folded_model_gives_the_same_probabilities_without_batch_norm(overrides):
    model = trained_looking(overrides)
    folded = fold_batch_norm(model)
    images = np.random.default_rng(1).uniform(0, 255, (4, 32, 32, 3)).astype("float32")
    assert batch_norms(model) > 0 and batch_norms(folded) == 0
    assert folded.count_params() < model.count_params()
    np.testing.assert_allclose(folded(images).numpy(), model(images, training=False).numpy(), atol=1e-5)


def test_folding_changes_nothing_in_a_model_without_batch_norm():
    model = build_unet(model_config("tiny", batch_norm=False))
    assert fold_batch_norm(model) is model


def test_folded_model_saves_and_loads_as_a_plain_petseg_model(tmp_path):
    model = trained_looking({})
    save_for_inference(fold_batch_norm(model), tmp_path / "folded.keras")
    restored = load_model(tmp_path / "folded.keras")
    images = np.random.default_rng(2).uniform(0, 255, (2, 32, 32, 3)).astype("float32")
    assert restored.name == model.name and batch_norms(restored) == 0
    with zipfile.ZipFile(tmp_path / "folded.keras") as archive:  # deflated: the shipped file stays under 5 MB
        assert {info.compress_type for info in archive.infolist()} == {zipfile.ZIP_DEFLATED}
    np.testing.assert_allclose(restored(images).numpy(), model(images, training=False).numpy(), atol=1e-5)
