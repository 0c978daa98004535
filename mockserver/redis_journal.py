"""The journal kept in Redis (`--state redis://…`): one capped list every worker appends to, so that
`/__admin/requests` answers every worker's requests.

A request does not wait for Redis here: its entry goes into this worker's buffer, and the buffer is
appended in one step (the entries pushed, the list trimmed to the bound and what it pushed out
counted, per session too) at most every FLUSH_INTERVAL, by the request that comes then, or by the
background thread when no request comes. Before a read, the reading worker asks every worker to append
what it holds (a notice on the change channel) and waits for their answers (at most a second), so
that a request answered by any worker before the read is in it.
"""

from __future__ import annotations

import contextlib
import threading
import time
import uuid
from collections import Counter, deque
from collections.abc import Iterator

import orjson

from .errors import ErrorItem, ErrorKind
from .journal import Entry, with_method_and_path
from .redis_state import RedisStore

APPEND = """
local count = tonumber(ARGV[3])
for i = 4, 3 + count, 1000 do redis.call('RPUSH', KEYS[1], unpack(ARGV, i, math.min(i + 999, 3 + count))) end
local dropped = tonumber(ARGV[2])
for i = 4 + count, #ARGV, 2 do redis.call('HINCRBY', KEYS[3], ARGV[i], ARGV[i + 1]) end
local over = redis.call('LLEN', KEYS[1]) - tonumber(ARGV[1])
if over > 0 then
  local gone = redis.call('LPOP', KEYS[1], over)
  dropped = dropped + over
  for _, entry in ipairs(gone) do
    local session = string.match(entry, '^([^\\n]*)\\n')
    if session ~= '' then redis.call('HINCRBY', KEYS[3], session, 1) end
  end
end
if dropped > 0 then redis.call('INCRBY', KEYS[2], dropped) end
return over
"""
"""KEYS: entries, dropped, dropped per session; ARGV: the bound, entries this worker dropped before they
reached Redis, how many entries follow, the entries ("<session>\\n<entry as JSON>"), then pairs of
(session, entries of it dropped before they reached Redis)."""

CLEAR_SESSION = """
local prefix = ARGV[1] .. '\\n'
local kept = {}
for _, entry in ipairs(redis.call('LRANGE', KEYS[1], 0, -1)) do
  if string.sub(entry, 1, #prefix) ~= prefix then kept[#kept + 1] = entry end
end
redis.call('DEL', KEYS[1])
for i = 1, #kept, 1000 do
  redis.call('RPUSH', KEYS[1], unpack(kept, i, math.min(i + 999, #kept)))
end
redis.call('HDEL', KEYS[3], ARGV[1])
return #kept
"""
"""KEYS as APPEND's; ARGV: the session whose entries go."""

FLUSH_INTERVAL = 0.02
"""Seconds between two appends of a worker's buffer while requests come (a round trip costs more than
many entries; a reader never waits for it: it asks every worker to append at once)."""
FLUSH_WAIT = 1.0
"""Seconds a read waits at most for the other workers to append what they hold."""


def _encode(entry: Entry) -> bytes:
    errors = [
        [item.kind.status, item.kind.code, item.kind.title, item.detail, item.source] for item in entry.errors
    ]
    body = None if entry.body is None else entry.body.decode("latin-1")
    row = [
        entry.method, entry.path, entry.query, entry.status, entry.duration_ms, entry.session, entry.time,
        entry.headers, body, entry.body_truncated, entry.operation_id, errors, entry.answered_by,
    ]  # fmt: skip
    return (entry.session or "").encode() + b"\n" + orjson.dumps(row)


def _decode(raw: bytes) -> Entry:
    _, _, payload = raw.partition(b"\n")
    row = orjson.loads(payload)
    (method, path, query, status, duration, session, moment, headers, body, truncated, operation, errors,
     answered_by) = row  # fmt: skip
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
    )


class RedisJournal:
    """The same interface as `journal.Journal`, over one list in Redis shared by every worker."""

    def __init__(self, store: RedisStore, size: int) -> None:
        self.store = store
        self.size = size
        self.key = f"{store.prefix}:journal"
        self.dropped_key = f"{store.prefix}:journal:dropped"
        self.by_session_key = f"{store.prefix}:journal:dropped-by-session"
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
        store.notices.on_flush = self._flush_for

    def record(self, entry: Entry) -> None:
        """Buffer the entry; append the buffer when the last append is FLUSH_INTERVAL old. The request
        that comes then pays the round trip (once per interval), so that no other thread competes with
        the requests for the interpreter while they come; the background thread appends what is left
        when they stop."""
        encoded = _encode(entry)
        with self._buffer_lock:
            buffer = self._buffer
            buffer.append(encoded)
            if len(buffer) > self.size:  # Redis has been unreachable for a while: keep the newest
                self._count_lost(buffer.popleft())
        if time.monotonic() - self.flushed >= FLUSH_INTERVAL:
            with contextlib.suppress(Exception):  # Redis unreachable: the entries wait in the buffer
                self.flush()

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
            try:
                self._append(
                    keys=self._keys, args=[self.size, sum(lost.values()), len(batch), *batch, *by_session]
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
        return [self.key, self.dropped_key, self.by_session_key]

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
        for _ in range(expected):
            if client.blpop([ack_key], timeout=FLUSH_WAIT) is None:
                break
        client.delete(ack_key)

    @property
    def dropped(self) -> int:
        return int(self.store.client.get(self.dropped_key) or 0)

    def dropped_for(self, session: str | None) -> int:
        if session is None:
            return self.dropped
        return int(self.store.client.hget(self.by_session_key, session) or 0)

    def clear(self, session: str | None = None) -> None:
        self._gather()
        if session is None:
            self.store.client.delete(*self._keys)
        else:
            self._clear_session(keys=self._keys, args=[session])

    def entries(self, session: str | None = None) -> list[Entry]:
        """Entries, oldest first (by arrival: workers append in batches); with a session, only its own."""
        self._gather()
        rows: list[bytes] = self.store.client.lrange(self.key, 0, -1)
        if session is not None:
            prefix = session.encode() + b"\n"
            rows = [row for row in rows if row.startswith(prefix)]
        entries = [_decode(row) for row in rows]
        entries.sort(key=lambda entry: entry.time)
        return entries

    def matching(
        self, method: str | None = None, path: str | None = None, session: str | None = None
    ) -> Iterator[Entry]:
        return with_method_and_path(self.entries(session), method, path)
