"""The inspector: `/__admin/ui`, a page that follows the journal live and steers the mock, and
`/__admin/events`, the journal as Server-Sent Events, which the page follows.

The page and its scripts and style (`static/`) are served by the mock itself, with a Content-Security-
Policy that lets it load nothing from another origin; it calls only the admin API, under its access
rules (loopback or the admin token, no other origin).

An event stream is long-lived, so it never runs on the event loop: the server front runs it on a pool
of its own (`serving.offload`), and at most MAX_STREAMS are open at once (past that, a 503 with
`Retry-After`). A stream looks at the journal every TICK seconds: one integer compared when nothing
came (`Journal.recorded`, counted from what recording counts anyway, so the request path does no more
work); what came is sent as one message, at most SAMPLE entries (contract violations first, then the
newest), with how many came in all: under load the page samples, and says so. A stream ends after
STREAM_SECONDS (the browser reconnects, and resumes after the last message it got) or as soon as the
server is told to stop (`stop_streams`, called by the server fronts on a stop signal).
"""

from __future__ import annotations

import hashlib
import re
import threading
import time
from collections.abc import Callable, Generator, Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Protocol

import orjson
from flask import Blueprint, Flask, Response, current_app, request

from mockserver.core.api_errors import INVALID_PARAMETER, PATH_NOT_FOUND, TOO_MANY_STREAMS, ApiError
from mockserver.core.channels import INSPECTOR_EXTENSION
from mockserver.core.settings import Settings
from mockserver.dataset.scenario import list_scenarios
from mockserver.journal.log import Entry, Journal, RequestLog, get_journal

EVENTS_PATH = "/__admin/events"
STATIC = Path(__file__).parent / "static"
ASSETS = {
    "inspector.js": "text/javascript",
    "api.js": "text/javascript",
    "journal.js": "text/javascript",
    "detail.js": "text/javascript",
    "steer.js": "text/javascript",
    "inspector.css": "text/css",
}
"""The page's own files (`static/`), by name, with their media type; the admin contract lists them."""
MAX_STREAMS = 4
"""Event streams open at once per worker: each holds a thread while it waits."""
TICK = 0.25
"""Seconds between two looks at the journal: a request shows on the page within about this."""
SLOW_TICK = 1.0
"""The same for a journal read as a whole each time (in Redis, with `--state`)."""
SAMPLE = 25
"""Entries sent per message at most (so at most SAMPLE / TICK a second, whatever the load)."""
SCAN = 2000
"""Entries a stream looks at per message at most, to choose those it sends."""
BACKLOG = 200
"""The newest entries a page gets when it connects."""
HEARTBEAT = 1.0
"""Seconds of silence after which a stream sends a comment: a page that went away is noticed."""
STREAM_SECONDS = 60.0
"""A stream's lifetime; the browser then reconnects (after RETRY_MS) and resumes where it was."""
STREAM_SECONDS_CONFIG = "MOCKSERVER_STREAM_SECONDS"
"""The app config key that shortens it (the in-process contract run, which reads every answer whole)."""
RETRY_MS = 500
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
"""The page loads its own files only, and no other page may frame it."""

bp = Blueprint("inspector", __name__)


# --- What a stream sends -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Batch:
    """Entries to send, how many came since the last message (sent or not), and where the stream is."""

    entries: Sequence[Entry]
    arrived: int
    cursor: int | None = None
    """Entries recorded so far (the message's id: a reconnecting page resumes after it); None when the
    journal cannot say (in Redis)."""
    backlog: bool = False
    """The journal's newest entries, sent on connecting: the page replaces what it shows."""


class Feed(Protocol):
    """Where a stream reads what is new in the journal."""

    interval: float
    """Seconds between two looks."""

    def first(self) -> Batch: ...

    def poll(self) -> Batch | None: ...


def sample(entries: Sequence[Entry], limit: int) -> list[Entry]:
    """At most `limit` entries, oldest first: the newest violations, then the newest of the rest."""
    if len(entries) <= limit:
        return list(entries)
    chosen: list[int] = []
    for index in range(len(entries) - 1, -1, -1):
        if entries[index].violation:
            chosen.append(index)
            if len(chosen) == limit:
                break
    taken = set(chosen)
    for index in range(len(entries) - 1, -1, -1):
        if len(chosen) == limit:
            break
        if index not in taken:
            chosen.append(index)
    return [entries[index] for index in sorted(chosen)]


class TailFeed:
    """Follows a journal of this process: `Journal.recorded` tells what is new, `Journal.tail` reads it."""

    interval = TICK

    def __init__(self, journal: Journal, resume_after: int | None) -> None:
        self.journal = journal
        self.resume_after = resume_after
        self.mark = 0
        self.last: Entry | None = None

    def first(self) -> Batch:
        """What a page gets on connecting: what it missed since `resume_after` when the journal still
        holds all of it, otherwise the newest BACKLOG entries."""
        after = self.resume_after
        recorded = self.journal.recorded
        if after is not None and 0 <= recorded - after <= min(SCAN, self.journal.size):
            self.mark = after
            return self.poll() or Batch((), 0, after)
        entries, self.mark = self.journal.tail(BACKLOG)
        self.last = entries[-1] if entries else None
        return Batch(entries, len(entries), self.mark, backlog=True)

    def poll(self) -> Batch | None:
        if self.journal.recorded == self.mark:
            return None
        entries, recorded = self.journal.tail(min(SCAN, self.journal.recorded - self.mark))
        arrived = recorded - self.mark
        self.mark = recorded
        new = _after(entries[-arrived:] if arrived < len(entries) else entries, self.last)
        if new:
            self.last = new[-1]
        return Batch(sample(new, SAMPLE), arrived, recorded)


def _after(entries: list[Entry], last: Entry | None) -> list[Entry]:
    """The entries after `last` (by identity), all when it is not among them."""
    for index in range(len(entries) - 1, -1, -1):
        if entries[index] is last:
            return entries[index + 1 :]
    return entries


class SnapshotFeed:
    """Follows any other journal (in Redis) by reading it whole each SLOW_TICK and comparing with the
    last entry sent; it cannot resume, so each connection starts with the backlog."""

    interval = SLOW_TICK

    def __init__(self, journal: RequestLog) -> None:
        self.journal = journal
        self.last: Entry | None = None

    def first(self) -> Batch:
        entries = self.journal.entries()[-BACKLOG:]
        self.last = entries[-1] if entries else None
        return Batch(entries, len(entries), backlog=True)

    def poll(self) -> Batch | None:
        entries = self.journal.entries()[-SCAN:]
        new = self._new(entries)
        if not new:
            return None
        self.last = new[-1]
        return Batch(sample(new, SAMPLE), len(new))

    def _new(self, entries: list[Entry]) -> list[Entry]:
        last = self.last
        if last is None:
            return entries
        for index in range(len(entries) - 1, -1, -1):
            if entries[index] == last:
                return entries[index + 1 :]
        return [entry for entry in entries if entry.time > last.time]  # the last one was cleared


def feed_for(journal: RequestLog, resume_after: int | None) -> Feed:
    return TailFeed(journal, resume_after) if isinstance(journal, Journal) else SnapshotFeed(journal)


def message(batch: Batch) -> bytes:
    """One Server-Sent Events message: `id` (when the feed has one) and a one-line JSON `data`."""
    data = orjson.dumps(
        {
            "entries": [entry.to_json() for entry in batch.entries],
            "arrived": batch.arrived,
            "backlog": batch.backlog,
        }
    )
    head = b"" if batch.cursor is None else b"id: %d\n" % batch.cursor
    return head + b"data: " + data + b"\n\n"


class Slots:
    """At most `limit` event streams at once."""

    def __init__(self, limit: int) -> None:
        self._free = threading.BoundedSemaphore(limit)

    def take(self) -> bool:
        return self._free.acquire(blocking=False)

    def give(self) -> None:
        self._free.release()


class EventStream:
    """The answer's body: the retry interval and the first batch at once (the front sends the headers
    once it has two chunks), then a message whenever the journal moved, a comment after HEARTBEAT
    seconds of silence, until the lifetime is over or the server stops. Its slot is given back when
    the server closes it, whether it was read or not."""

    def __init__(
        self, feed: Feed, seconds: float, stopping: Callable[[], bool], release: Callable[[], None]
    ) -> None:
        self._messages = self._run(feed, seconds, stopping)
        self._release: Callable[[], None] | None = release

    def __iter__(self) -> Iterator[bytes]:
        return self

    def __next__(self) -> bytes:
        return next(self._messages)

    def close(self) -> None:
        self._messages.close()
        release, self._release = self._release, None
        if release is not None:
            release()

    @staticmethod
    def _run(feed: Feed, seconds: float, stopping: Callable[[], bool]) -> Generator[bytes]:
        yield b"retry: %d\n\n" % RETRY_MS
        yield message(feed.first())
        end = time.monotonic() + seconds
        quiet_since = time.monotonic()
        while time.monotonic() < end and not stopping():
            time.sleep(min(feed.interval, max(0.0, end - time.monotonic())))
            batch = feed.poll()
            if batch is not None:
                yield message(batch)
                quiet_since = time.monotonic()
            elif time.monotonic() - quiet_since >= HEARTBEAT:
                yield b": still here\n\n"
                quiet_since = time.monotonic()


_STOPPING = threading.Event()
"""Set when this process stops serving: every event stream ends at its next tick."""


def stop_streams() -> None:
    """End the event streams of this process (the server front calls it on a stop signal): a server
    waits for the answers in flight, and a stream would hold a stop for its whole lifetime."""
    _STOPPING.set()


def _slots(app: Flask) -> Slots:
    slots: Slots | None = app.extensions.get(INSPECTOR_EXTENSION)
    if slots is None:
        slots = app.extensions.setdefault(INSPECTOR_EXTENSION, Slots(MAX_STREAMS))
    return slots


@bp.get("/events")
def events() -> Response:
    """The journal as it grows, as Server-Sent Events (`text/event-stream`)."""
    resume_after = _last_event_id()
    slots = _slots(current_app)
    if not slots.take():
        raise ApiError.of(
            TOO_MANY_STREAMS,
            f"{MAX_STREAMS} event streams are open already; close an inspector page or retry later",
            headers={"Retry-After": "5"},
        )
    try:
        feed = feed_for(get_journal(), resume_after)
    except BaseException:
        slots.give()
        raise
    seconds = float(current_app.config.get(STREAM_SECONDS_CONFIG, STREAM_SECONDS))
    stream = EventStream(feed, seconds, _STOPPING.is_set, slots.give)
    response = Response(stream, mimetype="text/event-stream")
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Accel-Buffering"] = "no"  # a proxy in front must not hold the messages back
    return response


LAST_EVENT_ID = re.compile(r"[0-9]{1,20}", re.ASCII)


def _last_event_id() -> int | None:
    """Where a reconnecting browser left off (the `id` of the last message it got), or None; a value
    this server never sends is a 400 naming the header."""
    raw = request.headers.get("Last-Event-ID")
    if raw is None:
        return None
    if not LAST_EVENT_ID.fullmatch(raw):
        shown = raw if len(raw) <= 40 else raw[:40] + "…"
        raise ApiError.of(
            INVALID_PARAMETER,
            f"Last-Event-ID must be the id of a message of this stream (1 to 20 digits), got {shown!r}",
            ("header", "Last-Event-ID"),
        )
    return int(raw)


# --- The page ------------------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def _page_template() -> str:
    return (STATIC / "inspector.html").read_text(encoding="utf-8")


def page_config(settings: Settings) -> dict[str, object]:
    """What the page needs to know of the server, embedded in it as JSON."""
    return {
        "scenarios": list_scenarios(settings.scenarios_dir),
        "journal_size": settings.journal_size,
        "sample": SAMPLE,
        "tick_ms": int(TICK * 1000),
        "events": EVENTS_PATH,
    }


def _script_json(value: object) -> str:
    """JSON safe inside a `<script>` element (no `</script>` or `<!--` can end it early)."""
    text = orjson.dumps(value).decode()
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _page_headers(response: Response) -> Response:
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


@bp.get("/ui")
def page() -> Response:
    settings: Settings = current_app.config["MOCKSERVER_SETTINGS"]
    html = _page_template().replace("{{config}}", _script_json(page_config(settings)))
    response = Response(html, mimetype="text/html")
    response.headers["Cache-Control"] = "no-store"
    return _page_headers(response)


@bp.get("/ui/<asset>")
def asset(asset: str) -> Response:
    """One of the page's files (the contract names them all); revalidated on each load (ETag)."""
    mimetype = ASSETS.get(asset)
    if mimetype is None:  # validation refused it already; kept for an app without validation
        raise ApiError.of(PATH_NOT_FOUND, f"No file {asset[:64]!r} in the inspector", ("parameter", "asset"))
    content = (STATIC / asset).read_bytes()
    response = Response(content, mimetype=mimetype)
    response.set_etag(hashlib.sha256(content).hexdigest()[:32])
    response.headers["Cache-Control"] = "no-cache"
    response.make_conditional(request)  # a 304 when the browser's copy is current
    return _page_headers(response)
