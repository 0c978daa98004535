"""Per-test isolation: a request naming a session (`X-Mock-Session: <id>`) reads and changes only that
session's state, forked lazily from the data set; requests without the header share the default.

A session is a forked `Store` (links and click events of its own, over the shared data set and
indexes) and a renderer with its own cache. Idle sessions expire after a TTL; past the bound, the
least recently used is evicted. A request naming an expired or evicted session starts it afresh: a
new incarnation, whose journal does not show the old one's entries.

What sessions hold is bounded for the whole server, not per session: the click events of all of them
together (`mutable.ClickBudget`), the rendered partners their renderers cache (`documents.RenderBudget`),
and the partners of the data sets switched to at run time (past that bound, the least recently used
sessions holding such a data set are evicted).

A data set can be switched at run time (`PUT /__admin/scenario`): for one session, which then gets a
store of its own over that data set, or for the default, which every session created afterwards
forks from. A switch swaps one object: a request in flight keeps the store and renderer it started
with, and never sees half of each.
"""

from __future__ import annotations

import itertools
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from flask import Flask

from mockserver.core.api_errors import INVALID_SESSION, ApiError
from mockserver.core.channels import INCARNATION_ENVIRON_KEY, JOURNAL_EXTENSION, SESSIONS_EXTENSION
from mockserver.core.context import current_flask_app, current_request
from mockserver.dataset.model import DataSet
from mockserver.rules.book import Rule, RuleBook
from mockserver.state.documents import MAX_RENDERED, RenderBudget, Renderer
from mockserver.state.mutable import ClickBudget, MemoryState
from mockserver.state.store import CURRENT_SESSION, Store

HEADER = "X-Mock-Session"
ENVIRON_KEY = "HTTP_X_MOCK_SESSION"
SESSION_ID = re.compile(r"[A-Za-z0-9._~-]{1,64}")
MAX_SWITCHED_PARTNERS = 50_000
"""Partners of the data sets switched to at run time, over the default and every session together
(about 1.4 kB each); past it the least recently used sessions holding such a data set are evicted."""


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
    incarnation: int = 0
    """Which life of the id this is: a new one each time the id is made again after it was gone."""

    def release(self) -> None:
        """The session is gone: its click events and cached pieces no longer count against the bounds."""
        self.store.release()
        self.renderer.release()


class SessionRegistry(Protocol):
    """What the app asks of its sessions, wherever they are kept: in this process (`Sessions`) or in
    Redis, shared by every worker (`scaleout.redis_sessions.RedisSessions`)."""

    ttl: float
    max_sessions: int

    @property
    def default(self) -> Session:
        """What requests without `X-Mock-Session` use, and what new sessions fork from."""
        ...

    @property
    def evicted(self) -> int:
        """Sessions dropped for the bound or the TTL since start-up."""
        ...

    def get(self, session_id: str) -> Session:
        """The session with this id, made when it has none live."""
        ...

    def incarnation(self, session_id: str) -> int | None:
        """The incarnation a request naming this id belongs to; None for an id that is no session's."""
        ...

    def switch(
        self,
        session_id: str | None,
        dataset: DataSet,
        seed: int,
        source: str,
        rules: tuple[Rule, ...] = (),
        body: Any = None,
    ) -> Session:
        """Serve another data set, to one session or by default (None)."""
        ...

    def ids(self) -> list[str]:
        """The live sessions' ids, least recently used first."""
        ...

    def usage(self) -> dict[str, dict[str, int]]:
        """Each server-wide bound: its limit, what is used, what it dropped."""
        ...


class Sessions:
    """The live sessions in this process, least recently used first; thread-safe."""

    def __init__(
        self,
        store: Store,
        ttl: float,
        max_sessions: int,
        clock: Callable[[], float] = time.monotonic,
        source: str = "",
        rules: tuple[Rule, ...] = (),
        max_rendered: int = MAX_RENDERED,
        max_switched_partners: int = MAX_SWITCHED_PARTNERS,
    ) -> None:
        self.renders = RenderBudget(max_rendered)
        """The bound on the rendered pieces every session's renderer caches."""
        self.default = Session(
            "", store, Renderer(store, budget=self.renders), 0.0, source, RuleBook(rules, store.seed)
        )
        """What requests without the header use, and what new sessions fork from."""
        self.ttl = ttl
        self.max_sessions = max_sessions
        self.max_switched_partners = max_switched_partners
        self.clock = clock
        state = store.state
        self.clicks = state.budget if isinstance(state, MemoryState) else ClickBudget(store.max_click_events)
        """The bound on the click events of every session together."""
        self._configured = store.dataset
        """The data set the server was started with (not counted against max_switched_partners)."""
        self._sessions: OrderedDict[str, Session] = OrderedDict()
        self._lock = threading.Lock()
        self._incarnations = itertools.count(1)
        self.evicted = 0
        """Sessions dropped for the bounds or the TTL since start-up."""

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
                incarnation = next(self._incarnations)
                rules = default.rules.fork()
                session = Session(session_id, store, renderer, now, default.source, rules, incarnation)
                self._add(session)
            else:
                session.last_used = now
                self._sessions.move_to_end(session_id)
            return session

    def incarnation(self, session_id: str) -> int | None:
        """The incarnation a request naming this id belongs to (made now when the id has none live);
        None for an id that is no session's."""
        if not SESSION_ID.fullmatch(session_id):
            return None
        return self.get(session_id).incarnation

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
        (`body`, what it was loaded from, is for sessions kept elsewhere.) Past the bound on switched
        data sets' partners, the least recently used sessions holding one are evicted first.
        """
        store = Store(dataset, seed, self.clicks.limit, budget=self.clicks)
        with self._lock:
            book = RuleBook(rules, seed)
            replaced = self.default if session_id is None else self._sessions.pop(session_id, None)
            incarnation = replaced.incarnation if replaced is not None else next(self._incarnations)
            renderer = Renderer(store, budget=self.renders)
            session = Session(session_id or "", store, renderer, self.clock(), source, book, incarnation)
            if replaced is not None:
                replaced.release()
            if session_id is None:
                self.default = session
            self._make_room_for(dataset)
            if session_id is not None:
                self._add(session)
            return session

    def _make_room_for(self, dataset: DataSet) -> None:
        """Evict the least recently used sessions serving switched data sets until `dataset` fits in
        the bound (under the lock). A scenario of the scenarios folder larger than the bound alone is
        served all the same, with no other switched data set beside it."""
        wanted = 0 if dataset is self._configured else len(dataset.partners)
        while self._switched_partners(dataset) + wanted > self.max_switched_partners:
            kept = {id(self._configured), id(self.default.store.dataset)}  # evicting these frees nothing
            held = [key for key, session in self._sessions.items() if id(session.store.dataset) not in kept]
            if not held:
                return
            self._evict(held[0])

    def _switched_partners(self, besides: DataSet | None = None) -> int:
        """Partners of the switched data sets the default and the sessions hold (each counted once)."""
        held = {id(besides)} if besides is not None else set()
        total = 0
        for session in (self.default, *self._sessions.values()):
            dataset = session.store.dataset
            if dataset is not self._configured and id(dataset) not in held:
                held.add(id(dataset))
                total += len(dataset.partners)
        return total

    def _add(self, session: Session) -> None:
        """Add a session as the most recently used one; evict past the bound. Call under the lock."""
        self._sessions[session.id] = session
        while len(self._sessions) > self.max_sessions:
            self._evict(next(iter(self._sessions)))

    def _evict(self, session_id: str) -> None:
        """Drop a session for a bound or the TTL (under the lock)."""
        self._sessions.pop(session_id).release()
        self.evicted += 1

    def ids(self) -> list[str]:
        with self._lock:
            self._expire(self.clock())
            return list(self._sessions)

    def usage(self) -> dict[str, dict[str, int]]:
        """Each bound on what sessions hold, and how much of it is used (for /__admin/sessions)."""
        with self._lock:
            self._expire(self.clock())
            sessions = len(self._sessions)
            switched = self._switched_partners()
        clicks = self.clicks
        return {
            "sessions": {"limit": self.max_sessions, "used": sessions, "evicted": self.evicted},
            "click_events": {"limit": clicks.limit, "used": clicks.stored, "dropped": clicks.dropped},
            "rendered_partners": {
                "limit": self.renders.limit,
                "used": self.renders.cached,
                "dropped": self.renders.dropped,
            },
            "switched_partners": {"limit": self.max_switched_partners, "used": switched},
        }

    def _expire(self, now: float) -> None:
        """Drop sessions idle longer than the TTL (the oldest are first: stop at the first live one)."""
        while self._sessions:
            oldest = next(iter(self._sessions.values()))
            if now - oldest.last_used <= self.ttl:
                return
            self._evict(oldest.id)


def session_id_of_request() -> str | None:
    """The validated session id the request names, or None; a malformed one is a 400."""
    request = current_request()
    raw: str | None = request.environ.get(ENVIRON_KEY)  # cheaper than request.headers on every request
    if raw is None:
        return None
    if not SESSION_ID.fullmatch(raw):
        shown = raw if len(raw) <= 40 else raw[:40] + "…"
        # Not ASCII: under granian the value is a stand-in for bytes it could not read (see serving.front).
        got = repr(shown) if raw.isascii() else "bytes outside ASCII"
        raise ApiError.of(
            INVALID_SESSION,
            f"{HEADER} must be 1 to 64 letters, digits or . _ ~ -, got {got}",
            ("header", HEADER),
        )
    return raw


def get_sessions() -> SessionRegistry:
    """The app's sessions, in this process or in Redis."""
    app = current_flask_app()
    sessions: SessionRegistry = app.extensions[SESSIONS_EXTENSION]
    return sessions


def init_app(app: Flask, sessions: SessionRegistry) -> Callable[[], None]:
    """Keep the sessions on the app; the before-request hook that picks each request's session (admin
    requests included). The journal asks the sessions which incarnation a request belongs to when it
    was refused before this."""
    app.extensions[SESSIONS_EXTENSION] = sessions
    app.extensions[JOURNAL_EXTENSION].incarnation_of = sessions.incarnation
    if not isinstance(sessions, Sessions):  # kept in Redis: read again when another worker changed it
        shared: Any = sessions

        def pick_shared_session() -> None:
            request = current_request()
            CURRENT_SESSION.set(shared.default)
            request.environ[INCARNATION_ENVIRON_KEY] = None  # until the store tells
            session = shared.current(session_id_of_request())
            CURRENT_SESSION.set(session)
            request.environ[INCARNATION_ENVIRON_KEY] = session.incarnation

        return pick_shared_session

    def pick_session() -> None:
        request = current_request()
        CURRENT_SESSION.set(sessions.default)  # first: a malformed id below must not leave another's
        session_id = session_id_of_request()
        if session_id is not None:
            session = sessions.get(session_id)
            CURRENT_SESSION.set(session)
            request.environ[INCARNATION_ENVIRON_KEY] = session.incarnation

    return pick_session
