"""mockserver.dataset.index as a unit: list order, bitmasks per value, any_of, name search, paging, caches.

Expectations are computed from the partners built here (their names fix the list order), never read
back from the index: a mask is the sum of 1 << position over the partners a predicate keeps.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from support import B1, B2, make_partner, partner_id

from mockserver.dataset import index as index_module
from mockserver.dataset.index import PartnerIndex
from mockserver.dataset.model import Business, Partner

# Built in a shuffled order; the list order is by case-folded name, then id: a, B, c (id 2), C (id 6), d.
A = make_partner(4, "a", categories=("pos", "wholesaler"), country_code="GB", status="available")
B_ = make_partner(1, "B", categories=("payroll",), active=False, status="coming_soon")
C2 = make_partner(2, "c", categories=("pos",), wholesaler_types=("wine", "beer"), country_code="US")
C6 = make_partner(6, "C", categories=(), wholesaler_types=("wine",), country_code="GB", status="discontinued")
D = make_partner(3, "d", categories=("wholesaler",), active=False)
ORDERED = [A, B_, C2, C6, D]
BUSINESSES = [
    Business(B1, "one", frozenset({C2.id, D.id, partner_id(99)})),  # an id no partner has: ignored
    Business(B2, "two"),
]


def mask_of(keep: Callable[[Partner], bool], partners: list[Partner] = ORDERED) -> int:
    """The mask of the partners `keep` accepts, positions in list order."""
    return sum(1 << position for position, p in enumerate(partners) if keep(p))


@pytest.fixture
def index() -> PartnerIndex:
    return PartnerIndex([D, C6, A, C2, B_], BUSINESSES)


def test_partners_are_in_list_order_casefolded_name_then_id(index: PartnerIndex) -> None:
    assert index.partners == tuple(ORDERED)
    assert C2.id < C6.id  # "c" and "C" fold alike: the id decides


def test_all_and_active_masks(index: PartnerIndex) -> None:
    assert index.all == 0b11111
    assert index.active == mask_of(lambda p: p.active) == 0b01101  # a, c, C


def test_a_mask_per_value(index: PartnerIndex) -> None:
    assert index.categories == {
        "pos": mask_of(lambda p: p in (A, C2)),
        "wholesaler": mask_of(lambda p: p in (A, D)),
        "payroll": mask_of(lambda p: p is B_),
    }
    assert index.wholesaler_types == {
        "wine": mask_of(lambda p: p in (C2, C6)),
        "beer": mask_of(lambda p: p is C2),
    }
    # No country or status (None) is no value at all.
    assert index.countries == {"GB": mask_of(lambda p: p in (A, C6)), "US": mask_of(lambda p: p is C2)}
    assert index.statuses == {
        "available": mask_of(lambda p: p is A),
        "coming_soon": mask_of(lambda p: p is B_),
        "discontinued": mask_of(lambda p: p is C6),
    }


def test_preferred_masks_per_business(index: PartnerIndex) -> None:
    assert index.preferred_by(BUSINESSES[0]) == mask_of(lambda p: p in (C2, D))
    assert index.preferred_by(BUSINESSES[1]) == 0
    assert index.preferred_by(Business("b0000000-0000-4000-8000-000000000009", "unknown")) == 0


def test_any_of_is_the_union_of_the_values_masks(index: PartnerIndex) -> None:
    assert index.any_of(index.categories, ["pos", "payroll"]) == mask_of(lambda p: p in (A, B_, C2))
    assert index.any_of(index.categories, ["pos", "pos"]) == index.categories["pos"]
    assert index.any_of(index.categories, ["marketing", "payroll"]) == index.categories["payroll"]
    assert index.any_of(index.categories, []) == 0
    assert index.any_of(index.countries, ["IT"]) == 0


NAMES = ["Straße Foods", "STRASSE Bar", "Grass & Co", "abc", "cab", "Ábaco", "Rossi Rossi"]


@pytest.mark.parametrize(
    ("term", "expected"),
    [
        ("strasse", {"Straße Foods", "STRASSE Bar"}),  # casefold: "ß" is "ss"
        ("STRAẞE", {"Straße Foods", "STRASSE Bar"}),  # capital sharp s folds to "ss" too
        ("ss", {"Straße Foods", "STRASSE Bar", "Grass & Co", "Rossi Rossi"}),
        ("ABC", {"abc"}),
        ("ba", {"STRASSE Bar", "Ábaco"}),
        ("cc", set()),  # "abc" ends in c, "cab" starts with c: no match across the boundary
        ("á", {"Ábaco"}),  # an accent is a different letter
        ("rossi", {"Rossi Rossi"}),  # twice in one name: listed once
        ("o", {"Straße Foods", "Grass & Co", "Ábaco", "Rossi Rossi"}),
        ("", set(NAMES)),
        ("a\x00b", set()),  # the separator between names never matches
    ],
)
def test_search_is_a_casefolded_substring_of_one_name(term: str, expected: set[str]) -> None:
    partners = [make_partner(n, name) for n, name in enumerate(NAMES, 1)]
    index = PartnerIndex(partners, [])
    ordered = list(index.partners)
    assert index.search(term) == mask_of(lambda p: p.name in expected, ordered)


def test_search_scans_once_per_casefolded_term(index: PartnerIndex, monkeypatch: pytest.MonkeyPatch) -> None:
    scanned: list[str] = []
    scan = index._scan_names

    def counting(needle: str) -> int:
        scanned.append(needle)
        return scan(needle)

    monkeypatch.setattr(index, "_scan_names", counting)
    first = index.search("C")
    assert index.search("c") == index.search("C") == first == mask_of(lambda p: p in (C2, C6))
    assert scanned == ["c"]
    index.search("d")
    assert scanned == ["c", "d"]


def test_query_masks_are_computed_once_per_key(index: PartnerIndex) -> None:
    calls: list[str] = []

    def compute(value: int, name: str) -> Callable[[], int]:
        def run() -> int:
            calls.append(name)
            return value

        return run

    assert index.query(("listPartners", B1, ()), compute(0b101, "first")) == 0b101
    assert index.query(("listPartners", B1, ()), compute(0b111, "again")) == 0b101
    assert index.query(("listPartners", B2, ()), compute(0b010, "other key")) == 0b010
    assert calls == ["first", "other key"]


def test_the_query_cache_forgets_the_least_recently_used_key(index: PartnerIndex) -> None:
    size = index_module._QUERY_CACHE_SIZE
    calls: list[int] = []

    def compute(key: int) -> Callable[[], int]:
        def run() -> int:
            calls.append(key)
            return key

        return run

    for key in range(size):
        index.query(key, compute(key))
    index.query(0, compute(0))  # 0 is now the most recently used; 1 the least
    index.query(size, compute(size))  # one key too many: 1 goes
    assert calls == [*range(size), size]
    index.query(0, compute(0))
    index.query(1, compute(1))
    assert calls == [*range(size), size, 1]


# Paging reads the mask in blocks of 4096 bits, skipping whole blocks by counting their ones.

MANY = [make_partner(n, f"p{n:05d}") for n in range(3 * 4096 + 100)]  # named in id order: position n


@pytest.fixture(scope="module")
def large() -> PartnerIndex:
    return PartnerIndex(reversed(MANY), [])


def reference_page(mask: int, start: int, size: int) -> list[Partner]:
    return [p for position, p in enumerate(MANY) if mask >> position & 1][start : start + size]


EVEN = sum(1 << n for n in range(0, len(MANY), 2))
OUTER_BLOCKS = sum(1 << n for n in [*range(0, 4096, 7), *range(2 * 4096, len(MANY), 5)])
"""Bits in the first and third blocks only: the whole second block is skipped."""
EDGES = (1 << 4095) | (1 << 4096) | (1 << 8191) | (1 << 8192) | (1 << (len(MANY) - 1))


@pytest.mark.parametrize(
    ("mask", "start", "size"),
    [
        (EVEN, 0, 25),
        (EVEN, 2040, 20),  # ranks 2040-2059: positions 4080-4118, across the first boundary
        (EVEN, 4090, 25),  # across the second boundary
        (EVEN, 6140, 100),  # the last ones: a short page
        (OUTER_BLOCKS, 580, 10),  # the first block has 586 bits: the page jumps over the empty block
        (OUTER_BLOCKS, 586, 3),  # starting in the third block
        (EDGES, 0, 5),
        (EDGES, 1, 2),
        (EDGES, 4, 10),
        ((1 << len(MANY)) - 1, 12_000, 1000),
    ],
)
def test_a_page_across_block_boundaries_is_the_ranks_asked_for(
    large: PartnerIndex, mask: int, start: int, size: int
) -> None:
    expected = reference_page(mask, start, size)
    assert expected  # each case reads something
    assert large.page(mask, start, size) == expected


def test_empty_pages(large: PartnerIndex) -> None:
    assert large.page(EVEN, EVEN.bit_count(), 25) == []  # starting past the last rank
    assert large.page(EVEN, 0, 0) == []
    assert large.page(0, 0, 25) == []
