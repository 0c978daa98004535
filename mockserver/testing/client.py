"""The mock as one test sees it: a session of its own, its data, and assertions on what the test sent.

`MockSession` is what the pytest plugin's `mockserver` fixture hands a test; it talks to the mock
through its admin API only (`live.MockEndpoint`), so any test runner can use it. The standard library
alone: no pytest, no Flask (a failed assertion is a plain AssertionError, worded by `failures`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from mockserver.testing import failures
from mockserver.testing.failures import Entry
from mockserver.testing.live import MockEndpoint

SESSION_HEADER = "X-Mock-Session"
MATCH_KEYS = ("operation_id", "path_pattern", "query", "headers", "body", "status")
PATTERN_KEYS = ("method", "path", *MATCH_KEYS)


class AdminError(RuntimeError):
    """The mock refused an admin request; the message carries its error details."""


class MockSession:
    """The mock as one test sees it: a session of its own (`headers` names it), and assertions on
    what the test sent.

    Send `headers` with every request to the mock: the journal, the data set and the state (links,
    click events) of the session are this test's alone, and they are reset when the test ends.
    """

    def __init__(self, endpoint: MockEndpoint, session: str) -> None:
        self.endpoint = endpoint
        self.session = session
        self.url = endpoint.base
        self.headers = {SESSION_HEADER: session}

    def __repr__(self) -> str:
        return f"<MockSession {self.session} at {self.url}>"

    def url_for(self, path: str) -> str:
        return self.url + ("" if path.startswith("/") else "/") + path

    # --- data ------------------------------------------------------------------------------------

    def load(
        self,
        scenario: str | dict[str, Any] | Path | None = None,
        *,
        name: str | None = None,
        seed: int | None = None,
        partners: int | None = None,
        inline: str | None = None,
    ) -> dict[str, Any]:
        """Serve other data in this session: a scenario name (a `str`), a scenario as a `dict` or a
        file (`Path`), `inline` YAML or JSON text, or Faker data (`seed`, `partners`).

        Returns what the mock loaded (source and sizes); AdminError with the mock's detail (the
        scenario's `file:line: field: problem`) when it refuses, and the data served is unchanged.
        """
        __tracebackhide__ = True
        given = {"name": name, "inline": inline, "seed": seed, "partners": partners}
        body = {key: value for key, value in given.items() if value is not None}
        sources = len(body.keys() & {"name", "inline"}) + bool(body.keys() & {"seed", "partners"})
        if isinstance(scenario, str):
            body["name"], sources = scenario, sources + 1
        elif isinstance(scenario, dict):
            body["inline"], sources = json.dumps(scenario), sources + 1
        elif isinstance(scenario, Path):
            body["inline"], sources = scenario.read_text(encoding="utf-8"), sources + 1
        if sources != 1:
            raise TypeError("load() takes one of: a scenario, name=, inline=, or seed= (with partners=)")
        loaded: dict[str, Any] = self._admin("PUT", "/__admin/scenario", body)["scenario"]
        return loaded

    def data(self) -> dict[str, Any]:
        """The session's businesses, users (with their tokens) and partner count."""
        __tracebackhide__ = True
        data: dict[str, Any] = self._admin("GET", "/__admin/data")
        return data

    def reset(self) -> None:
        """Back to the session's initial state, with an empty journal (done when the test ends)."""
        __tracebackhide__ = True
        self._admin("POST", "/__admin/reset")

    # --- the journal -----------------------------------------------------------------------------

    def requests(self, **pattern: Any) -> list[Entry]:
        """The session's journaled requests that match, oldest first (keys: see PATTERN_KEYS)."""
        __tracebackhide__ = True
        found: list[Entry] = self._find(pattern)["requests"]
        return found

    def count(self, **pattern: Any) -> int:
        """How many of the session's journaled requests match."""
        __tracebackhide__ = True
        found: int = self._admin("POST", "/__admin/requests/count", _pattern(pattern))["count"]
        return found

    def assert_called(
        self, method: str, path: str | None = None, *, times: int | None = None, **match: Any
    ) -> list[Entry]:
        """Assert the session sent a matching request (exactly `times` of them, when given); returns
        them. `match` takes operation_id, path_pattern (a regex), query, headers, body (subsets) and
        status. The query is compared as the mock reads it: `{"filter[status]": "available"}` matches
        `filter[status][]=available`, `filter[status][0]=available` and `filter[status]=available,…`
        alike. A failure lists the closest requests and how each differs (a list as it was sent)."""
        __tracebackhide__ = True
        unknown = set(match) - set(MATCH_KEYS)
        if unknown:
            raise TypeError(f"assert_called() got unknown keys {sorted(unknown)}; use {MATCH_KEYS}")
        pattern = {"method": method, "path": path, **match}
        found = self._find(pattern)
        matched: list[Entry] = found["requests"]
        if (times is None and matched) or len(matched) == times:
            return matched
        expected = failures.wanted(times, pattern)
        dropped: int = self._admin("GET", "/__admin/requests")["meta"]["dropped"]
        if matched:
            message = failures.wrong_count(expected, matched)
        else:
            total = self.count()
            if total == 0 and not dropped:
                message = failures.nothing_reached(expected, self.session)
            else:
                message = failures.none_matched(expected, total, found["near_misses"])
        raise AssertionError(message + failures.journal_dropped(dropped))

    def assert_no_violations(self) -> None:
        """Assert every request of the session kept to the contract; a failure lists the others with
        the mock's error details (parameter, header or body field at fault)."""
        __tracebackhide__ = True
        violations: list[Entry] = self._admin("GET", "/__admin/violations")["violations"]
        if violations:
            raise AssertionError(failures.broke_contract(self.session, violations))

    # --- HTTP ------------------------------------------------------------------------------------

    def _find(self, pattern: dict[str, Any]) -> dict[str, Any]:
        __tracebackhide__ = True
        found: dict[str, Any] = self._admin("POST", "/__admin/requests/find", _pattern(pattern))
        return found

    def _admin(self, method: str, path: str, payload: dict[str, Any] | None = None) -> Any:
        """One admin request in this session; its JSON answer (None when empty), AdminError if refused."""
        __tracebackhide__ = True
        headers = dict(self.headers)
        body = None
        if payload is not None:
            body = json.dumps(payload)
            headers["Content-Type"] = "application/json"
        reply = self.endpoint.admin(method, path, body, headers)
        if reply.status >= 300:
            raise AdminError(
                f"{method} {self.url}{path} answered {reply.status}: {failures.reply_errors(reply)}"
            )
        return reply.json() if reply.body else None


def _pattern(pattern: dict[str, Any]) -> dict[str, Any]:
    """The pattern as the admin API takes it: no None values, query and header values as strings."""
    unknown = set(pattern) - set(PATTERN_KEYS)
    if unknown:
        raise TypeError(f"unknown pattern keys {sorted(unknown)}; use {PATTERN_KEYS}")
    body = {key: value for key, value in pattern.items() if value is not None}
    for key in ("query", "headers"):
        if key in body:
            body[key] = {name: _text(value) for name, value in body[key].items()}
    return body


def _text(value: Any) -> Any:
    """A query or header value as sent on the wire: 5 -> "5", True -> "true"; lists item by item."""
    if isinstance(value, list | tuple):
        return [_text(item) for item in value]
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else str(value)
