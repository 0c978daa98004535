"""pytest fixtures for the mock's consumers (a `pytest11` entry point, loaded by every pytest run).

`mockserver_process` is the server, started once per test run (per worker under pytest-xdist) or
given with `--mockserver-url`; `mockserver` is a handle on it for one test, with a session of its own
(`mockserver.testing.client.MockSession`, importable from here for annotations, as is `AdminError`).
The import stays cheap (the standard library and `mockserver.testing`): no Flask until a server starts.
"""

from __future__ import annotations

import os
import re
import shlex
import uuid
from collections.abc import Iterator

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
    handle.reset()


def new_session_id(test_name: str) -> str:
    """`<xdist worker>-<test name, cut>-<random>`: unique, and readable in the mock's session list."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    name = re.sub(r"[^A-Za-z0-9._~-]+", "_", test_name)[:30]
    return f"{worker[:16]}-{name}-{uuid.uuid4().hex[:12]}"
