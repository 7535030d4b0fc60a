"""The gallery's selection: breeds grouped by species, filters, sort orders, suspect labels, paging."""

from pathlib import Path

import numpy as np
import pytest

from core.data.dataset import Pair
from core.evaluation import gallery
from core.evaluation.evaluate import ImageResult
from dashboard.paging import page_count, page_of


def result(stem: str, dice: float, disagreement: float = 0.0) -> ImageResult:
    empty = np.zeros((4, 4), np.uint8)
    return ImageResult(
        Pair(stem, Path(f"{stem}.jpg"), Path(f"{stem}.png")),
        empty,
        empty,
        empty,
        np.zeros((3, 3)),
        {"dice": dice, "pet_iou": dice},
        disagreement,
    )


RESULTS = [
    result("pug_1", 0.9),
    result("British_Shorthair_2", 0.5),
    result("Persian_273", 0.1, 0.89),
    result("american_bulldog_3", 0.7),
    result("Abyssinian_4", 0.8),
]


def test_breeds_are_grouped_cats_first_and_named_as_people_write_them():
    assert gallery.breeds_of(RESULTS) == ["Abyssinian", "British_Shorthair", "Persian", "american_bulldog", "pug"]
    assert gallery.breeds_of(RESULTS, "dog") == ["american_bulldog", "pug"]
    assert [gallery.breed_name(b) for b in gallery.breeds_of(RESULTS, "cat")] == [
        "Abyssinian",
        "British Shorthair",
        "Persian",
    ]


def test_filters_and_sort_fields():
    stems = lambda chosen: [r.pair.stem for r in chosen]  # noqa: E731
    assert stems(gallery.select(RESULTS, "dog")) == ["american_bulldog_3", "pug_1"]  # worst Dice first
    assert stems(gallery.select(RESULTS, "cat")) == ["Persian_273", "British_Shorthair_2", "Abyssinian_4"]
    assert stems(gallery.select(RESULTS, "all", ["pug", "Persian"], "dice", descending=True)) == [
        "pug_1",
        "Persian_273",
    ]
    assert stems(gallery.select(RESULTS, sort="confident_disagreement", descending=True))[0] == "Persian_273"
    assert stems(gallery.select(RESULTS, suspect_only=True)) == ["Persian_273"]
    assert stems(gallery.select(RESULTS, "cat", ["pug"])) == []  # a dog breed with cats: nothing, not an error
    assert stems(gallery.select(RESULTS, sort="name")) == sorted(stems(RESULTS))
    with pytest.raises(ValueError, match="unknown sort field 'Worst Dice first'; choose one of dice"):
        gallery.select(RESULTS, sort="Worst Dice first")


def test_paging():
    assert page_count(0, 12) == 1 and page_count(12, 12) == 1 and page_count(13, 12) == 2
    ordered = gallery.select(RESULTS, sort="name")
    assert [r.pair.stem for r in page_of(ordered, 2, 2)] == ["Persian_273", "american_bulldog_3"]
    assert page_of(ordered, 3, 2) == ordered[4:] and page_of(ordered, 9, 2) == []
    pages = [page_of(ordered, page, 2) for page in range(1, page_count(len(ordered), 2) + 1)]
    assert [r for page in pages for r in page] == ordered  # every result on exactly one page, in order
