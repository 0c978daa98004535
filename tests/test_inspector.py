"""The inspector's server side: `/__admin/events` (the journal as Server-Sent Events), its sampling and
resumption, its bound on open streams, a stop that ends them, and the page's own files.

What the page does in a browser is tested in test_browser.py.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import re
import signal
import time
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest
import yaml
from flask import Flask
from support import API, make_app, plain_client

from mockserver.admin import inspector
from mockserver.admin.inspector import (
    ASSETS,
    BACKLOG,
    MAX_STREAMS,
    SAMPLE,
    STREAM_SECONDS_CONFIG,
    SnapshotFeed,
    TailFeed,
    sample,
)
from mockserver.contract.spec import ADMIN_SPEC_PATH
from mockserver.core.api_errors import INVALID_PARAMETER, ErrorItem
from mockserver.core.channels import INSPECTOR_EXTENSION
from mockserver.journal.log import Entry, Journal
from mockserver.testing.live import LiveServer

LOOPBACK = {"REMOTE_ADDR": "127.0.0.1"}
VIOLATION = (ErrorItem(INVALID_PARAMETER, "page must be an integer", ("parameter", "page")),)


def entry(n: int, *, violation: bool = False, session: str | None = None) -> Entry:
    return Entry(
        "GET", f"{API}/available", f"page={n}", 400 if violation else 200, 0.5, session, float(n),
        errors=VIOLATION if violation else (),
    )  # fmt: skip


def journal_of(*entries: Entry, size: int = 1000) -> Journal:
    journal = Journal(size)
    for item in entries:
        journal.record(item)
    return journal


# --- what a stream sends ------------------------------------------------------------------------------


def test_a_busy_moment_is_sampled_to_the_violations_then_the_newest_others() -> None:
    entries = [entry(n, violation=n in (3, 50, 97)) for n in range(100)]
    chosen = sample(entries, 10)
    assert [e.query for e in chosen] == [f"page={n}" for n in (3, 50, 92, 93, 94, 95, 96, 97, 98, 99)]
    too_many = sample([entry(n, violation=True) for n in range(30)], 5)
    assert [e.query for e in too_many] == [f"page={n}" for n in range(25, 30)]  # the newest of them
    assert sample(entries[:4], 10) == entries[:4]


def test_the_journal_counts_every_entry_recorded_whatever_left_it_since() -> None:
    journal = journal_of(*(entry(n, session="a" if n % 2 else None) for n in range(7)), size=5)
    assert (journal.recorded, journal.dropped) == (7, 2)
    journal.clear("a")
    journal.record(entry(7))
    assert journal.recorded == 8 and len(journal.entries()) == 4
    journal.clear()
    assert journal.recorded == 8 and journal.tail(10) == ([], 8)


def test_a_page_gets_the_backlog_then_only_what_is_new() -> None:
    journal = journal_of(*(entry(n) for n in range(BACKLOG + 50)))
    feed = TailFeed(journal, resume_after=None)
    first = feed.first()
    assert first.backlog and first.cursor == BACKLOG + 50
    assert [e.query for e in first.entries] == [f"page={n}" for n in range(50, BACKLOG + 50)]
    assert feed.poll() is None  # nothing came: one integer compared
    journal.record(entry(1000))
    journal.record(entry(1001))
    batch = feed.poll()
    assert batch is not None and not batch.backlog
    assert ([e.query for e in batch.entries], batch.arrived, batch.cursor) == (
        ["page=1000", "page=1001"], 2, BACKLOG + 52,
    )  # fmt: skip
    assert feed.poll() is None


def test_under_load_a_message_holds_at_most_the_sample_and_counts_every_request() -> None:
    journal = journal_of(entry(0))
    feed = TailFeed(journal, resume_after=None)
    feed.first()
    for n in range(1, 901):
        journal.record(entry(n, violation=n in (10, 500)))
    batch = feed.poll()
    assert batch is not None
    assert len(batch.entries) == SAMPLE and batch.arrived == 900
    assert [e.query for e in batch.entries if e.violation] == ["page=10", "page=500"]
    assert batch.entries[-1].query == "page=900"


def test_a_reconnecting_page_resumes_after_the_last_message_it_got() -> None:
    journal = journal_of(*(entry(n) for n in range(10)))
    resumed = TailFeed(journal, resume_after=7).first()  # it got the first 7 entries
    assert not resumed.backlog
    assert [e.query for e in resumed.entries] == ["page=7", "page=8", "page=9"]
    assert (resumed.arrived, resumed.cursor) == (3, 10)
    too_old = TailFeed(journal_of(*(entry(n) for n in range(10)), size=5), resume_after=2).first()
    assert too_old.backlog and [e.query for e in too_old.entries] == [f"page={n}" for n in range(5, 10)]
    from_elsewhere = TailFeed(journal, resume_after=10_000).first()  # an id of a server since restarted
    assert from_elsewhere.backlog and len(from_elsewhere.entries) == 10


def test_entries_a_reset_removed_are_not_sent_again() -> None:
    journal = journal_of(entry(1), entry(2))
    feed = TailFeed(journal, resume_after=None)
    feed.first()
    journal.record(entry(3, session="gone"))
    journal.clear("gone")
    batch = feed.poll()
    assert batch is not None and list(batch.entries) == [] and batch.arrived == 1


class CopyingJournal:
    """A journal that hands out new but equal entries on every read, as one read from Redis does."""

    size = 1000

    def __init__(self) -> None:
        self.kept: list[Entry] = []

    def entries(self, session: str | None = None) -> list[Entry]:
        return [replace(item) for item in self.kept]


def test_a_journal_read_whole_each_time_is_followed_by_comparing_entries() -> None:
    journal = CopyingJournal()
    journal.kept = [entry(1), entry(2)]
    feed = SnapshotFeed(journal)  # type: ignore[arg-type]
    first = feed.first()
    assert first.backlog and first.cursor is None and len(first.entries) == 2
    assert feed.poll() is None
    journal.kept.append(entry(3))
    batch = feed.poll()
    assert batch is not None and [e.query for e in batch.entries] == ["page=3"]
    journal.kept = [entry(4)]  # a reset removed the last one sent
    batch = feed.poll()
    assert batch is not None and [e.query for e in batch.entries] == ["page=4"]


# --- /__admin/events in process ---------------------------------------------------------------------


@pytest.fixture
def app() -> Flask:
    built = make_app(scenario="default")
    built.config[STREAM_SECONDS_CONFIG] = 0.3
    return built


def messages(body: str) -> list[dict[str, Any]]:
    """The stream's messages: each `data` parsed, with its `id`."""
    found = []
    for block in body.split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines() if not line.startswith(":"))
        if "data" in fields:
            found.append({"id": fields.get("id"), **json.loads(fields["data"])})
    return found


def test_the_stream_opens_with_the_journal_and_ends_after_its_lifetime(app: Flask) -> None:
    client = plain_client(app)
    client.get(f"{API}/available?page=x")
    started = time.monotonic()
    response = client.get("/__admin/events", environ_base=LOOPBACK)
    body = response.get_data(as_text=True)
    assert 0.25 < time.monotonic() - started < 5
    assert response.status_code == 200 and response.mimetype == "text/event-stream"
    assert response.headers["Cache-Control"] == "no-store"
    assert body.startswith("retry: 500\n\n")
    (first,) = messages(body)
    assert first["id"] == "1" and first["backlog"] is True and first["arrived"] == 1
    (shown,) = first["entries"]
    assert shown["violation"] is True and shown["errors"][0]["source"] == {"parameter": "page"}


def test_a_closed_stream_gives_its_slot_back(app: Flask) -> None:
    app.config[STREAM_SECONDS_CONFIG] = 0
    client = plain_client(app)
    for _ in range(MAX_STREAMS + 2):  # read to the end and closed, as a server does
        with client.get("/__admin/events", environ_base=LOOPBACK) as response:
            assert response.status_code == 200 and response.get_data().startswith(b"retry:")
    unread = [client.get("/__admin/events", environ_base=LOOPBACK) for _ in range(MAX_STREAMS)]
    for response in unread:  # never read: closing is enough
        response.close()
    assert client.get("/__admin/events", environ_base=LOOPBACK).status_code == 200


def test_past_the_bound_a_stream_is_refused_with_retry_after(app: Flask) -> None:
    client = plain_client(app)
    client.get("/__admin/events", environ_base=LOOPBACK).close()  # the bound is made on first use
    slots = app.extensions[INSPECTOR_EXTENSION]
    taken = [slots.take() for _ in range(MAX_STREAMS)]
    assert all(taken)
    try:
        response = client.get("/__admin/events", environ_base=LOOPBACK)
        assert response.status_code == 503
        assert response.headers["Retry-After"] == "5"
        assert response.get_json()["errors"][0]["code"] == "too_many_streams"
    finally:
        for _ in taken:
            slots.give()


@pytest.mark.parametrize("sent", ["abc", "-1", "1" * 21, "１２"])
def test_a_last_event_id_this_server_never_sent_is_refused_naming_the_header(app: Flask, sent: str) -> None:
    response = plain_client(app).get(
        "/__admin/events", headers={"Last-Event-ID": sent}, environ_base=LOOPBACK
    )
    assert response.status_code == 400
    (error,) = response.get_json()["errors"]
    assert error["code"] == "invalid_parameter" and error["source"] == {"header": "Last-Event-ID"}


def test_another_origin_gets_neither_the_stream_nor_the_page(app: Flask) -> None:
    client = plain_client(app)
    for path in ("/__admin/events", "/__admin/ui", "/__admin/ui/inspector.js"):
        response = client.get(path, headers={"Origin": "http://evil.example"}, environ_base=LOOPBACK)
        assert response.status_code == 403, path
        assert response.get_json()["errors"][0]["code"] == "origin_not_allowed"
        rebound = client.get(path, headers={"Host": "evil.example:4010"}, environ_base=LOOPBACK)
        assert rebound.status_code == 403, path  # DNS rebinding
        remote = client.get(path, environ_base={"REMOTE_ADDR": "192.0.2.7"})
        assert remote.status_code == 403, path


# --- the page ---------------------------------------------------------------------------------------------


def test_the_page_loads_only_its_own_files_and_cannot_be_framed(app: Flask) -> None:
    response = plain_client(app).get("/__admin/ui", environ_base=LOOPBACK)
    assert response.status_code == 200 and response.mimetype == "text/html"
    policy = response.headers["Content-Security-Policy"]
    assert "default-src 'none'" in policy and "frame-ancestors 'none'" in policy
    assert "script-src 'self'" in policy and "connect-src 'self'" in policy
    assert response.headers["X-Frame-Options"] == "DENY"
    html = response.get_data(as_text=True)
    config = json.loads(re.search(r'<script type="application/json" id="config">(.*?)</script>', html)[1])  # type: ignore[index]
    assert config["scenarios"] == ["default", "edge-cases", "empty"]
    assert config["events"] == "/__admin/events"
    linked = set(re.findall(r'(?:src|href)="(/[^"]*)"', html))
    assert linked == {"/__admin/ui/inspector.css", "/__admin/ui/inspector.js", "/__admin/openapi.yaml"}


def test_every_file_the_page_imports_is_served_and_declared(app: Flask) -> None:
    client = plain_client(app)
    document = yaml.safe_load(ADMIN_SPEC_PATH.read_text(encoding="utf-8"))
    declared = document["paths"]["/__admin/ui/{asset}"]["get"]["parameters"][1]["schema"]["enum"]
    assert (
        sorted(declared)
        == sorted(ASSETS)
        == sorted(p.name for p in inspector.STATIC.iterdir() if p.suffix != ".html")
    )
    for name, mimetype in ASSETS.items():
        response = client.get(f"/__admin/ui/{name}", environ_base=LOOPBACK)
        assert response.status_code == 200 and response.mimetype == mimetype, name
        text = response.get_data(as_text=True)
        for imported in re.findall(r'from "([^"]+)"', text):
            assert imported.startswith("./") and imported[2:] in ASSETS, (name, imported)
        again = client.get(
            f"/__admin/ui/{name}", headers={"If-None-Match": response.headers["ETag"]}, environ_base=LOOPBACK
        )
        assert again.status_code == 304
    assert client.get("/__admin/ui/nothing.js", environ_base=LOOPBACK).status_code == 400


# --- over real sockets --------------------------------------------------------------------------------------


class Stream:
    """`GET /__admin/events` over a socket of its own, read message by message."""

    def __init__(self, server: LiveServer, timeout: float = 10.0) -> None:
        self.connection = http.client.HTTPConnection(server.host, server.port, timeout=timeout)
        self.connection.request("GET", "/__admin/events")
        self.response = self.connection.getresponse()
        self.buffer = b""

    def next_message(self) -> dict[str, Any] | None:
        """The next message with data, or None when the stream ended."""
        while True:
            while b"\n\n" in self.buffer:
                block, self.buffer = self.buffer.split(b"\n\n", 1)
                found = messages(block.decode() + "\n\n")
                if found:
                    return found[0]
            chunk = self.response.read1(65536)
            if not chunk:
                return None
            self.buffer += chunk

    def close(self) -> None:
        self.connection.close()


@contextlib.contextmanager
def streams(server: LiveServer, count: int) -> Iterator[list[Stream]]:
    opened = [Stream(server) for _ in range(count)]
    try:
        yield opened
    finally:
        for stream in opened:
            stream.close()


@pytest.fixture(scope="module", params=["granian", "waitress"])
def live(request: pytest.FixtureRequest) -> Iterator[LiveServer]:
    server = LiveServer.start("--scenario", "default", "--server", request.param)
    try:
        yield server
    finally:
        server.stop()


def test_a_request_reaches_an_open_stream_within_a_second(live: LiveServer) -> None:
    with streams(live, 1) as (stream,):
        assert stream.response.status == 200
        assert stream.next_message() is not None  # the backlog
        delays = []
        for n in range(3):
            sent = time.monotonic()
            assert live.request("GET", f"{API}/available?page={n + 1}&per_page=1").status == 200
            message = stream.next_message()
            delays.append(time.monotonic() - sent)
            assert message is not None and message["entries"][-1]["query"] == f"page={n + 1}&per_page=1"
        assert max(delays) < 1.0, delays


@pytest.mark.live
@pytest.mark.parametrize("server", ["granian", "waitress"])
def test_open_streams_hold_neither_the_api_nor_another_admin_call(server: str) -> None:
    """Every stream the bound allows open at once: the API and the admin API answer as before, and one
    stream more is refused at once."""
    live = LiveServer.start("--scenario", "default", "--server", server)
    try:
        with streams(live, MAX_STREAMS) as opened:
            for stream in opened:
                assert stream.response.status == 200 and stream.next_message() is not None
            started = time.monotonic()
            assert live.request("GET", f"{API}/available?per_page=1").status == 200
            assert live.admin("GET", "/__admin/sessions").status == 200
            assert live.admin("POST", "/__admin/reset").status == 204
            refused = live.admin("GET", "/__admin/events")
            assert time.monotonic() - started < 3.0
            assert refused.status == 503 and refused.headers["retry-after"] == "5"
            assert refused.json()["errors"][0]["code"] == "too_many_streams"
            for stream in opened:  # the streams go on
                assert stream.next_message() is not None
    finally:
        live.stop()


@pytest.mark.live
def test_a_closed_page_gives_its_stream_back_within_seconds() -> None:
    """granian notices a closed stream at the first write that fails (a heartbeat or two later)."""
    live = LiveServer.start("--scenario", "default")
    try:
        with streams(live, MAX_STREAMS) as opened:
            assert all(stream.next_message() is not None for stream in opened)
        closed = time.monotonic()
        with all_streams(live) as reopened:
            assert len(reopened) == MAX_STREAMS
        assert time.monotonic() - closed < 4 * inspector.HEARTBEAT + 3
    finally:
        live.stop()


@contextlib.contextmanager
def all_streams(server: LiveServer) -> Iterator[list[Stream]]:
    """MAX_STREAMS streams open at once, tried again until the slots of streams closed before are given
    back (until then, some are refused)."""
    for _ in range(20):
        with streams(server, MAX_STREAMS) as opened:
            if all(stream.response.status == 200 for stream in opened):
                yield opened
                return
        time.sleep(0.5)
    raise AssertionError("the closed streams' slots were never given back")


@pytest.mark.live
@pytest.mark.parametrize("server", ["granian", "waitress"])
def test_a_stop_ends_the_open_streams_at_once(server: str) -> None:
    """Both servers finish the answers in flight before they exit: a stream would hold a stop for
    its lifetime (a minute), past granian's grace (then it kills the worker) and waitress's."""
    live = LiveServer.start("--scenario", "default", "--server", server)
    try:
        with streams(live, 2) as opened:
            for stream in opened:
                assert stream.next_message() is not None
            live.request("GET", f"{API}/available?per_page=1")
            stopped = time.monotonic()
            live.process.send_signal(signal.SIGTERM)
            for stream in opened:
                while stream.next_message() is not None:
                    pass
            ended = time.monotonic() - stopped
            code = live.process.wait(timeout=10)
            exited = time.monotonic() - stopped
    finally:
        live.stop()
    output = live.output()
    assert ended < 2.0, f"the streams ended {ended:.2f} s after SIGTERM"
    assert exited < 4.5, f"the server exited {exited:.2f} s after SIGTERM\n{output}"
    assert code == 0
    assert "refused to gracefully stop" not in output and "still running" not in output, output


def test_a_stream_follows_the_journal_kept_in_redis(redis_url: str) -> None:
    """With --state, the journal is Redis's, shared by the workers: a stream reads it whole each
    second, and a request answered by either worker shows."""
    live = LiveServer.start("--scenario", "default", "--state", redis_url, "--workers", "2")
    try:
        with streams(live, 1) as (stream,):
            first = stream.next_message()
            assert first is not None and first["backlog"] is True and first["id"] is None
            sent = time.monotonic()
            for n in range(4):  # the kernel spreads the connections over both workers
                assert live.request("GET", f"{API}/available?page={n + 1}&per_page=1").status == 200
            seen: set[str] = set()
            while len(seen) < 4:
                message = stream.next_message()
                assert message is not None
                seen |= {item["query"] for item in message["entries"]}
            assert time.monotonic() - sent < 1 + 2 * inspector.SLOW_TICK
            assert seen == {f"page={n + 1}&per_page=1" for n in range(4)}
    finally:
        live.stop()
