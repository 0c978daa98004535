"""Partner indexes built once per data set, so a page costs the same with 100 or 100,000 partners.

Partners are kept in list order (name, case-insensitively, then id). Every filterable value maps to a
bitmask over those positions (a Python int, bit i = partner i). A query is a few AND/OR operations on
masks, its count is `int.bit_count()`, and a page is read from the mask's binary digits in blocks,
skipping whole blocks by counting their ones. Name search cannot be indexed this way: a term is
matched against every name once (a C-speed scan of one joined string), then its mask is cached.
"""

from __future__ import annotations

import bisect
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass, field
from threading import Lock
from typing import Generic, TypeVar

from mockserver.dataset.model import Business, Partner

_BLOCK = 4096
_SEARCH_CACHE_SIZE = 1024
_QUERY_CACHE_SIZE = 256
_DIGITS_CACHE_SIZE = 32
K = TypeVar("K", bound=Hashable)
V = TypeVar("V")
_NAME_SEPARATOR = "\x00"


def _mask(positions: Iterable[int]) -> int:
    """A bitmask with these bits set; built in bytes, as OR-ing big ints bit by bit is quadratic."""
    bits = bytearray()
    for position in positions:
        byte = position >> 3
        if byte >= len(bits):
            bits.extend(bytes(byte - len(bits) + 1))
        bits[byte] |= 1 << (position & 7)
    return int.from_bytes(bits, "little")


@dataclass
class _Cache(Generic[K, V]):
    """A small thread-safe LRU; the data set never changes, so entries never go stale."""

    size: int
    entries: OrderedDict[K, V] = field(default_factory=OrderedDict)
    lock: Lock = field(default_factory=Lock)

    def get_or_compute(self, key: K, compute: Callable[[], V]) -> V:
        with self.lock:
            if key in self.entries:
                self.entries.move_to_end(key)
                return self.entries[key]
        value = compute()
        with self.lock:
            self.entries[key] = value
            if len(self.entries) > self.size:
                self.entries.popitem(last=False)
        return value


class PartnerIndex:
    def __init__(self, partners: Iterable[Partner], businesses: Iterable[Business]) -> None:
        self.partners: tuple[Partner, ...] = tuple(sorted(partners, key=lambda p: (p.name.casefold(), p.id)))
        self.all = (1 << len(self.partners)) - 1
        self.active = _mask(i for i, p in enumerate(self.partners) if p.active)
        self.categories = self._by_values(lambda p: p.categories)
        self.wholesaler_types = self._by_values(lambda p: p.wholesaler_types)
        self.countries = self._by_values(lambda p: (p.country_code,) if p.country_code else ())
        self.statuses = self._by_values(lambda p: (p.status,) if p.status else ())
        position = {p.id: i for i, p in enumerate(self.partners)}
        self.preferred = {
            b.id: _mask(position[pid] for pid in b.preferred_partner_ids if pid in position)
            for b in businesses
        }
        self._names = _NAME_SEPARATOR.join(p.name.casefold() for p in self.partners)
        self._name_starts: list[int] = []
        offset = 0
        for partner in self.partners:
            self._name_starts.append(offset)
            offset += len(partner.name.casefold()) + 1
        self._searches: _Cache[str, int] = _Cache(_SEARCH_CACHE_SIZE)
        self._queries: _Cache[Hashable, int] = _Cache(_QUERY_CACHE_SIZE)
        self._digits: _Cache[int, str] = _Cache(_DIGITS_CACHE_SIZE)

    def _by_values(self, values_of: Callable[[Partner], Iterable[str]]) -> dict[str, int]:
        positions: dict[str, list[int]] = {}
        for i, partner in enumerate(self.partners):
            for value in values_of(partner):
                positions.setdefault(value, []).append(i)
        return {value: _mask(found) for value, found in positions.items()}

    def any_of(self, table: dict[str, int], values: Iterable[str]) -> int:
        mask = 0
        for value in values:
            mask |= table.get(value, 0)
        return mask

    def preferred_by(self, business: Business) -> int:
        return self.preferred.get(business.id, 0)

    def search(self, term: str) -> int:
        """Partners whose case-folded name contains the case-folded term."""
        needle = term.casefold()
        return self._searches.get_or_compute(needle, lambda: self._scan_names(needle))

    def _scan_names(self, needle: str) -> int:
        if not needle:
            return self.all
        if _NAME_SEPARATOR in needle:
            return 0
        names, starts = self._names, self._name_starts
        positions = []
        found = names.find(needle)
        while found != -1:
            position = bisect.bisect_right(starts, found) - 1
            positions.append(position)
            if position + 1 == len(starts):
                break
            found = names.find(needle, starts[position + 1])
        return _mask(positions)

    def query(self, key: Hashable, compute: Callable[[], int]) -> int:
        """The mask of a query, computed once per distinct key while it stays in the cache."""
        return self._queries.get_or_compute(key, compute)

    def page(self, mask: int, start: int, size: int) -> list[Partner]:
        """The partners at ranks start … start+size-1 among the set bits of mask, in list order."""
        if size <= 0 or mask == 0:
            return []
        digits = self._digits.get_or_compute(mask, lambda: bin(mask)[:1:-1])  # bit i is digits[i]
        found: list[Partner] = []
        skip = start
        for block_start in range(0, len(digits), _BLOCK):
            block = digits[block_start : block_start + _BLOCK]
            ones = block.count("1")
            if skip >= ones:
                skip -= ones
                continue
            position = block.find("1")
            while position != -1:
                if skip:
                    skip -= 1
                else:
                    found.append(self.partners[block_start + position])
                    if len(found) == size:
                        return found
                position = block.find("1", position + 1)
        return found
