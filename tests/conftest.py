"""Shared fixtures: apps built from explicit settings (clients check responses against the spec), and a
live `python -m mockserver serve` per module and WSGI server. Plain helpers live in support.py."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient
from support import (
    NO_REDIS,
    REDIS_SERVER,
    RedisServer,
    close_shared_state_apps,
    make_app,
    plain_client,
    server_args,
    server_choices,
)

from mockserver.testing.live import LiveServer


@pytest.fixture
def app() -> Flask:
    """The default scenario: known partners, businesses and users."""
    return make_app(scenario="default")


@pytest.fixture
def client(app: Flask) -> Iterator[FlaskClient]:
    with app.test_client() as test_client:
        yield test_client


@pytest.fixture(scope="module")
def shared_app() -> Flask:
    """The default scenario, one app per module: for tests that leave its state as loaded (and check
    it, with `support.assert_unchanged`, so a test that does not fails itself)."""
    return make_app(scenario="default")


@pytest.fixture
def shared_client(shared_app: Flask) -> Iterator[FlaskClient]:
    with shared_app.test_client() as test_client:
        yield test_client
    # Should a test have changed the state after all (it failed then), the next one starts clean.
    assert plain_client(shared_app).post("/__admin/reset").status_code == 204


@pytest.fixture
def faker_app() -> Flask:
    """Faker data, as `mockserver serve` starts by default."""
    return make_app(seed=1, partners=100)


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture(scope="module", params=server_choices(), ids=lambda s: s or "default")
def live(request: pytest.FixtureRequest) -> Iterator[LiveServer]:
    """`mockserver serve --scenario default` on each WSGI server the CLI offers (granian by default,
    waitress), one per test module that asks for it."""
    server = LiveServer.start("--scenario", "default", *server_args(request.param))
    try:
        yield server
    finally:
        server.stop()


# --------------------------------------------------------------------------------------------------
# the state store: in memory, or a real Redis


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real Redis: the one MOCKSERVER_TEST_REDIS names (`.ci/run` starts one), else a `redis-server`
    started here for the run. Skips only when there is no redis-server binary."""
    url = os.environ.get("MOCKSERVER_TEST_REDIS")
    if url:
        yield url
        return
    if REDIS_SERVER is None:
        pytest.skip(NO_REDIS)
    server = RedisServer(Path(tmp_path_factory.mktemp("redis"))).start()
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture(params=["memory", "redis"])
def state_settings(request: pytest.FixtureRequest) -> dict[str, Any]:
    """Settings that put the state in memory, or in Redis under a namespace of the test's own."""
    if request.param == "memory":
        return {}
    url = request.getfixturevalue("redis_url")
    return {"state": url, "state_namespace": f"test-{uuid.uuid4().hex[:16]}"}


@pytest.fixture(autouse=True)
def _close_shared_state_apps() -> Iterator[None]:
    yield
    close_shared_state_apps()
