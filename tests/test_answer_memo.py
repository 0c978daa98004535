"""The memo of GET answers (`answer_memo`): a repeat in the same state gets the same bytes without the
app, and nothing else changes. Real servers over real sockets, one with the memo and one without."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support import API, B1, B2, NO_SUCH_ID, P02, P03, P04, P07, P08, RedisServer
from test_journal import tree_rss_mib

from mockserver.testing.live import LiveServer, Reply

SESSIONS = (None, "memo-a", "memo-b")
TOKENS = (None, "alice-token", "bob-token")
READS = (
    f"{API}/available?per_page=5",
    f"{API}/available?page=2&per_page=3",
    f"{API}/available?per_page=25&include=users",
    f"{API}/wholesalers",
    f"{API}?business_uuid={B1}",
    f"{API}?business_uuid={B2}&include=users",
    f"{API}/{P02}?include=users",
    f"{API}/{P08}",
    f"{API}/{NO_SUCH_ID}",
    f"{API}/available?per_page=500",
    "/__admin/rules",
    "/__admin/requests/count?method=GET",
)
"""A few GETs, so that they repeat: 200s, a 404 and a 400 among them, and admin GETs (whose answers
change without a write: a rule's hits, the journal)."""
LINKED = (P02, P03, P04, P07, P08)
RULE = {"id": "memo-rule", "match": {"operation_id": "getPartner"}, "respond": {"status": 404}}
LIST_RULE = {
    "id": "list-rule",
    "match": {"operation_id": "listAvailablePartners"},
    "respond": {"status": 400},
}
SCENARIOS = ("edge-cases", "default")
CLICK = json.dumps({"data": {"type": "partner_click_events", "attributes": {"event_type": "website"}}})
UNCOMPARED_HEADERS = {"date", "server"}
JSON_TYPE = {"Content-Type": "application/json"}
DEFAULT_SCENARIO = json.dumps({"name": "default"})


Step = tuple[str, str, str | None, dict[str, str]]


def random_steps(seed: int, count: int) -> Iterator[Step]:
    """Requests drawn from reads (most, a third of them a recent read again), writes, click events,
    data-set switches, rules and resets, each as one of the users and in one of the sessions."""
    draw = random.Random(seed)
    recent: list[Step] = []
    for _ in range(count):
        if recent and draw.random() < 0.3:
            yield draw.choice(recent[-6:])
            continue
        headers: dict[str, str] = {}
        session = draw.choice(SESSIONS)
        if session is not None:
            headers["X-Mock-Session"] = session
        token = draw.choice(TOKENS)
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        if draw.random() < 0.1:
            headers["Origin"] = "http://localhost:3000"
        kind = draw.choices(
            ["read", "connect", "disconnect", "click", "switch", "rule", "unrule", "reset", "prefer"],
            weights=[70, 6, 6, 3, 3, 3, 3, 3, 3],
        )[0]
        partner = draw.choice(LINKED)
        if kind == "read":
            step: Step = ("GET", draw.choice(READS), None, headers)
            recent.append(step)
            yield step
        elif kind == "prefer":
            yield "GET", draw.choice(READS[:4]), None, {**headers, "Prefer": "code=400"}
        elif kind == "connect":
            yield "PATCH", f"{API}/{partner}/connect", None, headers
        elif kind == "disconnect":
            yield "DELETE", f"{API}/{partner}/connect", None, headers
        elif kind == "click":
            yield "POST", f"{API}/{partner}/click_event", CLICK, {**headers, **JSON_TYPE}
        elif kind == "switch":
            body = json.dumps({"name": draw.choice(SCENARIOS)})
            yield "PUT", "/__admin/scenario", body, {**headers, **JSON_TYPE}
        elif kind == "rule":
            body = json.dumps(draw.choice((RULE, LIST_RULE)))
            yield "POST", "/__admin/rules", body, {**headers, **JSON_TYPE}
        elif kind == "unrule":
            yield "DELETE", f"/__admin/rules/{draw.choice((RULE, LIST_RULE))['id']}", None, headers
        else:
            yield "POST", "/__admin/reset", None, headers


def comparable(reply: Reply, path: str) -> tuple[int, dict[str, str], bytes]:
    """Status, headers and body; a click event's time (the clock's, not the state's) left out."""
    headers = {name: value for name, value in reply.headers.items() if name.lower() not in UNCOMPARED_HEADERS}
    body = reply.body
    if path.endswith("/click_event") and reply.status == 201:
        document = json.loads(body)
        document["data"]["attributes"].pop("created-at")
        body = json.dumps(document).encode()
    return reply.status, headers, body


def journal_of(server: LiveServer) -> list[dict[str, Any]]:
    """The journal, without each request's time and duration, and the Host (each server's port)."""
    entries = server.get_json("/__admin/requests")["requests"]
    for entry in entries:
        entry.pop("time")
        entry.pop("duration_ms")
        entry["headers"].pop("Host")
    return list(entries)


def memo_bounds(server: LiveServer) -> dict[str, Any]:
    bounds: dict[str, Any] = server.get_json("/__admin/sessions")["bounds"]
    return bounds


def replay(seed: int, count: int, servers: list[LiveServer]) -> None:
    """Send each step to every server in turn; their answers must be the same, byte for byte."""
    connections = [server.connection() for server in servers]
    try:
        for number, (method, path, body, headers) in enumerate(random_steps(seed, count)):
            replies = [
                comparable(server.request(method, path, body, headers, connection=connection), path)
                for server, connection in zip(servers, connections, strict=True)
            ]
            first = replies[0]
            for other in replies[1:]:
                assert other == first, f"step {number}: {method} {path} {headers}"
    finally:
        for connection in connections:
            connection.close()


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[LiveServer]]:
    """The default scenario with the memo, and without it."""
    logs = tmp_path_factory.mktemp("memo")
    with_memo = LiveServer.start("--scenario", "default", log=logs / "memo.log")
    try:
        without = LiveServer.start("--scenario", "default", "--memo-answers", "0", log=logs / "plain.log")
        try:
            yield [with_memo, without]
        finally:
            without.stop()
    finally:
        with_memo.stop()


@pytest.mark.live
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_random_sequences_get_byte_identical_answers_with_and_without_the_memo(
    pair: list[LiveServer], seed: int
) -> None:
    with_memo, without = pair
    for server in pair:  # the same start: the default data set, no rules, an empty journal
        for session in reversed(SESSIONS):  # the default last: its reset empties the whole journal
            headers = {**JSON_TYPE, **({"X-Mock-Session": session} if session else {})}
            assert server.admin("PUT", "/__admin/scenario", DEFAULT_SCENARIO, headers).status == 200
            assert server.admin("POST", "/__admin/reset", None, headers).status == 204
    before = memo_bounds(with_memo)["memo_answers"]["hits"]
    replay(seed, 400, pair)
    assert journal_of(with_memo) == journal_of(without)  # the journal saw every request, alike
    served = memo_bounds(with_memo)["memo_answers"]["hits"] - before
    assert served > 50, f"the memo answered only {served} of the repeated reads"
    assert "memo_answers" not in memo_bounds(without)


@pytest.mark.system
def test_a_write_on_one_worker_is_seen_by_repeats_on_the_other(tmp_path: Path) -> None:
    """Two workers on Redis: every read after a write, on whichever worker answers it, shows the write,
    although both workers hold the page from before in their memo."""
    redis = RedisServer(tmp_path).start()
    try:
        server = LiveServer.start(
            "--scenario",
            "default",
            "--state",
            redis.url,
            "--workers",
            "2",
            ready_timeout=40,
            log=tmp_path / "log",
        )
        try:
            page = f"{API}/{P08}?include=users"
            for linked in (True, False, True, False):
                for _ in range(8):  # fresh connections: the kernel spreads them over both workers
                    server.request("GET", page)
                method = "PATCH" if linked else "DELETE"
                assert server.request(method, f"{API}/{P08}/connect").status == 200
                for _ in range(16):
                    reply = server.request("GET", page)
                    attributes = reply.json()["data"]["attributes"]
                    assert attributes["user-integration-requested"] is linked
        finally:
            server.stop()
    finally:
        redis.stop()


@pytest.mark.live
def test_the_memo_keeps_within_its_bounds(tmp_path: Path) -> None:
    """`--memo-answers 5`: twenty distinct pages leave five kept; `--memo-bytes` below one page keeps none."""
    server = LiveServer.start("--scenario", "default", "--memo-answers", "5", log=tmp_path / "count.log")
    try:
        for size in range(1, 21):
            assert server.request("GET", f"{API}/available?per_page={size}").status == 200
        bounds = memo_bounds(server)
        assert bounds["memo_answers"]["used"] == 5 and bounds["memo_answers"]["dropped"] == 15
        assert bounds["memo_bytes"]["used"] <= bounds["memo_bytes"]["limit"]
    finally:
        server.stop()
    server = LiveServer.start("--scenario", "default", "--memo-bytes", "600", log=tmp_path / "bytes.log")
    try:
        for _ in range(3):
            assert server.request("GET", f"{API}/available?per_page=25").status == 200
        bounds = memo_bounds(server)
        assert bounds["memo_answers"]["used"] == 0 and bounds["memo_answers"]["hits"] == 0
    finally:
        server.stop()


@pytest.mark.live
def test_the_memo_holds_no_more_memory_than_its_byte_bound(tmp_path: Path) -> None:
    """400 distinct pages of 100 partners (about 130 kB each, 52 MB in all) with `--memo-bytes 8000000`:
    the process tree grows by less than 8 MB and 12 MiB of slack (it grew by 14 MiB; kept whole, 57 MiB)."""
    server = LiveServer.start(
        *("--seed", "1", "--partners", "150", "--memo-bytes", "8000000", "--max-rendered", "200"),
        log=tmp_path / "log",
    )
    try:
        token = server.get_json("/__admin/data")["users"][0]["token"]
        connection = server.connection(timeout=30)
        headers = {"Authorization": f"Bearer {token}"}
        for n in range(20):  # warm up
            warm = {**headers, "X-Mock-Session": f"warm-{n}"}
            server.request("GET", f"{API}/available?per_page=100", headers=warm, connection=connection)
        before = tree_rss_mib(server.process.pid)
        for n in range(400):
            sessioned = {**headers, "X-Mock-Session": f"page-{n}"}
            reply = server.request(
                "GET", f"{API}/available?per_page=100", headers=sessioned, connection=connection
            )
            assert reply.status == 200 and len(reply.json()["data"]) == 100
        grown = tree_rss_mib(server.process.pid) - before
        bounds = memo_bounds(server)
        connection.close()
        print(f"\nRSS grew by {grown:.1f} MiB; the memo holds {bounds['memo_bytes']['used']:,} bytes")
        assert bounds["memo_bytes"]["used"] <= 8_000_000 and bounds["memo_answers"]["dropped"] > 300
        assert grown < 8_000_000 / 2**20 + 12, f"RSS grew by {grown:.0f} MiB"
    finally:
        server.stop()
