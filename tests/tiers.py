"""The suite's four tiers: what a test needs to run, as exactly one marker per test.

    unit    in process, no app: functions and classes of the package on data built in the test
    app     the Flask app in process (its test client), or the command line through click's runner
    live    real sockets: child processes of this Python (`mockserver serve`, pytest), servers on
            threads
    system  what lies outside Python or takes minutes: Chromium, Node and npm, redis-server, curl,
            pip and PyPI; the soak's minute of load; fuzzing campaigns (schemathesis, thousands of
            Hypothesis requests)

A test gets its tier from a marker when it has one (on the function, its class, or the module's
`pytestmark`); else from the fixtures it uses (those marked with `needs`: the highest wins),
and at least `app` in a module that builds apps itself (it imports one of `APP_BUILDERS`); else it is
`unit`. A marker below what the fixtures need is an error, and so are two tier markers on one test.

While a test sets up and runs, `Guard` fails it when it reaches past its tier: a Flask app built in a
`unit` test, a TCP connection or a child process in a `unit` or `app` test, a program other than this
Python started by a test below `system`. A test that lands in too low a tier fails at once, saying
which marker it needs.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterable, Sequence
from itertools import product
from pathlib import Path
from typing import Any, TypeVar

import flask
import pytest
from _pytest.mark.expression import Expression  # what `-m` compiles to; pytest exports no public name

TIERS = ("unit", "app", "live", "system")
"""From the least a test needs to the most."""

F = TypeVar("F", bound=Callable[..., Any])


def needs(tier: str, **by_param: str) -> Callable[[F], F]:
    """For a fixture (under `@pytest.fixture`): the tests that use it, directly or through another
    fixture, need at least `tier`; `by_param` gives a parametrized fixture's tier per parameter."""

    def mark(fixture: F) -> F:
        fixture.tier_needed = (tier, by_param)  # type: ignore[attr-defined]
        return fixture

    return mark


def fixture_tier(fixture: Callable[..., Any], param: object) -> str:
    """The tier a fixture function needs with this parameter (`unit` when it says nothing)."""
    needed: tuple[str, dict[str, str]] = getattr(fixture, "tier_needed", ("unit", {}))
    tier, by_param = needed
    return by_param.get(param, tier) if isinstance(param, str) else tier


APP_BUILDERS = ("make_app", "create_app")
"""A module that imports one of these builds apps itself: its tests are `app` unless marked."""

MODULE_TIER = re.compile(r"^pytestmark\s*=.*\bpytest\.mark\.(" + "|".join(TIERS) + r")\b", re.MULTILINE)
"""A module that belongs to one tier says so in one line of its own: `pytestmark = pytest.mark.live`."""


def rank(tier: str) -> int:
    return TIERS.index(tier)


def module_floor(names: Iterable[str]) -> str:
    """The least tier of the unmarked tests of a module with these global names."""
    return "app" if any(name in APP_BUILDERS for name in names) else "unit"


def tier_of(marked: Sequence[str], needed: str, floor: str = "unit") -> str:
    """The one tier of a test marked with `marked` whose fixtures need `needed`, in a module whose
    unmarked tests are at least `floor`; ValueError saying what to change when the markers contradict
    each other or the fixtures."""
    if len(marked) > 1:
        raise ValueError(f"has {len(marked)} tier markers ({', '.join(marked)}): keep one")
    if not marked:
        return max(needed, floor, key=rank)
    if rank(marked[0]) < rank(needed):
        raise ValueError(f"is marked {marked[0]} but its fixtures need {needed}: mark it {needed}")
    return marked[0]


def module_tier(path: Path) -> str | None:
    """The tier a test module declares for all its tests in its `pytestmark` line, if it does."""
    found = MODULE_TIER.findall(path.read_text(encoding="utf-8"))
    return found[0] if len(found) == 1 else None


def can_select(expression: Expression, tier: str) -> bool:
    """Whether a compiled `-m` expression selects any test of `tier`, whatever other markers the
    module's tests have (every assignment of the other names is tried; with too many, True)."""
    others = sorted(expression.idents() - set(TIERS))
    if len(others) > 10:
        return True
    assignments = (
        {tier} | {n for n, on in zip(others, values, strict=True) if on}
        for values in product((False, True), repeat=len(others))
    )
    return any(expression.evaluate(_Present(names)) for names in assignments)


class _Present:
    """A marker matcher for `Expression.evaluate`: the names given are the markers a test has."""

    def __init__(self, names: set[str]) -> None:
        self.names = names

    def __call__(self, name: str, /, **kwargs: str | int | bool | None) -> bool:
        return name in self.names


# --------------------------------------------------------------------------------------------------
# the guard


class Guard:
    """Fails the current test when it reaches past its tier (`current`, None between tests)."""

    def __init__(self) -> None:
        self.current: str | None = None
        self.node_id = ""
        self._undo: list[Callable[[], None]] = []
        self._earlier_threads: set[threading.Thread] = set()
        """Threads alive when the current test's set-up began, its own excepted: earlier tests' (an
        app's Redis background winding down, say). What they do is not this test's reach."""

    def enter(self, node_id: str, tier: str | None) -> None:
        if node_id != self.node_id:  # the test's set-up: every other thread alive now is older
            # the threads themselves, not their idents, which a new thread may take over
            self._earlier_threads = set(threading.enumerate()) - {threading.current_thread()}
        self.node_id, self.current = node_id, tier

    def leave(self) -> None:
        self.current = None

    def install(self) -> None:
        self._wrap(flask.Flask, "__init__", self._app_built)
        self._wrap(socket.socket, "connect", self._connecting)
        self._wrap(socket.socket, "connect_ex", self._connecting)
        self._wrap(subprocess.Popen, "_execute_child", self._starting)

    def uninstall(self) -> None:
        while self._undo:
            self._undo.pop()()

    def _wrap(self, owner: Any, name: str, check: Callable[..., None]) -> None:
        original = owner.__dict__.get(name)
        inherited = getattr(owner, name)

        def guarded(this: Any, *args: Any, **kwargs: Any) -> Any:
            check(this, *args, **kwargs)
            return inherited(this, *args, **kwargs)

        setattr(owner, name, guarded)
        self._undo.append(lambda: setattr(owner, name, original) if original else delattr(owner, name))

    def _refuse(self, what: str, needs: str) -> None:
        pytest.fail(
            f"{self.node_id} is a {self.current} test but {what}: mark it {needs} "
            f"(pytest.mark.{needs}; tests/tiers.py says what each tier may do)"
        )

    def _below(self, tier: str) -> bool:
        if threading.current_thread() in self._earlier_threads:
            return False
        return self.current is not None and rank(self.current) < rank(tier)

    def _app_built(self, app: Any, *args: Any, **kwargs: Any) -> None:
        if self._below("app"):
            self._refuse("builds a Flask app", "app")

    def _connecting(self, sock: Any, address: Any) -> None:
        if self._below("live") and sock.family in (socket.AF_INET, socket.AF_INET6):
            self._refuse(f"connects to {address!r}", "live")

    def _starting(self, popen: Any, args: Any, executable: Any, *rest: Any, **kwargs: Any) -> None:
        if not self._below("system"):
            return
        program = str(executable or (args if isinstance(args, str | bytes | os.PathLike) else args[0]))
        if self._below("live"):
            self._refuse(f"starts {program}", "live" if is_this_python(program) else "system")
        elif not is_this_python(program):
            self._refuse(f"starts {program}, a program outside this Python", "system")


def is_this_python(program: str) -> bool:
    """True for this interpreter and the scripts installed beside it (`mockserver`, `pytest`)."""
    found = shutil.which(program)
    if found is None:
        return False
    where = Path(found).resolve()
    here = Path(sys.executable)
    return where == here.resolve() or Path(found).parent == here.parent
