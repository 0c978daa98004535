"""The suite's tiers (tests/tiers.py): every test is in exactly one, the tier follows from markers and
fixtures, `-m` skips whole modules only when none of their tests could be selected, and the guard
fails a test that reaches past its tier before anything is built, connected or started."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
from pathlib import Path

import flask
import pytest
from _pytest.mark.expression import Expression
from tiers import TIERS, Guard, can_select, fixture_tier, module_floor, module_tier, needs, tier_of

from mockserver.testing.live import free_port


def test_every_collected_test_has_exactly_one_tier_marker(request: pytest.FixtureRequest) -> None:
    untiered = {
        item.nodeid: names
        for item in request.session.items
        if len(names := [mark.name for mark in item.iter_markers() if mark.name in TIERS]) != 1
    }
    assert request.session.items and not untiered


def test_an_unmarked_test_takes_what_its_fixtures_need_or_its_modules_floor() -> None:
    assert tier_of([], "unit") == "unit"
    assert tier_of([], "live") == "live"
    assert tier_of([], "unit", floor="app") == "app"
    assert tier_of([], "system", floor="app") == "system"


def test_a_marker_wins_unless_it_is_below_what_the_fixtures_need() -> None:
    assert tier_of(["system"], "app") == "system"
    assert tier_of(["unit"], "unit", floor="app") == "unit"
    with pytest.raises(ValueError, match="is marked app but its fixtures need live: mark it live"):
        tier_of(["app"], "live")
    with pytest.raises(ValueError, match=r"has 2 tier markers \(live, app\): keep one"):
        tier_of(["live", "app"], "unit")


def test_a_fixture_says_what_it_needs_per_parameter() -> None:
    @needs("app", redis="system")
    def settings() -> None: ...

    def plain() -> None: ...

    assert fixture_tier(settings, "memory") == "app"
    assert fixture_tier(settings, "redis") == "system"
    assert fixture_tier(settings, None) == "app"
    assert fixture_tier(plain, None) == "unit"


def test_a_module_building_apps_is_app_at_least() -> None:
    assert module_floor(["pytest", "make_app"]) == "app"
    assert module_floor(["pytest", "LiveServer"]) == "unit"


def test_a_module_declares_its_tier_in_one_pytestmark_line(tmp_path: Path) -> None:
    module = tmp_path / "test_x.py"
    module.write_text(
        "import pytest\n\npytestmark = [pytest.mark.live, pytest.mark.skipif(False, reason='')]\n"
    )
    assert module_tier(module) == "live"
    module.write_text("import pytest\n\npytestmark = pytest.mark.skipif(False, reason='')\n")
    assert module_tier(module) is None


@pytest.mark.parametrize(
    ("expression", "selected"),
    [
        ("unit or app", {"unit", "app"}),
        ("not system", {"unit", "app", "live"}),
        ("live", {"live"}),
        ("app and hypothesis", {"app"}),  # another marker: the module's tests may have it
        ("system or not hypothesis", set(TIERS)),
        ("hypothesis and not hypothesis", set()),
    ],
)
def test_a_module_of_one_tier_is_skipped_only_when_no_test_of_it_could_match(
    expression: str, selected: set[str]
) -> None:
    compiled = Expression.compile(expression)
    assert {tier for tier in TIERS if can_select(compiled, tier)} == selected


def test_a_unit_test_that_builds_an_app_fails_saying_to_mark_it_app() -> None:
    with pytest.raises(pytest.fail.Exception, match="is a unit test but builds a Flask app: mark it app"):
        flask.Flask("built")


def test_a_unit_test_that_connects_fails_saying_to_mark_it_live() -> None:
    port = free_port()
    with (
        socket.socket() as sock,
        pytest.raises(pytest.fail.Exception, match=f"connects to .*{port}.*mark it live"),
    ):
        sock.connect(("127.0.0.1", port))


def test_a_unit_test_that_starts_this_python_fails_saying_to_mark_it_live() -> None:
    with pytest.raises(pytest.fail.Exception, match="is a unit test but starts .*: mark it live"):
        subprocess.run([sys.executable, "-c", "pass"], check=True)


def test_a_unit_test_that_starts_another_program_fails_saying_to_mark_it_system(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    with pytest.raises(pytest.fail.Exception, match="is a unit test but starts touch: mark it system"):
        subprocess.run(["touch", str(marker)], check=True)
    assert not marker.exists()


@pytest.mark.live
def test_a_live_test_that_starts_another_program_fails_saying_to_mark_it_system(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    with pytest.raises(pytest.fail.Exception, match="starts touch, a program outside this Python.*system"):
        subprocess.run(["touch", str(marker)], check=True)
    assert not marker.exists()


def test_a_thread_left_by_an_earlier_test_is_not_the_current_test_s_reach() -> None:
    """An earlier test's app may still be winding down on its own thread (a Redis background that
    reconnects once more): its connection is not charged to the next test. The test's own threads
    and the test itself still are."""
    guard = Guard()
    stand_in = socket.socket()  # only its family is read
    stand_in.close()
    go, done = threading.Event(), threading.Event()
    outcomes: dict[str, str] = {}

    def connect_when_told(name: str) -> None:
        go.wait(5)
        try:
            guard._connecting(stand_in, ("127.0.0.1", 9))
            outcomes[name] = "let through"
        except pytest.fail.Exception:
            outcomes[name] = "refused"
        done.set()

    guard.enter("tests/earlier.py::test_it", "live")
    leftover = threading.Thread(target=connect_when_told, args=("leftover",))
    leftover.start()
    guard.leave()
    guard.enter("tests/next.py::test_it", "app")  # set-up of the next test
    guard.enter("tests/next.py::test_it", "app")  # its call
    go.set()
    leftover.join(5)
    done.clear()
    own = threading.Thread(target=connect_when_told, args=("own",))
    own.start()
    own.join(5)
    with pytest.raises(pytest.fail.Exception, match="next.py::test_it is a app test but connects"):
        guard._connecting(stand_in, ("127.0.0.1", 9))
    assert outcomes == {"leftover": "let through", "own": "refused"}
