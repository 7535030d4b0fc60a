"""Paging of a long list on a page (the gallery's rows)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

Item = TypeVar("Item")


def page_count(total: int, per_page: int) -> int:
    """Pages needed for `total` items, at least one (an empty list still has its page)."""
    return max(1, -(-total // per_page))


def page_of(items: Sequence[Item], page: int, per_page: int) -> list[Item]:
    """The items of 1-based `page`; empty past the last page."""
    start = max(0, page - 1) * per_page
    return list(items[start : start + per_page])
