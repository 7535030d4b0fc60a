"""Requests that arrive together share one model call: a short batching window, a bounded queue.

One task per model collects the photos' model inputs (their views) waiting in the queue (up to
`max_batch` photos, waiting at most `window` seconds after the first), runs them as one batch in a
worker thread, and hands each request its own probabilities. The event loop never runs the model.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass

import numpy as np

from core.errors import PetSegError


class Overloaded(PetSegError, RuntimeError):
    """The server holds as many photos as it may: try again shortly."""


@dataclass
class _Request:
    views: np.ndarray
    answer: asyncio.Future


class Batcher:
    """Batches `predict` calls for one `Segmenter` (anything with `predict_arrays`)."""

    def __init__(self, segmenter, max_batch: int, window_seconds: float) -> None:
        self.segmenter, self.max_batch, self.window = segmenter, max_batch, window_seconds
        self._queue: asyncio.Queue[_Request] = asyncio.Queue()
        self._task: asyncio.Task | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="petseg-batcher")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def predict(self, views: np.ndarray) -> np.ndarray:
        """Class probabilities (K, S, S, 3) for one photo's model inputs (K, S, S, 3: its views),
        computed in a batch with its neighbours'."""
        self.start()
        request = _Request(views, asyncio.get_running_loop().create_future())
        self._queue.put_nowait(request)  # bounded upstream: a request holds a photo slot while it waits
        return await request.answer

    async def _collect(self) -> list[_Request]:
        batch = [await self._queue.get()]
        deadline = asyncio.get_running_loop().time() + self.window
        while len(batch) < self.max_batch:
            if not self._queue.empty():
                batch.append(self._queue.get_nowait())
                continue
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                break
            try:
                batch.append(await asyncio.wait_for(self._queue.get(), remaining))
            except TimeoutError:
                break
        return [request for request in batch if not request.answer.cancelled()]  # a vanished client's is dropped

    async def _run(self) -> None:
        while True:
            batch = await self._collect()
            if not batch:
                continue
            try:
                probabilities = await asyncio.to_thread(
                    self.segmenter.predict_arrays, np.concatenate([request.views for request in batch])
                )
            except Exception as error:  # noqa: BLE001 - handed to every waiting request, the loop goes on
                for request in batch:
                    if not request.answer.done():
                        request.answer.set_exception(error)
                continue
            done = 0
            for request in batch:
                if not request.answer.done():
                    request.answer.set_result(probabilities[done : done + len(request.views)])
                done += len(request.views)
