"""Selecting partners: the filters of each list operation, name search, and paging."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from .model import Business, Partner

AVAILABLE_STATUSES = frozenset({"available", "coming_soon"})

PartnerTest = Callable[[Partner], bool]


@dataclass(frozen=True)
class Page:
    items: list[Partner]
    number: int
    size: int
    total_count: int

    @property
    def total_pages(self) -> int:
        return math.ceil(self.total_count / self.size)


def filter_values(query: Mapping[str, Any], key: str) -> frozenset[str]:
    """The union of `filter[key][]=a&filter[key][]=b` and `filter[key]=a,b`."""
    exploded = query.get(f"filter[{key}][]") or []
    joined = query.get(f"filter[{key}]") or []
    return frozenset([*exploded, *joined])


def _name_search(query: Mapping[str, Any]) -> PartnerTest | None:
    text = query.get("search")
    if not text:
        return None
    needle = text.casefold()
    return lambda p: needle in p.name.casefold()


def _any_of(
    key: str, values_of: Callable[[Partner], Iterable[str]], query: Mapping[str, Any]
) -> PartnerTest | None:
    wanted = filter_values(query, key)
    if not wanted:
        return None
    return lambda p: not wanted.isdisjoint(values_of(p))


def partner_tests(operation_id: str, query: Mapping[str, Any], business: Business) -> list[PartnerTest]:
    """The predicates a partner must pass to be listed by this operation with this query."""
    tests: list[PartnerTest | None] = [_name_search(query)]
    if operation_id == "listPartners":
        excluded = filter_values(query, "excluded_categories")
        countries = filter_values(query, "country_codes")
        preferred = query.get("filter[preferred]")
        active = query.get("filter[active]")
        preferred_ids = business.preferred_partner_ids
        tests += [
            _any_of("categories", lambda p: p.categories, query),
            (lambda p: excluded.isdisjoint(p.categories)) if excluded else None,
            _any_of("wholesaler_categories", lambda p: p.wholesaler_types, query),
            (lambda p: p.country_code in countries) if countries else None,
            (lambda p: (p.id in preferred_ids) is preferred) if preferred is not None else None,
            (lambda p: p.active is active) if active is not None else None,
        ]
    elif operation_id == "listAvailablePartners":
        statuses = filter_values(query, "status")
        tests += [
            lambda p: p.active and p.status in AVAILABLE_STATUSES,
            _any_of("categories", lambda p: p.categories, query),
            (lambda p: p.status in statuses) if statuses else None,
        ]
    elif operation_id == "listWholesalers":
        tests.append(lambda p: "wholesaler" in p.categories)
    return [t for t in tests if t is not None]


def select(partners: Iterable[Partner], tests: list[PartnerTest]) -> list[Partner]:
    """Partners passing every test, in the order given (the store keeps them sorted by name)."""
    return [p for p in partners if all(test(p) for test in tests)]


def paginate(partners: list[Partner], number: int, size: int) -> Page:
    """One page; a page past the end is empty but keeps the totals."""
    start = (number - 1) * size
    return Page(items=partners[start : start + size], number=number, size=size, total_count=len(partners))
