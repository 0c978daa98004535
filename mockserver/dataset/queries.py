"""Selecting partners: the filters of each list operation, name search, and paging, over the index."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from mockserver.dataset.index import PartnerIndex
from mockserver.dataset.model import Business, Partner

AVAILABLE_STATUSES = ("available", "coming_soon")


@dataclass(frozen=True)
class Page:
    items: list[Partner]
    number: int
    size: int
    total_count: int

    @property
    def total_pages(self) -> int:
        return math.ceil(self.total_count / self.size)


def filter_values(query: Mapping[str, Any], key: str) -> list[str]:
    """The union of `filter[key][]=a&filter[key][]=b` and `filter[key]=a,b`."""
    return [*(query.get(f"filter[{key}][]") or ()), *(query.get(f"filter[{key}]") or ())]


SELECTING = ("search",)
"""Besides `filter[...]`, the parameters that decide which partners match (not how they are shown)."""


def matching(index: PartnerIndex, operation_id: str, query: Mapping[str, Any], business: Business) -> int:
    """The mask of partners this operation lists for this query, cached per distinct selection."""
    selection = tuple(
        sorted(
            (name, tuple(value) if isinstance(value, list) else value)
            for name, value in query.items()
            if name.startswith("filter[") or name in SELECTING
        )
    )
    key = (operation_id, business.id, selection)
    return index.query(key, lambda: _compute_mask(index, operation_id, query, business))


def _compute_mask(
    index: PartnerIndex, operation_id: str, query: Mapping[str, Any], business: Business
) -> int:
    """Filters combine with AND; the values of one filter with OR."""
    mask = index.all
    if operation_id == "listPartners":
        if categories := filter_values(query, "categories"):
            mask &= index.any_of(index.categories, categories)
        if excluded := filter_values(query, "excluded_categories"):
            mask &= ~index.any_of(index.categories, excluded)
        if wholesaler_types := filter_values(query, "wholesaler_categories"):
            mask &= index.any_of(index.wholesaler_types, wholesaler_types)
        if countries := filter_values(query, "country_codes"):
            mask &= index.any_of(index.countries, countries)
        preferred = query.get("filter[preferred]")
        if preferred is not None:
            mask &= index.preferred_by(business) if preferred else ~index.preferred_by(business)
        active = query.get("filter[active]")
        if active is not None:
            mask &= index.active if active else ~index.active
    elif operation_id == "listAvailablePartners":
        mask &= index.active & index.any_of(index.statuses, AVAILABLE_STATUSES)
        if categories := filter_values(query, "categories"):
            mask &= index.any_of(index.categories, categories)
        if statuses := filter_values(query, "status"):
            mask &= index.any_of(index.statuses, statuses)
    elif operation_id == "listWholesalers":
        mask &= index.categories.get("wholesaler", 0)
    if search := query.get("search"):
        mask &= index.search(search)
    return mask & index.all


def paginate(index: PartnerIndex, mask: int, number: int, size: int) -> Page:
    """One page; a page past the end is empty but keeps the totals."""
    total = mask.bit_count()
    start = (number - 1) * size
    items = index.page(mask, start, size) if start < total else []
    return Page(items=items, number=number, size=size, total_count=total)
