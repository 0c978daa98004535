"""pytest fixtures for the mock's consumers (a `pytest11` entry point, loaded by every pytest run).

`mockserver_process` is the server, started once per test run (per worker under pytest-xdist) or
given with `--mockserver-url`; `mockserver` is a handle on it for one test, with a session of its own
(`mockserver.testing.client.MockSession`, importable from here for annotations, as is `AdminError`).
The import stays cheap (the standard library and `mockserver.testing`): no Flask until a server starts.
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

from mockserver.testing.client import AdminError, MockSession
from mockserver.testing.failures import reply_errors
from mockserver.testing.live import LiveServer, MockEndpoint

__all__ = ["AdminError", "MockEndpoint", "MockSession"]
"""What consumers import from here (for annotations, and to catch a refused `load`)."""

URL_VARIABLE = "MOCKSERVER_URL"
TOKEN_VARIABLE = "MOCKSERVER_ADMIN_TOKEN"


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
        detail = reply_errors(reply)
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
    from mockserver.pact.fetch import fetch_pact

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
    from mockserver.pact.export import merge

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
