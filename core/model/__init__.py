"""The model stage: the U-Net and its pretrained encoders, losses and metrics, BatchNorm folding, model files."""
