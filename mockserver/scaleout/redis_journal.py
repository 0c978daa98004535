"""The journal kept in Redis (`--state redis://…`): one capped list every worker appends to, so that
`/__admin/requests` answers every worker's requests.

A request never waits for Redis here: its entry goes into this worker's buffer, and the worker's
background thread appends the buffer in one step (the entries pushed, the list trimmed to the bound and
what it pushed out counted, per session too) at most every FLUSH_INTERVAL while entries come. A Redis
that hangs therefore holds up that thread only, never a request. Before a read, the reading worker asks
every worker to append what it holds (a notice on the change channel) and waits for their answers (at
most a second), so that a request answered by any worker before the read is in it.

Each entry starts with its session's key: `<id>@<incarnation>` (`!<id>` when the store could not tell
the incarnation, "" without a session). A session's view lists the entries of its current incarnation;
what the bound pushed out of it is counted in the session's own keys (so it expires with them).
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter, deque
from collections.abc import Callable, Iterator
from typing import Any

import orjson

from mockserver.core.api_errors import ErrorItem, ErrorKind
from mockserver.journal.log import NO_ANSWER, Answer, Entry, no_incarnation, with_method_and_path
from mockserver.scaleout.redis_state import RedisConnection, with_macros

COUNT_DROP = """local function count_drop(key, n)
  local session, incarnation = string.match(key, '^([^@!]+)@(%d+)$')
  if session then
    local meta = ARGV[2] .. session .. ':meta'
    if redis.call('HGET', meta, 'incarnation') == incarnation then
      redis.call('HINCRBY', meta, 'journal-dropped', n)
    end
  end
end"""
"""count_drop(key, n): count n entries of a session's incarnation as dropped, while it is the current one."""

APPEND = with_macros(
    """
--deadline
"""
    + COUNT_DROP
    + """
local count = tonumber(ARGV[4])
for i = 5, 4 + count, 1000 do redis.call('RPUSH', KEYS[1], unpack(ARGV, i, math.min(i + 999, 4 + count))) end
local dropped = tonumber(ARGV[3])
for i = 5 + count, #ARGV, 2 do count_drop(ARGV[i], tonumber(ARGV[i + 1])) end
local over = redis.call('LLEN', KEYS[1]) - tonumber(ARGV[1])
if over > 0 then
  local gone = redis.call('LPOP', KEYS[1], over)
  dropped = dropped + over
  for _, entry in ipairs(gone) do count_drop(string.match(entry, '^([^\\n]*)\\n'), 1) end
end
if dropped > 0 then redis.call('INCRBY', KEYS[2], dropped) end
return over
"""
)
"""KEYS: entries, dropped; ARGV: the bound, the sessions' key prefix, entries this worker dropped before
they reached Redis, how many entries follow, the entries ("<key>\\n<entry as JSON>"), then pairs of
(session key, entries of it dropped before they reached Redis), and the deadline."""

CLEAR_SESSION = """
local at, bare = ARGV[1] .. '@', '!' .. ARGV[1] .. '\\n'
local kept = {}
for _, entry in ipairs(redis.call('LRANGE', KEYS[1], 0, -1)) do
  if string.sub(entry, 1, #at) ~= at and string.sub(entry, 1, #bare) ~= bare then kept[#kept + 1] = entry end
end
redis.call('DEL', KEYS[1])
for i = 1, #kept, 1000 do
  redis.call('RPUSH', KEYS[1], unpack(kept, i, math.min(i + 999, #kept)))
end
redis.call('HDEL', ARGV[2] .. ARGV[1] .. ':meta', 'journal-dropped')
return #kept
"""
"""KEYS: entries; ARGV: the session whose entries go (every incarnation), the sessions' key prefix."""

FLUSH_INTERVAL = 0.02
"""Seconds between two appends of a worker's buffer while requests come (a round trip costs more than
many entries; a reader never waits for it: it asks every worker to append at once)."""
FLUSH_WAIT = 1.0
"""Seconds a read waits at most for the other workers to append what they hold."""


def session_key(session: str | None, incarnation: int | None) -> str:
    """What an entry starts with: its session's incarnation, "!<id>" when unknown, "" without one."""
    if session is None:
        return ""
    return f"{session}@{incarnation}" if incarnation is not None else f"!{session}"


def _encode(entry: Entry) -> bytes:
    errors = [
        [item.kind.status, item.kind.code, item.kind.title, item.detail, item.source] for item in entry.errors
    ]
    body = None if entry.body is None else entry.body.decode("latin-1")
    answer = entry.answer
    answer_body = None if answer.body is None else answer.body.decode("latin-1")
    row = [
        entry.method, entry.path, entry.query, entry.status, entry.duration_ms, entry.session, entry.time,
        entry.headers, body, entry.body_truncated, entry.operation_id, errors, entry.answered_by,
        entry.headers_truncated, entry.incarnation,
        [answer.content_type, answer.headers, answer_body, answer.cut], entry.user,
    ]  # fmt: skip
    return session_key(entry.session, entry.incarnation).encode() + b"\n" + orjson.dumps(row)


def _decode(raw: bytes) -> Entry:
    _, _, payload = raw.partition(b"\n")
    row = orjson.loads(payload)
    (method, path, query, status, duration, session, moment, headers, body, truncated, operation, errors,
     answered_by, *rest) = row  # fmt: skip
    headers_truncated, incarnation = rest[:2] if len(rest) >= 2 else (False, None)
    answer, user = _decode_answer(rest[2:])
    return Entry(
        method,
        path,
        query,
        status,
        duration,
        session,
        moment,
        tuple((key, value) for key, value in headers),
        None if body is None else body.encode("latin-1"),
        truncated,
        operation,
        tuple(
            ErrorItem(ErrorKind(kind_status, code, title), detail, tuple(source) if source else None)
            for kind_status, code, title, detail, source in errors
        ),
        answered_by,
        headers_truncated,
        incarnation,
        answer,
        user,
    )


def _decode_answer(rest: list[Any]) -> tuple[Answer, str | None]:
    """The answer and the user of an entry (an entry written before they were journaled has none)."""
    if len(rest) != 2:
        return NO_ANSWER, None
    (content_type, headers, body, cut), user = rest
    kept = tuple((key, value) for key, value in headers)
    return Answer(content_type, kept, None if body is None else body.encode("latin-1"), cut), user


class RedisJournal:
    """The same interface as `journal.log.Journal`, over one list in Redis shared by every worker."""

    def __init__(self, store: RedisConnection, size: int) -> None:
        self.store = store
        self.size = size
        self.key = f"{store.prefix}:journal"
        self.dropped_key = f"{store.prefix}:journal:dropped"
        self._append = store.client.register_script(APPEND)
        self._clear_session = store.client.register_script(CLEAR_SESSION)
        self._buffer: deque[bytes] = deque()
        """Entries not yet in Redis (while Redis is unreachable, the newest `size` of them)."""
        self._lost = Counter[str]()
        """Entries dropped from the buffer by the bound before they reached Redis, per session ("": none)."""
        self._flush_lock = threading.Lock()
        self._buffer_lock = threading.Lock()
        self.flushed = time.monotonic()
        """When the last append began."""
        self.incarnation_of: Callable[[str], int | None] = no_incarnation
        """The current incarnation of a session (set by the session layer)."""
        store.notices.on_flush = self._flush_for

    def record(self, entry: Entry) -> None:
        """Buffer the entry: the background thread appends it (see the module's docstring)."""
        encoded = _encode(entry)
        with self._buffer_lock:
            buffer = self._buffer
            buffer.append(encoded)
            if len(buffer) > self.size:  # Redis has been unreachable for a while: keep the newest
                self._count_lost(buffer.popleft())

    @property
    def waiting(self) -> bool:
        """Entries wait in this worker's buffer."""
        return bool(self._buffer) or bool(self._lost)

    def _count_lost(self, raw: bytes) -> None:
        self._lost[raw[: raw.index(b"\n")].decode()] += 1

    def flush(self) -> None:
        """Append what this worker holds to Redis in one step; when that fails, it stays for the next."""
        with self._flush_lock:
            self.flushed = time.monotonic()  # a failed append is tried again an interval later
            with self._buffer_lock:  # taken whole: entries recorded meanwhile go in the next append
                batch = list(self._buffer)
                self._buffer.clear()
                lost = dict(self._lost)
                self._lost.clear()
            if not batch and not lost:
                return
            by_session = [item for session, count in lost.items() if session for item in (session, count)]
            sessions = f"{self.store.prefix}:session:"
            try:
                self.store.write(
                    self._append,
                    self._keys,
                    [self.size, sessions, sum(lost.values()), len(batch), *batch, *by_session],
                )
            except Exception:
                with self._buffer_lock:
                    self._buffer.extendleft(reversed(batch))
                    while len(self._buffer) > self.size:
                        self._count_lost(self._buffer.popleft())
                    self._lost.update(lost)
                raise

    @property
    def _keys(self) -> list[str]:
        return [self.key, self.dropped_key]

    def _flush_for(self, ack_key: str) -> None:
        """Another worker reads the journal: append what this one holds, then say so."""
        self.flush()
        client = self.store.client
        client.rpush(ack_key, b"1")
        client.expire(ack_key, 10)

    def _gather(self) -> None:
        """Have every worker (this one too) append what it holds before a read."""
        self.flush()
        client = self.store.client
        ack_key = f"{self.store.prefix}:journal:ack:{uuid.uuid4().hex}"
        expected = int(client.publish(self.store.channel, "f" + ack_key))
        waiting = self.store.blocking_client  # BLPOP waits longer than the store's time-out, on purpose
        for _ in range(expected):
            if waiting.blpop([ack_key], timeout=FLUSH_WAIT) is None:
                break
        client.delete(ack_key)

    @property
    def dropped(self) -> int:
        return int(self.store.client.get(self.dropped_key) or 0)

    def dropped_for(self, session: str | None) -> int:
        """Entries the bound pushed out: of a session's current incarnation since its last reset, or of
        all since start-up."""
        if session is None:
            return self.dropped
        return int(self.store.client.hget(self.store.session_keys(session).meta, "journal-dropped") or 0)

    def clear(self, session: str | None = None) -> None:
        self._gather()
        if session is None:
            self.store.client.delete(*self._keys)
        else:
            self._clear_session(keys=[self.key], args=[session, f"{self.store.prefix}:session:"])

    def entries(self, session: str | None = None) -> list[Entry]:
        """Entries, oldest first (by arrival: workers append in batches); with a session, only those of
        its current incarnation."""
        self._gather()
        rows: list[bytes] = self.store.client.lrange(self.key, 0, -1)
        if session is not None:
            prefix = session_key(session, self.incarnation_of(session)).encode() + b"\n"
            rows = [row for row in rows if row.startswith(prefix)]
        entries = [_decode(row) for row in rows]
        entries.sort(key=lambda entry: entry.time)
        return entries

    def matching(
        self, method: str | None = None, path: str | None = None, session: str | None = None
    ) -> Iterator[Entry]:
        return with_method_and_path(self.entries(session), method, path)
