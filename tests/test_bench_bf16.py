"""bench.bf16's bfloat16 copy of a model: same weights, bfloat16 arithmetic, float32 probabilities."""

import numpy as np

from bench.bf16 import in_bfloat16
from core.config import model_config
from core.model.fold import fold_batch_norm
from core.model.unet import build_unet


def test_the_bfloat16_copy_computes_in_bfloat16_and_returns_float32_probabilities_close_to_the_original():
    model = fold_batch_norm(build_unet(model_config("tiny")))  # as shipped
    copy = in_bfloat16(model)
    images = np.random.default_rng(0).uniform(0, 255, (4, 32, 32, 3)).astype("float32")
    hidden = copy.layers[1:-1]  # all but the input and the softmax
    assert hidden and all(layer.compute_dtype == "bfloat16" for layer in hidden)
    assert copy.layers[-1].compute_dtype == "float32"
    for original, copied in zip(model.get_weights(), copy.get_weights(), strict=True):
        np.testing.assert_array_equal(original, copied)
    expected, probabilities = model(images).numpy(), copy(images).numpy()
    assert probabilities.dtype == np.float32
    np.testing.assert_allclose(probabilities.sum(-1), 1.0, atol=1e-5)
    np.testing.assert_allclose(probabilities, expected, atol=0.05)
    assert not np.array_equal(probabilities, expected)  # bfloat16 rounding shows: it is not float32
