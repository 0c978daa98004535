"""A bounded log of recent requests, recorded at one choke point (around the WSGI app).

Each entry keeps what a contract test asks about afterwards: when, which session, the request line,
headers (`Authorization` cut to its scheme), the body (bounded, marked when cut), the answer's
status and time, the operation the request matched and the errors it got. The capture on the request
path is a few attribute reads and one tuple; everything is turned into JSON only when read.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from flask import Flask, current_app
from werkzeug.wsgi import ClosingIterator

from .errors import CONTRACT_KINDS, ERROR_ENVIRON_KEY, MAX_ITEMS, ErrorItem

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment


MAX_FIELD = 2048
"""Characters kept of a journaled method, path, query or header value: the journal's memory stays bounded."""
MAX_COUNTED_SESSIONS = 10_000
"""Sessions whose dropped entries are counted one by one (the oldest counts are forgotten first)."""
MAX_HEADERS = 64
"""Headers kept per entry."""
MAX_BODY = 4096
"""Bytes kept of a request body; a longer one is cut and marked `body_truncated`."""
BODY_ENVIRON_KEY = "mockserver.body"
"""Environ key where `framing.read_body` leaves the body it read."""
ANSWERED_BY_KEY = "mockserver.answered_by"
"""Environ key: what answered instead of the view (a rule, a preference, a simulated error)."""
OPERATION_ENVIRON_KEY = "mockserver.operation_id"
"""Environ key where validation leaves the id of the operation a request matched."""
JOURNAL_AT_CLOSE_KEY = "mockserver.journal_at_close"
"""Environ key set by a view whose body is streamed (the proxy's past its checked part): the request
is journaled once the body has been sent, with the error a cut on the way left in the environ."""
UNJOURNALED_ENVIRON_KEY = "mockserver.unjournaled"
"""Environ key set on a request that is no call of the API (the documentation): it is not journaled."""
_HEADER_PREFIXES = ("HTTP_", "CONTENT_")


@dataclass(frozen=True)
class Entry:
    method: str
    path: str
    query: str
    status: int
    duration_ms: float
    session: str | None = None
    """The X-Mock-Session the request named, if any."""
    time: float = 0.0
    """When the request arrived (seconds since the epoch)."""
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes | None = None
    body_truncated: bool = False
    operation_id: str | None = None
    errors: tuple[ErrorItem, ...] = ()
    answered_by: str | None = None
    """What answered instead of the mock's own view: "rule <id>", "prefer code=404", "simulated error"."""

    @property
    def violation(self) -> bool:
        """The mock refused the request as off-contract (not, say, a 404 of an id the data lacks)."""
        return any(item.kind in CONTRACT_KINDS for item in self.errors)

    def header_map(self) -> dict[str, str]:
        return {header_name(key)[:MAX_FIELD]: str(value)[:MAX_FIELD] for key, value in self.headers}

    def body_text(self) -> str | None:
        return None if self.body is None else self.body.decode("utf-8", errors="replace")

    def to_json(self) -> dict[str, Any]:
        return {
            "time": _timestamp(self.time),
            "session": self.session,
            "method": self.method,
            "path": self.path,
            "query": self.query,
            "headers": self.header_map(),
            "body": self.body_text(),
            "body_truncated": self.body_truncated,
            "status": self.status,
            "duration_ms": self.duration_ms,
            "operation_id": self.operation_id,
            "errors": [item.to_json() for item in self.errors],
            "violation": self.violation,
            "answered_by": self.answered_by,
        }


def _timestamp(seconds: float) -> str:
    moment = datetime.fromtimestamp(seconds, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


class Journal:
    def __init__(self, size: int) -> None:
        self.size = size
        self._entries: deque[Entry] = deque(maxlen=size)
        self._lock = threading.Lock()
        self.dropped = 0
        """Entries pushed out by the bound since start-up (over every session)."""
        self._dropped_by_session: OrderedDict[str, int] = OrderedDict()
        """The same, per session, for the most recent MAX_COUNTED_SESSIONS sessions that lost some."""

    def record(self, entry: Entry) -> None:
        with self._lock:
            if len(self._entries) == self.size:
                self.dropped += 1
                session = self._entries[0].session
                if session is not None:
                    counts = self._dropped_by_session
                    counts[session] = counts.pop(session, 0) + 1
                    if len(counts) > MAX_COUNTED_SESSIONS:
                        counts.popitem(last=False)
            self._entries.append(entry)

    def dropped_for(self, session: str | None) -> int:
        """Entries the bound pushed out: of one session since its last reset, or of all since start-up."""
        if session is None:
            return self.dropped
        return self._dropped_by_session.get(session, 0)

    def clear(self, session: str | None = None) -> None:
        """Forget every entry, or only a session's."""
        with self._lock:
            if session is None:
                self._entries.clear()
                self._dropped_by_session.clear()
                return
            self._dropped_by_session.pop(session, None)
            kept = [entry for entry in self._entries if entry.session != session]
            self._entries.clear()
            self._entries.extend(kept)

    def entries(self, session: str | None = None) -> list[Entry]:
        """Entries, oldest first; with a session, only that session's."""
        with self._lock:
            entries = list(self._entries)
        if session is None:
            return entries
        return [entry for entry in entries if entry.session == session]

    def matching(
        self, method: str | None = None, path: str | None = None, session: str | None = None
    ) -> Iterator[Entry]:
        """Entries, oldest first; with a session, only that session's."""
        return with_method_and_path(self.entries(session), method, path)


def with_method_and_path(entries: Iterable[Entry], method: str | None, path: str | None) -> Iterator[Entry]:
    """The entries of this method (any case) and path; None matches any."""
    for entry in entries:
        if method and entry.method != method.upper():
            continue
        if path and entry.path != path:
            continue
        yield entry


def get_journal() -> Journal:
    journal: Journal = current_app.extensions["mockserver.journal"]
    return journal


def request_headers(environ: WSGIEnvironment) -> tuple[tuple[str, str], ...]:
    """The request's headers as the environ holds them (`HTTP_USER_AGENT`…), at most MAX_HEADERS; names
    are spelled out only when read (`header_name`). `Authorization` keeps its scheme only, so no
    credential is ever stored. Values are bounded by the server's header limits, and cut when read."""
    headers = [item for item in environ.items() if item[0].startswith(_HEADER_PREFIXES)]
    if "HTTP_AUTHORIZATION" in environ:
        scheme = str(environ["HTTP_AUTHORIZATION"]).strip().partition(" ")[0]
        headers = [(k, scheme if k == "HTTP_AUTHORIZATION" else v) for k, v in headers]
    return tuple(headers[:MAX_HEADERS])


def header_name(environ_key: str) -> str:
    """`HTTP_X_MOCK_SESSION` → `X-Mock-Session`; `CONTENT_TYPE` → `Content-Type`."""
    return environ_key.removeprefix("HTTP_").replace("_", "-").title()


class JournalMiddleware:
    """Wraps the WSGI app: times each request, journals it (admin and documentation requests excepted),
    logs one line.

    A WSGI wrapper rather than Flask hooks, so it sees every answer, errors included, and costs one
    function call per request.
    """

    def __init__(self, wsgi_app: WSGIApplication, journal: Journal, log: logging.Logger | None) -> None:
        self.wsgi_app = wsgi_app
        self.journal = journal
        self.log = log

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        arrived = time.time()
        started = time.perf_counter()
        status = [0]

        def record_status(code: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            status[0] = int(code[:3])
            return start_response(code, headers, exc_info)

        body = self.wsgi_app(environ, record_status)
        if environ.get(JOURNAL_AT_CLOSE_KEY):
            return ClosingIterator(body, lambda: self._record(environ, status[0], arrived, started))
        self._record(environ, status[0], arrived, started)
        return body

    def _record(self, environ: WSGIEnvironment, status: int, arrived: float, started: float) -> None:
        elapsed = (time.perf_counter() - started) * 1000
        method = environ.get("REQUEST_METHOD", "")
        path = environ.get("PATH_INFO", "")
        query = environ.get("QUERY_STRING", "")
        if not path.startswith("/__admin") and not environ.get(UNJOURNALED_ENVIRON_KEY):
            session = environ.get("HTTP_X_MOCK_SESSION")
            raw_body: bytes | None = environ.get(BODY_ENVIRON_KEY)
            error = environ.get(ERROR_ENVIRON_KEY)
            entry = Entry(
                method[:MAX_FIELD],
                path[:MAX_FIELD],
                query[:MAX_FIELD],
                status,
                round(elapsed, 3),
                session[:64] if session else None,
                arrived,
                request_headers(environ),
                None if raw_body is None else raw_body[:MAX_BODY],
                raw_body is not None and len(raw_body) > MAX_BODY,
                environ.get(OPERATION_ENVIRON_KEY),
                error.items[:MAX_ITEMS] if error is not None else (),
                environ.get(ANSWERED_BY_KEY),
            )
            self.journal.record(entry)
        if self.log is not None:
            target = f"{path}?{query}" if query else path
            self.log.info(
                '%s "%s %s" %s %.1fms', environ.get("REMOTE_ADDR", "-"), method, target, status, elapsed
            )


def init_app(app: Flask, journal: Journal, access_log: bool) -> None:
    app.extensions["mockserver.journal"] = journal
    log = logging.getLogger("mockserver.access") if access_log else None
    app.wsgi_app = JournalMiddleware(app.wsgi_app, journal, log)  # type: ignore[method-assign]
