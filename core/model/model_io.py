"""Model files and run records: reading and checking `.keras` models, writing them for inference
or for shipping (batch norms folded), and the `run.json` record of a training run.

Every other module goes through here: `predict`, `train`, `export`, `catalog`, `history` and
`scripts/ship_model.sh` never open a model file or a run record themselves.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

from core.config import DEFAULT_MODEL_PATH
from core.data.labels import NUM_CLASSES
from core.errors import PetSegError
from core.files import atomic_path, write_json

RUN_RECORD = "run.json"
"""A run folder's record: configuration, model, data summary, strategy, machine, status, timing."""
HOW_TO_GET_A_MODEL = (
    "restore the shipped model with `git checkout -- models/petseg.keras`, "
    "or train one with `python -m core train --out RUN` and pass --model RUN/model.keras"
)


class ModelFileError(PetSegError, RuntimeError):
    """A model file that is missing, unreadable or not a PetSeg model; the message says the fix."""


def load_model(path: Path | str = DEFAULT_MODEL_PATH):
    """Load and check a PetSeg Keras model: (S, S, 3) image in, (S, S, 3) class probabilities out."""
    import keras

    import core.model.losses  # noqa: F401  (registers the custom loss and metric classes)
    import core.model.metrics  # noqa: F401

    path = Path(path)
    if not path.exists():
        raise ModelFileError(f"model file {path} not found; {HOW_TO_GET_A_MODEL}")
    if path.is_dir() or not zipfile.is_zipfile(path):
        raise ModelFileError(f"{path} is not a Keras model file (.keras zip archive); {HOW_TO_GET_A_MODEL}")
    try:
        model = keras.saving.load_model(path, compile=False)
    except Exception as error:  # noqa: BLE001 - Keras raises many types for damaged archives
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise ModelFileError(
            f"{path} is damaged or not a PetSeg model ({first_line[:200]}); {HOW_TO_GET_A_MODEL}"
        ) from None
    input_shape, output_shape = tuple(model.input_shape), tuple(model.output_shape)
    if len(input_shape) != 4 or input_shape[-1] != 3 or input_shape[1] is None or input_shape[1] != input_shape[2]:
        raise ModelFileError(
            f"{path}: expected a square RGB input (None, S, S, 3), got {input_shape}; {HOW_TO_GET_A_MODEL}"
        )
    if output_shape != (None, input_shape[1], input_shape[2], NUM_CLASSES):
        raise ModelFileError(
            f"{path}: expected output (None, {input_shape[1]}, {input_shape[2]}, {NUM_CLASSES}) "
            f"(pet, background, border), got {output_shape}; {HOW_TO_GET_A_MODEL}"
        )
    return model


def save_for_inference(model, path: Path) -> None:
    """Save weights and architecture only (no optimizer state: a third of the size), deflated,
    atomically."""
    import keras

    copy = keras.Model.from_config(model.get_config())
    copy.set_weights(model.get_weights())
    with atomic_path(path, suffix=".keras") as temporary:
        copy.save(temporary)
        _deflate_zip(temporary)


def save_for_shipping(model, path: Path) -> None:
    """`save_for_inference` with the batch norms folded into the convolutions (`core.model.fold`): the
    shipped form, faster and smaller, with the same predictions."""
    from core.model.fold import fold_batch_norm

    save_for_inference(fold_batch_norm(model), path)


def _deflate_zip(path: Path) -> None:
    """Re-pack a zip archive with deflate, in place. Keras stores `.keras` members uncompressed;
    deflate saves about 10% on float weights and Keras reads it back as it is."""
    with zipfile.ZipFile(path) as source:
        members = [(info, source.read(info)) for info in source.infolist()]
    with zipfile.ZipFile(path, "w") as target:
        for info, content in members:
            info.compress_type = zipfile.ZIP_DEFLATED
            target.writestr(info, content, compresslevel=9)


def read_run_record(path: Path) -> dict[str, Any] | None:
    """A run record (`RUN/run.json`, or a shipped model's `<stem>.run.json`); None when there is
    none or it cannot be read as a JSON object."""
    try:
        record = json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None


def run_config(run_dir: Path) -> dict[str, Any] | None:
    """The `config` of a run folder's record, or None when the folder has no readable record."""
    record = read_run_record(Path(run_dir) / RUN_RECORD)
    return None if record is None else (record.get("config") or {})


def write_run_record(run_dir: Path, record: dict[str, Any]) -> None:
    write_json(Path(run_dir) / RUN_RECORD, record)
