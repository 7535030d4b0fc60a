"""The small bundled sample of validation pairs (one per breed) shipped with the repository."""

from __future__ import annotations

from pathlib import Path

from core.data import Pair, find_pairs

SAMPLE_DIR = Path(__file__).resolve().parent.parent / "samples" / "pets"


def sample_pairs() -> list[Pair]:
    """All bundled pairs, sorted by name."""
    return find_pairs(SAMPLE_DIR)[0]
