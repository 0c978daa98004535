"""A bounded log of recent requests, recorded at one choke point (around the WSGI app).

Each entry keeps what a contract test asks about afterwards: when, which session, the request line,
headers (`Authorization` cut to its scheme), the body (bounded, marked when cut), the answer's
status and time, the operation the request matched and the errors it got; and, for a Pact export,
the answer itself (see `Answer`) and the id of the user the request acted as. The capture on the
request path is a few attribute reads and one tuple; everything is turned into JSON only when read.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import islice
from typing import TYPE_CHECKING, Any, Protocol

from flask import Flask, Response
from werkzeug.wsgi import ClosingIterator

from mockserver.core.api_errors import CONTRACT_KINDS, MAX_ITEMS, ErrorItem
from mockserver.core.channels import (
    ANSWER_ENVIRON_KEY,
    ANSWERED_BY_KEY,
    BODY_ENVIRON_KEY,
    ENTRY_ENVIRON_KEY,
    ERROR_ENVIRON_KEY,
    INCARNATION_ENVIRON_KEY,
    JOURNAL_AT_CLOSE_KEY,
    JOURNAL_EXTENSION,
    OPERATION_ENVIRON_KEY,
    UNJOURNALED_ENVIRON_KEY,
    USER_ENVIRON_KEY,
)
from mockserver.core.context import current_flask_app, current_request

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment


MAX_FIELD = 2048
"""Characters kept of a journaled method, path, query or header value: the journal's memory stays bounded."""
MAX_COUNTED_SESSIONS = 10_000
"""Sessions whose dropped entries are counted one by one (the oldest counts are forgotten first)."""
MAX_HEADERS = 64
"""Headers kept per entry."""
MAX_HEADER_TEXT = 8192
"""Characters kept of an entry's headers in all (names and values): a client sending huge headers
cannot make the journal hold more than this per request, in memory or in Redis."""
MAX_BODY = 4096
"""Bytes kept of a request body; a longer one is cut and marked `body_truncated`."""
_HEADER_PREFIXES = ("HTTP_", "CONTENT_")
# --- the answer, kept for a Pact export (mockserver.pact.export) ---------------------------------------
MAX_ANSWER_BODY = 64 * 1024
"""Bytes of an answer's body the journal keeps. A longer body is not kept at all (`Answer.cut`): a
part of an answer can be no contract, and keeping none costs no copy."""
ANSWER_HEADERS = frozenset({"content-type", "preference-applied", "www-authenticate", "allow", "retry-after"})
"""The answer headers the journal keeps (lower case): those the contracts name."""


@dataclass(frozen=True)
class Answer:
    """What the mock answered: the content type, the headers a contract names, and the body when it
    is at most MAX_ANSWER_BODY bytes (the bytes sent, not a copy); `cut` when it was longer, or
    streamed, and so not kept."""

    content_type: str | None = None
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes | None = None
    cut: bool = False


NO_ANSWER = Answer(cut=True)
"""An answer the journal did not see (streamed, or sent by something else than the app)."""


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
    headers_truncated: bool = False
    """Headers were left out or cut to keep the entry within MAX_HEADERS and MAX_HEADER_TEXT."""
    incarnation: int | None = None
    """Which life of its session the request belongs to: a session id used again after the session
    expired or was evicted starts a new one, whose journal does not show the old one's entries."""
    answer: Answer = NO_ANSWER
    user: str | None = None
    """The id of the user the request acted as (None when it did not reach the API's views)."""

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
            "headers_truncated": self.headers_truncated,
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


def no_incarnation(_session: str) -> int | None:
    return None


class RequestLog(Protocol):
    """What the app asks of a journal, wherever it is kept: in this process (`Journal`) or in Redis,
    shared by every worker (`scaleout.redis_journal.RedisJournal`)."""

    size: int
    incarnation_of: Callable[[str], int | None]

    @property
    def dropped(self) -> int:
        """Entries pushed out by the bound since start-up (over every session)."""
        ...

    def record(self, entry: Entry) -> None: ...

    def dropped_for(self, session: str | None) -> int: ...

    def clear(self, session: str | None = None) -> None: ...

    def entries(self, session: str | None = None) -> list[Entry]: ...

    def matching(
        self, method: str | None = None, path: str | None = None, session: str | None = None
    ) -> Iterator[Entry]: ...


class Journal:
    """The journal in this process: the newest `size` entries, oldest first; thread-safe."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._entries: deque[Entry] = deque(maxlen=size)
        self._lock = threading.Lock()
        self.dropped = 0
        """Entries pushed out by the bound since start-up (over every session)."""
        self._dropped_by_session: OrderedDict[tuple[str, int | None], int] = OrderedDict()
        """The same, per session incarnation, for the most recent MAX_COUNTED_SESSIONS that lost some."""
        self.incarnation_of: Callable[[str], int | None] = no_incarnation
        """The current incarnation of a session (set by the session layer); None: any."""
        self._cleared = 0
        """Entries `clear` removed since start-up (for `recorded`)."""

    @property
    def recorded(self) -> int:
        """Entries recorded since start-up (kept, pushed out or cleared since): a follower compares it
        with the count it last saw (`tail`). Counted from what recording counts anyway, so that
        recording costs nothing more."""
        return self.dropped + len(self._entries) + self._cleared

    def record(self, entry: Entry) -> None:
        with self._lock:
            if len(self._entries) == self.size:
                self.dropped += 1
                oldest = self._entries[0]
                if oldest.session is not None:
                    key = (oldest.session, oldest.incarnation)
                    counts = self._dropped_by_session
                    counts[key] = counts.pop(key, 0) + 1
                    if len(counts) > MAX_COUNTED_SESSIONS:
                        counts.popitem(last=False)
            self._entries.append(entry)

    def tail(self, count: int) -> tuple[list[Entry], int]:
        """The newest `count` entries, oldest first, and `recorded` as of them: what a follower (the
        inspector's event stream) reads when `recorded` has moved, in time linear in `count` alone."""
        with self._lock:
            newest = list(islice(reversed(self._entries), count))
            recorded = self.recorded
        newest.reverse()
        return newest, recorded

    def dropped_for(self, session: str | None) -> int:
        """Entries the bound pushed out: of a session's current incarnation since its last reset, or of
        all since start-up."""
        if session is None:
            return self.dropped
        return self._dropped_by_session.get((session, self.incarnation_of(session)), 0)

    def clear(self, session: str | None = None) -> None:
        """Forget every entry, or only a session's."""
        with self._lock:
            if session is None:
                self._cleared += len(self._entries)
                self._entries.clear()
                self._dropped_by_session.clear()
                return
            for key in [key for key in self._dropped_by_session if key[0] == session]:
                del self._dropped_by_session[key]
            kept = [entry for entry in self._entries if entry.session != session]
            self._cleared += len(self._entries) - len(kept)
            self._entries.clear()
            self._entries.extend(kept)

    def entries(self, session: str | None = None) -> list[Entry]:
        """Entries, oldest first; with a session, only those of its current incarnation."""
        with self._lock:
            entries = list(self._entries)
        if session is None:
            return entries
        incarnation = self.incarnation_of(session)
        return [
            entry
            for entry in entries
            if entry.session == session and (incarnation is None or entry.incarnation == incarnation)
        ]

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


def get_journal() -> RequestLog:
    app = current_flask_app()
    journal: RequestLog = app.extensions[JOURNAL_EXTENSION]
    return journal


def request_headers(environ: WSGIEnvironment) -> tuple[tuple[str, str], ...]:
    """The request's headers as the environ holds them (`HTTP_USER_AGENT`…), at most MAX_HEADERS; names
    are spelled out only when read (`header_name`). `Authorization` keeps its scheme only. Values are
    whole: for matching a request while it is served (`journaled_headers` bounds what is kept)."""
    headers = [item for item in environ.items() if item[0].startswith(_HEADER_PREFIXES)]
    if "HTTP_AUTHORIZATION" in environ:
        scheme = str(environ["HTTP_AUTHORIZATION"]).strip().partition(" ")[0]
        headers = [(k, scheme if k == "HTTP_AUTHORIZATION" else v) for k, v in headers]
    return tuple(headers[:MAX_HEADERS])


def journaled_headers(environ: WSGIEnvironment) -> tuple[tuple[tuple[str, str], ...], bool]:
    """The request's headers as the journal keeps them, bounded when stored (not when read, so that
    neither memory nor Redis ever holds more): at most MAX_HEADERS, each value at most MAX_FIELD
    characters, MAX_HEADER_TEXT characters in all; True when any was cut or left out. `Authorization`
    keeps its scheme only, so no credential is ever stored."""
    kept: list[tuple[str, str]] = []
    room = MAX_HEADER_TEXT
    cut = False
    for key, value in environ.items():
        if not key.startswith(_HEADER_PREFIXES):
            continue
        if key == "HTTP_AUTHORIZATION":
            value = str(value).strip().partition(" ")[0]
        if len(kept) == MAX_HEADERS or room <= len(key):
            cut = True
            break
        fits = min(MAX_FIELD, room - len(key))
        if len(value) > fits:
            value, cut = value[:fits], True
        kept.append((key, value))
        room -= len(key) + len(value)
    return tuple(kept), cut


def answer_of(environ: WSGIEnvironment) -> Answer:
    """The answer the app left in the environ, bounded: a few header reads and, for a body in one
    piece (as Flask builds them), a length check; nothing is copied."""
    response = environ.get(ANSWER_ENVIRON_KEY)
    if response is None:
        return NO_ANSWER
    headers = tuple((k, v) for k, v in response.headers.items() if k.lower() in ANSWER_HEADERS)
    content_type = response.headers.get("Content-Type")
    if not response.is_sequence:
        return Answer(content_type, headers, None, True)
    body = b"".join(response.response)  # one piece: the same bytes object
    if len(body) > MAX_ANSWER_BODY:
        return Answer(content_type, headers, None, True)
    return Answer(content_type, headers, body, False)


def journaled(environ: WSGIEnvironment) -> bool:
    """Whether a request goes into the journal: not the admin API's, nor the documentation's."""
    return not environ.get("PATH_INFO", "").startswith("/__admin") and not environ.get(
        UNJOURNALED_ENVIRON_KEY
    )


def entry_of(
    environ: WSGIEnvironment,
    status: int,
    elapsed_ms: float,
    arrived: float,
    incarnation_of: Callable[[str], int | None],
) -> Entry:
    """The journal's entry for a request the app answered (`incarnation_of` for one refused before the
    session layer)."""
    session = environ.get("HTTP_X_MOCK_SESSION")
    raw_body: bytes | None = environ.get(BODY_ENVIRON_KEY)
    error = environ.get(ERROR_ENVIRON_KEY)
    headers, headers_cut = journaled_headers(environ)
    if session and INCARNATION_ENVIRON_KEY not in environ:  # refused before the session layer
        incarnation = incarnation_of(session)
    else:  # None: the session layer could not tell (its store failed)
        incarnation = environ.get(INCARNATION_ENVIRON_KEY)
    return Entry(
        environ.get("REQUEST_METHOD", "")[:MAX_FIELD],
        environ.get("PATH_INFO", "")[:MAX_FIELD],
        environ.get("QUERY_STRING", "")[:MAX_FIELD],
        status,
        round(elapsed_ms, 3),
        session[:64] if session else None,
        arrived,
        headers,
        None if raw_body is None else raw_body[:MAX_BODY],
        raw_body is not None and len(raw_body) > MAX_BODY,
        environ.get(OPERATION_ENVIRON_KEY),
        error.items[:MAX_ITEMS] if error is not None else (),
        environ.get(ANSWERED_BY_KEY),
        headers_cut,
        incarnation,
        answer_of(environ),
        environ.get(USER_ENVIRON_KEY),
    )


def log_line(
    log: logging.Logger, client: str, environ: WSGIEnvironment, status: int, elapsed_ms: float
) -> None:
    """The access log's line for a request."""
    path = environ.get("PATH_INFO", "")
    query = environ.get("QUERY_STRING", "")
    target = f"{path}?{query}" if query else path
    log.info('%s "%s %s" %s %.1fms', client, environ.get("REQUEST_METHOD", ""), target, status, elapsed_ms)


def header_name(environ_key: str) -> str:
    """`HTTP_X_MOCK_SESSION` → `X-Mock-Session`; `CONTENT_TYPE` → `Content-Type`."""
    return environ_key.removeprefix("HTTP_").replace("_", "-").title()


class JournalMiddleware:
    """Wraps the WSGI app: times each request, journals it (admin and documentation requests excepted),
    logs one line.

    A WSGI wrapper rather than Flask hooks, so it sees every answer, errors included, and costs one
    function call per request.
    """

    def __init__(self, wsgi_app: WSGIApplication, journal: RequestLog, log: logging.Logger | None) -> None:
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
        if journaled(environ):
            entry = environ[ENTRY_ENVIRON_KEY] = entry_of(
                environ, status, elapsed, arrived, self._incarnation
            )
            self.journal.record(entry)
        if self.log is not None:
            log_line(self.log, environ.get("REMOTE_ADDR", "-"), environ, status, elapsed)

    def _incarnation(self, session: str) -> int | None:
        """The session's incarnation for a request that did not reach the session layer (refused
        before it): the current one, or a new one started now; None when the store cannot tell."""
        try:
            return self.journal.incarnation_of(session)
        except Exception:  # the store is unreachable: the entry belongs to no incarnation in particular
            return None


def init_app(
    app: Flask, journal: RequestLog, access_log: bool
) -> Callable[[WSGIApplication], WSGIApplication]:
    """Keep the journal on the app; the WSGI layer that records every request in it (and logs it)."""
    app.extensions[JOURNAL_EXTENSION] = journal
    log = logging.getLogger("mockserver.access") if access_log else None
    return lambda inner: JournalMiddleware(inner, journal, log)


def keep_answer(response: Response) -> Response:
    """The after-request hook that runs last, so it sees the answer as sent: left in the environ for
    the journal's entry (a Pact export reads it)."""
    request = current_request()
    request.environ[ANSWER_ENVIRON_KEY] = response
    return response
