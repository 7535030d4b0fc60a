"""The models a server offers: the default, loaded at start-up, and the others beside it, loaded on
first use. Each (model, TTA, whole photo only) choice has its own `Segmenter` and `Batcher`; a
model is loaded once."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path

from core.config import RuntimeConfig
from core.errors import PetSegError
from core.serving.api.batching import Batcher
from core.serving.catalog import ModelEntry, list_models


class UnknownModel(PetSegError, LookupError):
    """A `model` parameter that names no model the server offers."""


@dataclass
class Served:
    entry: ModelEntry
    segmenter: object
    batcher: Batcher


class ModelPool:
    def __init__(
        self, default: Path, max_batch: int, window_seconds: float, runtime: RuntimeConfig | str = "auto"
    ) -> None:
        self.default = ModelEntry(Path(default))
        self.runtime = runtime
        others = [entry for entry in list_models(self.default.path.parent) if entry.path != self.default.path]
        self.entries = {entry.label: entry for entry in [self.default, *others]}
        self.max_batch, self.window = max_batch, window_seconds
        self._served: dict[tuple[str, bool, bool], Served] = {}
        self._plain: dict[str, object] = {}
        """Per model, its first Segmenter: the others (TTA, views) share its network."""
        self._lock = asyncio.Lock()

    def names(self) -> list[str]:
        return list(self.entries)

    def _load(self, label: str, tta: bool, whole_photo_only: bool) -> Served:
        from core.config import view_config
        from core.inference.predict import Segmenter

        entry = self.entries[label]
        if label not in self._plain:
            self._plain[label] = Segmenter(entry.path, runtime=self.runtime)
        segmenter = self._plain[label].with_options(tta=tta, views=view_config(whole_photo_only)).warm_up()
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
