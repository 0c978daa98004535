"""A bounded log of recent requests, recorded at one choke point (after each response)."""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from typing import Any

from flask import Flask, Response, current_app, g, request


@dataclass(frozen=True)
class Entry:
    method: str
    path: str
    query: str
    status: int
    duration_ms: float

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


class Journal:
    def __init__(self, size: int) -> None:
        self._entries: deque[Entry] = deque(maxlen=size)
        self._lock = threading.Lock()

    def record(self, entry: Entry) -> None:
        with self._lock:
            self._entries.append(entry)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def matching(self, method: str | None = None, path: str | None = None) -> Iterator[Entry]:
        with self._lock:
            entries = list(self._entries)
        for entry in entries:
            if method and entry.method != method.upper():
                continue
            if path and entry.path != path:
                continue
            yield entry


def get_journal() -> Journal:
    journal: Journal = current_app.extensions["mockserver.journal"]
    return journal


def init_app(app: Flask, journal: Journal) -> None:
    """Time each request, journal it (admin calls excepted) and log one line for it."""
    app.extensions["mockserver.journal"] = journal
    access_log = app.logger.getChild("access")

    @app.before_request
    def start_timer() -> None:
        g.started = time.perf_counter()

    @app.after_request
    def record(response: Response) -> Response:
        elapsed = (time.perf_counter() - g.get("started", time.perf_counter())) * 1000
        query = request.query_string.decode("latin-1")
        if not request.path.startswith("/__admin"):
            journal.record(
                Entry(request.method, request.path, query, response.status_code, round(elapsed, 3))
            )
        target = f"{request.path}?{query}" if query else request.path
        access_log.info(
            '%s "%s %s" %s %.1fms', request.remote_addr, request.method, target, response.status_code, elapsed
        )
        return response
