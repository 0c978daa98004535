"""What `--state redis://…` adds to an app: sessions, rules and the journal kept in Redis, the thread
that appends the journal and listens for notices, and the 503 answered while Redis cannot be reached
or does not answer within `--state-timeout` (the worker stays up, and serves again as soon as Redis
does).
"""

from __future__ import annotations

import hashlib
import json
import select
import threading
import time
from typing import Any
from urllib.parse import urlsplit

from flask import Flask, g

from mockserver.contract.spec import Spec
from mockserver.core.api_errors import STORE_UNAVAILABLE, ApiError, render_error
from mockserver.core.channels import REDIS_EXTENSION
from mockserver.core.settings import Settings
from mockserver.dataset.scenario import resolve_scenario
from mockserver.rules.book import Rule
from mockserver.scaleout.redis_journal import FLUSH_INTERVAL, RedisJournal
from mockserver.scaleout.redis_sessions import DatasetBuilder, RedisSessions
from mockserver.scaleout.redis_state import RedisConnection, SessionGone, StoreLate
from mockserver.state.store import Store


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


IDLE_CHECK = 0.05
"""Seconds the background thread sleeps between two looks at the journal's buffer while it is empty."""
CALIBRATE_EVERY = 30.0
"""Seconds between two measures of the offset of Redis's clock (the writes' deadlines are on it)."""


class Background(threading.Thread):
    """Appends the journal's buffer (requests never do: a Redis that hangs holds up this thread, not
    them), and reads the notices while no request does (another worker waiting for this one's journal, a
    resubscription after an outage).

    It sleeps in `select` on the subscription's socket: IDLE_CHECK while the buffer is empty,
    FLUSH_INTERVAL while entries wait, so it hardly competes with requests for the interpreter."""

    def __init__(self, store: RedisConnection, journal: RedisJournal) -> None:
        super().__init__(name="mockserver-redis", daemon=True)
        self.store = store
        self.journal = journal
        self._stopping = threading.Event()

    def run(self) -> None:
        store, journal = self.store, self.journal
        while not self._stopping.is_set():
            subscription = store.notices.fileno()
            pause = FLUSH_INTERVAL if journal.waiting else IDLE_CHECK
            try:
                if subscription is None:
                    self._stopping.wait(pause)
                else:
                    select.select([subscription], [], [], pause)
            except (OSError, ValueError):  # the socket closed meanwhile
                pass
            if self._stopping.is_set():
                return
            try:
                store.notices.check()
                if journal.waiting and time.monotonic() - journal.flushed >= FLUSH_INTERVAL:
                    journal.flush()
                if time.monotonic() - store.calibrated >= CALIBRATE_EVERY:
                    store.calibrate()
            except Exception:  # Redis unreachable: try again in a moment
                self._stopping.wait(0.5)

    def stop(self) -> None:
        self._stopping.set()

    def close(self) -> None:
        """Stop, and close the connections (an app that is done with; the thread ends within a second)."""
        self.stop()
        self.store.close()


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
    store = RedisConnection(
        settings.state,
        settings.state_namespace or namespace(settings, spec),
        timeout=settings.state_timeout,
        max_sessions=settings.max_sessions,
    )
    sessions = RedisSessions(
        store,
        configured,
        spec,
        build,
        settings.session_ttl,
        settings.max_sessions,
        source=source,
        rules=rules,
        max_rendered=settings.max_rendered,
        max_switched_partners=settings.max_switched_partners,
    )
    journal = RedisJournal(store, settings.journal_size)
    background = Background(store, journal)
    app.extensions[REDIS_EXTENSION] = background
    where = shown_url(settings.state)

    def unavailable(exc: Exception) -> Any:
        g.contract_violation = True  # an answer about the mock itself, outside the API's contract
        detail = f"The state store (Redis at {where}) cannot be reached: {exc}"
        if isinstance(exc, SessionGone):
            detail = f"The state store (Redis at {where}) lost this session's state; retry"
        elif isinstance(exc, redis.exceptions.TimeoutError | StoreLate):
            detail = (
                f"The state store (Redis at {where}) did not answer within {settings.state_timeout:g} s; "
                "a change this request asked for was not made"
            )
        return render_error(ApiError.of(STORE_UNAVAILABLE, detail, headers={"Retry-After": "1"}))

    for error in (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, SessionGone, StoreLate):
        app.register_error_handler(error, unavailable)
    background.start()
    return sessions, journal
