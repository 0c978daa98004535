"""The mutable part of a session's state (user–partner links, click events, a version), behind one
interface with two implementations: `MemoryState` here (one process, the default) and
`redis_state.RedisState` (shared by every worker through Redis)."""

from __future__ import annotations

import hashlib
import sys
import threading
import uuid
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


def click_event_id(seed: int, sequence: int) -> str:
    """A click event's id follows from the seed and its sequence number: runs repeat, workers agree."""
    digest = hashlib.sha256(f"{seed}:click-event:{sequence}".encode()).digest()
    return str(uuid.UUID(bytes=digest[:16], version=4))


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


class MemoryState:
    """One process's state; every write is one small change made under one lock."""

    def __init__(self, initial_links: Iterable[tuple[str, str]], seed: int, max_click_events: int) -> None:
        self.initial_links = tuple(initial_links)
        self.seed = seed
        self.max_click_events = max_click_events
        self.version = 0
        self._lock = threading.Lock()
        self.reset()

    def fresh(self) -> MemoryState:
        """The same initial state, none of this one's changes."""
        return MemoryState(self.initial_links, self.seed, self.max_click_events)

    def reset(self) -> None:
        """Back to the data set's initial links and no click events."""
        with self._lock:
            self._links: dict[str, frozenset[str]] = links_by_partner(self.initial_links)
            """Partner id → ids of the users linked to it; each value is replaced whole, never mutated."""
            self._click_events: deque[tuple[str, str, str, str, datetime]] = deque(
                maxlen=self.max_click_events
            )
            """The newest events, oldest dropped past the cap. Plain tuples: the garbage collector stops
            tracking them (it keeps tracking named tuples)."""
            self.click_events_recorded = 0
            """Events recorded since the last reset, dropped ones included; numbers the next event."""
            self.version += 1

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
        with self._lock:
            self.click_events_recorded += 1
            event = ClickEvent(
                id=click_event_id(self.seed, self.click_events_recorded),
                partner_id=partner_id,
                user_id=user_id,
                event_type=sys.intern(event_type),
                created_at=datetime.now(UTC).replace(microsecond=0),
            )
            self._click_events.append(tuple(event))  # type: ignore[arg-type]
            return event

    def click_events(self) -> tuple[ClickEvent, ...]:
        with self._lock:
            return tuple(ClickEvent(*event) for event in self._click_events)

    @property
    def click_events_dropped(self) -> int:
        """Events recorded since the last reset that the cap pushed out."""
        return self.click_events_recorded - len(self._click_events)
