"""mockserver.journal.log as a unit: a bounded log of recent requests, matched by method and path, filled by
a WSGI middleware that journals every request but the /__admin ones. (The admin API that reads it is
tested through HTTP in test_writes.py.)"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest
import redis
from support import API, MIB, NO_REDIS, P07, REDIS_SERVER, RedisServer, make_app, send
from werkzeug.test import EnvironBuilder, run_wsgi_app

from mockserver.journal.log import MAX_FIELD, MAX_HEADER_TEXT, Entry, Journal, JournalMiddleware
from mockserver.testing.live import LiveServer


def entry(method: str, path: str, status: int = 200, query: str = "") -> Entry:
    return Entry(method, path, query, status, 1.5)


def test_the_journal_keeps_the_newest_entries_up_to_its_size() -> None:
    journal = Journal(3)
    entries = [entry("GET", f"/p{n}") for n in range(5)]
    for each in entries:
        journal.record(each)
    assert list(journal.matching()) == entries[2:]
    journal.clear()
    assert list(journal.matching()) == []


def test_matching_by_method_and_path() -> None:
    journal = Journal(10)
    get_a, post_a, post_b, get_b = (
        entry("GET", "/a"),
        entry("POST", "/a"),
        entry("POST", "/b"),
        entry("GET", "/b"),
    )
    for each in (get_a, post_a, post_b, get_b):
        journal.record(each)
    assert list(journal.matching(method="POST")) == [post_a, post_b]
    assert list(journal.matching(method="post")) == [post_a, post_b]  # the method is case-insensitive
    assert list(journal.matching(path="/b")) == [post_b, get_b]
    assert list(journal.matching(path="/b/")) == []  # the path is exact
    assert list(journal.matching(method="GET", path="/a")) == [get_a]
    assert list(journal.matching(method="PUT")) == []
    assert list(journal.matching(method="", path="")) == [get_a, post_a, post_b, get_b]  # empty: no filter


def test_an_entry_as_json() -> None:
    assert entry("GET", "/a", 404, "x=1").to_json() == {
        "time": "1970-01-01T00:00:00.000Z",
        "session": None,
        "method": "GET",
        "path": "/a",
        "query": "x=1",
        "headers": {},
        "headers_truncated": False,
        "body": None,
        "body_truncated": False,
        "status": 404,
        "duration_ms": 1.5,
        "operation_id": None,
        "errors": [],
        "violation": False,
        "answered_by": None,
    }


def answering(status: str) -> Any:
    def wsgi_app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        start_response(status, [("Content-Type", "text/plain")])
        return [b"ok"]

    return wsgi_app


def call(app: Any, method: str, path: str, query: str = "") -> str:
    environ = EnvironBuilder(method=method, path=path, query_string=query).get_environ()
    body, status, _ = run_wsgi_app(app, environ, buffered=True)
    assert b"".join(body) == b"ok"
    return status


def test_the_middleware_journals_api_requests_but_not_admin_ones(caplog: pytest.LogCaptureFixture) -> None:
    journal = Journal(10)
    log = logging.getLogger("test_journal.access")
    middleware = JournalMiddleware(answering("201 CREATED"), journal, log)
    with caplog.at_level(logging.INFO, logger="test_journal.access"):
        assert call(middleware, "POST", f"{API}/x/click_event", "a=1&b=2") == "201 CREATED"
        assert call(middleware, "GET", "/__admin/requests") == "201 CREATED"
        assert call(middleware, "DELETE", "/__admin") == "201 CREATED"
        assert call(middleware, "GET", "/elsewhere") == "201 CREATED"
    journaled = list(journal.matching())
    assert [(e.method, e.path, e.query, e.status) for e in journaled] == [
        ("POST", f"{API}/x/click_event", "a=1&b=2", 201),
        ("GET", "/elsewhere", "", 201),
    ]
    assert all(e.duration_ms >= 0 for e in journaled)
    # The access log has a line for every request, admin ones included.
    lines = [record.getMessage() for record in caplog.records]
    assert len(lines) == 4
    assert f'"POST {API}/x/click_event?a=1&b=2" 201 ' in lines[0]
    assert '"GET /__admin/requests" 201 ' in lines[1]


def test_without_a_logger_the_middleware_only_journals(caplog: pytest.LogCaptureFixture) -> None:
    journal = Journal(10)
    with caplog.at_level(logging.DEBUG):
        call(JournalMiddleware(answering("404 NOT FOUND"), journal, None), "GET", "/x")
    assert [(e.path, e.status) for e in journal.matching()] == [("/x", 404)]
    assert not [r for r in caplog.records if r.name.startswith("mockserver")]


def test_an_app_journals_as_many_requests_as_its_settings_say() -> None:
    with make_app(scenario="default", journal_size=2).test_client() as client:
        for path in (f"{API}/available", f"{API}/wholesalers", "/nope", "/__admin/health"):
            send(client, "GET", path)
        requests = send(client, "GET", "/__admin/requests").get_json()["requests"]
        assert [(r["path"], r["status"]) for r in requests] == [(f"{API}/wholesalers", 200), ("/nope", 404)]


# --------------------------------------------------------------------------------------------------
# bounded when stored: huge headers, over real sockets


def tree_rss_mib(pid: int) -> float:
    """RSS of a process and its descendants (from /proc), in MiB."""
    pids, total = [pid], 0
    while pids:
        current = pids.pop()
        try:
            status = Path(f"/proc/{current}/status").read_text()
            children = Path(f"/proc/{current}/task/{current}/children").read_text().split()
        except OSError:
            continue
        total += next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:"))
        pids.extend(int(child) for child in children)
    return total / 1024


HUGE_HEADER = "h" * 400_000
"""One header value of 400 kB: the journal keeps 2,048 characters of it."""


def send_huge_headers(server: LiveServer, requests: int) -> None:
    connection = server.connection(timeout=30)
    try:
        for n in range(requests):
            reply = server.request(
                "GET", f"{API}/{P07}", headers={"X-Pad": HUGE_HEADER}, connection=connection
            )
            assert reply.status == 200, (n, reply.status, reply.text())
    finally:
        connection.close()


def assert_journaled_bounded(entries: list[dict[str, Any]], requests: int) -> None:
    assert len(entries) == requests
    for entry in entries:
        assert entry["headers_truncated"] is True
        assert entry["headers"]["X-Pad"] == HUGE_HEADER[:MAX_FIELD]
        assert sum(len(name) + len(value) for name, value in entry["headers"].items()) <= MAX_HEADER_TEXT


@pytest.mark.live
def test_huge_headers_are_cut_when_journaled_so_memory_stays_bounded() -> None:
    """300 requests with a 400 kB header each (120 MB sent): the journal (1,000 entries) keeps every
    request, but at most 8,192 characters of headers each, so the server's process tree grows by less
    than 40 MiB. (Kept whole, as before, it grew by the 120 MB it was sent.)"""
    server = LiveServer.start("--scenario", "default")
    try:
        send_huge_headers(server, 20)  # warm up: the first requests allocate what every request reuses
        assert server.request("POST", "/__admin/reset").status == 204
        before = tree_rss_mib(server.process.pid)
        send_huge_headers(server, 300)
        grown = tree_rss_mib(server.process.pid) - before
        entries = server.get_json("/__admin/requests")["requests"]
        assert_journaled_bounded(entries, 300)
        assert grown < 40, f"RSS grew by {grown:.0f} MiB for 300 journaled requests"
    finally:
        server.stop()


@pytest.mark.system
@pytest.mark.skipif(REDIS_SERVER is None, reason=NO_REDIS)
def test_huge_headers_are_cut_before_they_reach_redis(tmp_path: Path) -> None:
    """The same on Redis: Redis holds less than 30 MiB more, and a journal read of the 300 entries takes
    well under a second (kept whole, Redis held the 120 MB and each read moved it all)."""
    redis_server = RedisServer(tmp_path).start()
    try:
        client = redis.Redis.from_url(redis_server.url)
        server = LiveServer.start("--scenario", "default", "--state", redis_server.url)
        try:
            send_huge_headers(server, 10)
            assert server.request("POST", "/__admin/reset").status == 204
            before = int(client.info("memory")["used_memory"])
            send_huge_headers(server, 300)
            started = time.monotonic()
            entries = server.get_json("/__admin/requests")["requests"]
            read = time.monotonic() - started
            grown = (int(client.info("memory")["used_memory"]) - before) / MIB
            assert_journaled_bounded(entries, 300)
            assert grown < 30, f"Redis grew by {grown:.0f} MiB for 300 journaled requests"
            assert read < 1.0, f"a journal read took {read:.2f} s"
        finally:
            server.stop()
            client.close()
    finally:
        redis_server.stop()
