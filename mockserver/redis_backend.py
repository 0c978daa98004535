"""What `--state redis://…` adds to an app: sessions, rules and the journal kept in Redis, the thread
that appends the journal and listens for notices while no request comes, and the 503 answered while
Redis cannot be reached (the worker stays up, and serves again as soon as Redis is back).
"""

from __future__ import annotations

import hashlib
import json
import select
import threading
from typing import Any
from urllib.parse import urlsplit

from flask import Flask, g

from .errors import STORE_UNAVAILABLE, ApiError, render_error
from .redis_journal import RedisJournal
from .redis_sessions import DatasetBuilder, RedisSessions
from .redis_state import RedisStore, SessionGone
from .rules import Rule
from .scenarios import resolve_scenario
from .settings import Settings
from .spec import Spec
from .store import Store


def namespace(settings: Settings, spec: Spec) -> str:
    """Workers serving the same spec and data set share their state; another configuration on the same
    Redis database gets keys of its own (and never serves state made for other data)."""
    scenario = None
    if settings.scenario is not None:  # its text: an edited scenario (--watch) is another data set
        scenario = hashlib.sha256(
            resolve_scenario(settings.scenario, settings.scenarios_dir).read_bytes()
        ).hexdigest()
    configuration = {
        "spec": hashlib.sha256(settings.spec_path.read_bytes()).hexdigest(),
        "scenario": scenario,
        "seed": settings.seed,
        "partners": settings.partners,
        "max_click_events": settings.max_click_events,
    }
    return hashlib.sha256(json.dumps(configuration, sort_keys=True).encode()).hexdigest()[:12]


def shown_url(url: str) -> str:
    """The store's address without a password: `redis://host:port/db`."""
    parts = urlsplit(url)
    host = parts.hostname or "localhost"
    return f"{parts.scheme}://{host}:{parts.port or 6379}{parts.path or '/0'}"


FLUSH_INTERVAL = 0.005
"""Seconds between two appends of the journal's buffer (at most 200 round trips a second for it)."""


class Background(threading.Thread):
    """Appends the journal's buffer as soon as entries wait, and reads the notices while no request
    does (another worker waiting for this one's journal, a resubscription after an outage)."""

    def __init__(self, store: RedisStore, journal: RedisJournal) -> None:
        super().__init__(name="mockserver-redis", daemon=True)
        self.store = store
        self.journal = journal
        self._stopping = threading.Event()

    def run(self) -> None:
        store, journal = self.store, self.journal
        while not self._stopping.is_set():
            waiting = [journal.wake_fd]
            subscription = store.notices.fileno()
            if subscription is not None:
                waiting.append(subscription)
            try:
                readable = select.select(waiting, [], [], 1.0)[0]
            except (OSError, ValueError):  # a socket closed meanwhile
                readable = []
            if self._stopping.is_set():
                return
            try:
                store.notices.check()
                if journal.wake_fd in readable:
                    journal.drain_wake()
                    journal.flush()
                    # Entries of the next few milliseconds go in one append: a round trip costs more
                    # than many entries (a reader never waits for this: it asks for a flush).
                    self._stopping.wait(FLUSH_INTERVAL)
            except Exception:  # Redis unreachable: try again in a moment
                self._stopping.wait(0.5)

    def stop(self) -> None:
        self._stopping.set()

    def close(self) -> None:
        """Stop, and close the connections (an app that is done with; the thread ends within a second)."""
        self.stop()
        self.store.notices.close()
        self.store.client.close()


def init_app(
    app: Flask,
    settings: Settings,
    spec: Spec,
    configured: Store,
    build: DatasetBuilder,
    source: str,
    rules: tuple[Rule, ...],
) -> tuple[RedisSessions, RedisJournal]:
    """Sessions and journal kept in Redis for this app; nothing connects before the first request."""
    import redis

    assert settings.state is not None
    store = RedisStore(settings.state, settings.state_namespace or namespace(settings, spec))
    sessions = RedisSessions(
        store,
        configured,
        spec,
        build,
        settings.session_ttl,
        settings.max_sessions,
        source=source,
        rules=rules,
    )
    journal = RedisJournal(store, settings.journal_size)
    background = Background(store, journal)
    app.extensions["mockserver.redis"] = background
    where = shown_url(settings.state)

    def unavailable(exc: Exception) -> Any:
        g.contract_violation = True  # an answer about the mock itself, outside the API's contract
        detail = f"The state store (Redis at {where}) cannot be reached: {exc}"
        if isinstance(exc, SessionGone):
            detail = f"The state store (Redis at {where}) lost this session's state; retry"
        return render_error(ApiError.of(STORE_UNAVAILABLE, detail, headers={"Retry-After": "1"}))

    for error in (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, SessionGone):
        app.register_error_handler(error, unavailable)
    background.start()
    return sessions, journal
