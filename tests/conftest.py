"""Shared fixtures: apps built from explicit settings (clients check responses against the spec), and a
live `python -m mockserver serve` per module and WSGI server. Plain helpers live in support.py.

The hooks below put every test in one tier (tests/tiers.py: unit, app, live, system), skip the modules
of a tier that `-m` leaves out before importing them, and guard each test against reaching past its tier.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from _pytest.mark.expression import Expression  # what `-m` compiles to; pytest exports no public name
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
from tiers import (
    TIERS,
    Guard,
    can_select,
    fixture_tier,
    module_floor,
    module_tier,
    needs,
    rank,
    tier_of,
)

from mockserver.testing.live import LiveServer

# --------------------------------------------------------------------------------------------------
# tiers

TIER = pytest.StashKey[str]()
GUARD = Guard()


def pytest_configure(config: pytest.Config) -> None:
    GUARD.install()


def pytest_unconfigure(config: pytest.Config) -> None:
    GUARD.uninstall()


@cache
def _declared_tier(path: Path) -> str | None:
    return module_tier(path)


def _mark_expression(config: pytest.Config) -> Expression | None:
    text = config.option.markexpr
    if not text:
        return None
    try:
        return Expression.compile(text)
    except SyntaxError:
        return None  # pytest reports it


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """A module whose `pytestmark` names a tier that `-m` leaves out is not even imported."""
    if not (collection_path.name.startswith("test_") and collection_path.suffix == ".py"):
        return None
    expression = _mark_expression(config)
    tier = _declared_tier(collection_path) if expression is not None else None
    if expression is not None and tier is not None and not can_select(expression, tier):
        return True
    return None


def _needed_by_fixtures(item: pytest.Item) -> str:
    callspec = getattr(item, "callspec", None)
    params = callspec.params if callspec is not None else {}
    definitions = item._fixtureinfo.name2fixturedefs if isinstance(item, pytest.Function) else {}
    needed = [  # an overriding fixture needs no less than the one it overrides
        fixture_tier(definition.func, params.get(name))
        for name in getattr(item, "fixturenames", ())
        for definition in definitions.get(name, ())
    ]
    return max(["unit", *needed], key=rank)


@pytest.hookimpl(tryfirst=True)  # before -m deselects: the markers added here count
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test gets exactly one tier marker: its own, or what its fixtures and its module need."""
    problems = []
    for item in items:
        marked = [mark.name for mark in item.iter_markers() if mark.name in TIERS]
        needed = _needed_by_fixtures(item)
        module = getattr(item, "module", None)
        floor = module_floor(vars(module)) if module is not None else "unit"
        try:
            tier = tier_of(marked, needed, floor)
        except ValueError as problem:
            problems.append(f"{item.nodeid} {problem}")
            continue
        declared = _declared_tier(item.path)
        if declared is not None and tier != declared:
            problems.append(f"{item.nodeid} is {tier}, not the {declared} its module's pytestmark says")
        if not marked:
            item.add_marker(tier)
        item.stash[TIER] = tier
    if problems:
        raise pytest.UsageError("tests in no tier or in two (see tests/tiers.py):\n" + "\n".join(problems))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Iterator[None]:
    GUARD.enter(item.nodeid, item.stash.get(TIER, None))
    try:
        return (yield)
    finally:
        GUARD.leave()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    GUARD.enter(item.nodeid, item.stash.get(TIER, None))
    try:
        return (yield)
    finally:
        GUARD.leave()


# --------------------------------------------------------------------------------------------------
# apps and live servers


@pytest.fixture
@needs("app")
def app() -> Flask:
    """The default scenario: known partners, businesses and users."""
    return make_app(scenario="default")


@pytest.fixture
@needs("app")
def client(app: Flask) -> Iterator[FlaskClient]:
    with app.test_client() as test_client:
        yield test_client


@pytest.fixture(scope="module")
@needs("app")
def shared_app() -> Flask:
    """The default scenario, one app per module: for tests that leave its state as loaded (and check
    it, with `support.assert_unchanged`, so a test that does not fails itself)."""
    return make_app(scenario="default")


@pytest.fixture
@needs("app")
def shared_client(shared_app: Flask) -> Iterator[FlaskClient]:
    with shared_app.test_client() as test_client:
        yield test_client
    # Should a test have changed the state after all (it failed then), the next one starts clean.
    assert plain_client(shared_app).post("/__admin/reset").status_code == 204


@pytest.fixture
@needs("app")
def faker_app() -> Flask:
    """Faker data, as `mockserver serve` starts by default."""
    return make_app(seed=1, partners=100)


@pytest.fixture
@needs("app")
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture(scope="module", params=server_choices(), ids=lambda s: s or "default")
@needs("live")
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
@needs("system")
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
@needs("app", redis="system")
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
