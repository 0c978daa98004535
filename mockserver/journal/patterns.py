"""Request patterns for `/__admin/requests/find` and `/count`: what a journaled request must look like,
and, when none does, how far each one is from it (WireMock's near-miss report).

Every criterion scores 0 (met) to 1 (missed entirely); an entry's distance is their weighted mean.
What names the endpoint (method, path, path pattern, operation id) weighs twice what describes the
call (status, query, headers, body), so a request to the right path with a wrong query value ranks
before one to another path with the right query. A path that misses scores by its similarity, steeply
(1 - ratio**4): a typo (`/partners/availble`) is near, another operation of the same prefix is far.

What a pattern may cost is bounded, as a find runs it over the whole journal and a rule over every
request of its operation: a path pattern is RE2 (linear in the path, never backtracking; a bounded
program), a body at most MAX_BODY_VALUES values, and path similarity reads the ends of long paths only.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from difflib import SequenceMatcher
from typing import Any
from urllib.parse import parse_qs

import re2

from mockserver.core.api_errors import INVALID_BODY, ApiError, ErrorItem
from mockserver.journal.log import Entry

NEAR_MISSES = 5
"""Closest entries listed when nothing matches."""
ENDPOINT_WEIGHT = 2.0
"""Weight of the criteria that name the endpoint, against 1 for those that describe the call."""
MAX_PATH_PATTERN = 500
"""Characters of a path pattern."""
PATH_PATTERN_MEMORY = 256 * 1024
"""Bytes RE2 may use for one path pattern: its compiled program and its matching caches (past it, a
pattern is refused as too large; a match that runs out of cache goes on, slower, in RE2's NFA)."""
MAX_BODY_VALUES = 1000
"""Values (objects, arrays and leaves) of a pattern's body, compared with every journaled body."""
MAX_BODY_DEPTH = 32
"""Nesting of a pattern's body."""
SIMILARITY_SPAN = 32
"""Characters from each end of a path that its similarity reads (difflib is quadratic in the worst case:
ranking a 2,048-character path against another took up to 10 ms)."""

Where = tuple[str | int, ...]
"""A JSON path into a pattern document."""


def _re2_options() -> Any:
    options = re2.Options()
    options.max_mem = PATH_PATTERN_MEMORY
    options.never_capture = True  # a match needs no groups, and finds none cheaper
    options.log_errors = False
    return options


RE2_OPTIONS = _re2_options()


@dataclass(frozen=True)
class PathPattern:
    """A regular expression the whole path must match, in RE2's syntax (no backreferences or
    lookarounds), matched in time linear in the path whatever the pattern."""

    pattern: str
    regex: Any = field(repr=False, compare=False)

    @classmethod
    def compile(cls, text: str) -> PathPattern:
        """The compiled pattern; ValueError saying why when it cannot be used."""
        if len(text) > MAX_PATH_PATTERN:
            raise ValueError(f"{len(text)} characters, at most {MAX_PATH_PATTERN}")
        try:
            return cls(text, re2.compile(text.encode("utf-8"), RE2_OPTIONS))
        except UnicodeEncodeError:
            raise ValueError("not valid Unicode text") from None
        except re2.error as exc:
            raise ValueError(_re2_reason(exc)) from None

    def fullmatch(self, path: str) -> bool:
        return self.regex.fullmatch(path.encode("utf-8", "surrogatepass")) is not None


def _re2_reason(exc: Exception) -> str:
    raw = exc.args[0] if exc.args else ""
    reason = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
    if reason.startswith("pattern too large"):
        return f"too large: RE2 compiles it to a program over {PATH_PATTERN_MEMORY // 1024} KiB"
    return f"not a regular expression RE2 accepts ({reason}); RE2 has no backreferences or lookarounds"


def pattern_problems(document: Mapping[str, Any]) -> list[tuple[Where, str]]:
    """Why a pattern (of the admin or scenario schema's shape) cannot be used: a path pattern RE2
    cannot compile, or a body too large to compare with every entry."""
    problems: list[tuple[Where, str]] = []
    regex = document.get("path_pattern")
    if regex is not None:
        try:
            PathPattern.compile(regex)
        except ValueError as exc:
            problems.append((("path_pattern",), str(exc)))
    if "body" in document:
        size = _body_size(document["body"])
        if size is not None:
            problems.append((("body",), size))
    return problems


def _body_size(body: Any) -> str | None:
    """Why a pattern's body is too large to compare, or None."""
    values, pending = 0, [(body, 1)]
    while pending:
        value, depth = pending.pop()
        values += 1
        if values > MAX_BODY_VALUES:
            return f"more than {MAX_BODY_VALUES} values; match on fewer"
        if depth > MAX_BODY_DEPTH:
            return f"nested more than {MAX_BODY_DEPTH} deep"
        children = value.values() if isinstance(value, dict) else value if isinstance(value, list) else ()
        pending += [(child, depth + 1) for child in children]
    return None


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
    path_pattern: PathPattern | None = None
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
        """A pattern from a request body the admin spec already checked for shape; ApiError (422, naming
        the field) for one that `pattern_problems` refuses."""
        problems = pattern_problems(document)
        if problems:
            raise ApiError(*(_problem_item(where, message) for where, message in problems))
        regex = document.get("path_pattern")
        compiled = PathPattern.compile(regex) if regex is not None else None
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

    def compare(self, entry: Entry, rank: bool = True) -> Comparison:
        """How far the entry is from the pattern; without `rank`, a missed path is not scored by its
        similarity (what `matches` needs is the differences alone)."""
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
            similarity = _similarity(self.path, entry.path) if rank else 0.0
            scores.append((1.0 - similarity**4, ENDPOINT_WEIGHT))
            differences.append(Difference("path", self.path, entry.path))
        elif self.path is not None:
            scores.append((0.0, ENDPOINT_WEIGHT))
        if self.path_pattern is not None:
            missed = not self.path_pattern.fullmatch(entry.path)
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
        return not self.compare(entry, rank=False).differences

    def find(self, entries: Iterable[Entry]) -> Iterator[Entry]:
        return (entry for entry in entries if self.matches(entry))

    def search(self, entries: list[Entry], limit: int = NEAR_MISSES) -> tuple[list[Entry], list[Comparison]]:
        """The matching entries, oldest first, and when there is none the near misses: one pass over
        the entries (a costly path pattern runs once per entry)."""
        compared = [self.compare(entry) for entry in entries]
        found = [comparison.entry for comparison in compared if not comparison.differences]
        return found, [] if found else _nearest(compared[::-1], limit)


def _nearest(compared: list[Comparison], limit: int) -> list[Comparison]:
    """The `limit` nearest, in the order given among equals."""
    return sorted(compared, key=lambda comparison: comparison.distance)[:limit]


def _problem_item(where: Where, message: str) -> ErrorItem:
    pointer = "".join(f"/{_escape(str(part))}" for part in where)
    return ErrorItem(INVALID_BODY, f"{'.'.join(map(str, where))}: {message}", ("pointer", pointer))


def _similarity(expected: str, actual: str) -> float:
    """difflib's ratio of two paths, reading SIMILARITY_SPAN characters from each end of a long one."""
    return SequenceMatcher(None, _ends(expected), _ends(actual)).ratio()


def _ends(path: str) -> str:
    return path if len(path) <= 2 * SIMILARITY_SPAN else path[:SIMILARITY_SPAN] + path[-SIMILARITY_SPAN:]


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
