"""The mutable part of a session's state (user–partner links, click events, a version), behind one
interface with two implementations: `MemoryState` here (one process, the default) and
`redis_state.RedisState` (shared by every worker through Redis)."""

from __future__ import annotations

import hashlib
import sys
import threading
from collections import deque
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import NamedTuple, Protocol


class ClickEvent(NamedTuple):
    """A stored click event."""

    id: str
    partner_id: str
    user_id: str
    event_type: str
    created_at: datetime


def click_event_id(seed: int, sequence: int, incarnation: int = 0) -> str:
    """A click event's id follows from the seed and its sequence number: runs repeat, workers agree.

    In Redis, the session's incarnation (random, drawn when Redis made the session) goes in too: a
    Redis that restarts without persistence makes the sessions again, and their ids never repeat."""
    salt = f"{incarnation}:" if incarnation else ""
    digest = bytearray(hashlib.sha256(f"{seed}:click-event:{salt}{sequence}".encode()).digest()[:16])
    # `str(uuid.UUID(bytes=digest, version=4))`, spelled out: the same text at a third of the cost
    digest[6] = digest[6] & 0x0F | 0x40  # version 4
    digest[8] = digest[8] & 0x3F | 0x80  # the RFC 4122 variant
    text = digest.hex()
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


def links_by_partner(links: Iterable[tuple[str, str]]) -> dict[str, frozenset[str]]:
    """(user id, partner id) pairs → partner id → the users linked to it."""
    grouped: dict[str, set[str]] = {}
    for user_id, partner_id in links:
        grouped.setdefault(partner_id, set()).add(user_id)
    return {partner_id: frozenset(users) for partner_id, users in grouped.items()}


class State(Protocol):
    """What requests change. Reads answer one consistent snapshot; each write is atomic."""

    max_click_events: int

    @property
    def version(self) -> int:
        """Changes with every write that changes what a read returns (renderers' caches watch it)."""
        ...

    def linked_user_ids(self, partner_id: str) -> frozenset[str]: ...

    def connect(self, user_id: str, partner_id: str) -> bool: ...

    def disconnect(self, user_id: str, partner_id: str) -> bool: ...

    def record_click(self, partner_id: str, user_id: str, event_type: str) -> ClickEvent: ...

    def click_events(self) -> tuple[ClickEvent, ...]: ...

    @property
    def click_events_dropped(self) -> int: ...

    def reset(self) -> None: ...

    def release(self) -> None:
        """The session is gone (evicted, expired): what it holds in memory no longer counts."""
        ...


Event = tuple[str, str, str, str, datetime]
"""A stored click event as a plain tuple: the garbage collector stops tracking them (it keeps tracking
named tuples)."""


class ClickBudget:
    """One bound on the click events of every session of a server together.

    Each session keeps its own events, oldest first; `_order` names the session (its deque) of every
    stored event, in the order they came. Past the bound, the oldest reference goes, and with it the
    oldest event of that session, which is the oldest event of all. A reset or an eviction empties the
    session's deque: its references left behind count for nothing, and go as newer ones come. There
    are never more references than the bound, and never fewer than events, so the events stay within
    it. Adding is constant time."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.lock = threading.Lock()
        """Held while any session's events change."""
        self._order: deque[deque[Event]] = deque()
        self.stored = 0
        """Events held, over every session."""
        self.dropped = 0
        """Events the bound dropped since start-up, over every session."""

    def add(self, events: deque[Event], event: Event) -> None:
        """Store an event in a session's deque (call under the lock); past the bound, drop the oldest."""
        events.append(event)
        order = self._order
        order.append(events)
        self.stored += 1
        if len(order) > self.limit:
            oldest = order.popleft()
            if oldest:
                oldest.popleft()
                self.stored -= 1
                self.dropped += 1

    def release(self, events: deque[Event]) -> None:
        """A session's events are gone (reset or evicted)."""
        with self.lock:
            self.stored -= len(events)
            events.clear()


class MemoryState:
    """One process's state; every write is one small change made under one lock."""

    def __init__(
        self,
        initial_links: Iterable[tuple[str, str]],
        seed: int,
        max_click_events: int,
        budget: ClickBudget | None = None,
    ) -> None:
        self.initial_links = tuple(initial_links)
        self.seed = seed
        self.budget = budget or ClickBudget(max_click_events)
        """The bound on click events this state shares with every other session of the server."""
        self.max_click_events = self.budget.limit
        self.version = 0
        self._lock = threading.Lock()
        self._click_events: deque[Event] = deque()
        """The session's events, oldest first; the budget drops the oldest of all past its bound."""
        self.reset()

    def fresh(self) -> MemoryState:
        """The same initial state, none of this one's changes (the same click-event budget)."""
        return MemoryState(self.initial_links, self.seed, self.max_click_events, self.budget)

    def reset(self) -> None:
        """Back to the data set's initial links and no click events."""
        with self._lock:
            self._links: dict[str, frozenset[str]] = links_by_partner(self.initial_links)
            """Partner id → ids of the users linked to it; each value is replaced whole, never mutated."""
            with self.budget.lock:
                old, self._click_events = self._click_events, deque()
                self.click_events_recorded = 0
                """Events recorded since the last reset, dropped ones included; numbers the next event."""
            self.budget.release(old)
            self.version += 1

    def release(self) -> None:
        """The session is gone: its click events no longer count against the budget."""
        self.budget.release(self._click_events)

    def linked_user_ids(self, partner_id: str) -> frozenset[str]:
        """The users linked to a partner, as one consistent snapshot."""
        return self._links.get(partner_id, frozenset())

    def connect(self, user_id: str, partner_id: str) -> bool:
        """Link a user to a partner; True when the link is new."""
        with self._lock:
            linked = self._links.get(partner_id, frozenset())
            if user_id in linked:
                return False
            self._links[partner_id] = linked | {user_id}
            self.version += 1
            return True

    def disconnect(self, user_id: str, partner_id: str) -> bool:
        """Unlink a user from a partner; True when a link was removed."""
        with self._lock:
            linked = self._links.get(partner_id, frozenset())
            if user_id not in linked:
                return False
            self._links[partner_id] = linked - {user_id}
            self.version += 1
            return True

    def record_click(self, partner_id: str, user_id: str, event_type: str) -> ClickEvent:
        with self.budget.lock:
            self.click_events_recorded += 1
            event = ClickEvent(
                id=click_event_id(self.seed, self.click_events_recorded),
                partner_id=partner_id,
                user_id=user_id,
                event_type=sys.intern(event_type),
                created_at=datetime.now(UTC).replace(microsecond=0),
            )
            self.budget.add(self._click_events, tuple(event))  # type: ignore[arg-type]
            return event

    def click_events(self) -> tuple[ClickEvent, ...]:
        with self.budget.lock:
            return tuple(ClickEvent(*event) for event in self._click_events)

    @property
    def click_events_dropped(self) -> int:
        """Events recorded since the last reset that the bound pushed out."""
        return self.click_events_recorded - len(self._click_events)
