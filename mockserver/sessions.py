"""Per-test isolation: a request naming a session (`X-Mock-Session: <id>`) reads and changes only that
session's state, forked lazily from the data set; requests without the header share the default.

A session is a forked `Store` (links and click events of its own, over the shared data set and
indexes) and a renderer with its own cache. Idle sessions expire after a TTL; past the bound, the
least recently used is evicted. A request naming an expired or evicted session starts it afresh.

A data set can be switched at run time (`PUT /__admin/scenario`): for one session, which then gets a
store of its own over that data set, or for the default, which every session created afterwards
forks from. A switch swaps one object: a request in flight keeps the store and renderer it started
with, and never sees half of each.
"""

from __future__ import annotations

import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from flask import Flask, current_app, request

from .documents import Renderer
from .errors import INVALID_SESSION, ApiError
from .model import DataSet
from .rules import Rule, RuleBook
from .store import CURRENT_SESSION, Store

HEADER = "X-Mock-Session"
ENVIRON_KEY = "HTTP_X_MOCK_SESSION"
SESSION_ID = re.compile(r"[A-Za-z0-9._~-]{1,64}")


@dataclass
class Session:
    id: str
    store: Store
    renderer: Renderer
    last_used: float
    source: str = ""
    """What its data set is: "scenario default", "Faker data (seed 1, 100 partners)", "inline scenario"."""
    rules: RuleBook = field(default_factory=RuleBook)
    """Its rules (the data set's, and those added for it), with their counts."""


class Sessions:
    """The live sessions, least recently used first; thread-safe."""

    def __init__(
        self,
        store: Store,
        ttl: float,
        max_sessions: int,
        clock: Callable[[], float] = time.monotonic,
        source: str = "",
        rules: tuple[Rule, ...] = (),
    ) -> None:
        self.default = Session("", store, Renderer(store), 0.0, source, RuleBook(rules, store.seed))
        """What requests without the header use, and what new sessions fork from."""
        self.ttl = ttl
        self.max_sessions = max_sessions
        self.clock = clock
        self._sessions: OrderedDict[str, Session] = OrderedDict()
        self._lock = threading.Lock()
        self.evicted = 0
        """Sessions dropped for the bound or the TTL since start-up."""

    def get(self, session_id: str) -> Session:
        """The session with this id, created (forked from the data set) when it does not exist."""
        now = self.clock()
        with self._lock:
            self._expire(now)
            session = self._sessions.get(session_id)
            if session is None:
                default = self.default
                store = default.store.fork()
                renderer = default.renderer.fork(store)
                session = Session(session_id, store, renderer, now, default.source, default.rules.fork())
                self._add(session)
            else:
                session.last_used = now
                self._sessions.move_to_end(session_id)
            return session

    def switch(
        self,
        session_id: str | None,
        dataset: DataSet,
        seed: int,
        source: str,
        rules: tuple[Rule, ...] = (),
        body: Any = None,
    ) -> Session:
        """Serve another data set: to one session (created if need be), or by default (None).

        The new store starts as the data set was loaded; live sessions keep the data set they have.
        (`body`, what it was loaded from, is for sessions kept elsewhere.)
        """
        store = Store(dataset, seed, self.default.store.max_click_events)
        with self._lock:
            book = RuleBook(rules, seed)
            session = Session(session_id or "", store, Renderer(store), self.clock(), source, book)
            if session_id is None:
                self.default = session
            else:
                self._sessions.pop(session_id, None)
                self._add(session)
            return session

    def _add(self, session: Session) -> None:
        """Add a session as the most recently used one; evict past the bound. Call under the lock."""
        self._sessions[session.id] = session
        while len(self._sessions) > self.max_sessions:
            self._sessions.popitem(last=False)
            self.evicted += 1

    def drop(self, session_id: str) -> bool:
        """Forget a session; True when it existed."""
        with self._lock:
            return self._sessions.pop(session_id, None) is not None

    def ids(self) -> list[str]:
        with self._lock:
            self._expire(self.clock())
            return list(self._sessions)

    def _expire(self, now: float) -> None:
        """Drop sessions idle longer than the TTL (the oldest are first: stop at the first live one)."""
        while self._sessions:
            oldest = next(iter(self._sessions.values()))
            if now - oldest.last_used <= self.ttl:
                return
            self._sessions.popitem(last=False)
            self.evicted += 1


def session_id_of_request() -> str | None:
    """The validated session id the request names, or None; a malformed one is a 400."""
    raw: str | None = request.environ.get(ENVIRON_KEY)  # cheaper than request.headers on every request
    if raw is None:
        return None
    if not SESSION_ID.fullmatch(raw):
        shown = raw if len(raw) <= 40 else raw[:40] + "…"
        # Not ASCII: under granian the value is a stand-in for bytes it could not read (see rsgi).
        got = repr(shown) if raw.isascii() else "bytes outside ASCII"
        raise ApiError.of(
            INVALID_SESSION,
            f"{HEADER} must be 1 to 64 letters, digits or . _ ~ -, got {got}",
            ("header", HEADER),
        )
    return raw


def get_sessions() -> Sessions:
    """The app's sessions: a `Sessions`, or `redis_sessions.RedisSessions`, which has its interface."""
    sessions: Sessions = current_app.extensions["mockserver.sessions"]
    return sessions


def init_app(app: Flask, sessions: Sessions) -> None:
    """Pick each request's session before its view runs (admin requests included)."""
    app.extensions["mockserver.sessions"] = sessions
    if not isinstance(sessions, Sessions):  # kept in Redis: read again when another worker changed it
        shared: Any = sessions

        @app.before_request
        def pick_shared_session() -> None:
            CURRENT_SESSION.set(shared.default)
            CURRENT_SESSION.set(shared.current(session_id_of_request()))

        return

    @app.before_request
    def pick_session() -> None:
        CURRENT_SESSION.set(sessions.default)  # first: a malformed id below must not leave another's
        session_id = session_id_of_request()
        if session_id is not None:
            CURRENT_SESSION.set(sessions.get(session_id))
