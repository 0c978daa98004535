"""In-memory state: the data set, indexed once, plus the links and click events requests change."""

from __future__ import annotations

import copy
import hashlib
import sys
import threading
import uuid
from collections import deque
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any, NamedTuple

from flask import Flask, current_app

from .index import PartnerIndex
from .model import Business, DataSet, Partner, PartnerIntegration, User


class ClickEvent(NamedTuple):
    """A stored click event."""

    id: str
    partner_id: str
    user_id: str
    event_type: str
    created_at: datetime


EventRow = tuple[str, str, str, str, datetime]


class Store:
    """Read-mostly state; every write is one small change made under one lock."""

    def __init__(self, dataset: DataSet, seed: int = 0, max_click_events: int = 100_000) -> None:
        self.dataset = dataset
        self._seed = seed
        self.max_click_events = max_click_events
        self.businesses: dict[str, Business] = {b.id: b for b in dataset.businesses}
        self.users: dict[str, User] = {u.id: u for u in dataset.users}
        self.users_by_token: dict[str, User] = {u.token: u for u in dataset.users}
        self.partners: dict[str, Partner] = {p.id: p for p in dataset.partners}
        self.index = PartnerIndex(dataset.partners, dataset.businesses)
        self.version = 0
        """Bumped by every write that changes what a read returns (renderers' caches watch it)."""
        self.integrations: dict[tuple[str, str], PartnerIntegration] = {
            (i.business_id, i.partner_id): i for i in dataset.integrations
        }
        self.integrations_by_id: dict[str, PartnerIntegration] = {i.id: i for i in dataset.integrations}
        default = dataset.default_user_id or (dataset.users[0].id if dataset.users else None)
        self.default_user: User | None = self.users.get(default) if default else None
        self._lock = threading.Lock()
        self.reset()

    @property
    def seed(self) -> int:
        return self._seed

    def fork(self) -> Store:
        """A store over the same data set and indexes (shared, never copied) with its own fresh state."""
        forked = copy.copy(self)
        forked._lock = threading.Lock()
        forked.version = 0
        forked.reset()
        return forked

    def reset(self) -> None:
        """Back to the data set's initial links and no click events."""
        with self._lock:
            self._links: dict[str, frozenset[str]] = {}
            """Partner id → ids of the users linked to it; each value is replaced whole, never mutated."""
            for user_id, partner_id in self.dataset.user_partner_links:
                self._links[partner_id] = self._links.get(partner_id, frozenset()) | {user_id}
            self._click_events: deque[tuple[str, str, str, str, datetime]] = deque(
                maxlen=self.max_click_events
            )
            """The newest events, oldest dropped past the cap. Plain tuples: the garbage collector stops
            tracking them (it keeps tracking named tuples)."""
            self.click_events_recorded = 0
            """Events recorded since the last reset, dropped ones included; numbers the next event."""
            self._changed()

    def _changed(self) -> None:
        """Call under the lock after a change readers can see: rendered pieces are stale from now on."""
        self.version += 1

    # Reads: one snapshot each (a frozenset or a copy); never a half-applied write.

    def linked_user_ids(self, partner_id: str) -> frozenset[str]:
        """The users linked to a partner, as one consistent snapshot."""
        return self._links.get(partner_id, frozenset())

    def users_in_order(self, user_ids: frozenset[str]) -> list[User]:
        """These users, in data-set order."""
        return [user for user in self.dataset.users if user.id in user_ids]

    @property
    def click_events_dropped(self) -> int:
        """Events recorded since the last reset that the cap pushed out."""
        return self.click_events_recorded - len(self._click_events)

    def click_events(self) -> tuple[ClickEvent, ...]:
        with self._lock:
            return tuple(ClickEvent(*event) for event in self._click_events)

    # Writes.

    def connect(self, user_id: str, partner_id: str) -> bool:
        """Link a user to a partner; True when the link is new."""
        with self._lock:
            linked = self._links.get(partner_id, frozenset())
            if user_id in linked:
                return False
            self._links[partner_id] = linked | {user_id}
            self._changed()
            return True

    def disconnect(self, user_id: str, partner_id: str) -> bool:
        """Unlink a user from a partner; True when a link was removed."""
        with self._lock:
            linked = self._links.get(partner_id, frozenset())
            if user_id not in linked:
                return False
            self._links[partner_id] = linked - {user_id}
            self._changed()
            return True

    def record_click(self, partner_id: str, user_id: str, event_type: str) -> ClickEvent:
        """Store a click event; ids follow from the seed and the event's sequence number."""
        with self._lock:
            self.click_events_recorded += 1
            sequence = self.click_events_recorded
            digest = hashlib.sha256(f"{self._seed}:click-event:{sequence}".encode()).digest()
            event = ClickEvent(
                id=str(uuid.UUID(bytes=digest[:16], version=4)),
                partner_id=partner_id,
                user_id=user_id,
                event_type=sys.intern(event_type),
                created_at=datetime.now(UTC).replace(microsecond=0),
            )
            self._click_events.append(tuple(event))  # type: ignore[arg-type]
            return event


CURRENT_SESSION: ContextVar[Any] = ContextVar("mockserver_session", default=None)
"""The current request's session (it has `.store` and `.renderer`), set by `sessions` at the start of
every request: the one `X-Mock-Session` names, or the default. A context variable, as Flask keeps its
own request state: reading it costs far less than a lookup through `flask.g` on the plain request
path, and one read gives a store and its renderer that belong together even while the data set is
switched."""


def current_session(app: Flask | None = None) -> Any:
    """The current request's session; outside a request, the app's default one."""
    session = CURRENT_SESSION.get()
    if session is None:
        session = (app or current_app).extensions["mockserver.sessions"].default
    return session


def get_store() -> Store:
    """The current request's store: its session's, or the default one."""
    store: Store = current_session().store
    return store
