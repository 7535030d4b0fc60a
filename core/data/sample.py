"""The small bundled sample of validation pairs (one per breed) shipped with the repository."""

from __future__ import annotations

from itertools import chain, zip_longest
from pathlib import Path

from core.data.dataset import Pair, find_pairs

SAMPLE_DIR = Path(__file__).resolve().parents[2] / "samples" / "pets"


def sample_pairs() -> list[Pair]:
    """All bundled pairs, cats and dogs taking turns (each sorted by name), so that the first few
    examples a person is offered show both species, not 12 cat breeds in a row."""
    pairs = find_pairs(SAMPLE_DIR)[0]
    cats = [pair for pair in pairs if pair.species == "cat"]
    dogs = [pair for pair in pairs if pair.species != "cat"]
    return [pair for pair in chain.from_iterable(zip_longest(dogs, cats)) if pair is not None]
