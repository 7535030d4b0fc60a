"""The validation gallery's logic: which images, in what order, and their summary."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from core import data
from core.evaluate import ImageResult, pooled_scores
from core.sample import SAMPLE_DIR

SORT_ORDERS = {
    "Worst Dice first": ("dice", False),
    "Best Dice first": ("dice", True),
    "Worst pet IoU first": ("pet_iou", False),
    "Suspect labels first": ("confident_disagreement", True),
    "Name": ("name", False),
}


def breed_name(breed: str) -> str:
    """A breed as people write it: `british_shorthair` or `British_Shorthair` -> British Shorthair."""
    return " ".join(word.capitalize() for word in breed.split("_"))


@dataclass
class GallerySource:
    arrays: data.ArraySet
    description: str
    is_sample: bool


def load_source(data_dir: Path, size: int, val_size: int = 1000) -> GallerySource:
    """The validation split of the dataset at `data_dir`, or the bundled sample when there is none."""
    try:
        split = data.load_split(data_dir, size, val_size, need_train=False)
        return GallerySource(
            split.val,
            f"validation split of {data_dir} ({len(split.val)} images, reference protocol; {split.report.summary()})",
            False,
        )
    except data.DatasetError:
        pairs, _ = data.find_pairs(SAMPLE_DIR)
        arrays, _ = data.load_arrays(pairs, size)
        return GallerySource(
            arrays,
            f"bundled sample ({len(arrays)} validation images, one per breed): no dataset found at {data_dir}. "
            "Get the full dataset (about 800 MB) with `python -m core download --dest data/oxford-iiit-pet`",
            True,
        )


def breeds_of(results: list[ImageResult], species: str = "all") -> list[str]:
    """The breeds present, cats before dogs, each alphabetically; only those of `species` if given."""
    found = {(result.pair.species, result.pair.breed) for result in results}
    return [
        breed
        for kind, breed in sorted(found, key=lambda item: (item[0], breed_name(item[1])))
        if species == "all" or kind == species
    ]


def select(
    results: list[ImageResult],
    species: str = "all",
    breeds: list[str] | None = None,
    order: str = "Worst Dice first",
    suspect_only: bool = False,
) -> list[ImageResult]:
    chosen = [
        result
        for result in results
        if (species == "all" or result.pair.species == species)
        and (not breeds or result.pair.breed in breeds)
        and (not suspect_only or result.suspect_label)
    ]
    key, descending = SORT_ORDERS[order]
    if key == "name":
        return sorted(chosen, key=lambda result: result.pair.stem)
    if key == "confident_disagreement":
        return sorted(chosen, key=lambda result: result.confident_disagreement, reverse=descending)
    return sorted(chosen, key=lambda result: result.scores[key], reverse=descending)


def page_of(results: list[ImageResult], page: int, per_page: int) -> list[ImageResult]:
    start = max(0, page - 1) * per_page
    return results[start : start + per_page]


def page_count(total: int, per_page: int) -> int:
    return max(1, -(-total // per_page))


def summary(results: list[ImageResult]) -> dict[str, float]:
    return pooled_scores(results) if results else {}
