"""The gallery's selection: breeds grouped by species, filters, sort orders, suspect labels, paging."""

from pathlib import Path

import numpy as np

from core import gallery
from core.data import Pair
from core.evaluate import ImageResult


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


def test_filters_and_sort_orders():
    stems = lambda chosen: [r.pair.stem for r in chosen]  # noqa: E731
    assert stems(gallery.select(RESULTS, "dog")) == ["american_bulldog_3", "pug_1"]  # worst Dice first
    assert stems(gallery.select(RESULTS, "all", ["pug", "Persian"], "Best Dice first")) == ["pug_1", "Persian_273"]
    assert stems(gallery.select(RESULTS, order="Suspect labels first"))[0] == "Persian_273"
    assert stems(gallery.select(RESULTS, suspect_only=True)) == ["Persian_273"]
    assert stems(gallery.select(RESULTS, "cat", ["pug"])) == []  # a dog breed with cats: nothing, not an error


def test_paging():
    assert gallery.page_count(0, 12) == 1 and gallery.page_count(12, 12) == 1 and gallery.page_count(13, 12) == 2
    ordered = gallery.select(RESULTS, order="Name")
    assert [r.pair.stem for r in gallery.page_of(ordered, 2, 2)] == ["Persian_273", "american_bulldog_3"]
    assert gallery.page_of(ordered, 3, 2) == ordered[4:] and gallery.page_of(ordered, 9, 2) == []
