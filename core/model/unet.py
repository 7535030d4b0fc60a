"""The U-Net builder: one function from a `ModelConfig` to a Keras model.

Input: uint8-range RGB (0..255) of shape (S, S, 3); the model rescales it itself (to 0..1, or to
the pretrained encoder's ImageNet scaling), so a saved model needs no separate preprocessing.
Output: per-pixel softmax over (pet, background, border).
"""

from __future__ import annotations

import keras
from keras import layers

from core.config import ModelConfig


def _conv(config: ModelConfig, filters: int, first: bool, name: str) -> layers.Layer:
    if config.conv == "separable" and not first:
        return layers.SeparableConv2D(filters, 3, padding="same", use_bias=not config.batch_norm, name=name)
    return layers.Conv2D(
        filters, 3, padding="same", use_bias=not config.batch_norm, kernel_initializer="he_normal", name=name
    )


def _block(x, config: ModelConfig, filters: int, name: str, first: bool = False, synchronized: bool = False):
    """Two 3x3 convolutions with ReLU (and batch norm); optionally a residual shortcut."""
    shortcut = x
    for index in (1, 2):
        x = _conv(config, filters, first and index == 1, f"{name}_conv{index}")(x)
        if config.batch_norm:
            x = layers.BatchNormalization(synchronized=synchronized, name=f"{name}_bn{index}")(x)
        if not (config.residual and index == 2):
            x = layers.ReLU(name=f"{name}_relu{index}")(x)
    if config.residual:
        if shortcut.shape[-1] != filters:
            shortcut = layers.Conv2D(filters, 1, use_bias=False, name=f"{name}_proj")(shortcut)
        x = layers.ReLU(name=f"{name}_out")(layers.Add(name=f"{name}_add")([x, shortcut]))
    return x


def _upsample(x, config: ModelConfig, filters: int, name: str):
    if config.upsampling == "transpose":
        return layers.Conv2DTranspose(filters, 3, strides=2, padding="same", name=f"{name}_up")(x)
    return layers.UpSampling2D(2, interpolation="bilinear", name=f"{name}_up")(x)


def _unet_encoder(inputs, config: ModelConfig, sync: bool) -> tuple[list, object]:
    """The U-Net's own encoder: a block and a 2x2 max-pool per level; returns (skips, bottleneck)."""
    x = layers.Rescaling(1.0 / 255.0, name="rescale")(inputs)
    skips = []
    for level in range(config.depth):
        x = _block(x, config, config.filters_at(level), f"enc{level}", first=level == 0, synchronized=sync)
        skips.append(x)
        x = layers.MaxPooling2D(2, name=f"enc{level}_pool")(x)
        if config.dropout:
            x = layers.Dropout(config.dropout, name=f"enc{level}_drop")(x)
    return skips, _block(x, config, config.filters_at(config.depth), "bottleneck", synchronized=sync)


def _pretrained_encoder(inputs, config: ModelConfig, sync: bool) -> tuple[list, object]:
    """EfficientNet-Lite: its taps at strides 2..16 are the skips of levels 1..4 (level 0, full
    resolution, has none) and its stride-32 tap is the bottleneck."""
    from core.model.pretrained.efficientnet_lite import VARIANTS, efficientnet_lite_features, imagenet_scaling

    taps = efficientnet_lite_features(imagenet_scaling()(inputs), VARIANTS[config.encoder], sync)
    return [None, *taps[:-1]], taps[-1]


def build_unet(config: ModelConfig, name: str = "petseg_unet", synchronized_batch_norm: bool = False) -> keras.Model:
    """`synchronized_batch_norm`: batch statistics over all replicas of a distribution strategy,
    so training on several replicas matches one replica on the same global batch."""
    sync = synchronized_batch_norm
    inputs = keras.Input((config.input_size, config.input_size, 3), name="image")
    encoder = _unet_encoder if config.encoder == "unet" else _pretrained_encoder
    skips, x = encoder(inputs, config, sync)
    for level in reversed(range(config.depth)):
        filters = config.filters_at(level)
        x = _upsample(x, config, filters, f"dec{level}")
        if skips[level] is not None:
            x = layers.Concatenate(name=f"dec{level}_concat")([x, skips[level]])
        if config.dropout:
            x = layers.Dropout(config.dropout, name=f"dec{level}_drop")(x)
        x = _block(x, config, filters, f"dec{level}", synchronized=sync)
    outputs = layers.Conv2D(config.num_classes, 1, activation="softmax", dtype="float32", name="classes")(x)
    return keras.Model(inputs, outputs, name=name)
