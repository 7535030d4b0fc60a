"""The dashboard's settings, read from the environment."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from core.config import DEFAULT_DATA_DIR, MODELS_DIR


@dataclass(frozen=True)
class AppConfig:
    """Where the dashboard finds models, the dataset and training runs, and how large it draws
    photos, and what runs the network. Each field has an environment variable: PETSEG_MODELS_DIR,
    PETSEG_DATA_DIR, PETSEG_RUNS_DIR, PETSEG_PREVIEW_SIDE, PETSEG_RUNTIME."""

    models_dir: Path = MODELS_DIR
    data_dir: Path = DEFAULT_DATA_DIR
    runs_dir: Path = Path("runs")
    preview_side: int = 1024
    """Photos are shown at most this many pixels wide or high (downloads keep the full size)."""
    runtime: str = "auto"
    """`auto` (OpenVINO where installed), `openvino` or `keras` (`core.config.RuntimeConfig`)."""

    @property
    def score_cache_dir(self) -> Path:
        """Where the gallery keeps each model's validation scores (`core.evaluation.score_cache`), beside the models."""
        return self.models_dir / ".cache"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> AppConfig:
        environ = os.environ if environ is None else environ
        return cls(
            models_dir=Path(environ.get("PETSEG_MODELS_DIR", cls.models_dir)),
            data_dir=Path(environ.get("PETSEG_DATA_DIR", cls.data_dir)),
            runs_dir=Path(environ.get("PETSEG_RUNS_DIR", cls.runs_dir)),
            preview_side=int(environ.get("PETSEG_PREVIEW_SIDE", cls.preview_side)),
            runtime=environ.get("PETSEG_RUNTIME", cls.runtime),
        )
