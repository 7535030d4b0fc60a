import keras
import numpy as np
import pytest

from core.config import PRESETS, ModelConfig, model_config
from core.model.unet import build_unet


def test_reference_preset_matches_the_report():
    model = build_unet(model_config("reference"))
    assert model.count_params() == 34_513_475  # the report's 34.5M
    assert any(isinstance(layer, keras.layers.Conv2DTranspose) for layer in model.layers)
    assert any(isinstance(layer, keras.layers.Dropout) and layer.rate == 0.3 for layer in model.layers)


@pytest.mark.parametrize("preset", ["small", "lean", "fast"])
def test_cpu_presets_fit_in_five_megabytes(preset):
    assert build_unet(model_config(preset)).count_params() * 4 < 5 * 2**20


@pytest.mark.parametrize("overrides", [{}, {"upsampling": "transpose"}, {"conv": "separable", "residual": True}])
def test_output_is_a_softmax_over_three_classes(overrides):
    model = build_unet(model_config("tiny", **overrides))
    out = model(np.random.default_rng(0).uniform(0, 255, (2, 32, 32, 3)).astype("float32")).numpy()
    assert out.shape == (2, 32, 32, 3)
    np.testing.assert_allclose(out.sum(-1), 1.0, atol=1e-5)


def test_saved_model_reloads_without_custom_objects(tmp_path):
    import core.model.losses  # noqa: F401
    from core.config import TrainConfig
    from core.training.train import compile_model

    model = build_unet(model_config("tiny"))
    compile_model(model, TrainConfig(preset="tiny", epochs=1), steps_per_epoch=1)
    model.save(tmp_path / "m.keras")
    restored = keras.saving.load_model(tmp_path / "m.keras")
    x = np.zeros((1, 32, 32, 3), np.float32)
    np.testing.assert_allclose(restored(x).numpy(), model(x).numpy(), atol=1e-6)


def test_config_errors_say_the_fix():
    with pytest.raises(ValueError, match="use 144"):
        ModelConfig(input_size=130, depth=4)
    with pytest.raises(ValueError, match="choose one of"):
        model_config("huge")
    assert set(PRESETS) >= {"reference", "small", "tiny"}


PARAMETERS = {
    "reference": 34_513_475,  # the reference report's 34.5M-parameter U-Net
    "small": 822_707,
    "lean": 1_232_691,  # shipped with its batch norms folded: 1,228,947
    "large": 4_430_043,
    "fast": 308_531,
    "effnet-lite0": 4_150_995,  # 2.96 M of them the ImageNet encoder (issue 21)
    "effnet-lite2": 5_621_475,  # issue 28: 4.41 M of them the larger Lite2 encoder
    "tiny": 7_787,
}


def test_every_preset_has_its_documented_parameter_count():
    from core.config import PRESETS, model_config
    from core.model.unet import build_unet

    assert set(PRESETS) == set(PARAMETERS)  # a new preset gets its count here
    counts = {name: build_unet(model_config(name)).count_params() for name in PRESETS}
    assert counts == PARAMETERS
