"""`serve --watch`: edits to the scenario file and the spec are served as they load, broken ones are
reported with the text `mockserver check` prints while the last good version keeps serving, and the
watching costs no CPU while nothing changes."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from support import API, P01, ROOT, SCENARIOS_DIR, SPEC, SPEC_PATH
from tiers import needs
from werkzeug.test import Client

from mockserver.app import create_app
from mockserver.cli import cli
from mockserver.core.settings import Settings
from mockserver.serving.reloader import ReloadingApp
from mockserver.testing.live import LiveServer

POLL_TIMEOUT = 5.0
NAME = "Fizzwell Beverages HBC"
"""The name of P01 in scenarios/default.yaml."""
CONNECT = f"{API}/{P01}/connect"
PAGE_OF_50 = f"{API}/available?per_page=50"


def save(path: Path, text: str) -> None:
    """As editors save: a new file renamed over the old one."""
    temporary = path.with_name(f".{path.name}.swp")
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, path)


def eventually(check: Callable[[], Any], server: LiveServer | None = None) -> float:
    """Poll `check` until it returns a true value; the seconds it took. Fails after POLL_TIMEOUT."""
    started = time.monotonic()
    while not check():
        if time.monotonic() - started > POLL_TIMEOUT:
            tail = f"\n{server.tail()}" if server else ""
            pytest.fail(f"not within {POLL_TIMEOUT} s: {getattr(check, '__name__', check)}{tail}")
        time.sleep(0.05)
    return time.monotonic() - started


def partner_name(server: LiveServer, headers: dict[str, str] | None = None) -> str:
    name: str = server.request("GET", f"{API}/{P01}", headers=headers).json()["data"]["attributes"]["name"]
    return name


def spec_with(edit: Callable[[dict[str, Any]], object]) -> str:
    """openapi.yaml as it is, changed by `edit` (which changes the document in place)."""
    document = yaml.safe_load(SPEC_PATH.read_text(encoding="utf-8"))
    edit(document)
    return yaml.safe_dump(document, sort_keys=False, allow_unicode=True)


def per_page_schema(**schema: object) -> Callable[[dict[str, Any]], object]:
    """An edit of openapi.yaml: these values in the schema of `per_page`."""
    return lambda document: document["components"]["parameters"]["per_page"]["schema"].update(schema)


def check_error(path: Path) -> str:
    """What `mockserver check` prints about a scenario file."""
    result = CliRunner().invoke(cli, ["check", str(path)])
    assert result.exit_code == 1, result.output
    return result.stderr.strip()


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("watched")
    scenario, spec = folder / "partners.yaml", folder / "openapi.yaml"
    scenario.write_text((SCENARIOS_DIR / "default.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    spec.write_text(SPEC_PATH.read_text(encoding="utf-8"), encoding="utf-8")
    return {"scenario": scenario, "spec": spec}


@pytest.fixture(scope="module")
@needs("live")
def live(files: dict[str, Path]) -> Iterator[LiveServer]:
    server = LiveServer.start("--scenario", str(files["scenario"]), "--spec", str(files["spec"]), "--watch")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def watched(files: dict[str, Path], live: LiveServer) -> Iterator[dict[str, Path]]:
    """The watched files; put back as they were after the test (the scenario first: a spec edit
    waits for a scenario that loads), and served so again."""
    originals = {key: path.read_text(encoding="utf-8") for key, path in files.items()}
    yield files
    for key, path in files.items():
        if path.read_text(encoding="utf-8") != originals[key]:
            reloads = live.output().count(f"reloaded {path}")
            save(path, originals[key])
            eventually(lambda: live.output().count(f"reloaded {path}") > reloads, live)  # noqa: B023
    # And served as loaded (a reload's log line follows its swap: the count above may have been taken
    # before the line of the test's own last reload).
    eventually(lambda: partner_name(live) == NAME and live.request("GET", PAGE_OF_50).status == 200, live)


def group_cpu_seconds(group: int) -> float:
    """User and system CPU time of every process of a process group (granian's and its worker)."""
    ticks = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:  # it exited meanwhile
            continue
        if int(fields[2]) == group:  # pgrp; utime and stime follow at 14 and 15 (1-based)
            ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_the_watching_server_costs_no_cpu_while_nothing_changes(live: LiveServer) -> None:
    time.sleep(0.5)  # start-up's last work done
    before = group_cpu_seconds(live.process.pid)
    time.sleep(3)
    used = group_cpu_seconds(live.process.pid) - before
    assert used < 0.1, f"{used:.2f} s of CPU in 3 s idle"


def test_a_scenario_edit_is_served_by_a_new_app(live: LiveServer, watched: dict[str, Path]) -> None:
    dropped = {"X-Mock-Session": "dropped"}
    assert partner_name(live, dropped) == NAME
    save(watched["scenario"], watched["scenario"].read_text().replace(NAME, "Fizzwell Renamed"))

    eventually(lambda: partner_name(live) == "Fizzwell Renamed", live)
    eventually(lambda: f"reloaded {watched['scenario']}" in live.output(), live)  # logged after the swap
    assert live.get_json("/__admin/sessions")["sessions"] == [], "as on a restart"
    assert live.admin("GET", "/__admin/requests/count", headers=dropped).json() == {"count": 0}
    assert partner_name(live, dropped) == "Fizzwell Renamed"


def test_a_file_written_in_place_is_served_too(live: LiveServer, watched: dict[str, Path]) -> None:
    watched["scenario"].write_text(watched["scenario"].read_text().replace(NAME, "Written In Place"))
    eventually(lambda: partner_name(live) == "Written In Place", live)


@pytest.mark.parametrize(
    ("broken", "what"),
    [
        (("name: Good Name", "name: [Good Name"), "invalid YAML"),
        (("    status: null", "    status: bogus"), "partners[0].status: 'bogus' is not one of"),
    ],
    ids=["invalid-yaml", "schema-error"],
)
def test_a_broken_scenario_is_reported_and_the_last_good_version_keeps_serving(
    live: LiveServer, watched: dict[str, Path], broken: tuple[str, str], what: str
) -> None:
    scenario = watched["scenario"]
    good = scenario.read_text().replace(NAME, "Good Name")
    save(scenario, good)
    eventually(lambda: partner_name(live) == "Good Name", live)

    save(scenario, good.replace(*broken, 1).replace("Good Name", "Broken Name"))
    expected = check_error(scenario)
    assert f"{scenario}:" in expected and what in expected
    eventually(lambda: expected in live.output(), live)
    assert f"{scenario} changed; the last good version keeps serving\n{expected}" in live.output()
    assert partner_name(live) == "Good Name"

    save(scenario, good.replace("Good Name", "Fixed Name"))
    eventually(lambda: partner_name(live) == "Fixed Name", live)


def test_a_spec_edit_changes_validation_and_starts_a_new_app(
    live: LiveServer, watched: dict[str, Path]
) -> None:
    assert live.request("GET", PAGE_OF_50).status == 200
    assert partner_name(live, {"X-Mock-Session": "dropped"}) == NAME
    save(watched["spec"], spec_with(per_page_schema(maximum=40)))

    eventually(lambda: live.request("GET", PAGE_OF_50).status == 400, live)
    (error,) = live.request("GET", PAGE_OF_50).json()["errors"]
    assert error["source"] == {"parameter": "per_page"} and "40" in error["detail"]
    assert "dropped" not in live.get_json("/__admin/sessions")["sessions"], "a new app: sessions start empty"
    assert live.request("DELETE", CONNECT).status != 405

    save(
        watched["spec"], spec_with(lambda document: document["paths"][f"{API}/{{id}}/connect"].pop("delete"))
    )
    eventually(lambda: live.request("DELETE", CONNECT).status == 405, live)
    assert live.request("DELETE", CONNECT).headers["allow"] == "PATCH, OPTIONS"
    assert live.request("GET", PAGE_OF_50).status == 200


@pytest.mark.parametrize(
    ("broken", "what"),
    [
        (lambda good: good + "\npaths: [\n", "not valid YAML"),
        (lambda good: spec_with(per_page_schema(maximum=40, type="integr")), "not a valid OpenAPI document"),
    ],
    ids=["invalid-yaml", "invalid-openapi"],
)
def test_a_broken_spec_is_reported_and_the_last_good_version_keeps_serving(
    live: LiveServer, watched: dict[str, Path], broken: Callable[[str], str], what: str
) -> None:
    spec = watched["spec"]
    good = spec_with(per_page_schema(maximum=40))
    save(spec, good)
    eventually(lambda: live.request("GET", PAGE_OF_50).status == 400, live)

    text = broken(good)
    assert text != good
    save(spec, text)
    eventually(lambda: f"error: {spec}: {what}" in live.output(), live)
    assert f"{spec} changed; the last good version keeps serving" in live.output()
    assert live.request("GET", PAGE_OF_50).status == 400
    assert live.request("GET", f"{API}/available?per_page=40").status == 200


@pytest.mark.live
@pytest.mark.parametrize("server", ["granian", "waitress"])
def test_a_named_scenario_is_watched_on_either_server_which_then_stops_cleanly(
    tmp_path: Path, server: str
) -> None:
    scenario = tmp_path / "partners.yaml"
    scenario.write_text((SCENARIOS_DIR / "default.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    args = ("--scenario", "partners", "--scenarios-dir", str(tmp_path), "--server", server, "--watch")
    live = LiveServer.start(*args, cwd=ROOT)
    try:
        watching = f"serving edits to {SPEC_PATH.resolve()} and {scenario.resolve()} as they load (--watch)"
        assert watching in live.output()
        save(scenario, scenario.read_text().replace(NAME, "Edited"))
        eventually(lambda: partner_name(live) == "Edited", live)
    finally:
        code = live.stop()
    assert code == 0
    assert "Traceback" not in live.output()
    assert "mockserver: stopped" in live.output()


# --- the reloading app, in this process -----------------------------------------------------


def test_a_spec_edit_that_failed_for_the_scenario_is_served_once_the_scenario_loads(tmp_path: Path) -> None:
    scenario, spec = tmp_path / "partners.yaml", tmp_path / "openapi.yaml"
    good_scenario = (SCENARIOS_DIR / "default.yaml").read_text(encoding="utf-8")
    scenario.write_text(good_scenario, encoding="utf-8")
    spec.write_text(SPEC_PATH.read_text(encoding="utf-8"), encoding="utf-8")
    reloading = ReloadingApp(create_app(Settings(spec_path=spec, scenario=str(scenario))))
    client = Client(reloading)

    scenario.write_text(good_scenario.replace("    status: null", "    status: bogus", 1))
    assert not reloading.reload({scenario})
    spec.write_text(spec_with(per_page_schema(maximum=40)))
    assert not reloading.reload({spec}), "the new app would read the broken scenario"
    assert client.get(PAGE_OF_50).status_code == 200

    scenario.write_text(good_scenario.replace(NAME, "Both Served"))
    assert reloading.reload({scenario})
    assert client.get(PAGE_OF_50).status_code == 400
    assert client.get(f"{API}/{P01}").json["data"]["attributes"]["name"] == "Both Served"  # type: ignore[index]


def test_a_change_to_another_file_of_the_directory_reloads_nothing(tmp_path: Path) -> None:
    app = create_app(Settings(scenario="default"), SPEC)
    reloading = ReloadingApp(app)
    assert reloading.watched == [SPEC_PATH.resolve(), (SCENARIOS_DIR / "default.yaml").resolve()]
    assert reloading.reload({SCENARIOS_DIR / "empty.yaml"})
    assert reloading.app is app
