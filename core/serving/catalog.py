"""Which models there are and what is known about each: metrics and history files beside them."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from core.config import DEFAULT_MODEL_PATH, MODELS_DIR
from core.model.model_io import RUN_RECORD, read_run_record


@dataclass(frozen=True)
class ModelEntry:
    """A `.keras` file and its sidecars: `<stem>.metrics.json`, `<stem>.history.csv`,
    `<stem>.run.json` and `<stem>.card.txt` beside a shipped model, or `metrics.json`, `history.csv` and `run.json` in
    a training run folder."""

    path: Path

    @property
    def label(self) -> str:
        return self.path.parent.name if self.path.name == "model.keras" else self.path.stem

    def _sidecar(self, suffix: str) -> Path | None:
        for candidate in (self.path.with_name(f"{self.path.stem}.{suffix}"), self.path.with_name(suffix)):
            if candidate.is_file():
                return candidate
        return None

    @property
    def history_path(self) -> Path | None:
        return self._sidecar("history.csv")

    def _json_sidecar(self, suffix: str) -> dict | None:
        path = self._sidecar(suffix)
        try:
            return json.loads(path.read_text()) if path else None
        except (OSError, ValueError):
            return None

    def card(self) -> str | None:
        """The model's one-line card (`<stem>.card.txt`): what it is for, in plain words."""
        path = self._sidecar("card.txt")
        try:
            return path.read_text().strip() or None if path else None
        except OSError:
            return None

    def describe(self) -> str:
        """Its name, validation mean IoU and one-line card: how results name the model that made them."""
        mean_iou = (self.metrics() or {}).get("mean_iou")
        scored = f"{self.label} (validation mean IoU {mean_iou:.3f})" if mean_iou is not None else self.label
        card = self.card()
        return f"{scored}: {card}" if card else scored

    def metrics(self) -> dict | None:
        """The saved `evaluate` report, or None when there is none or it cannot be read."""
        return self._json_sidecar("metrics.json")

    def run_record(self) -> dict | None:
        """The training run's record (`run.json`), or None."""
        path = self._sidecar(RUN_RECORD)
        return read_run_record(path) if path else None

    def keep(self) -> str:
        """Which epoch's weights the model holds (`best` or `last`), from its training run record."""
        return ((self.run_record() or {}).get("config") or {}).get("keep", "best")

    def mtime(self) -> float:
        """Changes when the file is replaced, so caches keyed on it reload the new model."""
        return self.path.stat().st_mtime if self.path.exists() else 0.0


def list_models(folder: Path = MODELS_DIR) -> list[ModelEntry]:
    """The `.keras` files in `folder`, the default model first; hidden files (such as the
    temporary file of a write in progress) are not models."""
    paths = sorted(
        (path for path in Path(folder).glob("*.keras") if not path.name.startswith(".")),
        key=lambda path: (path.name != DEFAULT_MODEL_PATH.name, path.name),
    )
    return [ModelEntry(path) for path in paths]


def preset_of(model_name: str) -> str:
    """Models are named `petseg_<preset>` by the trainer."""
    return model_name.removeprefix("petseg_") if model_name.startswith("petseg_") else "custom"
