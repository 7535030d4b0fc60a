"""The validation gallery's logic: which images, in what order, and their summary."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from core.data import dataset as data
from core.data.sample import SAMPLE_DIR
from core.evaluation.evaluate import ImageResult, pooled_scores

SORT_FIELDS = ("dice", "mean_iou", "pet_iou", "pixel_accuracy", "confident_disagreement", "name")
"""What `select` can sort by: a score of `core.model.metrics`, the suspect-label measure, or the image's name."""


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
    sort: str = "dice",
    descending: bool = False,
    suspect_only: bool = False,
) -> list[ImageResult]:
    """The results of `species` ("all", "cat" or "dog") and `breeds` (all when empty), only the
    suspect labels if asked, sorted by `sort` (one of `SORT_FIELDS`), ascending unless `descending`."""
    if sort not in SORT_FIELDS:
        raise ValueError(f"unknown sort field {sort!r}; choose one of {', '.join(SORT_FIELDS)}")
    chosen = [
        result
        for result in results
        if (species == "all" or result.pair.species == species)
        and (not breeds or result.pair.breed in breeds)
        and (not suspect_only or result.suspect_label)
    ]
    if sort == "name":
        key = lambda result: result.pair.stem  # noqa: E731
    elif sort == "confident_disagreement":
        key = lambda result: result.confident_disagreement  # noqa: E731
    else:
        key = lambda result: result.scores[sort]  # noqa: E731
    return sorted(chosen, key=key, reverse=descending)


def summary(results: list[ImageResult]) -> dict[str, float]:
    return pooled_scores(results) if results else {}


@dataclass(frozen=True)
class BreedSummary:
    breed: str
    species: str
    images: int
    scores: dict[str, float]
    """Pooled over the breed's images, as `summary`."""


def per_breed(results: list[ImageResult]) -> list[BreedSummary]:
    """Scores of each breed among `results`, the worst pet IoU first."""
    groups: dict[str, list[ImageResult]] = {}
    for result in results:
        groups.setdefault(result.pair.breed, []).append(result)
    summaries = [
        BreedSummary(breed, members[0].pair.species, len(members), pooled_scores(members))
        for breed, members in groups.items()
    ]
    return sorted(summaries, key=lambda item: item.scores["pet_iou"])
