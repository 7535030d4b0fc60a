from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

from tests.helpers import SHARED_DATA, tiny_train_args, write_dataset  # noqa: E402


@pytest.fixture(scope="session")
def tiny_dataset(tmp_path_factory) -> Path:
    return write_dataset(tmp_path_factory.mktemp("pets"), count=12)


@pytest.fixture(scope="session")
def tiny_model_path(tmp_path_factory) -> Path:
    """An untrained tiny U-Net saved as a real .keras file."""
    from core.config import model_config
    from core.model.unet import build_unet

    path = tmp_path_factory.mktemp("model") / "tiny.keras"
    build_unet(model_config("tiny"), name="petseg_tiny").save(path)
    return path


@pytest.fixture(scope="session")
def trained_tiny_run(tmp_path_factory, tiny_dataset) -> Path:
    """A 3-epoch training run of the tiny preset on the synthetic dataset (through the CLI code)."""
    from core.cli import main

    out = tmp_path_factory.mktemp("run")
    assert main(tiny_train_args(tiny_dataset, out, epochs=3, batch_size=4)) == 0
    return out


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not (SHARED_DATA / "images").is_dir():
        pytest.skip(f"the shared Oxford-IIIT Pet copy is not at {SHARED_DATA}")
    return SHARED_DATA
