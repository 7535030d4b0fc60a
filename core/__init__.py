"""PetSeg core: data, U-Net, losses, metrics, training, evaluation and prediction.

This package never imports Streamlit; the dashboard is a thin layer on top of it.
"""

__version__ = "0.1.0"
