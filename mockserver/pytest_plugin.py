"""pytest fixtures for the mock's consumers (a `pytest11` entry point, loaded by every pytest run).

`mockserver_process` is the server, started once per test run (per worker under pytest-xdist) or
given with `--mockserver-url`; `mockserver` is a handle on it for one test, with a session of its own.
The import stays cheap (the standard library and `mockserver.live`): no Flask until a server starts.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .live import LiveServer, MockEndpoint, Reply

SESSION_HEADER = "X-Mock-Session"
URL_VARIABLE = "MOCKSERVER_URL"
TOKEN_VARIABLE = "MOCKSERVER_ADMIN_TOKEN"
MATCH_KEYS = ("operation_id", "path_pattern", "query", "headers", "body", "status")
PATTERN_KEYS = ("method", "path", *MATCH_KEYS)
SHOWN = 120
"""Characters shown of one value in a failure message."""

Entry = dict[str, Any]
"""One journaled request, as `/__admin/requests/find` answers it."""


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("mockserver", "Partners API mock (mockserver)")
    group.addoption(
        "--mockserver-url",
        metavar="URL",
        help=f"use the mock already running at URL (e.g. http://127.0.0.1:4010) instead of starting "
        f"one; default: ${URL_VARIABLE}",
    )
    group.addoption(
        "--mockserver-admin-token",
        metavar="TOKEN",
        help="the admin token of a mock on another host (its --admin-token), sent on /__admin "
        f"requests; default: ${TOKEN_VARIABLE}",
    )
    group.addoption(
        "--mockserver-arg",
        metavar="ARG",
        action="append",
        default=[],
        help="extra arguments to `mockserver serve` for the started mock, split like a shell line "
        '(repeatable), e.g. --mockserver-arg="--scenario default"',
    )
    group.addoption(
        "--mockserver-pact",
        metavar="DIR",
        help="write the run's Pact file (v4) into DIR at the end: each test's requests to the mock, "
        "with the test's id in comments.testname",
    )
    group.addoption(
        "--mockserver-pact-consumer",
        metavar="NAME",
        help="the consumer's name in the Pact (default: the project's folder name)",
    )
    group.addoption(
        "--mockserver-pact-provider",
        metavar="NAME",
        default="partners-api",
        help="the provider's name in the Pact (default: partners-api)",
    )


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
        wanted = _wanted(times, pattern)
        dropped = self._admin("GET", "/__admin/requests")["meta"]["dropped"]
        lost = (
            f"\n({dropped} older request(s) of this session were dropped by the journal's bound; "
            "start the mock with a larger --journal-size)"
            if dropped
            else ""
        )
        if matched:
            lines = [f"expected {wanted}, got {len(matched)}:"]
            lines += [f"  {_request_line(entry)}" for entry in matched]
            raise AssertionError("\n".join(lines) + lost)
        total = self.count()
        if total == 0 and not dropped:
            raise AssertionError(
                f"expected {wanted}, but no request reached the mock in session {self.session} "
                "(does the client send mockserver.headers?)"
            )
        lines = [f"expected {wanted}; none of the session's {total} request(s) matched."]
        if found["near_misses"]:
            lines.append("Closest:")
        for near in found["near_misses"]:
            lines.append(f"  {_request_line(near['request'])}")
            lines += [f"      {_difference(d)}" for d in near["differences"]]
        raise AssertionError("\n".join(lines) + lost)

    def assert_no_violations(self) -> None:
        """Assert every request of the session kept to the contract; a failure lists the others with
        the mock's error details (parameter, header or body field at fault)."""
        __tracebackhide__ = True
        violations: list[Entry] = self._admin("GET", "/__admin/violations")["violations"]
        if not violations:
            return
        lines = [f"{len(violations)} request(s) of session {self.session} broke the contract:"]
        for entry in violations:
            lines.append(f"  {_request_line(entry, detail=False)}")
            lines += [f"      {_error_text(error)}" for error in entry.get("errors") or []]
        raise AssertionError("\n".join(lines))

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
            raise AdminError(f"{method} {self.url}{path} answered {reply.status}: {_reply_errors(reply)}")
        return reply.json() if reply.body else None


@pytest.fixture(scope="session")
def mockserver_process(request: pytest.FixtureRequest) -> Iterator[MockEndpoint]:
    """The mock every test of this run talks to: `mockserver serve` started on a free port (with the
    `--mockserver-arg` arguments) and stopped at the end, or the one at `--mockserver-url`.

    A subprocess, not a thread: it is the real server and WSGI stack, as in production; it shares no
    GIL with the tests; a hang or crash in it cannot take the test process down; and it stops cleanly.
    Under pytest-xdist, session fixtures are per worker, so each worker starts its own mock; with
    `--mockserver-url` all workers share one, and stay apart through their sessions.
    """
    url = request.config.getoption("mockserver_url") or os.environ.get(URL_VARIABLE)
    if url:
        yield _running_mock(url, request.config.getoption("mockserver_admin_token"))
        return
    args = [arg for value in request.config.getoption("mockserver_arg") for arg in shlex.split(value)]
    server = LiveServer.start(*args)
    try:
        yield server
    finally:
        server.stop()


def _running_mock(url: str, admin_token: str | None) -> MockEndpoint:
    """The mock at `url`, once it answers its health check; a failure says why it does not."""
    try:
        endpoint = MockEndpoint.from_url(url, admin_token or os.environ.get(TOKEN_VARIABLE))
    except ValueError as error:
        pytest.fail(f"--mockserver-url / ${URL_VARIABLE}: {error}", pytrace=False)
    try:
        reply = endpoint.admin("GET", "/__admin/health", timeout=5.0)
    except OSError as error:
        pytest.fail(f"no mock answers at {endpoint.base} (--mockserver-url): {error}", pytrace=False)
    if reply.status != 200:
        detail = _reply_errors(reply)
        pytest.fail(f"GET {endpoint.base}/__admin/health answered {reply.status}: {detail}", pytrace=False)
    return endpoint


@pytest.fixture
def mockserver(mockserver_process: MockEndpoint, request: pytest.FixtureRequest) -> Iterator[MockSession]:
    """The mock for this test, in a session of its own (send `mockserver.headers`), reset afterwards."""
    handle = MockSession(mockserver_process, new_session_id(request.node.name))
    yield handle
    if request.config.getoption("mockserver_pact"):  # before the reset empties the session's journal
        _keep_pact(request.config, mockserver_process, handle.session, request.node.nodeid)
    handle.reset()


# --- the run's Pact (--mockserver-pact) ------------------------------------------------------------

PACTS_KEY = pytest.StashKey[list[dict[str, Any]]]()


def _names(config: pytest.Config) -> tuple[str, str]:
    consumer = config.getoption("mockserver_pact_consumer") or config.rootpath.name
    return consumer, config.getoption("mockserver_pact_provider")


def _keep_pact(config: pytest.Config, endpoint: MockEndpoint, session: str, testname: str) -> None:
    """The test's Pact (its session's journal), kept until the run ends."""
    from .pact.fetch import fetch_pact

    consumer, provider = _names(config)
    pact = fetch_pact(endpoint, consumer, provider, 4, session=session, testname=testname)
    config.stash.setdefault(PACTS_KEY, []).append(pact)


def pytest_sessionfinish(session: pytest.Session) -> None:
    """Write the run's Pact: every test's interactions, identical ones once (per xdist worker, a file
    each: `CONSUMER-PROVIDER-gw0.json`)."""
    config = session.config
    folder = config.getoption("mockserver_pact")
    pacts = config.stash.get(PACTS_KEY, [])
    if not folder or not pacts:
        return
    from .pact.export import merge

    consumer, provider = _names(config)
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    path = Path(folder) / (f"{consumer}-{provider}" + (f"-{worker}" if worker else "") + ".json")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(merge(pacts, consumer, provider, 4), indent=2) + "\n", encoding="utf-8")


def new_session_id(test_name: str) -> str:
    """`<xdist worker>-<test name, cut>-<random>`: unique, and readable in the mock's session list."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    name = re.sub(r"[^A-Za-z0-9._~-]+", "_", test_name)[:30]
    return f"{worker[:16]}-{name}-{uuid.uuid4().hex[:12]}"


# --- patterns and failure messages -----------------------------------------------------------------


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


def _wanted(times: int | None, pattern: dict[str, Any]) -> str:
    """`a request GET /path query={...}`, `2 requests …`, `no request …`."""
    count = {None: "a request", 0: "no request", 1: "1 request"}.get(times, f"{times} requests")
    words = [count, pattern.get("method") or "(any method)", pattern.get("path") or "(any path)"]
    words += [
        f"{key}={_show(value)}"
        for key, value in pattern.items()
        if key not in ("method", "path") and value is not None
    ]
    return " ".join(words)


def _request_line(entry: Entry, detail: bool = True) -> str:
    """`METHOD path?query -> status`, and the first error detail of a refused request."""
    query = entry.get("query") or ""
    target = f"{entry.get('path')}?{query}" if query else str(entry.get("path"))
    line = f"{entry.get('method')} {_cut(target)} -> {entry.get('status')}"
    errors = entry.get("errors") or []
    if detail and errors and isinstance(errors[0], dict) and errors[0].get("detail"):
        line += f" ({_cut(str(errors[0]['detail']))})"
    return line


def _difference(difference: dict[str, Any]) -> str:
    expected, actual = _show(difference.get("expected")), _show(difference.get("actual"))
    return f"{difference.get('field')}: expected {expected}, got {actual}"


def _error_text(error: Any) -> str:
    """`code [parameter per_page]: detail` from a JSON:API error object."""
    if not isinstance(error, dict):
        return _cut(str(error))
    source = error.get("source") or {}
    where = "".join(f" [{kind} {value}]" for kind, value in source.items())
    return f"{error.get('code') or error.get('status')}{where}: {error.get('detail', '')}"


def _reply_errors(reply: Reply) -> str:
    try:
        errors = reply.json()["errors"]
        return "; ".join(_error_text(error) for error in errors)
    except (ValueError, KeyError, TypeError):
        return reply.text(SHOWN) or "(no body)"


def _show(value: Any) -> str:
    return _cut(repr(value))


def _cut(text: str) -> str:
    return text if len(text) <= SHOWN else text[: SHOWN - 1] + "…"
