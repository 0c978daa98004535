"""The mutable state behind the write operations: click events, user-partner links, reset, journal.

Writes are checked through the API that serves them (the 201/200 answers, later GETs and list
operations) and through `/__admin`, and under concurrency (16 threads, one test client each).
"""

from __future__ import annotations

import json
import random
import re
import threading
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from support import (
    ALICE,
    API,
    AS_ALICE,
    AS_BOB,
    B1,
    B2,
    BOB,
    INITIAL_LINKS,
    JSON,
    P01,
    P02,
    P03,
    P04,
    P05,
    P07,
    P08,
    PARTNERS,
    click_events,
    links,
    make_app,
    post_click,
    send,
)
from werkzeug.test import TestResponse

ALICE_RESOURCE = {
    "id": ALICE,
    "type": "users",
    "attributes": {"first-name": "Alice", "last-name": "Martin", "email": "alice@goldenfork.example.com"},
}
BOB_RESOURCE = {
    "id": BOB,
    "type": "users",
    "attributes": {"first-name": "Bob", "last-name": "Okafor", "email": "bob@harbourandvine.example.com"},
}
ISO_UTC = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$")


# --------------------------------------------------------------------------------------------------
# helpers


@pytest.fixture
def app(state_settings: dict[str, Any]) -> Flask:
    """The default scenario, its state in memory and in Redis (each test runs on both)."""
    return make_app(scenario="default", **state_settings)


def connect(client: FlaskClient, partner_id: str, headers: dict[str, str] | None = None) -> TestResponse:
    return send(client, "PATCH", f"{API}/{partner_id}/connect", headers=headers)


def disconnect(client: FlaskClient, partner_id: str, headers: dict[str, str] | None = None) -> TestResponse:
    return send(client, "DELETE", f"{API}/{partner_id}/connect", headers=headers)


MINIMAL = {"Prefer": "return=minimal"}


def get_partner(
    client: FlaskClient, partner_id: str, headers: dict[str, str] | None = None, include: str | None = None
) -> dict[str, Any]:
    url = f"{API}/{partner_id}" + (f"?include={include}" if include else "")
    response = send(client, "GET", url, headers=headers)
    assert response.status_code == 200, response.get_data(as_text=True)
    document: dict[str, Any] = response.get_json()
    return document


def linked(client: FlaskClient, partner_id: str, headers: dict[str, str] | None = None) -> bool:
    value = get_partner(client, partner_id, headers)["data"]["attributes"]["user-integration-requested"]
    assert isinstance(value, bool)
    return value


def journal_count(client: FlaskClient, query: str = "") -> int:
    response = send(client, "GET", f"/__admin/requests/count{query}")
    assert response.status_code == 200
    count: int = response.get_json()["count"]
    return count


def list_flags(client: FlaskClient, url: str, headers: dict[str, str] | None = None) -> dict[str, bool]:
    """partner id -> user-integration-requested, as a list operation shows it."""
    sep = "&" if "?" in url else "?"
    response = send(client, "GET", f"{url}{sep}per_page=100", headers=headers)
    assert response.status_code == 200, response.get_data(as_text=True)
    return {p["id"]: p["attributes"]["user-integration-requested"] for p in response.get_json()["data"]}


LIST_URLS = [
    f"{API}?business_uuid={B1}",
    f"{API}?business_uuid={B2}",
    f"{API}/available",
    f"{API}/wholesalers",
]


# --------------------------------------------------------------------------------------------------
# POST click_event


def test_click_event_answers_201_with_the_created_document(client: FlaskClient) -> None:
    before = datetime.now(UTC).replace(microsecond=0)
    response = post_click(client, partner_id=P01)
    after = datetime.now(UTC)
    assert response.status_code == 201, response.get_data(as_text=True)
    assert response.mimetype == JSON
    document = response.get_json()
    assert set(document) == {"data"}
    data = document["data"]
    assert set(data) == {"id", "type", "attributes", "relationships"}
    assert uuid.UUID(data["id"]).version == 4
    assert str(uuid.UUID(data["id"])) == data["id"]
    assert data["type"] == "partner_click_events"
    assert set(data["attributes"]) == {"event-type", "created-at"}
    assert data["attributes"]["event-type"] == "website"
    created_at = data["attributes"]["created-at"]
    assert ISO_UTC.match(created_at), created_at
    created = datetime.fromisoformat(created_at.replace("Z", "+00:00"))
    assert before - timedelta(seconds=1) <= created <= after + timedelta(seconds=1)
    assert data["relationships"] == {
        "partner": {"data": {"type": "partners", "id": P01}},
        "user": {"data": {"type": "users", "id": ALICE}},
    }


def test_click_event_is_stored(client: FlaskClient) -> None:
    assert click_events(client) == []
    first = post_click(client, partner_id=P01).get_json()["data"]
    assert click_events(client) == [first]
    second = post_click(
        client,
        {"data": {"type": "partner_click_events", "attributes": {"event_type": "video"}}},
        partner_id=P02,
    )
    assert second.status_code == 201
    assert click_events(client) == [first, second.get_json()["data"]]
    assert first["id"] != second.get_json()["data"]["id"]
    assert second.get_json()["data"]["attributes"]["event-type"] == "video"
    assert second.get_json()["data"]["relationships"]["partner"]["data"]["id"] == P02
    # Clicks do not touch links.
    assert links(client) == INITIAL_LINKS


RELATIONSHIP_FORMS = {
    "none": None,
    "empty": {},
    "jsonapi-partners": {"partner": {"data": {"type": "partners", "id": P07}}},
    "jsonapi-partner": {"partner": {"data": {"type": "partner", "id": P07}}},
    "jsonapi-id-only": {"partner": {"data": {"id": P07}}},
    "jsonapi-upper-case-id": {"partner": {"data": {"type": "partners", "id": P07.upper()}}},
    "flat-partners": {"partner": {"type": "partners", "id": P07}},
    "flat-partner": {"partner": {"type": "partner", "id": P07}},
    "flat-id-only": {"partner": {"id": P07}},
    "flat-upper-case-id": {"partner": {"id": P07.upper()}},
    "both-forms": {"partner": {"data": {"type": "partners", "id": P07}, "type": "partner", "id": P07}},
}


@pytest.mark.parametrize("form", sorted(RELATIONSHIP_FORMS))
@pytest.mark.parametrize(
    "content_type", [JSON, "application/vnd.api+json", "application/json; charset=utf-8"]
)
def test_click_event_accepts_each_relationship_form(
    client: FlaskClient, form: str, content_type: str
) -> None:
    data: dict[str, Any] = {"type": "partner_click_events", "attributes": {"event_type": "video"}}
    if RELATIONSHIP_FORMS[form] is not None:
        data["relationships"] = RELATIONSHIP_FORMS[form]
    response = post_click(client, {"data": data}, partner_id=P07, content_type=content_type)
    assert response.status_code == 201, response.get_data(as_text=True)
    created = response.get_json()["data"]
    assert created["relationships"]["partner"] == {"data": {"type": "partners", "id": P07}}
    assert created["attributes"]["event-type"] == "video"
    assert click_events(client) == [created]


@pytest.mark.parametrize(
    ("headers", "user"),
    [(None, ALICE), (AS_ALICE, ALICE), (AS_BOB, BOB)],
    ids=["default-user", "alice-token", "bob-token"],
)
def test_click_event_records_the_current_user(
    client: FlaskClient, headers: dict[str, str] | None, user: str
) -> None:
    response = post_click(client, partner_id=P04, headers=headers)
    assert response.status_code == 201
    assert response.get_json()["data"]["relationships"]["user"] == {"data": {"type": "users", "id": user}}
    [stored] = click_events(client)
    assert stored["relationships"]["user"]["data"]["id"] == user


def test_click_events_of_both_users_are_kept_apart(client: FlaskClient) -> None:
    for headers in (AS_ALICE, AS_BOB, AS_BOB, None):
        assert post_click(client, partner_id=P05, headers=headers).status_code == 201
    users = [event["relationships"]["user"]["data"]["id"] for event in click_events(client)]
    assert users == [ALICE, BOB, BOB, ALICE]
    assert len({event["id"] for event in click_events(client)}) == 4


# --------------------------------------------------------------------------------------------------
# PATCH / DELETE connect


def test_connect_answers_the_partner_with_the_user_linked(client: FlaskClient) -> None:
    before = get_partner(client, P08)
    assert before["data"]["attributes"]["user-integration-requested"] is False
    response = connect(client, P08)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == JSON
    document = response.get_json()
    assert document["data"]["id"] == P08
    assert document["data"]["type"] == "partners"
    assert document["data"]["attributes"]["user-integration-requested"] is True
    # Everything but the flag is the partner as GET serves it.
    expected = json.loads(json.dumps(before))
    expected["data"]["attributes"]["user-integration-requested"] = True
    assert document == expected
    # A later GET agrees, and names Alice among the partner's users.
    with_users = get_partner(client, P08, include="users")
    assert with_users["data"]["attributes"]["user-integration-requested"] is True
    assert with_users["data"]["relationships"]["users"]["data"] == [{"type": "users", "id": ALICE}]
    assert with_users["included"] == [ALICE_RESOURCE]
    assert links(client) == INITIAL_LINKS | {(ALICE, P08)}


@pytest.mark.parametrize("url", LIST_URLS)
def test_connect_and_disconnect_show_in_list_operations(client: FlaskClient, url: str) -> None:
    assert list_flags(client, url)[P08] is False
    assert connect(client, P08).status_code == 200
    assert list_flags(client, url)[P08] is True
    assert list_flags(client, url, AS_BOB)[P08] is False
    assert disconnect(client, P08).status_code == 200
    assert list_flags(client, url)[P08] is False


def test_list_with_include_users_shows_links(client: FlaskClient) -> None:
    assert connect(client, P08, AS_BOB).status_code == 200
    response = send(client, "GET", f"{API}/wholesalers?include=users&per_page=100")
    document = response.get_json()
    by_id = {p["id"]: p for p in document["data"]}
    assert by_id[P08]["relationships"]["users"]["data"] == [{"type": "users", "id": BOB}]
    assert BOB_RESOURCE in document["included"]


def test_connect_twice_is_idempotent(client: FlaskClient) -> None:
    first = connect(client, P08)
    second = connect(client, P08)
    assert (first.status_code, second.status_code) == (200, 200)
    assert first.get_json() == second.get_json()
    with_users = get_partner(client, P08, include="users")
    assert with_users["data"]["relationships"]["users"]["data"] == [{"type": "users", "id": ALICE}]
    assert with_users["included"] == [ALICE_RESOURCE]
    assert links(client) == INITIAL_LINKS | {(ALICE, P08)}


def test_connect_an_already_linked_partner(client: FlaskClient) -> None:
    response = connect(client, P02)
    assert response.status_code == 200
    assert response.get_json()["data"]["attributes"]["user-integration-requested"] is True
    assert links(client) == INITIAL_LINKS


def test_disconnect_answers_the_partner_with_the_user_unlinked(client: FlaskClient) -> None:
    """As PATCH does: the docs' sample reads the answer with `res.json()`."""
    before = get_partner(client, P02)
    assert before["data"]["attributes"]["user-integration-requested"] is True
    response = disconnect(client, P02)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == JSON
    assert "Preference-Applied" not in response.headers
    # Everything but the flag is the partner as GET serves it.
    expected = json.loads(json.dumps(before))
    expected["data"]["attributes"]["user-integration-requested"] = False
    assert response.get_json() == expected
    assert linked(client, P02) is False
    with_users = get_partner(client, P02, include="users")
    assert with_users["data"]["relationships"]["users"]["data"] == []
    assert with_users["included"] == []
    for url in LIST_URLS:
        flags = list_flags(client, url)
        if P02 in flags:
            assert flags[P02] is False, url
    assert links(client) == INITIAL_LINKS - {(ALICE, P02)}


def test_disconnect_when_not_linked_answers_the_same_and_changes_nothing(client: FlaskClient) -> None:
    unchanged = get_partner(client, P08)
    for _ in range(2):
        response = disconnect(client, P08)
        assert response.status_code == 200
        assert response.get_json() == unchanged
    assert links(client) == INITIAL_LINKS


@pytest.mark.parametrize(
    "prefer",
    ["return=minimal", "RETURN=Minimal", 'return="minimal"', "respond-async, return=minimal; x=1"],
)
def test_disconnect_with_prefer_return_minimal_is_a_bare_204(client: FlaskClient, prefer: str) -> None:
    """RFC 7240: the client asks for no representation; the answer says it honoured that."""
    response = disconnect(client, P02, {"Prefer": prefer})
    assert response.status_code == 204
    assert response.get_data() == b""
    assert "Content-Type" not in response.headers
    assert response.headers["Preference-Applied"] == "return=minimal"
    assert linked(client, P02) is False
    assert disconnect(client, P02, {"Prefer": prefer}).status_code == 204  # not linked: the same
    assert links(client) == INITIAL_LINKS - {(ALICE, P02)}


@pytest.mark.parametrize(
    ("prefer", "applied"),
    [
        ("return=representation", "return=representation"),
        ("return=representation, return=minimal", "return=representation"),  # the first one counts
        ("return=everything", None),
        ("respond-async", None),
        ("", None),
    ],
)
def test_disconnect_with_other_preferences_answers_the_partner(
    client: FlaskClient, prefer: str, applied: str | None
) -> None:
    response = disconnect(client, P02, {"Prefer": prefer})
    assert response.status_code == 200
    assert response.get_json()["data"]["attributes"]["user-integration-requested"] is False
    assert response.headers.get("Preference-Applied") == applied


def test_connect_ignores_prefer_return_minimal(client: FlaskClient) -> None:
    """Only DELETE has a 204 to offer; PATCH answers the partner whatever the client prefers."""
    response = send(client, "PATCH", f"{API}/{P08}/connect", headers=MINIMAL)
    assert response.status_code == 200
    assert response.get_json()["data"]["attributes"]["user-integration-requested"] is True


def test_disconnect_then_connect_again(client: FlaskClient) -> None:
    assert disconnect(client, P03).status_code == 200
    assert connect(client, P03).status_code == 200
    assert disconnect(client, P03).status_code == 200
    assert disconnect(client, P03, MINIMAL).status_code == 204
    assert connect(client, P03).status_code == 200
    assert links(client) == INITIAL_LINKS


def test_each_users_links_are_independent(client: FlaskClient) -> None:
    assert connect(client, P08, AS_ALICE).status_code == 200
    assert linked(client, P08, AS_ALICE) is True
    assert linked(client, P08, AS_BOB) is False

    response = connect(client, P08, AS_BOB)
    assert response.get_json()["data"]["attributes"]["user-integration-requested"] is True
    users = get_partner(client, P08, include="users")
    assert users["data"]["relationships"]["users"]["data"] == [
        {"type": "users", "id": ALICE},
        {"type": "users", "id": BOB},
    ]
    assert users["included"] == [ALICE_RESOURCE, BOB_RESOURCE]

    assert disconnect(client, P08, AS_ALICE).status_code == 200
    assert linked(client, P08, AS_ALICE) is False
    assert linked(client, P08, AS_BOB) is True

    # Bob unlinking a partner only Alice is linked to leaves Alice's link alone.
    assert disconnect(client, P02, AS_BOB).status_code == 200
    assert linked(client, P02, AS_ALICE) is True
    # Without a header the request acts as Alice (the default user).
    assert linked(client, P02) is True
    assert linked(client, P04) is False
    assert linked(client, P04, AS_BOB) is True

    assert links(client) == INITIAL_LINKS | {(BOB, P08)}


# --------------------------------------------------------------------------------------------------
# /__admin/reset


def test_reset_restores_initial_links_and_clears_click_events(client: FlaskClient) -> None:
    assert connect(client, P08).status_code == 200
    assert connect(client, P01, AS_BOB).status_code == 200
    assert disconnect(client, P02).status_code == 200
    assert disconnect(client, P04, AS_BOB | MINIMAL).status_code == 204
    assert post_click(client, partner_id=P01).status_code == 201
    assert post_click(client, partner_id=P03, headers=AS_BOB).status_code == 201
    assert links(client) == {(ALICE, P03), (ALICE, P08), (BOB, P01)}
    assert len(click_events(client)) == 2
    assert journal_count(client) > 0

    response = send(client, "POST", "/__admin/reset")
    assert response.status_code == 204
    assert response.get_data() == b""

    assert journal_count(client) == 0
    assert click_events(client) == []
    assert links(client) == INITIAL_LINKS
    assert linked(client, P02) is True
    assert linked(client, P04, AS_BOB) is True
    assert linked(client, P08) is False
    # The mock keeps working after a reset.
    assert post_click(client, partner_id=P01).status_code == 201
    assert len(click_events(client)) == 1


def test_reset_of_an_untouched_server_is_harmless(client: FlaskClient) -> None:
    assert send(client, "POST", "/__admin/reset").status_code == 204
    assert send(client, "POST", "/__admin/reset").status_code == 204
    assert links(client) == INITIAL_LINKS
    assert click_events(client) == []


# --------------------------------------------------------------------------------------------------
# /__admin/requests: the journal


def test_journal_lists_api_requests_but_not_admin_calls(client: FlaskClient) -> None:
    assert send(client, "POST", "/__admin/reset").status_code == 204
    calls = [
        (
            send(client, "GET", f"{API}?business_uuid={B1}&per_page=2"),
            "GET",
            API,
            f"business_uuid={B1}&per_page=2",
        ),
        (post_click(client, partner_id=P01), "POST", f"{API}/{P01}/click_event", ""),
        (post_click(client, {"data": {}}, partner_id=P01), "POST", f"{API}/{P01}/click_event", ""),
        (connect(client, P08), "PATCH", f"{API}/{P08}/connect", ""),
        (disconnect(client, P08), "DELETE", f"{API}/{P08}/connect", ""),
        (send(client, "GET", "/api/v1/nope"), "GET", "/api/v1/nope", ""),
    ]
    assert [c[0].status_code for c in calls] == [200, 201, 422, 200, 200, 404]
    click_events(client)  # an admin call: not journaled

    response = send(client, "GET", "/__admin/requests")
    assert response.status_code == 200
    entries = response.get_json()["requests"]
    assert [{k: e[k] for k in ("method", "path", "query", "status")} for e in entries] == [
        {"method": m, "path": p, "query": q, "status": r.status_code} for r, m, p, q in calls
    ]
    assert [e["operation_id"] for e in entries] == [
        "listPartners",
        "createPartnerClickEvent",
        "createPartnerClickEvent",
        "connectPartner",
        "disconnectPartner",
        None,
    ]
    # The refused body and the unknown path break the contract; their error documents are kept.
    assert [e["violation"] for e in entries] == [False, False, True, False, False, True]
    assert [[item["code"] for item in e["errors"]] for e in entries] == [
        [],
        [],
        ["invalid_body", "invalid_body"],  # /data/type and /data/relationships are missing
        [],
        [],
        ["not_found"],
    ]
    assert json.loads(entries[1]["body"])["data"]["type"] == "partner_click_events"
    assert entries[0]["body"] is None
    for entry in entries:
        assert entry["session"] is None and entry["body_truncated"] is False
        assert isinstance(entry["duration_ms"], (int, float)) and entry["duration_ms"] >= 0
        assert entry["time"].endswith("Z") and entry["headers"]["Host"] == "localhost"

    assert journal_count(client) == 6
    assert journal_count(client, "?method=POST") == 2
    assert journal_count(client, "?method=post") == 2
    assert journal_count(client, "?method=PATCH") == 1
    assert journal_count(client, "?method=PUT") == 0
    assert journal_count(client, f"?path={API}/{P01}/click_event") == 2
    assert journal_count(client, f"?method=POST&path={API}/{P08}/connect") == 0
    filtered = send(client, "GET", "/__admin/requests?method=POST").get_json()["requests"]
    assert [e["status"] for e in filtered] == [201, 422]


def test_journal_count_of_posts_grows_with_each_post(client: FlaskClient) -> None:
    assert journal_count(client, "?method=POST") == 0
    for n in range(1, 4):
        post_click(client, partner_id=P01)
        assert journal_count(client, "?method=POST") == n
    send(client, "GET", f"{API}/{P01}")
    assert journal_count(client, "?method=POST") == 3
    assert journal_count(client, "?method=GET") == 1


# --------------------------------------------------------------------------------------------------
# concurrency


THREADS = 16
WRITES_PER_THREAD = 30


def test_concurrent_writes_leave_a_consistent_state(state_settings: dict[str, Any]) -> None:
    """16 threads, each with its own test client and its own (user, partner) pair, write at once.

    Each thread connects, disconnects and clicks in a random order and reads its own writes back.
    At the end: one stored click event per 201, ids unique, and every pair linked exactly when its
    last write was a connect (pairs nobody wrote keep their initial state).
    """
    app: Flask = make_app(scenario="default", journal_size=THREADS * WRITES_PER_THREAD * 4, **state_settings)
    tokens = {ALICE: AS_ALICE, BOB: AS_BOB}
    # Thread i owns (user, partner): 8 partners x 2 users, all distinct.
    pairs = [((ALICE, BOB)[i % 2], PARTNERS[i // 2]) for i in range(THREADS)]
    assert len(set(pairs)) == THREADS
    start = threading.Barrier(THREADS)

    def worker(index: int) -> dict[str, Any]:
        user, partner = pairs[index]
        headers = tokens[user]
        rng = random.Random(index)
        outcome: dict[str, Any] = {"clicks": 0, "connects": 0, "disconnects": 0, "last": None, "problems": []}
        with app.test_client() as client:
            start.wait(timeout=30)
            for step in range(WRITES_PER_THREAD):
                action = rng.choice(["connect", "disconnect", "click"])
                if action == "click":
                    response = post_click(client, partner_id=partner, headers=headers)
                    if response.status_code == 201:
                        outcome["clicks"] += 1
                        data = response.get_json()["data"]
                        if data["relationships"]["user"]["data"]["id"] != user:
                            outcome["problems"].append(f"step {step}: click recorded for another user")
                    else:
                        outcome["problems"].append(f"step {step}: click -> {response.status_code}")
                    continue
                if action == "connect":
                    response = connect(client, partner, headers=headers)
                    expected_status, now_linked = 200, True
                    outcome["connects"] += 1
                else:
                    response = disconnect(client, partner, headers=headers)
                    expected_status, now_linked = 200, False
                    outcome["disconnects"] += 1
                if response.status_code != expected_status:
                    outcome["problems"].append(f"step {step}: {action} -> {response.status_code}")
                outcome["last"] = now_linked
                # Nobody else writes this pair: a read must see this thread's own write.
                seen = linked(client, partner, headers)
                if seen is not now_linked:
                    outcome["problems"].append(f"step {step}: after {action} read {seen}")
        return outcome

    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        outcomes = list(pool.map(worker, range(THREADS)))

    assert [o["problems"] for o in outcomes] == [[] for _ in outcomes]

    with app.test_client() as client:
        events = click_events(client)
        assert len(events) == sum(o["clicks"] for o in outcomes)
        assert len({e["id"] for e in events}) == len(events)
        per_pair = Counter(
            (e["relationships"]["user"]["data"]["id"], e["relationships"]["partner"]["data"]["id"])
            for e in events
        )
        clicks_per_pair = {pair: o["clicks"] for pair, o in zip(pairs, outcomes, strict=True) if o["clicks"]}
        assert per_pair == Counter(clicks_per_pair)

        expected_links = set()
        for pair in {(u, p) for u in (ALICE, BOB) for p in PARTNERS}:
            if pair in pairs:
                last = outcomes[pairs.index(pair)]["last"]
                is_linked = (pair in INITIAL_LINKS) if last is None else last
            else:
                is_linked = pair in INITIAL_LINKS
            if is_linked:
                expected_links.add(pair)
        assert links(client) == expected_links

        assert journal_count(client, "?method=POST") == sum(o["clicks"] for o in outcomes)
        assert journal_count(client, "?method=PATCH") == sum(o["connects"] for o in outcomes)
        assert journal_count(client, "?method=DELETE") == sum(o["disconnects"] for o in outcomes)
