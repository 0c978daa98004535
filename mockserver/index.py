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
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from threading import Lock

from .model import Business, Partner

_BLOCK = 4096
_SEARCH_CACHE_SIZE = 1024
_NAME_SEPARATOR = "\x00"


def _mask(positions: Iterable[int]) -> int:
    mask = 0
    for position in positions:
        mask |= 1 << position
    return mask


@dataclass
class _SearchCache:
    """A small LRU of search term → mask; names never change, so entries never go stale."""

    size: int
    entries: OrderedDict[str, int] = field(default_factory=OrderedDict)
    lock: Lock = field(default_factory=Lock)

    def get(self, key: str) -> int | None:
        with self.lock:
            mask = self.entries.get(key)
            if mask is not None:
                self.entries.move_to_end(key)
            return mask

    def put(self, key: str, mask: int) -> None:
        with self.lock:
            self.entries[key] = mask
            if len(self.entries) > self.size:
                self.entries.popitem(last=False)


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
        self._search_cache = _SearchCache(_SEARCH_CACHE_SIZE)

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
        cached = self._search_cache.get(needle)
        if cached is not None:
            return cached
        mask = 0
        if not needle:
            mask = self.all
        elif _NAME_SEPARATOR not in needle:
            names, starts = self._names, self._name_starts
            found = names.find(needle)
            while found != -1:
                position = bisect.bisect_right(starts, found) - 1
                mask |= 1 << position
                if position + 1 == len(starts):
                    break
                found = names.find(needle, starts[position + 1])
        self._search_cache.put(needle, mask)
        return mask

    def page(self, mask: int, start: int, size: int) -> list[Partner]:
        """The partners at ranks start … start+size-1 among the set bits of mask, in list order."""
        if size <= 0 or mask == 0:
            return []
        digits = bin(mask)[:1:-1]  # bit i is digits[i]
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
