"""Per-test isolation with `X-Mock-Session`: each session reads and changes only its own links and
click events, forked lazily from the data set; the default (no header) is one more such world."""

from __future__ import annotations

import sys
import threading
import time
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from support import ALICE, API, AS_ALICE, AS_BOB, BOB, P01, P02, P04, P08, VALID_CLICK, make_app, plain_client
from test_journal import tree_rss_mib

from mockserver.state.sessions import Sessions
from mockserver.state.store import Store, current_session
from mockserver.testing.live import LiveServer

PARTNERS = [P01, P02, P04, P08]


@pytest.fixture
def app(state_settings: dict[str, Any]) -> Flask:
    """The default scenario, its state in memory and in Redis (each test runs on both)."""
    return make_app(scenario="default", **state_settings)


@pytest.fixture
def memory_app() -> Flask:
    return make_app(scenario="default")


def session(name: str, auth: dict[str, str] | None = None) -> dict[str, str]:
    return {"X-Mock-Session": name, **(auth or AS_ALICE)}


def linked(client: FlaskClient, partner: str, headers: dict[str, str]) -> tuple[bool, list[str]]:
    """(the viewer's user-integration-requested flag, ids of users linked) as that session sees them."""
    response = client.get(f"{API}/{partner}?include=users", headers=headers)
    assert response.status_code == 200, response.get_data(as_text=True)
    data = response.get_json()["data"]
    users = [ref["id"] for ref in data["relationships"]["users"]["data"]]
    return data["attributes"]["user-integration-requested"], users


def stored_events(client: FlaskClient, headers: dict[str, str] | None = None) -> dict[str, Any]:
    document: dict[str, Any] = client.get("/__admin/click-events", headers=headers or {}).get_json()
    return document


def test_a_link_made_in_one_session_shows_only_there(client: FlaskClient) -> None:
    before = linked(client, P08, AS_ALICE)
    assert before == (False, [])
    assert client.patch(f"{API}/{P08}/connect", headers=session("a")).status_code == 200
    assert linked(client, P08, session("a")) == (True, [ALICE])
    assert linked(client, P08, session("b")) == before
    assert linked(client, P08, AS_ALICE) == before  # the default session
    assert linked(client, P08, session("a", AS_BOB)) == (False, [ALICE])


def test_an_unlink_in_one_session_leaves_the_others_linked(client: FlaskClient) -> None:
    """P02 starts linked to Alice (default scenario)."""
    assert linked(client, P02, AS_ALICE)[0] is True
    assert client.delete(f"{API}/{P02}/connect", headers=session("a")).status_code == 200
    assert linked(client, P02, session("a"))[0] is False
    assert linked(client, P02, session("b"))[0] is True
    assert linked(client, P02, AS_ALICE)[0] is True


def test_lists_show_each_session_its_own_flags(client: FlaskClient) -> None:
    client.patch(f"{API}/{P08}/connect", headers=session("a"))
    for headers, expected in ((session("a"), True), (session("b"), False), (AS_ALICE, False)):
        page = client.get(f"{API}/available?per_page=100&include=users", headers=headers).get_json()
        flags = {p["id"]: p["attributes"]["user-integration-requested"] for p in page["data"]}
        if P08 in flags:
            assert flags[P08] is expected
        users = {i["id"] for i in page.get("included", []) if i["type"] == "users"}
        assert (ALICE in users) == any(flags.values()), users


def test_click_events_and_resets_are_per_session(client: FlaskClient) -> None:
    for headers in (session("a"), session("a"), session("b")):
        assert client.post(f"{API}/{P01}/click_event", json=VALID_CLICK, headers=headers).status_code == 201
    assert stored_events(client, session("a"))["meta"]["stored"] == 2
    assert stored_events(client, session("b"))["meta"]["stored"] == 1
    assert stored_events(client)["meta"]["stored"] == 0
    assert client.post("/__admin/reset", headers=session("a")).status_code == 204
    assert stored_events(client, session("a"))["meta"]["stored"] == 0
    assert stored_events(client, session("b"))["meta"]["stored"] == 1


def test_the_journal_records_and_filters_by_session(client: FlaskClient) -> None:
    client.get(f"{API}/{P01}", headers=session("a"))
    client.get(f"{API}/{P02}", headers=session("b"))
    client.get(f"{API}/{P04}")
    every = client.get("/__admin/requests").get_json()["requests"]
    assert [(e["path"], e["session"]) for e in every] == [
        (f"{API}/{P01}", "a"),
        (f"{API}/{P02}", "b"),
        (f"{API}/{P04}", None),
    ]
    only_a = client.get("/__admin/requests", headers={"X-Mock-Session": "a"}).get_json()["requests"]
    assert [e["path"] for e in only_a] == [f"{API}/{P01}"]
    client.post("/__admin/reset", headers={"X-Mock-Session": "a"})
    assert client.get("/__admin/requests/count").get_json() == {"count": 2}


@pytest.mark.parametrize("bad", ["", "a" * 65, "a b", "ä", "a/b", "<script>"])
def test_a_malformed_session_id_is_a_400_naming_the_header(client: FlaskClient, bad: str) -> None:
    for method, path in (("GET", f"{API}/{P01}"), ("POST", "/__admin/reset")):
        response = client.open(path, method=method, headers={"X-Mock-Session": bad})
        assert response.status_code == 400, response.get_data(as_text=True)
        (error,) = response.get_json()["errors"]
        assert error["code"] == "invalid_session"
        assert error["source"] == {"header": "X-Mock-Session"}


def test_a_session_id_outside_ascii_is_named_as_such(client: FlaskClient) -> None:
    """A WSGI server hands such bytes on as latin-1 characters (granian's front as a stand-in): the
    detail says what is wrong rather than echo them."""
    response = client.patch(f"{API}/{P01}/connect", headers={"X-Mock-Session": "t\u00c3\u00abst"})
    assert response.status_code == 400
    assert response.get_json()["errors"] == [
        {
            "status": "400",
            "code": "invalid_session",
            "title": "Invalid session id",
            "detail": "X-Mock-Session must be 1 to 64 letters, digits or . _ ~ -, got bytes outside ASCII",
            "source": {"header": "X-Mock-Session"},
        }
    ]


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_idle_sessions_expire_and_come_back_fresh(memory_app: Flask) -> None:
    clock = Clock()
    store: Store = current_session(memory_app).store
    sessions = Sessions(store, ttl=10, max_sessions=5, clock=clock)
    first = sessions.get("a")
    first.store.connect(BOB, P08)
    clock.now = 9
    assert sessions.get("a") is first  # used again: its idle time starts over
    clock.now = 18
    assert sessions.get("a") is first
    clock.now = 28.5
    fresh = sessions.get("a")
    assert fresh is not first
    assert fresh.store.linked_user_ids(P08) == frozenset()
    assert sessions.evicted == 1


def test_past_the_bound_the_least_recently_used_session_is_evicted(memory_app: Flask) -> None:
    clock = Clock()
    store: Store = current_session(memory_app).store
    sessions = Sessions(store, ttl=1000, max_sessions=2, clock=clock)
    a = sessions.get("a")
    a.store.connect(BOB, P08)
    sessions.get("b")
    clock.now = 1
    assert sessions.get("a") is a  # a is now the most recently used
    sessions.get("c")  # evicts b
    assert sessions.ids() == ["a", "c"]
    assert sessions.evicted == 1
    assert sessions.get("b").store.linked_user_ids(P08) == frozenset()
    assert sessions.ids() == ["c", "b"]  # and a, least recently used, went


def test_sessions_share_the_data_set_and_indexes(memory_app: Flask) -> None:
    store: Store = current_session(memory_app).store
    forked = store.fork()
    assert forked.index is store.index and forked.partners is store.partners
    forked.connect(BOB, P08)
    assert store.linked_user_ids(P08) == frozenset()


def test_interleaved_writes_in_several_sessions_never_leak(app: Flask) -> None:
    """Threads toggle links in their own session (switching threads often) while reading every flag."""
    names = [f"s{i}" for i in range(4)]
    errors: list[str] = []
    rounds = 30
    previous = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)

    def worker(index: int) -> None:
        client = app.test_client()
        mine = session(names[index])
        own_partner = PARTNERS[index]
        for step in range(rounds):
            connect = step % 2 == 0
            method = "PATCH" if connect else "DELETE"
            status = client.open(f"{API}/{own_partner}/connect", method=method, headers=mine).status_code
            if status != 200:
                errors.append(f"{names[index]}: {method} answered {status}")
            page = client.get(f"{API}/available?per_page=100&include=users", headers=mine).get_json()
            for partner in page["data"]:
                if partner["id"] in PARTNERS and partner["id"] != own_partner:
                    expected = partner["id"] in INITIALLY_ALICE
                    if partner["attributes"]["user-integration-requested"] is not expected:
                        errors.append(f"{names[index]} sees another session's link on {partner['id']}")
            flag, _ = linked(client, own_partner, mine)
            if flag is not connect:
                errors.append(f"{names[index]}: own link on {own_partner} is {flag}, expected {connect}")

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(len(names))]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        sys.setswitchinterval(previous)
    assert errors == []
    default_client = app.test_client()
    for partner in PARTNERS:
        assert linked(default_client, partner, AS_ALICE)[0] is (partner in INITIALLY_ALICE)


INITIALLY_ALICE = {P02}
"""Of PARTNERS, those linked to Alice in the default scenario (P03 is too, but is not used here)."""


# --------------------------------------------------------------------------------------------------
# a session id used again after its session was evicted or expired


def violations(client: FlaskClient, name: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = client.get(
        "/__admin/violations", headers={"X-Mock-Session": name}
    ).get_json()["violations"]
    return found


def journaled(client: FlaskClient, name: str) -> list[str]:
    document = client.get("/__admin/requests", headers={"X-Mock-Session": name}).get_json()
    return [f"{entry['path']}?{entry['query']}" for entry in document["requests"]]


@pytest.mark.parametrize("gone_by", ["eviction", "expiry"])
def test_a_session_id_used_again_starts_with_a_clean_journal(
    state_settings: dict[str, Any], gone_by: str
) -> None:
    """Test runs reuse session ids: one that asserts no violations must not see the violations of an
    earlier session of the same id that expired or was evicted. A request refused before it reached
    the session layer (a 400 of validation) belongs to the incarnation live when it came, or to the one
    it starts, so the new incarnation's own first violation is listed."""
    bound = {"max_sessions": 1} if gone_by == "eviction" else {"session_ttl": 1}
    app = make_app(scenario="default", **state_settings, **bound)
    client = plain_client(app)
    mine = session("reused")

    def make_it_go() -> None:
        if gone_by == "eviction":
            assert client.get(f"{API}/{P01}", headers=session("another")).status_code == 200
        else:
            time.sleep(2.2)

    assert client.get(f"{API}/available?page=x", headers=mine).status_code == 400
    assert client.get(f"{API}/{P02}", headers=mine).status_code == 200
    assert [v["query"] for v in violations(client, "reused")] == ["page=x"]
    make_it_go()
    assert violations(client, "reused") == []
    assert journaled(client, "reused") == []
    assert client.get(f"{API}/{P04}", headers=mine).status_code == 200
    assert client.get(f"{API}/available?page=y", headers=mine).status_code == 400
    assert journaled(client, "reused") == [f"{API}/{P04}?", f"{API}/available?page=y"]
    assert [v["query"] for v in violations(client, "reused")] == ["page=y"]
    make_it_go()
    assert client.get(f"{API}/available?page=z", headers=mine).status_code == 400  # its first request
    assert [v["query"] for v in violations(client, "reused")] == ["page=z"]
    every = [entry["query"] for entry in client.get("/__admin/requests").get_json()["requests"]]
    assert every.count("page=x") == every.count("page=y") == 1  # the journal itself keeps them all


# --------------------------------------------------------------------------------------------------
# one bound for the whole server on what sessions hold


def bounds(client: FlaskClient) -> dict[str, dict[str, int]]:
    document = client.get("/__admin/sessions").get_json()
    found: dict[str, dict[str, int]] = document["bounds"]
    return found


def test_the_click_events_of_every_session_stay_within_one_bound(state_settings: dict[str, Any]) -> None:
    """20 sessions post 5 click events each; the server keeps 40 in all: the newest 40, of the last
    eight sessions (before, each session could keep 40, and 1,000 sessions 1,000 times that)."""
    app = make_app(scenario="default", max_click_events=40, **state_settings)
    client = plain_client(app)
    names = [f"clicks-{n}" for n in range(20)]
    for name in names:
        for _ in range(5):
            assert (
                client.post(f"{API}/{P01}/click_event", json=VALID_CLICK, headers=session(name)).status_code
                == 201
            )
    stored = {name: stored_events(client, {"X-Mock-Session": name})["meta"] for name in names}
    assert sum(meta["stored"] for meta in stored.values()) == 40
    assert [meta["stored"] for meta in stored.values()] == [0] * 12 + [5] * 8
    assert [meta["dropped"] for meta in stored.values()] == [5] * 12 + [0] * 8
    assert all(meta["limit"] == 40 for meta in stored.values())
    assert bounds(client)["click_events"]["limit"] == 40
    assert bounds(client)["click_events"]["used"] == 40
    # A reset empties one session; new events still count against the one bound.
    assert client.post("/__admin/reset", headers={"X-Mock-Session": names[-1]}).status_code == 204
    assert bounds(client)["click_events"]["used"] == 35
    for name in ("late", "later"):
        for _ in range(5):
            response = client.post(f"{API}/{P01}/click_event", json=VALID_CLICK, headers=session(name))
            assert response.status_code == 201
    assert stored_events(client, {"X-Mock-Session": "later"})["meta"]["stored"] == 5
    assert bounds(client)["click_events"]["used"] <= 40


def test_the_rendered_partners_of_every_session_stay_within_one_bound() -> None:
    app = make_app(scenario="default", max_rendered=50)
    client = plain_client(app)
    for n in range(10):  # each page renders 10 partners
        response = client.get(f"{API}/available?per_page=100", headers=session(f"render-{n}"))
        assert response.status_code == 200 and len(response.get_json()["data"]) == 10
        assert bounds(client)["rendered_partners"]["used"] <= 50
    rendered = bounds(client)["rendered_partners"]
    assert rendered["limit"] == 50 and rendered["used"] >= 10 and rendered["dropped"] >= 5
    # Caching still works within the bound: the same page again is served from the cache.
    before = bounds(client)["rendered_partners"]
    client.get(f"{API}/available?per_page=100", headers=session("render-9"))
    assert bounds(client)["rendered_partners"] == before


def test_switched_data_sets_stay_within_one_bound(state_settings: dict[str, Any]) -> None:
    """Six sessions switch to Faker data sets of 30 partners; the bound is 100 partners: the least
    recently used switched sessions are evicted (in Redis: the worker forgets the data sets it built)."""
    app = make_app(scenario="default", max_switched_partners=100, **state_settings)
    client = plain_client(app)
    for n in range(6):
        headers = {"X-Mock-Session": f"switched-{n}", "Content-Type": "application/json"}
        response = client.put("/__admin/scenario", json={"seed": 100 + n, "partners": 30}, headers=headers)
        assert response.status_code == 200, response.get_data(as_text=True)
        assert bounds(client)["switched_partners"]["used"] <= 100
    assert bounds(client)["switched_partners"] == {"limit": 100, "used": 90}
    sources = [
        client.get("/__admin/data", headers={"X-Mock-Session": f"switched-{n}"}).get_json()["source"]
        for n in range(3, 6)
    ]
    assert sources == [f"Faker data (seed {100 + n}, 30 partners)" for n in range(3, 6)]
    if not state_settings:  # in memory, the evicted sessions start afresh on the default data set
        source = client.get("/__admin/data", headers={"X-Mock-Session": "switched-0"}).get_json()["source"]
        assert source == "scenario default"


@pytest.mark.live
def test_many_sessions_rendering_stay_within_the_rendered_bound_in_memory() -> None:
    """300 sessions each read a page of 100 partners from a live server, `--max-rendered 2000`: the
    caches of all sessions together hold 2,000 rendered partners at most, and the process tree grows by
    less than 20 MiB (each session cached its 100, 30,000 in all: it grew by about 54 MiB). Without the
    memo of answers, which keeps each session's page under a bound of its own (test_answer_memo)."""
    server = LiveServer.start(
        "--max-rendered", "2000", "--seed", "1", "--partners", "150", "--memo-answers", "0"
    )
    try:
        token = server.get_json("/__admin/data")["users"][0]["token"]
        connection = server.connection(timeout=30)

        def read_page(name: str) -> None:
            headers = {"Authorization": f"Bearer {token}", "X-Mock-Session": name}
            reply = server.request(
                "GET", f"{API}/available?per_page=100", headers=headers, connection=connection
            )
            assert reply.status == 200 and len(reply.json()["data"]) == 100, reply.text(200)

        for n in range(20):  # warm up
            read_page(f"warm-{n}")
        before = tree_rss_mib(server.process.pid)
        for n in range(300):
            read_page(f"page-{n}")
        grown = tree_rss_mib(server.process.pid) - before
        rendered = server.get_json("/__admin/sessions")["bounds"]["rendered_partners"]
        connection.close()
        assert rendered["limit"] == 2000 and rendered["used"] <= 2000
        print(f"\nRSS grew by {grown:.1f} MiB")
        assert grown < 20, f"RSS grew by {grown:.0f} MiB for 300 sessions' pages"
    finally:
        server.stop()
