"""`PUT /__admin/scenario`: another data set without a restart, by name, inline or Faker seed; per
session or for everyone; checked like at start-up, bounded, and never half-applied."""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from support import (
    ALICE,
    API,
    AS_BOB,
    BOB,
    MIB,
    P01,
    P08,
    SCENARIOS_DIR,
    SPEC,
    links,
    make_app,
    post_click,
    send,
)
from tiers import needs

from mockserver.dataset.selection import MAX_SCENARIO_PARTNERS, requested_dataset
from mockserver.dataset.yaml_reader import MAX_ALIASES, MAX_BYTES, MAX_DEPTH
from mockserver.testing.live import LiveServer

ONE = {"X-Mock-Session": "switch-one"}
TWO = {"X-Mock-Session": "switch-two"}
BUSINESS = "b0000000-0000-4000-8000-000000000099"
USER = "a0000000-0000-4000-8000-000000000099"
EMPTY_YAML = (SCENARIOS_DIR / "empty.yaml").read_text(encoding="utf-8")


@pytest.fixture
def app(state_settings: dict[str, Any]) -> Flask:
    """The default scenario, its state in memory and in Redis (each test runs on both)."""
    return make_app(scenario="default", **state_settings)


def switch(client: FlaskClient, body: Any, headers: dict[str, str] | None = None) -> Any:
    if isinstance(body, str):
        return client.put(
            "/__admin/scenario", data=body, content_type="application/yaml", headers=headers or {}
        )
    return client.put("/__admin/scenario", json=body, headers=headers or {})


def data(client: FlaskClient, headers: dict[str, str] | None = None) -> dict[str, Any]:
    response = client.get("/__admin/data", headers=headers or {})
    assert response.status_code == 200
    document: dict[str, Any] = response.get_json()
    return document


def total(client: FlaskClient, headers: dict[str, str] | None = None) -> int:
    response = client.get(f"{API}/available", headers=headers or {})
    assert response.status_code == 200, response.get_data(as_text=True)
    count: int = response.get_json()["meta"]["total-count"]
    return count


def test_a_session_switches_alone(client: FlaskClient) -> None:
    before = total(client)
    response = switch(client, {"name": "empty"}, ONE)
    assert response.status_code == 200
    assert response.get_json() == {
        "scenario": {
            "source": "scenario empty",
            "partners": 0,
            "businesses": 1,
            "users": 1,
            "session": "switch-one",
        }
    }
    assert total(client, ONE) == 0
    assert data(client, ONE)["source"] == "scenario empty"
    assert total(client) == before and total(client, TWO) == before
    assert data(client)["source"] == "scenario default"


def test_a_global_switch_serves_everyone_and_later_sessions_but_live_sessions_keep_theirs(
    client: FlaskClient,
) -> None:
    before = total(client, ONE)  # ONE is live before the switch
    assert switch(client, {"seed": 7, "partners": 12}).status_code == 200
    assert data(client)["partners"] == 12
    assert data(client)["source"] == "Faker data (seed 7, 12 partners)"
    assert data(client, TWO)["partners"] == 12  # created after the switch: forks the new data
    assert total(client, ONE) == before


def test_faker_data_is_the_same_for_the_same_seed(client: FlaskClient) -> None:
    assert switch(client, {"seed": 3, "partners": 20}, ONE).status_code == 200
    assert switch(client, {"seed": 3, "partners": 20}, TWO).status_code == 200
    first = client.get(f"{API}/wholesalers?per_page=100", headers=ONE).get_json()["data"]
    second = client.get(f"{API}/wholesalers?per_page=100", headers=TWO).get_json()["data"]
    assert first == second
    assert switch(client, {"seed": 4, "partners": 20}, TWO).status_code == 200
    assert client.get(f"{API}/wholesalers?per_page=100", headers=TWO).get_json()["data"] != first


def test_inline_yaml_body_and_inline_json_text(client: FlaskClient) -> None:
    assert switch(client, EMPTY_YAML, ONE).get_json()["scenario"]["source"] == "inline scenario"
    assert total(client, ONE) == 0
    scenario = {
        "businesses": [{"id": BUSINESS, "name": "Only"}],
        "users": [
            {
                "id": USER,
                "first_name": "A",
                "last_name": "B",
                "email": "a@b.example",
                "business": BUSINESS,
                "token": "t",
            }
        ],
        "partners": [
            {"id": "c0000000-0000-4000-8000-000000000099", "name": "Solo", "categories": ["pos"]},
        ],
    }
    response = switch(client, {"inline": json.dumps(scenario)}, TWO)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json()["scenario"]["partners"] == 1
    listed = client.get(f"{API}?business_uuid={BUSINESS}", headers={**TWO, "Authorization": "Bearer t"})
    assert [p["attributes"]["name"] for p in listed.get_json()["data"]] == ["Solo"]


def test_reset_goes_back_to_the_switched_data_as_loaded(client: FlaskClient) -> None:
    assert switch(client, {"name": "default"}, ONE).status_code == 200
    assert send(client, "PATCH", f"{API}/{P08}/connect", headers={**ONE, **AS_BOB}).status_code == 200
    assert client.post("/__admin/reset", headers=ONE).status_code == 204
    assert data(client, ONE)["source"] == "scenario default"
    partner = client.get(f"{API}/{P08}?include=users", headers=ONE).get_json()
    assert partner["data"]["relationships"]["users"]["data"] == []


BAD_STATUS = EMPTY_YAML.replace(
    "partners: []",
    "partners:\n  - id: c0000000-0000-4000-8000-000000000099\n"
    "    name: X\n    categories: [pos]\n    status: nope\n",
)
BAD_LINE = BAD_STATUS.splitlines().index("    status: nope") + 1


@pytest.mark.parametrize(
    ("body", "pointer", "detail"),
    [
        (
            {"name": "nope"},
            "/name",
            "unknown scenario 'nope'; available scenarios: default, edge-cases, empty",
        ),
        (BAD_STATUS, "", f"<inline>:{BAD_LINE}: partners[0].status: 'nope' is not one of"),
        ({"inline": BAD_STATUS}, "/inline", f"<inline>:{BAD_LINE}: partners[0].status: 'nope' is not one of"),
        ({"inline": "a: 1\nb: [1, 2\nc: 3\n"}, "/inline", "<inline>:3: invalid YAML"),
        (
            {"inline": "!!python/object:os.system {}"},
            "/inline",
            "the tag !!python/object:os.system is not allowed",
        ),
    ],
    ids=["unknown-name", "raw-yaml", "inline-yaml", "broken-yaml", "unsafe-tag"],
)
def test_a_bad_scenario_is_refused_with_its_line_and_changes_nothing(
    client: FlaskClient, body: Any, pointer: str, detail: str
) -> None:
    assert post_click(client, partner_id=P01).status_code == 201
    assert send(client, "PATCH", f"{API}/{P08}/connect", headers=AS_BOB).status_code == 200
    before = (links(client), client.get("/__admin/click-events").get_json()["data"], data(client))
    for headers in ({}, ONE):
        response = switch(client, body, headers)
        assert response.status_code == 400, response.get_data(as_text=True)
        (error,) = response.get_json()["errors"]
        assert error["code"] == "invalid_scenario"
        assert detail in error["detail"]
        assert error["source"] == {"pointer": pointer}
    assert (links(client), client.get("/__admin/click-events").get_json()["data"], data(client)) == before
    assert (BOB, P08) in before[0] and (ALICE, P01) not in before[0]


def test_an_unknown_name_does_not_show_where_the_server_is_installed(client: FlaskClient) -> None:
    (error,) = switch(client, {"name": "nope"}).get_json()["errors"]
    assert (
        error["detail"]
        == "nope.yaml: unknown scenario 'nope'; available scenarios: default, edge-cases, empty"
    )
    assert str(SCENARIOS_DIR.parent) not in json.dumps(error)


def test_every_problem_of_a_scenario_is_an_error_object(client: FlaskClient) -> None:
    second = BAD_STATUS.replace("    name: X\n", "    name: ''\n")
    errors = switch(client, {"inline": second}).get_json()["errors"]
    assert [e["detail"] for e in errors] == [
        f"<inline>:{BAD_LINE - 2}: partners[0].name: '' should be non-empty",
        f"<inline>:{BAD_LINE}: partners[0].status: 'nope' is not one of "
        '["available", "coming_soon", "unavailable", "discontinued", null]',
    ]
    assert {(e["code"], e["source"]["pointer"]) for e in errors} == {("invalid_scenario", "/inline")}


def test_a_billion_laughs_document_is_refused_before_it_is_expanded(client: FlaskClient) -> None:
    lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    lines += [f"a{n}: &a{n} [{','.join([f'*a{n - 1}'] * 9)}]" for n in range(1, 10)]
    response = switch(client, "\n".join(lines) + "\n", ONE)
    assert response.status_code == 400
    assert response.get_json()["errors"][0][
        "detail"
    ] == f"<inline>: more than {MAX_ALIASES} YAML aliases" or (
        "YAML nodes once aliases are expanded" in response.get_json()["errors"][0]["detail"]
    )
    few_aliases = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    few_aliases += [
        f"a{n}: &a{n} [*a{n - 1},*a{n - 1},*a{n - 1},*a{n - 1},*a{n - 1},*a{n - 1}]" for n in range(1, 9)
    ]
    response = switch(client, "\n".join(few_aliases) + "\n", ONE)
    assert response.status_code == 400
    assert "YAML nodes once aliases are expanded" in response.get_json()["errors"][0]["detail"]


def test_the_partner_count_is_bounded(client: FlaskClient) -> None:
    many = [
        {"id": f"p-{n}", "name": f"P{n}", "categories": ["pos"]} for n in range(MAX_SCENARIO_PARTNERS + 1)
    ]
    scenario = {"businesses": [], "users": [], "partners": many}
    response = switch(client, {"inline": json.dumps(scenario, separators=(",", ":"))}, ONE)
    assert response.status_code == 400, response.get_data(as_text=True)[:500]
    assert f"at most {MAX_SCENARIO_PARTNERS} accepted" in response.get_json()["errors"][0]["detail"]
    response = switch(client, {"seed": 1, "partners": MAX_SCENARIO_PARTNERS + 1}, ONE)
    assert response.status_code == 422
    assert response.get_json()["errors"][0]["source"] == {"pointer": "/partners"}


def test_the_size_is_bounded_like_every_body() -> None:
    app: Flask = make_app(scenario="default", max_body_bytes=1000)
    response = switch(app.test_client(), EMPTY_YAML + "#" * 1000)
    assert response.status_code == 413


@pytest.mark.parametrize(
    ("body", "pointer"),
    [
        ({"name": "../../etc/passwd"}, "/name"),
        ({"name": "default", "seed": 1}, ""),
        ({}, ""),
        ({"seed": "one"}, "/seed"),
        ({"partners": 3}, ""),
    ],
    ids=["path-as-name", "two-kinds", "empty", "bad-seed", "partners-alone"],
)
def test_a_malformed_request_is_refused_by_the_admin_contract(
    client: FlaskClient, body: Any, pointer: str
) -> None:
    response = switch(client, body)
    assert response.status_code == 422, response.get_data(as_text=True)
    errors = response.get_json()["errors"]  # partners alone breaks two rules: both are named
    assert {error["code"] for error in errors} == {"invalid_body"}
    assert errors[0]["source"] == {"pointer": pointer}
    assert data(client)["source"] == "scenario default"


def test_another_media_type_is_a_415(client: FlaskClient) -> None:
    response = client.put("/__admin/scenario", data="name: empty", content_type="text/plain")
    assert response.status_code == 415
    assert response.get_json()["errors"][0]["source"] == {"header": "Content-Type"}


def test_requests_in_flight_see_one_data_set_whole_while_the_default_switches_back_and_forth(
    app: Flask,
) -> None:
    """Readers list every partner with users included while another thread switches the default data set
    between two scenarios: each page is wholly one data set or the other (its count, its items, the
    users it includes), never a 500 and never a mix."""
    sizes = {"default": 14, "edge-cases": 33}
    errors: list[str] = []
    done = threading.Event()
    previous = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)

    def reader() -> None:
        client = app.test_client()
        while not done.is_set():
            response = client.get(f"{API}/available?per_page=100&include=users")
            if response.status_code != 200:
                errors.append(f"{response.status_code}: {response.get_data(as_text=True)[:200]}")
                continue
            page = response.get_json()
            total, listed = page["meta"]["total-count"], len(page["data"])
            if listed != total or total not in (10, 24):  # what the default user may see of each set
                errors.append(f"a page of {listed} items says {total}")

    def switcher() -> None:
        client = app.test_client()
        for n in range(20):
            name = ("edge-cases", "default")[n % 2]
            if client.put("/__admin/scenario", json={"name": name}).status_code != 200:
                errors.append(f"switching to {name} failed")
        done.set()

    threads = [threading.Thread(target=reader) for _ in range(2)] + [threading.Thread(target=switcher)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
    finally:
        done.set()
        sys.setswitchinterval(previous)
    assert errors == []
    assert data(app.test_client())["partners"] == sizes["default"]


def test_an_inline_scenario_over_the_file_size_limit_is_refused() -> None:
    app: Flask = make_app(scenario="default", max_body_bytes=MAX_BYTES + MIB)
    response = switch(app.test_client(), EMPTY_YAML + "#" * MAX_BYTES + "\n", ONE)
    assert response.status_code == 400, response.get_data(as_text=True)[:300]
    (error,) = response.get_json()["errors"]
    assert error["detail"] == "<inline>: the scenario is over 5 MB; use Faker data for volume"
    assert error["source"] == {"pointer": ""}


def test_switches_to_the_same_faker_data_share_one_data_set(app: Flask) -> None:
    """Faker data is generated once per seed and size while it is served (10,000 partners take about
    2 s of CPU): another session or a later switch asking for the same does not pay again."""
    settings = app.config["MOCKSERVER_SETTINGS"]
    first, _, _ = requested_dataset({"seed": 5, "partners": 300}, settings, SPEC)
    again, _, _ = requested_dataset({"seed": 5, "partners": 300}, settings, SPEC)
    other, _, _ = requested_dataset({"seed": 6, "partners": 300}, settings, SPEC)
    assert again is first
    assert other is not first and other.partners != first.partners


# Over a live server: hostile scenarios sent inline


ADDRESS_SPACE = 2 * 1024**3
BOUNDED_SERVER = f"""
import resource, sys
resource.setrlimit(resource.RLIMIT_AS, ({ADDRESS_SPACE}, {ADDRESS_SPACE}))
from mockserver.cli import cli
cli(sys.argv[1:], prog_name="mockserver")
"""
"""`python -m mockserver` within 2 GiB of address space: a scenario that would take all the memory
fails the test quickly instead of starving the machine."""
MAX_SECONDS = 5.0
MAX_GROWTH_MIB = 64
RECURSIVE = "the alias *a is inside the node it names (a recursive alias)"
TOO_DEEP = f"nested more than {MAX_DEPTH} levels deep"


def tree_rss_mib(pid: int) -> float:
    """RSS of a process and all its descendants (granian's workers), from /proc."""
    parents: dict[int, list[int]] = {}
    for entry in filter(str.isdigit, os.listdir("/proc")):
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        parents.setdefault(int(stat.rsplit(")", 1)[1].split()[1]), []).append(int(entry))
    total_kib, todo = 0, [pid]
    while todo:
        current = todo.pop()
        todo += parents.get(current, [])
        try:
            status = Path(f"/proc/{current}/status").read_text()
        except OSError:
            continue
        total_kib += sum(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:"))
    return total_kib / 1024


@pytest.fixture(scope="module")
@needs("live")
def bounded_live() -> Iterator[LiveServer]:
    server = LiveServer.start("--scenario", "default", command=[sys.executable, "-c", BOUNDED_SERVER])
    yield server
    server.stop()


HOSTILE_INLINE = {
    "recursive-sequence": ("a: &a [*a]\n", 1, RECURSIVE),
    "recursive-merge": ("a: &a {<<: *a}\n", 1, RECURSIVE),
    "block-nesting-990": (
        "".join("  " * n + "-\n" for n in range(990)) + "  " * 990 + "- 1\n",
        101,
        TOO_DEEP,
    ),
    "flow-nesting-990": ("[" * 990 + "]" * 990, 1, TOO_DEEP),
    "flow-nesting-200000": ("[" * 200_000 + "]" * 200_000, 1, TOO_DEEP),
}


@pytest.mark.parametrize("wrapped", [False, True], ids=["yaml-body", "json-inline"])
@pytest.mark.parametrize(("text", "line", "message"), HOSTILE_INLINE.values(), ids=HOSTILE_INLINE.keys())
def test_a_recursive_or_deeply_nested_scenario_is_refused_quickly_within_bounded_memory(
    bounded_live: LiveServer, text: str, line: int, message: str, wrapped: bool
) -> None:
    """The answer names the line, comes within MAX_SECONDS, the server's processes grow by less than
    MAX_GROWTH_MIB, and the data served stays the one before."""
    pid = bounded_live.process.pid
    before = tree_rss_mib(pid)
    body, content_type = (
        (json.dumps({"inline": text}), "application/json") if wrapped else (text, "application/yaml")
    )
    started = time.perf_counter()
    reply = bounded_live.admin("PUT", "/__admin/scenario", body, {"Content-Type": content_type}, timeout=30)
    elapsed = time.perf_counter() - started
    assert reply.status == 400, reply.text()
    (error,) = reply.json()["errors"]
    assert error["code"] == "invalid_scenario"
    assert error["detail"] == f"<inline>:{line}: {message}"
    assert error["source"] == {"pointer": "/inline" if wrapped else ""}
    assert elapsed < MAX_SECONDS, f"{elapsed:.2f} s"
    assert tree_rss_mib(pid) - before < MAX_GROWTH_MIB, f"{before:.0f} -> {tree_rss_mib(pid):.0f} MiB"
    assert bounded_live.get_json("/__admin/data")["source"] == "scenario default"
    assert bounded_live.request("GET", f"{API}/available").status == 200
