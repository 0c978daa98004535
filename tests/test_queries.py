"""mockserver.dataset.queries as a unit: each filter of the three list operations on a small hand-built data
set, `filter_values`, the per-selection cache, and paging.

The query is what validation hands the views: arrays already split into lists, booleans as bools.
Expected partners are computed from the records with plain predicates, in list (name) order.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from support import B1, B2, make_partner

from mockserver.dataset.index import PartnerIndex
from mockserver.dataset.model import Business, Partner
from mockserver.dataset.queries import Page, filter_values, matching, paginate

Keep = Callable[[Partner], bool]

RECORDS = [
    make_partner(1, "Alpha Wines", categories=("wholesaler",), wholesaler_types=("wine",), country_code="IT",
                 status="available"),
    make_partner(2, "Bravo POS", categories=("pos", "payments"), country_code="GB", status="coming_soon"),
    make_partner(3, "Charlie Payroll", categories=("payroll",), country_code="US", status="unavailable"),
    make_partner(4, "Delta Dairy", categories=("wholesaler",), wholesaler_types=("dairy", "wine"),
                 country_code="FR", status="available", active=False),
    make_partner(5, "echo bookings", categories=("reservations", "pos"), status="discontinued"),
    make_partner(6, "Foxtrot Coffee", categories=("wholesaler", "pos"), wholesaler_types=("coffee",),
                 country_code="GB", status=None),
    make_partner(7, "golf ledger", categories=(), country_code="US", status="coming_soon"),
]  # fmt: skip
"""Already in list order (names sort as numbered), so a result is a filtered RECORDS."""
GOLDEN_FORK = Business(B1, "The Golden Fork", frozenset({RECORDS[1].id, RECORDS[5].id}))
HARBOUR = Business(B2, "Harbour & Vine", frozenset({RECORDS[0].id}))


@pytest.fixture
def index() -> PartnerIndex:
    return PartnerIndex(reversed(RECORDS), [GOLDEN_FORK, HARBOUR])


def names(index: PartnerIndex, mask: int) -> list[str]:
    return [p.name for p in paginate(index, mask, 1, 100).items]


def expected(keep: Keep) -> list[str]:
    return [p.name for p in RECORDS if keep(p)]


def test_the_partners_are_built_in_list_order(index: PartnerIndex) -> None:
    assert list(index.partners) == RECORDS


@pytest.mark.parametrize(
    ("query", "values"),
    [
        ({"filter[categories][]": ["pos", "payroll"], "filter[categories]": ["wholesaler"]},
         ["pos", "payroll", "wholesaler"]),
        ({"filter[categories][]": ["pos"]}, ["pos"]),
        ({"filter[categories]": ["pos", "pos"]}, ["pos", "pos"]),
        ({"filter[categories]": None}, []),
        ({"filter[status]": ["available"]}, []),
        ({}, []),
    ],
)  # fmt: skip
def test_filter_values_is_the_union_of_both_forms(query: dict[str, Any], values: list[str]) -> None:
    assert filter_values(query, "categories") == values


def in_categories(*values: str) -> Keep:
    return lambda p: bool(set(values) & set(p.categories))


LIST_PARTNERS_CASES = [
    ({}, lambda p: True),
    ({"filter[categories][]": ["pos"]}, in_categories("pos")),
    ({"filter[categories][]": ["payroll"], "filter[categories]": ["reservations"]},
     in_categories("payroll", "reservations")),
    ({"filter[excluded_categories]": ["wholesaler"]}, lambda p: not in_categories("wholesaler")(p)),
    ({"filter[excluded_categories][]": ["pos"], "filter[excluded_categories]": ["payroll"]},
     lambda p: not in_categories("pos", "payroll")(p)),
    ({"filter[wholesaler_categories][]": ["wine"]}, lambda p: "wine" in p.wholesaler_types),
    ({"filter[wholesaler_categories]": ["coffee", "dairy"]},
     lambda p: bool({"coffee", "dairy"} & set(p.wholesaler_types))),
    ({"filter[country_codes]": ["GB", "IT"]}, lambda p: p.country_code in ("GB", "IT")),
    ({"filter[country_codes][]": ["SE"]}, lambda p: False),
    ({"filter[preferred]": True}, lambda p: p.id in GOLDEN_FORK.preferred_partner_ids),
    ({"filter[preferred]": False}, lambda p: p.id not in GOLDEN_FORK.preferred_partner_ids),
    ({"filter[active]": True}, lambda p: p.active),
    ({"filter[active]": False}, lambda p: not p.active),
    ({"search": "ECHO"}, lambda p: "echo" in p.name.casefold()),
    ({"filter[categories]": ["wholesaler", "pos"], "filter[excluded_categories]": ["payments"],
      "filter[country_codes]": ["GB", "FR"], "filter[active]": True},
     lambda p: in_categories("wholesaler", "pos")(p) and "payments" not in p.categories
     and p.country_code in ("GB", "FR") and p.active),
    ({"filter[categories]": ["pos"], "filter[preferred]": True, "search": "o"},
     lambda p: "pos" in p.categories and p.id in GOLDEN_FORK.preferred_partner_ids
     and "o" in p.name.casefold()),
]  # fmt: skip


@pytest.mark.parametrize(("query", "keep"), LIST_PARTNERS_CASES)
def test_list_partners_filters(index: PartnerIndex, query: dict[str, Any], keep: Keep) -> None:
    assert names(index, matching(index, "listPartners", query, GOLDEN_FORK)) == expected(keep)


def test_the_preferred_filter_follows_the_business(index: PartnerIndex) -> None:
    """The cache key holds the business: the same query for another business is computed anew."""
    query = {"filter[preferred]": True}
    assert names(index, matching(index, "listPartners", query, GOLDEN_FORK)) == [
        "Bravo POS",
        "Foxtrot Coffee",
    ]
    assert names(index, matching(index, "listPartners", query, HARBOUR)) == ["Alpha Wines"]
    assert names(index, matching(index, "listPartners", query, GOLDEN_FORK)) == [
        "Bravo POS",
        "Foxtrot Coffee",
    ]


def is_available(partner: Partner) -> bool:
    return partner.active and partner.status in ("available", "coming_soon")


AVAILABLE_CASES = [
    ({}, is_available),
    ({"filter[status][]": ["coming_soon"]}, lambda p: is_available(p) and p.status == "coming_soon"),
    ({"filter[status]": ["available"], "filter[status][]": ["coming_soon"]}, is_available),
    ({"filter[categories]": ["pos"]}, lambda p: is_available(p) and "pos" in p.categories),
    ({"filter[categories][]": ["wholesaler"], "filter[status]": ["coming_soon"]}, lambda p: False),
    ({"search": "GOLF"}, lambda p: is_available(p) and "golf" in p.name.casefold()),
]


@pytest.mark.parametrize(("query", "keep"), AVAILABLE_CASES)
def test_list_available_partners_filters(index: PartnerIndex, query: dict[str, Any], keep: Keep) -> None:
    """Only active partners available or coming soon; inactive Delta Dairy is available but not listed."""
    assert names(index, matching(index, "listAvailablePartners", query, HARBOUR)) == expected(keep)


def test_list_available_partners_discriminates(index: PartnerIndex) -> None:
    """Guards the cases above: each rule leaves out someone the others would let in."""
    assert expected(is_available) == ["Alpha Wines", "Bravo POS", "golf ledger"]
    assert not RECORDS[3].active and RECORDS[3].status == "available"


def test_list_wholesalers_lists_the_wholesaler_category(index: PartnerIndex) -> None:
    mask = matching(index, "listWholesalers", {}, GOLDEN_FORK)
    assert names(index, mask) == expected(in_categories("wholesaler"))
    assert names(index, mask) == ["Alpha Wines", "Delta Dairy", "Foxtrot Coffee"]  # inactive ones too


def test_a_selection_is_computed_once(index: PartnerIndex, monkeypatch: pytest.MonkeyPatch) -> None:
    """Per operation, business and selection; page, per_page and include select nothing."""
    scans: list[str] = []
    search = index.search

    def counting(term: str) -> int:
        scans.append(term)
        return search(term)

    monkeypatch.setattr(index, "search", counting)
    query: dict[str, Any] = {"search": "o", "filter[categories]": ["pos"]}
    first = matching(index, "listPartners", query, GOLDEN_FORK)
    again = matching(
        index, "listPartners", {**query, "page": 2, "per_page": 5, "include": ["users"]}, GOLDEN_FORK
    )
    assert again == first
    assert scans == ["o"]
    matching(index, "listAvailablePartners", query, GOLDEN_FORK)
    assert scans == ["o", "o"]


@pytest.mark.parametrize(
    ("number", "size", "items", "total_pages"),
    [
        (1, 3, ["Alpha Wines", "Bravo POS", "Charlie Payroll"], 3),
        (3, 3, ["golf ledger"], 3),  # the last page may be short
        (4, 3, [], 3),  # past the end: empty, the totals kept
        (1000, 100, [], 1),
        (2, 7, [], 1),
        (1, 7, [p.name for p in RECORDS], 1),
    ],
)
def test_paginate(index: PartnerIndex, number: int, size: int, items: list[str], total_pages: int) -> None:
    page = paginate(index, index.all, number, size)
    assert [p.name for p in page.items] == items
    assert (page.number, page.size, page.total_count, page.total_pages) == (number, size, 7, total_pages)


def test_paginate_nothing(index: PartnerIndex) -> None:
    assert paginate(index, 0, 1, 25) == Page(items=[], number=1, size=25, total_count=0)
    assert paginate(index, 0, 1, 25).total_pages == 0
