"""A one-line progress display for long loops (downloads, bulk prediction) on a terminal stream."""

from __future__ import annotations

import time
from typing import TextIO


class Progress:
    """`label [####    ]  45.0% 350.0/780.0 MB 5.1 MB/s`, or without a total `label 1200 img 85.3 img/s`."""

    def __init__(self, label: str, stream: TextIO, total: float | None = None, done: float = 0.0,
                 unit: str = "MB", scale: float = 2**20, interval: float = 0.2) -> None:
        self.label, self.stream, self.total, self.done = label, stream, total, done
        self.unit, self.scale, self.interval = unit, scale, interval
        self.started, self.start_done, self.last = time.monotonic(), done, 0.0

    @property
    def rate(self) -> float:
        """Units per second since the start."""
        return (self.done - self.start_done) / max(time.monotonic() - self.started, 1e-6) / self.scale

    def update(self, amount: float, force: bool = False) -> None:
        self.done += amount
        now = time.monotonic()
        if not force and now - self.last < self.interval:
            return
        self.last = now
        done = self.done / self.scale
        number = f"{done:.1f}" if self.scale != 1 else f"{done:.0f}"
        if self.total:
            fraction = self.done / self.total
            text = (f"{self.label} [{'#' * int(fraction * 30):<30}] {fraction:6.1%} {number}/"
                    f"{self.total / self.scale:.1f} {self.unit} {self.rate:.1f} {self.unit}/s")
        else:
            text = f"{self.label} {number} {self.unit} {self.rate:.1f} {self.unit}/s"
        self.stream.write("\r" + text)
        self.stream.flush()

    def close(self) -> None:
        self.update(0, force=True)
        self.stream.write("\n")
