"""A bounded log of recent requests, recorded at one choke point (around the WSGI app)."""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from flask import Flask, current_app

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment


MAX_FIELD = 2048
"""Characters kept of a journaled method, path or query: the journal's memory stays bounded."""


@dataclass(frozen=True)
class Entry:
    method: str
    path: str
    query: str
    status: int
    duration_ms: float
    session: str | None = None
    """The X-Mock-Session the request named, if any."""

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


class Journal:
    def __init__(self, size: int) -> None:
        self._entries: deque[Entry] = deque(maxlen=size)
        self._lock = threading.Lock()

    def record(self, entry: Entry) -> None:
        with self._lock:
            self._entries.append(entry)

    def clear(self, session: str | None = None) -> None:
        """Forget every entry, or only a session's."""
        with self._lock:
            if session is None:
                self._entries.clear()
                return
            kept = [entry for entry in self._entries if entry.session != session]
            self._entries.clear()
            self._entries.extend(kept)

    def matching(
        self, method: str | None = None, path: str | None = None, session: str | None = None
    ) -> Iterator[Entry]:
        """Entries, oldest first; with a session, only that session's."""
        with self._lock:
            entries = list(self._entries)
        for entry in entries:
            if session is not None and entry.session != session:
                continue
            if method and entry.method != method.upper():
                continue
            if path and entry.path != path:
                continue
            yield entry


def get_journal() -> Journal:
    journal: Journal = current_app.extensions["mockserver.journal"]
    return journal


class JournalMiddleware:
    """Wraps the WSGI app: times each request, journals it (admin calls excepted), logs one line.

    A WSGI wrapper rather than Flask hooks, so it sees every answer, errors included, and costs one
    function call per request.
    """

    def __init__(self, wsgi_app: WSGIApplication, journal: Journal, log: logging.Logger | None) -> None:
        self.wsgi_app = wsgi_app
        self.journal = journal
        self.log = log

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        started = time.perf_counter()
        status = [0]

        def record_status(code: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            status[0] = int(code[:3])
            return start_response(code, headers, exc_info)

        body = self.wsgi_app(environ, record_status)
        elapsed = (time.perf_counter() - started) * 1000
        method = environ.get("REQUEST_METHOD", "")
        path = environ.get("PATH_INFO", "")
        query = environ.get("QUERY_STRING", "")
        if not path.startswith("/__admin"):
            session = environ.get("HTTP_X_MOCK_SESSION")
            entry = Entry(
                method[:MAX_FIELD],
                path[:MAX_FIELD],
                query[:MAX_FIELD],
                status[0],
                round(elapsed, 3),
                session[:64] if session else None,
            )
            self.journal.record(entry)
        if self.log is not None:
            target = f"{path}?{query}" if query else path
            self.log.info(
                '%s "%s %s" %s %.1fms', environ.get("REMOTE_ADDR", "-"), method, target, status[0], elapsed
            )
        return body


def init_app(app: Flask, journal: Journal, access_log: bool) -> None:
    app.extensions["mockserver.journal"] = journal
    log = logging.getLogger("mockserver.access") if access_log else None
    app.wsgi_app = JournalMiddleware(app.wsgi_app, journal, log)  # type: ignore[method-assign]
