"""Request patterns for `/__admin/requests/find` and `/count`: what a journaled request must look like,
and, when none does, how far each one is from it (WireMock's near-miss report).

Every criterion scores 0 (met) to 1 (missed entirely); an entry's distance is their weighted mean.
What names the endpoint (method, path, path pattern, operation id) weighs twice what describes the
call (status, query, headers, body), so a request to the right path with a wrong query value ranks
before one to another path with the right query. A path that misses scores by its similarity, steeply
(1 - ratio**4): a typo (`/partners/availble`) is near, another operation of the same prefix is far.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from difflib import SequenceMatcher
from typing import Any
from urllib.parse import parse_qs

from .errors import INVALID_BODY, ApiError
from .journal import Entry

NEAR_MISSES = 5
"""Closest entries listed when nothing matches."""
ENDPOINT_WEIGHT = 2.0
"""Weight of the criteria that name the endpoint, against 1 for those that describe the call."""


@dataclass(frozen=True)
class Difference:
    field: str
    """`method`, `path`, `query.<name>`, `header.<name>`, `body<JSON pointer>`…"""
    expected: Any
    actual: Any

    def to_json(self) -> dict[str, Any]:
        return {"field": self.field, "expected": self.expected, "actual": self.actual}


@dataclass(frozen=True)
class Comparison:
    entry: Entry
    distance: float
    differences: tuple[Difference, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "request": self.entry.to_json(),
            "distance": round(self.distance, 4),
            "differences": [difference.to_json() for difference in self.differences],
        }


class QueryReading:
    """How a query is read to compare it with a pattern: as sent, key by key (what this class does), or
    as the server reads it (`query_arrays.ServerQueryReading`: every form of a list under one name)."""

    def name(self, key: str) -> str:
        """The name a pattern's key stands for."""
        return key

    def wanted(self, key: str, value: str | list[str]) -> str | list[str]:
        """A pattern's value as the request must carry it."""
        return value

    def read(self, query: str) -> dict[str, list[str]]:
        """A journaled query string's values, by name."""
        return parse_qs(query, keep_blank_values=True)

    def shown(self, query: str, name: str) -> Any:
        """What a near miss shows of a parameter: its value, its values, or None when not sent."""
        have = self.read(query).get(name)
        return None if have is None else (have[0] if len(have) == 1 else have)


AS_SENT = QueryReading()


def read_as_sent(operation_id: str | None) -> QueryReading:
    return AS_SENT


@dataclass(frozen=True)
class Pattern:
    """What a request must look like; every criterion left out matches anything."""

    method: str | None = None
    path: str | None = None
    path_pattern: re.Pattern[str] | None = None
    operation_id: str | None = None
    status: int | None = None
    query: Mapping[str, str | list[str]] = field(default_factory=dict)
    headers: Mapping[str, str] = field(default_factory=dict)
    body: Any = None
    has_body: bool = False
    """A `body` was given (it may be JSON null)."""
    query_reading: Callable[[str | None], QueryReading] = read_as_sent
    """How the query of a request to an operation (by id) is read: as sent unless told otherwise."""

    @classmethod
    def from_json(cls, document: Mapping[str, Any]) -> Pattern:
        """A pattern from a request body the admin spec already checked for shape."""
        regex = document.get("path_pattern")
        try:
            compiled = re.compile(regex) if regex is not None else None
        except re.error as exc:
            raise ApiError.of(
                INVALID_BODY, f"path_pattern is not a regular expression: {exc}", ("pointer", "/path_pattern")
            ) from None
        method = document.get("method")
        return cls(
            method=method.upper() if method else None,
            path=document.get("path"),
            path_pattern=compiled,
            operation_id=document.get("operation_id"),
            status=document.get("status"),
            query=document.get("query") or {},
            headers=document.get("headers") or {},
            body=document.get("body"),
            has_body="body" in document,
        )

    def compare(self, entry: Entry) -> Comparison:
        scores: list[tuple[float, float]] = []
        """(score, weight) per criterion given."""
        differences: list[Difference] = []

        def exact(name: str, expected: Any, actual: Any, weight: float = 1.0) -> None:
            if expected is None:
                return
            missed = expected != actual
            scores.append((float(missed), weight))
            if missed:
                differences.append(Difference(name, expected, actual))

        exact("method", self.method, entry.method, ENDPOINT_WEIGHT)
        if self.path is not None and self.path != entry.path:
            similarity = SequenceMatcher(None, self.path, entry.path).ratio()
            scores.append((1.0 - similarity**4, ENDPOINT_WEIGHT))
            differences.append(Difference("path", self.path, entry.path))
        elif self.path is not None:
            scores.append((0.0, ENDPOINT_WEIGHT))
        if self.path_pattern is not None:
            missed = self.path_pattern.fullmatch(entry.path) is None
            scores.append((float(missed), ENDPOINT_WEIGHT))
            if missed:
                differences.append(Difference("path_pattern", self.path_pattern.pattern, entry.path))
        exact("operation_id", self.operation_id, entry.operation_id, ENDPOINT_WEIGHT)
        exact("status", self.status, entry.status)
        if self.query:
            found = _query_differences(self.query, entry.query, self.query_reading(entry.operation_id))
            scores.append((len(found) / len(self.query), 1.0))
            differences += found
        if self.headers:
            found = _header_differences(self.headers, entry.header_map())
            scores.append((len(found) / len(self.headers), 1.0))
            differences += found
        if self.has_body:
            found, leaves = _body_differences(self.body, entry)
            scores.append((len(found) / max(leaves, 1), 1.0))
            differences += found
        weights = sum(weight for _, weight in scores)
        distance = sum(score * weight for score, weight in scores) / weights if scores else 0.0
        return Comparison(entry, distance, tuple(differences))

    def matches(self, entry: Entry) -> bool:
        return not self.compare(entry).differences

    def find(self, entries: Iterable[Entry]) -> Iterator[Entry]:
        return (entry for entry in entries if self.matches(entry))

    def near_misses(self, entries: list[Entry], limit: int = NEAR_MISSES) -> list[Comparison]:
        """The closest entries, nearest first; among equals, the newest first."""
        compared = [self.compare(entry) for entry in reversed(entries)]
        compared.sort(key=lambda comparison: comparison.distance)
        return compared[:limit]


def _query_differences(
    expected: Mapping[str, str | list[str]], query: str, reading: QueryReading
) -> list[Difference]:
    """A string must be one of the parameter's values; a list must be all of them, in order. Names and
    values as `reading` reads them; a miss shows the parameter as `reading` shows it."""
    found = []
    actual = reading.read(query)
    for key, value in expected.items():
        name = reading.name(key)
        want = reading.wanted(key, value)
        have = actual.get(name)
        met = have is not None and (want in have if isinstance(want, str) else list(want) == have)
        if not met:
            found.append(Difference(f"query.{key}", value, reading.shown(query, name)))
    return found


def _header_differences(expected: Mapping[str, str], actual: dict[str, str]) -> list[Difference]:
    """Names compare case-insensitively, values exactly (`Authorization` is journaled as its scheme)."""
    lowered = {name.lower(): value for name, value in actual.items()}
    found = []
    for name, want in expected.items():
        have = lowered.get(name.lower())
        if have != want:
            found.append(Difference(f"header.{name}", want, have))
    return found


def _body_differences(expected: Any, entry: Entry) -> tuple[list[Difference], int]:
    """Differences between an expected JSON subset and the entry's body, and the leaves compared."""
    text = entry.body_text()
    if text is None or entry.body_truncated:
        reason = None if text is None else "(body cut: over the journal's limit)"
        return [Difference("body", expected, reason)], 1
    try:
        actual = json.loads(text)
    except ValueError:
        return [Difference("body", expected, text[:200])], 1
    found: list[Difference] = []
    leaves = _subset(expected, actual, "", found)
    return found, leaves


def _subset(expected: Any, actual: Any, pointer: str, found: list[Difference]) -> int:
    """Compare recursively: objects by the expected keys, arrays item by item, the rest by equality
    (true is not 1); record each differing leaf under its JSON pointer; return the leaves compared."""
    if isinstance(expected, dict) and expected:
        if not isinstance(actual, dict):
            found.append(Difference(f"body{pointer}", expected, actual))
            return _leaves(expected)
        return sum(
            _subset(value, actual[key], f"{pointer}/{_escape(key)}", found)
            if key in actual
            else _missing(value, f"{pointer}/{_escape(key)}", found)
            for key, value in expected.items()
        )
    if isinstance(expected, list) and expected:
        if not isinstance(actual, list) or len(actual) != len(expected):
            found.append(Difference(f"body{pointer}", expected, actual))
            return _leaves(expected)
        return sum(
            _subset(want, have, f"{pointer}/{i}", found)
            for i, (want, have) in enumerate(zip(expected, actual, strict=True))
        )
    if not _same(expected, actual):
        found.append(Difference(f"body{pointer}", expected, actual))
    return 1


def _same(expected: Any, actual: Any) -> bool:
    """JSON equality: 1 equals 1.0, but true is not 1."""
    if isinstance(expected, bool) or isinstance(actual, bool):
        return type(expected) is type(actual) and expected == actual
    return bool(expected == actual)


def _missing(expected: Any, pointer: str, found: list[Difference]) -> int:
    found.append(Difference(f"body{pointer}", expected, None))
    return _leaves(expected)


def _leaves(value: Any) -> int:
    if isinstance(value, dict) and value:
        return sum(_leaves(item) for item in value.values())
    if isinstance(value, list) and value:
        return sum(_leaves(item) for item in value)
    return 1


def _escape(key: str) -> str:
    return str(key).replace("~", "~0").replace("/", "~1")
