"""The mutable state of one session (user-partner links, click events, a version) kept in Redis, so
that several worker processes serve one consistent state.

Every write is one atomic step on the server: a Lua script changes the data and bumps the version
together, so no read-modify-write ever runs in Python, and two workers writing at once cannot lose or
double an update. Keys are prefixed per session (`mockserver:<session>:…`). The read-only data set
stays in each process (it is deterministic); only what requests change lives here.

The same operations as the in-memory `store.Store`'s mutable part, so the two can stand behind one
interface: `linked_user_ids`, `connect`, `disconnect`, `record_click`, `click_events`,
`click_events_dropped`, `reset` and `version`. Not yet wired into the app (see README, Scale-out).
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from .store import ClickEvent

PREFIX = "mockserver"

_CHANGE_SET = """
if redis.call(ARGV[2], KEYS[1], ARGV[1]) == 1 then
  return redis.call('INCR', KEYS[2])
end
return 0
"""
"""Add to (SADD) or remove from (SREM) a link set; bump the version only when something changed."""

_RECORD_CLICK = """
local sequence = redis.call('INCR', KEYS[1])
redis.call('RPUSH', KEYS[2], ARGV[1])
redis.call('LTRIM', KEYS[2], -tonumber(ARGV[2]), -1)
return sequence
"""
"""Number the event, append it, keep the newest ARGV[2]: one step, so two workers never share a number."""


class RedisState:
    """One session's links and click events in Redis; safe to share between threads and processes."""

    def __init__(
        self,
        client: Any,
        session: str,
        initial_links: Iterable[tuple[str, str]],
        partner_ids: Iterable[str],
        seed: int = 0,
        max_click_events: int = 100_000,
    ) -> None:
        self.client = client
        self.prefix = f"{PREFIX}:{session}"
        self.initial_links = frozenset(initial_links)
        self.partner_ids = tuple(partner_ids)
        self.seed = seed
        self.max_click_events = max_click_events
        self._change_set = client.register_script(_CHANGE_SET)
        self._record_click = client.register_script(_RECORD_CLICK)

    def _links_key(self, partner_id: str) -> str:
        return f"{self.prefix}:links:{partner_id}"

    @property
    def _version_key(self) -> str:
        return f"{self.prefix}:version"

    @property
    def _events_key(self) -> str:
        return f"{self.prefix}:events"

    @property
    def _recorded_key(self) -> str:
        return f"{self.prefix}:recorded"

    @property
    def version(self) -> int:
        """Bumped by every write that changes what a read returns (caches compare it)."""
        return int(self.client.get(self._version_key) or 0)

    def reset(self) -> None:
        """Back to the data set's links and no click events, in one transaction (MULTI/EXEC): a reader
        on another worker sees the old state or the new one, never half of each."""
        pipe = self.client.pipeline(transaction=True)
        pipe.delete(*(self._links_key(p) for p in self.partner_ids), self._events_key, self._recorded_key)
        by_partner: dict[str, list[str]] = {}
        for user_id, partner_id in sorted(self.initial_links):
            by_partner.setdefault(partner_id, []).append(user_id)
        for partner_id, users in by_partner.items():
            pipe.sadd(self._links_key(partner_id), *users)
        pipe.incr(self._version_key)
        pipe.execute()

    def linked_user_ids(self, partner_id: str) -> frozenset[str]:
        return frozenset(member.decode() for member in self.client.smembers(self._links_key(partner_id)))

    def connect(self, user_id: str, partner_id: str) -> bool:
        """Link a user to a partner; True when the link is new."""
        keys = [self._links_key(partner_id), self._version_key]
        return bool(self._change_set(keys=keys, args=[user_id, "SADD"]))

    def disconnect(self, user_id: str, partner_id: str) -> bool:
        """Unlink a user from a partner; True when a link was removed."""
        keys = [self._links_key(partner_id), self._version_key]
        return bool(self._change_set(keys=keys, args=[user_id, "SREM"]))

    def record_click(self, partner_id: str, user_id: str, event_type: str) -> ClickEvent:
        """Store a click event. Its id follows from the seed and its number, as the in-memory store's
        does; the number is handed out by Redis, so it is unique across workers."""
        created_at = datetime.now(UTC).replace(microsecond=0)
        row = json.dumps([partner_id, user_id, event_type, created_at.isoformat()])
        sequence = int(
            self._record_click(keys=[self._recorded_key, self._events_key], args=[row, self.max_click_events])
        )
        # The stored row lacks the id (numbered in the script): it is derived again when read.
        return ClickEvent(self._event_id(sequence), partner_id, user_id, event_type, created_at)

    def _event_id(self, sequence: int) -> str:
        digest = hashlib.sha256(f"{self.seed}:click-event:{sequence}".encode()).digest()
        return str(uuid.UUID(bytes=digest[:16], version=4))

    def click_events(self) -> tuple[ClickEvent, ...]:
        """The stored events, oldest first (read with the count in one transaction)."""
        pipe = self.client.pipeline(transaction=True)
        pipe.lrange(self._events_key, 0, -1)
        pipe.get(self._recorded_key)
        rows, recorded = pipe.execute()
        first = int(recorded or 0) - len(rows) + 1
        events = []
        for offset, raw in enumerate(rows):
            partner_id, user_id, event_type, created_at = json.loads(raw)
            moment = datetime.fromisoformat(created_at)
            events.append(ClickEvent(self._event_id(first + offset), partner_id, user_id, event_type, moment))
        return tuple(events)

    @property
    def click_events_dropped(self) -> int:
        """Events recorded since the last reset that the cap pushed out."""
        pipe = self.client.pipeline(transaction=True)
        pipe.get(self._recorded_key)
        pipe.llen(self._events_key)
        recorded, stored = pipe.execute()
        return int(recorded or 0) - int(stored)
