"""The models a server offers: the default, loaded at start-up, and the others beside it, loaded on
first use. Each (model, TTA, whole photo only) choice has its own `Segmenter` and `Batcher`; a
model is loaded once."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path

from core.api.batching import Batcher
from core.catalog import ModelEntry, list_models
from core.errors import PetSegError


class UnknownModel(PetSegError, LookupError):
    """A `model` parameter that names no model the server offers."""


@dataclass
class Served:
    entry: ModelEntry
    segmenter: object
    batcher: Batcher


class ModelPool:
    def __init__(self, default: Path, max_batch: int, window_seconds: float) -> None:
        self.default = ModelEntry(Path(default))
        others = [entry for entry in list_models(self.default.path.parent) if entry.path != self.default.path]
        self.entries = {entry.label: entry for entry in [self.default, *others]}
        self.max_batch, self.window = max_batch, window_seconds
        self._served: dict[tuple[str, bool, bool], Served] = {}
        self._keras: dict[str, object] = {}
        self._lock = asyncio.Lock()

    def names(self) -> list[str]:
        return list(self.entries)

    def _load(self, label: str, tta: bool, whole_photo_only: bool) -> Served:
        from core.config import view_config
        from core.model_io import load_model
        from core.predict import Segmenter

        entry = self.entries[label]
        if label not in self._keras:
            self._keras[label] = load_model(entry.path)
        views = view_config(whole_photo_only)
        segmenter = Segmenter(entry.path, model=self._keras[label], tta=tta, views=views).warm_up()
        return Served(entry, segmenter, Batcher(segmenter, self.max_batch, self.window))

    async def get(self, label: str | None, tta: bool, whole_photo_only: bool = False) -> Served:
        label = label or self.default.label
        if label not in self.entries:
            raise UnknownModel(f"unknown model {label!r}; choose from {', '.join(self.entries)} (GET /v1/models)")
        key = (label, tta, whole_photo_only)
        if key not in self._served:
            async with self._lock:
                if key not in self._served:
                    self._served[key] = await asyncio.to_thread(self._load, *key)
        return self._served[key]

    async def close(self) -> None:
        for served in self._served.values():
            await served.batcher.stop()
