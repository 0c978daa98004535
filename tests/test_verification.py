"""Verifying what a client sent: the journal's entries, `POST /__admin/requests/find` and `/count` with
patterns, the near-miss ranking when nothing matches, and `/__admin/violations`."""

from __future__ import annotations

import json
import random
import socket
import string
import threading
import time
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from raw_http import complete_responses, read_responses
from support import API, AS_BOB, JSON, P01, P08, VALID_CLICK, make_app, post_click, send

from mockserver.journal.log import MAX_BODY
from mockserver.testing.live import LiveServer, Reply

SESSION = {"X-Mock-Session": "verify-1"}


@pytest.fixture
def app(state_settings: dict[str, Any]) -> Flask:
    """The default scenario, its state in memory and in Redis (each test runs on both)."""
    return make_app(scenario="default", **state_settings)


def find(client: FlaskClient, scope: dict[str, str] | None = None, **pattern: Any) -> dict[str, Any]:
    """The answer to a pattern; `scope` is the request's own headers (a session), `headers=` a criterion."""
    response = client.post("/__admin/requests/find", json=pattern, headers=scope or {})
    assert response.status_code == 200, response.get_data(as_text=True)
    document: dict[str, Any] = response.get_json()
    return document


def count(client: FlaskClient, scope: dict[str, str] | None = None, **pattern: Any) -> int:
    response = client.post("/__admin/requests/count", json=pattern, headers=scope or {})
    assert response.status_code == 200, response.get_data(as_text=True)
    value: int = response.get_json()["count"]
    return value


@pytest.fixture
def traffic(client: FlaskClient) -> FlaskClient:
    """A few requests of a client under test: two lists, a click, a connect as Bob, an off-contract list."""
    assert client.get(f"{API}/available?page=1&per_page=5&filter[categories][]=pos").status_code == 200
    assert client.get(f"{API}/available?page=2&per_page=5").status_code == 200
    assert post_click(client, partner_id=P01).status_code == 201
    assert send(client, "PATCH", f"{API}/{P08}/connect", headers=AS_BOB).status_code == 200
    assert client.get(f"{API}/available?per_page=abc").status_code == 400
    return client


def test_find_by_method_path_and_query_subset(traffic: FlaskClient) -> None:
    found = find(traffic, method="GET", path=f"{API}/available", query={"page": "2"})
    assert [entry["query"] for entry in found["requests"]] == ["page=2&per_page=5"]
    assert found["near_misses"] == []
    assert count(traffic, method="get", path=f"{API}/available") == 3  # the method is case-insensitive
    # A list value must be every value of the parameter, in order.
    assert count(traffic, query={"filter[categories][]": ["pos"]}) == 1
    assert count(traffic, query={"filter[categories][]": ["pos", "crm"]}) == 0


def test_find_by_operation_id_status_and_path_pattern(traffic: FlaskClient) -> None:
    assert count(traffic, operation_id="listAvailablePartners") == 3
    assert count(traffic, operation_id="listAvailablePartners", status=400) == 1
    assert count(traffic, path_pattern=r"/api/v1/partners/[0-9a-f-]{36}/(connect|click_event)") == 2
    assert count(traffic, path_pattern=r"/api/v1/partners/[0-9a-f-]{36}") == 0  # the whole path matches


def test_find_by_headers_names_are_case_insensitive_and_tokens_are_never_stored(traffic: FlaskClient) -> None:
    assert count(traffic, method="PATCH", headers={"authorization": "Bearer"}) == 1
    assert count(traffic, headers={"Authorization": "Bearer bob-token"}) == 0
    entry = find(traffic, method="PATCH")["requests"][0]
    assert entry["headers"]["Authorization"] == "Bearer"
    assert "bob-token" not in json.dumps(traffic.get("/__admin/requests").get_json())


def test_find_by_json_body_subset(traffic: FlaskClient) -> None:
    assert count(traffic, body={"data": {"type": "partner_click_events"}}) == 1
    assert count(traffic, body={"data": {"attributes": {"event_type": "website"}}}) == 1
    assert count(traffic, body={"data": {"attributes": {"event_type": "phone"}}}) == 0
    assert count(traffic, body={"data": {"type": "partner_click_events", "id": "x"}}) == 0  # every key


def test_the_near_misses_rank_the_closest_first_and_say_what_differs(traffic: FlaskClient) -> None:
    found = find(traffic, method="GET", path=f"{API}/available", query={"page": "3", "per_page": "5"})
    assert found["requests"] == []
    misses = found["near_misses"]
    assert 1 <= len(misses) <= 5
    distances = [miss["distance"] for miss in misses]
    assert distances == sorted(distances)
    # The nearest: same method and path (weight 2 each), per_page right, page wrong (half the query,
    # weight 1) -> distance 0.5 / 5.
    nearest = misses[0]
    assert nearest["request"]["query"] in ("page=1&per_page=5&filter[categories][]=pos", "page=2&per_page=5")
    assert nearest["distance"] == pytest.approx(0.1, abs=1e-3)
    assert [d["field"] for d in nearest["differences"]] == ["query.page"]
    assert nearest["differences"][0]["expected"] == "3"
    # The POST to another path comes after every GET of the same path.
    by_query = {miss["request"]["query"]: miss for miss in misses}
    assert "per_page=abc" in by_query
    methods = [miss["request"]["method"] for miss in misses]
    assert methods.index("POST") > methods.index("GET") if "POST" in methods else True


def test_a_typo_in_the_path_is_nearer_than_another_operation(traffic: FlaskClient) -> None:
    misses = find(traffic, method="GET", path=f"{API}/availble")["near_misses"]
    assert misses[0]["request"]["path"] == f"{API}/available"
    assert misses[0]["differences"] == [
        {"field": "path", "expected": f"{API}/availble", "actual": f"{API}/available"}
    ]
    assert misses[0]["distance"] < 0.1
    last = misses[-1]
    assert last["request"]["path"] != f"{API}/available"


def test_body_differences_are_named_by_json_pointer(traffic: FlaskClient) -> None:
    misses = find(traffic, method="POST", body={"data": {"attributes": {"event_type": "phone"}}})[
        "near_misses"
    ]
    assert misses[0]["differences"] == [
        {"field": "body/data/attributes/event_type", "expected": "phone", "actual": "website"}
    ]
    assert misses[0]["distance"] == pytest.approx(
        1 / 3, abs=1e-3
    )  # method met (weight 2), body missed (weight 1)


def test_a_bad_pattern_is_a_json_api_error_naming_the_field(client: FlaskClient) -> None:
    response = client.post("/__admin/requests/find", json={"method": 1})
    assert response.status_code == 422
    assert response.get_json()["errors"][0]["source"] == {"pointer": "/method"}
    response = client.post("/__admin/requests/find", json={"nmae": "x"})
    assert response.status_code == 422
    assert response.get_json()["errors"][0]["source"] == {"pointer": "/nmae"}
    response = client.post("/__admin/requests/count", json={"path_pattern": "(unclosed"})
    assert response.status_code == 422
    assert response.get_json()["errors"][0]["source"] == {"pointer": "/path_pattern"}
    response = client.post("/__admin/requests/find", data="{", content_type=JSON)
    assert response.status_code == 400 and response.get_json()["errors"][0]["code"] == "malformed_body"


def test_find_and_violations_see_only_the_session_named(client: FlaskClient) -> None:
    assert client.get(f"{API}/available?per_page=abc").status_code == 400
    assert client.get(f"{API}/available?page=1", headers=SESSION).status_code == 200
    assert client.get(f"{API}/available?nope=1", headers=SESSION).status_code == 200  # unknown: allowed
    assert count(client, SESSION) == 2
    assert count(client) == 3  # without the header: every entry
    assert client.get("/__admin/violations", headers=SESSION).get_json() == {"violations": []}
    violations = client.get("/__admin/violations").get_json()["violations"]
    assert [v["query"] for v in violations] == ["per_page=abc"]


def test_violations_list_off_contract_requests_but_not_missing_data(client: FlaskClient) -> None:
    unknown_id = "00000000-0000-4000-8000-000000000000"
    assert client.get(f"{API}/{unknown_id}").status_code == 404  # data the set lacks: no violation
    assert client.get(f"{API}/available", headers={"Authorization": "Bearer nobody"}).status_code == 401
    assert post_click(client, {"data": {"type": "clicks"}}).status_code == 422
    assert send(client, "PUT", f"{API}/{P01}").status_code == 405
    assert send(client, "GET", "/api/v1/nope").status_code == 404
    assert post_click(client, VALID_CLICK, content_type="text/plain").status_code == 415
    assert client.get(f"{API}?page=0&page=1").status_code == 400
    violations = client.get("/__admin/violations").get_json()["violations"]
    assert [(v["method"], v["status"]) for v in violations] == [
        ("POST", 422),
        ("PUT", 405),
        ("GET", 404),
        ("POST", 415),
        ("GET", 400),
    ]
    codes = [[error["code"] for error in v["errors"]] for v in violations]
    assert codes[1:] == [
        ["method_not_allowed"],
        ["not_found"],
        ["unsupported_media_type"],
        ["duplicate_parameter"],
    ]
    assert all(v["violation"] for v in violations)
    assert violations[0]["errors"][0]["source"]["pointer"].startswith("/data")


def test_a_long_body_is_cut_and_marked(client: FlaskClient) -> None:
    padded = json.dumps(VALID_CLICK).encode() + b" " * (MAX_BODY + 100)
    assert post_click(client, padded).status_code == 201
    entry = client.get("/__admin/requests").get_json()["requests"][-1]
    assert entry["body_truncated"] is True
    assert len(entry["body"].encode()) == MAX_BODY
    # A body pattern cannot judge a cut body: it is a miss that says why.
    misses = find(client, body={"data": {"type": "partner_click_events"}})["near_misses"]
    assert misses[0]["differences"][0]["actual"] == "(body cut: over the journal's limit)"


def test_the_journal_bound_drops_the_oldest_and_counts_them() -> None:
    app: Flask = make_app(scenario="default", journal_size=3)
    client = app.test_client()
    for page in range(1, 6):
        assert client.get(f"{API}/available?page={page}").status_code == 200
    document = client.get("/__admin/requests").get_json()
    assert [entry["query"] for entry in document["requests"]] == ["page=3", "page=4", "page=5"]
    assert document["meta"] == {"stored": 3, "dropped": 2, "limit": 3}


LIST_FORMS = [
    "filter[categories][]=pos&filter[categories][]=payroll",
    "filter%5Bcategories%5D%5B1%5D=payroll&filter%5Bcategories%5D%5B0%5D=pos",
    "filter[categories]=pos,payroll",
    "filter[categories]=pos&filter[categories]=payroll",
    "filter[categories][]=pos&filter[categories]=payroll",
]
"""One list of two values in every form the server reads, the server reading each as [pos, payroll]."""


@pytest.mark.parametrize("sent", LIST_FORMS)
@pytest.mark.parametrize("key", ["filter[categories]", "filter[categories][]", "filter[categories][0]"])
def test_a_query_matches_as_the_server_reads_it(client: FlaskClient, sent: str, key: str) -> None:
    assert client.get(f"{API}/available?{sent}").status_code == 200
    assert count(client, query={key: "payroll"}) == 1
    assert count(client, query={key: ["pos", "payroll"]}) == 1
    assert count(client, query={key: ["payroll", "pos"]}) == 0  # in the server's order
    assert count(client, query={"filter[categories]": "pos,payroll"}) == 1  # a comma list is a list
    assert count(client, query={key: "crm"}) == 0


def test_a_near_miss_shows_a_list_as_it_was_sent(client: FlaskClient) -> None:
    assert client.get(f"{API}/available?filter[status][]=coming_soon&per_page=5").status_code == 200
    (miss,) = find(client, query={"filter[status]": "available", "per_page": "6"})["near_misses"]
    assert miss["differences"] == [
        {"field": "query.filter[status]", "expected": "available", "actual": "filter[status][]=coming_soon"},
        {"field": "query.per_page", "expected": "6", "actual": "5"},
    ]
    (miss,) = find(client, query={"filter[categories]": "pos"})["near_misses"]
    assert miss["differences"] == [{"field": "query.filter[categories]", "expected": "pos", "actual": None}]


def test_an_unknown_path_keeps_its_query_as_sent(client: FlaskClient) -> None:
    assert client.get(f"{API}/nowhere/else?filter[status][]=available").status_code == 404
    assert count(client, query={"filter[status][]": "available"}) == 1
    assert count(client, query={"filter[status]": "available"}) == 0


def test_the_right_path_with_a_wrong_query_is_nearer_than_another_path_with_the_right_query(
    client: FlaskClient,
) -> None:
    assert client.get(f"{API}/wholesalers?per_page=10").status_code == 200
    assert client.get(f"{API}/available?per_page=5").status_code == 200
    assert client.get(f"{API}/wholesalers?per_page=10").status_code == 200
    misses = find(client, method="GET", path=f"{API}/available", query={"per_page": "10"})["near_misses"]
    assert [miss["request"]["path"] for miss in misses] == [
        f"{API}/available",
        f"{API}/wholesalers",
        f"{API}/wholesalers",
    ]
    assert misses[0]["differences"] == [{"field": "query.per_page", "expected": "10", "actual": "5"}]
    assert misses[0]["distance"] < misses[1]["distance"]


def test_a_session_is_told_how_many_of_its_entries_the_bound_dropped() -> None:
    app: Flask = make_app(scenario="default", journal_size=3)
    client = app.test_client()
    mine, other = {"X-Mock-Session": "mine"}, {"X-Mock-Session": "other"}
    for page in (1, 2):
        assert client.get(f"{API}/available?page={page}", headers=mine).status_code == 200
    for page in (1, 2, 3):
        assert client.get(f"{API}/available?page={page}", headers=other).status_code == 200
    assert client.get("/__admin/requests", headers=mine).get_json()["meta"] == {
        "stored": 0,
        "dropped": 2,
        "limit": 3,
    }
    assert client.get("/__admin/requests", headers=other).get_json()["meta"]["dropped"] == 0
    assert client.post("/__admin/reset", headers=mine).status_code == 204
    assert client.get("/__admin/requests", headers=mine).get_json()["meta"]["dropped"] == 0
    assert client.get("/__admin/requests").get_json()["meta"]["dropped"] == 2  # since start-up


# --- what a pattern may cost -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "pointer", "reason"),
    [
        ({"path_pattern": r"/api/(v1)/\1"}, "/path_pattern", "path_pattern: not a regular expression RE2"),
        ({"path_pattern": "(?<=/api)/v1"}, "/path_pattern", "path_pattern: not a regular expression RE2"),
        ({"path_pattern": r"\pL{400}"}, "/path_pattern", "path_pattern: too large"),
        ({"body": list(range(1001))}, "/body", "body: more than 1000 values"),
        ({"body": json.loads("[" * 40 + "]" * 40)}, "/body", "body: nested more"),
    ],
    ids=["backreference", "lookbehind", "too-large", "body-values", "body-depth"],
)
def test_a_pattern_too_costly_to_run_is_a_422_naming_the_field(
    client: FlaskClient, pattern: dict[str, Any], pointer: str, reason: str
) -> None:
    for endpoint in ("find", "count"):
        response = client.post(f"/__admin/requests/{endpoint}", json=pattern)
        assert response.status_code == 422, response.get_data(as_text=True)
        (error,) = response.get_json()["errors"]
        assert error["source"] == {"pointer": pointer} and error["detail"].startswith(reason)


LONG_PATH = 2048
"""The journal's bound on a path."""


def journal_long_paths(live: LiveServer, count: int, seed: int = 17) -> None:
    """`count` requests to 2,048-character paths (404s, journaled), pipelined 100 at a time."""
    rng = random.Random(seed)
    alphabet = string.ascii_letters + string.digits
    for _ in range(count // 100):
        paths = ["/" + "".join(rng.choices(alphabet, k=LONG_PATH - 1)) for _ in range(100)]
        payload = b"".join(f"GET {path} HTTP/1.1\r\nHost: mock\r\n\r\n".encode() for path in paths)
        with socket.create_connection((live.host, live.port), timeout=30) as sock:
            sock.sendall(payload)
            assert complete_responses(read_responses(sock, 100, 30, 1 << 24)) == 100


def post_in_background(
    live: LiveServer, path: str, document: Any
) -> tuple[threading.Thread, list[Reply | OSError]]:
    """A POST sent by a thread of its own; its answer, or the time-out, lands in the list."""
    answered: list[Reply | OSError] = []
    body = json.dumps(document)

    def post() -> None:
        try:
            answered.append(live.admin("POST", path, body, {"Content-Type": JSON}, timeout=15))
        except OSError as error:
            answered.append(error)

    thread = threading.Thread(target=post)
    thread.start()
    return thread, answered


@pytest.mark.live
def test_finding_and_counting_over_a_full_journal_of_long_paths_is_quick_and_others_are_served() -> None:
    """1,000 journaled 2,048-character paths: a backtracking pattern (it ran for hours under Python's
    `re`), a long path ranked against each entry (about 20 s under difflib's full ratio) and counts
    each answer within seconds, and the health check is answered while they run."""
    live = LiveServer.start("--scenario", "default")
    try:
        journal_long_paths(live, 1000)
        assert live.get_json("/__admin/requests")["meta"]["stored"] == 1000
        other = "/" + "".join(random.Random(5).choices(string.ascii_letters + string.digits, k=2047))
        searches = [
            ("find", {"path_pattern": "/([A-Za-z0-9]+)+!"}),
            ("find", {"path": other}),
            ("count", {"path": other}),
            ("count", {"path_pattern": "/([A-Za-z0-9]+)+!"}),
        ]
        for endpoint, pattern in searches:
            started = time.perf_counter()
            searching, answered = post_in_background(live, f"/__admin/requests/{endpoint}", pattern)
            assert live.is_healthy(), (endpoint, pattern)  # within its 2 s time-out
            searching.join(20)
            elapsed = time.perf_counter() - started
            assert answered and isinstance(answered[0], Reply), (endpoint, pattern, answered)
            assert answered[0].status == 200, (endpoint, pattern)
            assert elapsed < 3.0, (endpoint, pattern, elapsed)
            document = answered[0].json()
            if endpoint == "find":
                assert document["requests"] == [] and len(document["near_misses"]) == 5
            else:
                assert document == {"count": 0}
    finally:
        live.stop()
