"""State shared by every worker through Redis: the connection, the change notices, and one session's
links and click events.

Every write is one atomic step on the server (a Lua script: the change, the version bump and the
notice together), never a read-modify-write from Python. Keys are prefixed per server configuration
and per session (`mockserver:<config>:session:<id>:…`), and a session's keys expire after its TTL.

How a change reaches the other workers: each worker subscribes to one channel, and every write
publishes the session it changed. A worker reads its subscription's socket (a poll that does not wait,
about a microsecond) at the start of every request, and re-reads a session from Redis (one round trip)
only when a notice named it. A writer acknowledges its write only after one more round trip to
Redis (a fence): Redis has sent every notice of the write by then, so a request that reaches another
worker after the acknowledgement finds the notice on that worker's socket. Why not read a generation
counter from Redis on every request instead: a round trip costs about 100 µs of the worker's CPU
here, a quarter of a whole plain request; the notices cost nothing while nothing changes.

Every call waits at most the store's time-out (`--state-timeout`). A write the server stops waiting
for must not be made afterwards (its client is told it failed): each write script carries a deadline,
half the time-out after it was sent, on Redis's clock (this worker measures the offset of its own
clock), and does nothing when Redis runs it later. A Redis that hangs (a stopped process, a stalled
disk) therefore applies, once it resumes, none of the writes whose clients got a 503. What remains is
the instant between a script's run and its reply leaving Redis: a Redis stopped exactly then applies a
write whose reply never comes.

The bounds held in Redis for the whole server: at most `--max-sessions` named sessions (a sorted set
by last use; past it the least recently used is deleted, its keys with it), and at most
`--max-click-events` click events over all sessions (one list records which session holds each, in
the order they came; past the bound the oldest event of all is dropped).
"""

from __future__ import annotations

import contextlib
import inspect
import json
import random
import select
import threading
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from mockserver.state.mutable import ClickEvent, click_event_id, links_by_partner

PREFIX = "mockserver"
_VERSION_WINDOW = 1 << 32
"""A session made again starts at a random version: one this far from the last is another incarnation."""
_FIELD_SEPARATOR = "\t"
"""Separates a link's partner id and user id in its hash field (ids never hold a tab)."""
SESSION_SUFFIXES = ("meta", "links", "events", "rules", "removed-rules", "rule-ids", "hits")
"""The keys of one session, after its base (`…:session:<id>:`)."""
LATE = b"late"
"""What a write script answers when it reached Redis after its deadline (and did nothing)."""

RENEW = """local ttl = tonumber(ARGV[1])
if ttl > 0 then for i = 1, #KEYS do redis.call('EXPIRE', KEYS[i], ttl) end end"""
"""Every script's ARGV[1] is the session's TTL in seconds (0: none); `--renew` renews every key it names."""

DEADLINE = """local deadline = tonumber(table.remove(ARGV))
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
if now > deadline then return 'late' end"""
"""A write's last ARGV is its deadline (ms on Redis's clock); `--deadline` takes it off ARGV and makes
the script do nothing past it. It defines `now` (ms) for the rest of the script."""

DROP_SESSION = (
    """local function drop_session(base)
  for _, suffix in ipairs({'"""
    + "', '".join(SESSION_SUFFIXES)
    + """'}) do
    redis.call('DEL', base .. suffix)
  end
end"""
)
"""`--drop` defines drop_session(base): delete every key of the session whose keys start with `base`."""


def with_macros(source: str) -> str:
    return source.replace("--renew", RENEW).replace("--deadline", DEADLINE).replace("--drop", DROP_SESSION)


SYNC = with_macros("""
local version = redis.call('HGET', KEYS[1], 'version')
if not version then return false end
--renew
if tonumber(ARGV[1]) > 0 then
  local clock = redis.call('TIME')
  redis.call('ZADD', ARGV[3], tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000), ARGV[4])
end
if version == ARGV[2] then return {version} end
return {version, redis.call('HGET', KEYS[1], 'dataset'), redis.call('HKEYS', KEYS[2]),
        redis.call('LRANGE', KEYS[3], 0, -1), redis.call('SMEMBERS', KEYS[4]),
        redis.call('HGET', KEYS[1], 'incarnation')}
""")
"""KEYS: meta, links, rules, removed rules (then the others to renew); ARGV: ttl, the version known, the
sessions' sorted set, the session's id. The session's version, and when it differs from the one known,
everything a worker serves from (its incarnation last). A named session's use is noted in the set."""

CREATE = with_macros("""
--deadline
if ARGV[4] == '0' and redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
--drop
local sessions, prefix, bound = ARGV[7], ARGV[10], tonumber(ARGV[9])
if tonumber(ARGV[1]) > 0 then
  for _, gone in ipairs(redis.call('ZRANGEBYSCORE', sessions, '-inf', now - tonumber(ARGV[1]) * 1000)) do
    if gone ~= ARGV[8] then
      drop_session(prefix .. gone .. ':')
      redis.call('INCR', ARGV[11])
    end
    redis.call('ZREM', sessions, gone)
  end
end
local incarnation = redis.call('HGET', KEYS[1], 'incarnation') or ARGV[12]
for i = 1, #KEYS do redis.call('DEL', KEYS[i]) end
redis.call('HSET', KEYS[1], 'version', ARGV[2], 'dataset', ARGV[3], 'recorded', 0,
           'incarnation', incarnation, 'epoch', ARGV[2])
for i = 13, #ARGV do redis.call('HSET', KEYS[2], ARGV[i], 1) end
--renew
if ttl > 0 then
  redis.call('ZADD', sessions, now, ARGV[8])
  while redis.call('ZCARD', sessions) > bound do
    local oldest = redis.call('ZPOPMIN', sessions)[1]
    drop_session(prefix .. oldest .. ':')
    redis.call('INCR', ARGV[11])
    redis.call('PUBLISH', ARGV[5], 's' .. oldest)
  end
end
redis.call('PUBLISH', ARGV[5], ARGV[6])
return 1
""")
"""KEYS: meta, links, events, rules, removed rules, rule ids, hits; ARGV: ttl, version, data set,
replace (1) or create only when absent (0), channel, notice, the sessions' sorted set, the session's id,
the bound on sessions, the sessions' key prefix, the evictions' counter, a new incarnation, then the
initial link fields, and the deadline. A session made again keeps its incarnation when replaced (a
data-set switch), and gets a new one when it was gone. A named session enters the sorted set; those
idle past the TTL leave it, and past the bound the least recently used are deleted (and announced)."""

RESET = with_macros("""
--deadline
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
for i = 2, #KEYS do redis.call('DEL', KEYS[i]) end
redis.call('HSET', KEYS[1], 'recorded', 0, 'epoch', ARGV[4])
redis.call('HINCRBY', KEYS[1], 'version', 1)
for i = 5, #ARGV do redis.call('HSET', KEYS[2], ARGV[i], 1) end
--renew
redis.call('PUBLISH', ARGV[2], ARGV[3])
return 1
""")
"""KEYS as CREATE's; ARGV: ttl, channel, notice, a new epoch (the click events' references of the old
one no longer count), then the initial link fields, and the deadline."""

CHANGE_LINK = with_macros("""
--deadline
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
local changed
if ARGV[2] == 'connect' then changed = redis.call('HSETNX', KEYS[2], ARGV[3], 1)
else changed = redis.call('HDEL', KEYS[2], ARGV[3]) end
if changed == 0 then return 0 end
local version = redis.call('HINCRBY', KEYS[1], 'version', 1)
--renew
redis.call('PUBLISH', ARGV[4], ARGV[5] .. '\t' .. string.format('%d', version))
return version
""")
"""KEYS: meta, links; ARGV: ttl, connect or disconnect, the link's field, channel, notice, deadline.
Changes the version (and tells the other workers, with it) only when the link changed, and answers it
then; 0 when nothing changed, -1 when the session is gone."""

RECORD_CLICK = with_macros("""
--deadline
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
local sequence = redis.call('HINCRBY', KEYS[1], 'recorded', 1)
redis.call('RPUSH', KEYS[2], ARGV[2])
local order = ARGV[5]
redis.call('RPUSH', order, ARGV[4] .. '\t' .. redis.call('HGET', KEYS[1], 'epoch'))
for _ = 1, redis.call('LLEN', order) - tonumber(ARGV[3]) do
  local base, epoch = string.match(redis.call('LPOP', order), '^(.*)\t(.*)$')
  if redis.call('HGET', base .. 'meta', 'epoch') == epoch then redis.call('LPOP', base .. 'events') end
end
--renew
return sequence
""")
"""KEYS: meta, events; ARGV: ttl, the event, the bound over all sessions, the session's key base, the
list of every stored event's session (base and epoch, oldest first), deadline. Numbers the event and
appends it (one step, so two workers never hand out one number), then drops the oldest event of all
sessions past the bound: a reference whose session is gone or was reset since counts for nothing.
Reads nothing a page shows: no notice."""

READ_CLICKS = """
return {redis.call('LRANGE', KEYS[2], 0, -1), redis.call('HGET', KEYS[1], 'recorded')}
"""

LIVE_SESSIONS = """
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
return redis.call('ZRANGEBYSCORE', KEYS[1], now - tonumber(ARGV[1]) * 1000, '+inf')
"""
"""KEYS: the sessions' sorted set; ARGV: ttl. The named sessions used within the TTL, least recently
used first."""


class SessionGone(Exception):
    """A write found no state for its session in Redis (it expired, or Redis lost it): the request
    gets a 503 and the next one starts the session again."""

    def __init__(self, session_id: str) -> None:
        super().__init__(f"the state of session {session_id or '(default)'} is gone from the store")
        self.session_id = session_id


class StoreLate(Exception):
    """A write reached Redis after its deadline, and Redis did not make it."""

    def __init__(self) -> None:
        super().__init__("the store took the write too late and did not make it")


class Notices:
    """This worker's subscription to the change notices, read without waiting at each request.

    `on_notice(session_id, version)` is called for each session some worker changed (with the version
    the change made, when it is one link's), and `on_notice(None, None)` when notices may have been
    missed (at (re)subscription), so that everything is read again.
    """

    def __init__(self, client: Any, channel: str) -> None:
        self.client = client
        self.channel = channel
        self.on_notice: Callable[[str | None, int | None], None] = lambda _session, _version: None
        self.on_flush: Callable[[str], None] = lambda _ack_key: None
        self._pubsub: Any = None
        self._poll: Any = None
        self._lock = threading.Lock()

    def check(self) -> None:
        """Handle the notices waiting on the socket (subscribe first when not subscribed); raises
        redis's ConnectionError when Redis cannot be reached."""
        with self._lock:
            if self._pubsub is None:
                self._subscribe()
            elif self._poll(0):
                self._drain()

    def fileno(self) -> int | None:
        """The subscription's socket, for a thread to wait on; None when not subscribed."""
        pubsub = self._pubsub
        connection = pubsub.connection if pubsub is not None else None
        sock = getattr(connection, "_sock", None)
        return sock.fileno() if sock is not None else None

    def _subscribe(self) -> None:
        pubsub = self.client.pubsub(ignore_subscribe_messages=True)
        try:
            pubsub.subscribe(self.channel)
            while pubsub.get_message(timeout=0) is not None:  # the confirmation, if already there
                pass
        except Exception:
            pubsub.close()
            raise
        poller = select.poll()
        poller.register(pubsub.connection._sock.fileno(), select.POLLIN)
        self._pubsub, self._poll = pubsub, poller.poll
        self.on_notice(None, None)  # notices sent while unsubscribed are lost: read everything again

    def _drain(self) -> None:
        try:
            while True:
                message = self._pubsub.get_message(timeout=0)
                if message is None:
                    if not self._poll(0):
                        return
                    continue
                data = message["data"].decode()
                if data.startswith("f"):
                    self.on_flush(data[1:])
                elif data.startswith("s"):
                    session_id, _, version = data[1:].partition("\t")
                    self.on_notice(session_id, int(version) if version else None)
        except Exception:
            self.close()
            self.on_notice(None, None)
            raise

    def close(self) -> None:
        pubsub, self._pubsub, self._poll = self._pubsub, None, None
        if pubsub is not None:
            with contextlib.suppress(Exception):  # closing a broken connection may fail: it is gone anyway
                pubsub.close()


class RedisConnection:
    """The connection to Redis shared by a worker's sessions and journal; thread-safe.

    `timeout` bounds every call (seconds): a Redis that does not answer within it is a 503, and a write
    it did not answer within it is never made (see the module's docstring).
    """

    def __init__(self, url: str, namespace: str, timeout: float = 0.5, max_sessions: int = 1000) -> None:
        import redis
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        self.url = url
        self.timeout = timeout
        self.max_sessions = max_sessions
        self.client: Any = redis.Redis.from_url(
            url,
            **no_client_info(redis.Redis),
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            # One quick retry when a pooled connection turned out broken (Redis restarted): the command
            # did not reach Redis then. Never after a time-out: the first attempt may still be made.
            retry=Retry(NoBackoff(), 1, supported_errors=(redis.exceptions.ConnectionError,)),
            health_check_interval=0,
        )
        self._blocking: Any = None
        self.prefix = f"{PREFIX}:{namespace}"
        self.channel = f"{self.prefix}:changes"
        self.sessions_key = f"{self.prefix}:sessions"
        """A sorted set: each named session by its last use (ms on Redis's clock)."""
        self.evicted_key = f"{self.prefix}:sessions:evicted"
        """Sessions deleted for the bound or found idle past the TTL, by every worker."""
        self.clicks_key = f"{self.prefix}:click-events"
        """A list: the key base and epoch of the session of every stored click event, oldest first."""
        self.notices = Notices(self.client, self.channel)
        self._offset = 0.0
        """Redis's clock minus this worker's (seconds), as last measured."""
        self.calibrated = 0.0
        """When (monotonic) the offset was last measured; 0: never."""
        register = self.client.register_script
        self.sync_script = register(SYNC)
        self.create_script = register(CREATE)
        self.reset_script = register(RESET)
        self.change_link_script = register(CHANGE_LINK)
        self.record_click_script = register(RECORD_CLICK)
        self.read_clicks_script = register(READ_CLICKS)
        self.live_sessions_script = register(LIVE_SESSIONS)

    @property
    def blocking_client(self) -> Any:
        """A client for the one call that waits on purpose (a journal read waiting for the workers)."""
        if self._blocking is None:
            import redis

            self._blocking = redis.Redis.from_url(
                self.url, **no_client_info(redis.Redis), socket_timeout=self.timeout + 2.0
            )
        return self._blocking

    def close(self) -> None:
        self.notices.close()
        self.client.close()
        if self._blocking is not None:
            self._blocking.close()

    def calibrate(self) -> None:
        """Measure the offset of Redis's clock from this worker's (to within half a round trip)."""
        sent = time.time()
        seconds, microseconds = self.client.time()
        received = time.time()
        self._offset = seconds + microseconds / 1e6 - (sent + received) / 2
        self.calibrated = time.monotonic()

    def deadline(self) -> str:
        """A write's deadline: half the time-out from now, in ms on Redis's clock."""
        if not self.calibrated:
            self.calibrate()
        return str(int((time.time() + self._offset + self.timeout / 2) * 1000))

    def write(self, script: Any, keys: list[str], args: list[Any]) -> Any:
        """Run a write script (its last ARGV is the deadline); StoreLate when Redis refused it as late."""
        result = script(keys=keys, args=[*args, self.deadline()])
        if result == LATE:
            raise StoreLate
        return result

    def fence(self) -> None:
        """Return only when Redis has sent every notice of the writes acknowledged before (see above).

        The write is made already: when Redis does not answer the fence, the write is still reported as
        made (the other workers read it when Redis answers again)."""
        with contextlib.suppress(Exception):
            self.client.ping()

    def session_keys(self, session_id: str) -> SessionKeys:
        return SessionKeys(self.session_base(session_id))

    def session_base(self, session_id: str) -> str:
        return f"{self.prefix}:session:{session_id}" if session_id else f"{self.prefix}:default"

    def create_session(
        self, session_id: str, ttl: str, descriptor: str, links: list[str], replace: bool
    ) -> int:
        """Make a session's keys (1), unless it exists and `replace` is false (0); see CREATE."""
        keys = self.session_keys(session_id)
        return int(
            self.write(
                self.create_script,
                keys.all,
                [
                    ttl,
                    self.new_version(),
                    descriptor,
                    "1" if replace else "0",
                    self.channel,
                    self.notice(session_id),
                    self.sessions_key,
                    session_id,
                    self.max_sessions,
                    f"{self.prefix}:session:",
                    self.evicted_key,
                    self.new_version(),
                    *links,
                ],
            )
        )

    def live_sessions(self, ttl: float) -> list[str]:
        """The named sessions Redis holds, least recently used first."""
        found = self.live_sessions_script(keys=[self.sessions_key], args=[int(ttl)])
        return [raw.decode() if isinstance(raw, bytes) else str(raw) for raw in found]

    @staticmethod
    def notice(session_id: str) -> str:
        return "s" + session_id

    @staticmethod
    def new_version() -> str:
        """A session's first version: random, so a session made again never repeats a cached one."""
        return str(random.getrandbits(48))


def no_client_info(client_class: Any) -> dict[str, Any]:
    """The client's options that keep it from sending CLIENT SETINFO on each new connection: one round
    trip less, and one call less that a Redis which hangs would make wait (`driver_info` since redis-py
    8, `lib_name` and `lib_version` before)."""
    if "driver_info" in inspect.signature(client_class.__init__).parameters:
        return {"driver_info": None}
    return {"lib_name": None, "lib_version": None}


class SessionKeys:
    """The keys of one session's state."""

    def __init__(self, base: str) -> None:
        self.base = base + ":"
        self.meta = f"{base}:meta"
        """A hash: version, dataset (what it serves, as JSON), recorded (click events numbered),
        incarnation (which life of the session), epoch (changed by a reset), journal-dropped."""
        self.links = f"{base}:links"
        """A hash whose fields are "<partner id>\\t<user id>"."""
        self.events = f"{base}:events"
        self.rules = f"{base}:rules"
        """Rules added at run time: a list of "<id>\\n<definition as JSON>"."""
        self.removed = f"{base}:removed-rules"
        """Ids of the data set's rules removed at run time (a set)."""
        self.rule_ids = f"{base}:rule-ids"
        """Ids of the rules added at run time (a set): one id is added once."""
        self.hits = f"{base}:hits"
        """Rule id → the requests it answered."""

    @property
    def all(self) -> list[str]:
        return [self.meta, self.links, self.events, self.rules, self.removed, self.rule_ids, self.hits]

    @property
    def synced(self) -> list[str]:
        """SYNC's KEYS: the four it reads first, then the rest, whose TTL it renews."""
        return [self.meta, self.links, self.rules, self.removed, self.events, self.rule_ids, self.hits]


def link_field(user_id: str, partner_id: str) -> str:
    return f"{partner_id}{_FIELD_SEPARATOR}{user_id}"


def link_fields(links: Iterable[tuple[str, str]]) -> list[str]:
    return sorted(link_field(user_id, partner_id) for user_id, partner_id in links)


def parse_link_fields(fields: Iterable[bytes]) -> dict[str, frozenset[str]]:
    pairs = []
    for raw in fields:
        partner_id, _, user_id = raw.decode().partition(_FIELD_SEPARATOR)
        pairs.append((user_id, partner_id))
    return links_by_partner(pairs)


class RedisState:
    """One session's links and click events in Redis, read from a local snapshot.

    The snapshot (links and version) is what the session's last sync read; `stale` says a notice
    named the session since, and the session layer syncs it before the next request uses it.
    """

    def __init__(
        self,
        store: RedisConnection,
        session_id: str,
        initial_links: Iterable[tuple[str, str]],
        seed: int,
        max_click_events: int,
        ttl: float,
    ) -> None:
        self.store = store
        self.session_id = session_id
        self.keys = store.session_keys(session_id)
        self.initial_links = tuple(initial_links)
        self.seed = seed
        self.max_click_events = max_click_events
        """The bound on the click events of every session together."""
        self.ttl = str(int(ttl)) if session_id else "0"
        self.version = 0
        """Changes with the snapshot (renderers' caches watch it): the newest version it holds a write of."""
        self.known = 0
        """The version up to which the snapshot holds every write: the last read whole, or reached from
        it by this worker's own writes with no other write between. A sync reads everything again when
        Redis has another version."""
        self.incarnation = 0
        """Which life of the session the snapshot is of (random, set when Redis made the session): click
        event ids derive from it, so a session made again (after Redis lost it) never repeats one."""
        self.stale = True
        """A notice named the session since its last sync (or it was never read)."""
        self._links: dict[str, frozenset[str]] = {}
        self._lock = threading.Lock()
        """Held while the snapshot changes: a sync's and this worker's writes, from several threads."""

    def apply(self, version: int, fields: Iterable[bytes], incarnation: int = 0) -> None:
        """Take a snapshot the session's sync read (the dict replaced whole: readers see one or the other),
        unless a write of this worker took a later version meanwhile (then the next request reads again)."""
        links = parse_link_fields(fields)
        with self._lock:
            if version < self.version and self.version - version < _VERSION_WINDOW:
                self.stale = True
                return
            self._links, self.version, self.known = links, version, version
            self.incarnation = incarnation

    def linked_user_ids(self, partner_id: str) -> frozenset[str]:
        return self._links.get(partner_id, frozenset())

    def _change_link(self, command: str, user_id: str, partner_id: str) -> bool:
        store = self.store
        version = store.write(
            store.change_link_script,
            [self.keys.meta, self.keys.links],
            [
                self.ttl,
                command,
                link_field(user_id, partner_id),
                store.channel,
                store.notice(self.session_id),
            ],
        )
        if version == -1:
            self.stale = True
            raise SessionGone(self.session_id)
        if not version:
            return False
        # The request that wrote reads its own write: the snapshot takes the change at once. It is exact
        # when no other write came between (the version moved by one); else the next request syncs.
        with self._lock:
            links = dict(self._links)
            linked = links.get(partner_id, frozenset())
            links[partner_id] = linked | {user_id} if command == "connect" else linked - {user_id}
            if version == self.known + 1:
                self.known = version
            else:  # another write came between: the snapshot lacks it, the next request reads all again
                self.stale = True
            self._links, self.version = links, max(version, self.version)
        store.fence()
        return True

    def connect(self, user_id: str, partner_id: str) -> bool:
        """Link a user to a partner; True when the link is new."""
        return self._change_link("connect", user_id, partner_id)

    def disconnect(self, user_id: str, partner_id: str) -> bool:
        """Unlink a user from a partner; True when a link was removed."""
        return self._change_link("disconnect", user_id, partner_id)

    def record_click(self, partner_id: str, user_id: str, event_type: str) -> ClickEvent:
        created_at = datetime.now(UTC).replace(microsecond=0)
        row = json.dumps([partner_id, user_id, event_type, created_at.isoformat()])
        store = self.store
        sequence = int(
            store.write(
                store.record_click_script,
                [self.keys.meta, self.keys.events],
                [self.ttl, row, self.max_click_events, self.keys.base, store.clicks_key],
            )
        )
        if sequence == -1:
            self.stale = True
            raise SessionGone(self.session_id)
        return ClickEvent(self._event_id(sequence), partner_id, user_id, event_type, created_at)

    def _event_id(self, sequence: int) -> str:
        return click_event_id(self.seed, sequence, self.incarnation)

    def click_events(self) -> tuple[ClickEvent, ...]:
        """The stored events, oldest first (read with their count in one step)."""
        rows, recorded = self.store.read_clicks_script(keys=[self.keys.meta, self.keys.events])
        first = int(recorded or 0) - len(rows) + 1
        events = []
        for offset, raw in enumerate(rows):
            partner_id, user_id, event_type, created_at = json.loads(raw)
            moment = datetime.fromisoformat(created_at)
            events.append(ClickEvent(self._event_id(first + offset), partner_id, user_id, event_type, moment))
        return tuple(events)

    @property
    def click_events_dropped(self) -> int:
        rows, recorded = self.store.read_clicks_script(keys=[self.keys.meta, self.keys.events])
        return int(recorded or 0) - len(rows)

    def reset(self) -> None:
        """Back to the data set's links, no click events, no rules added: one step, seen by every worker."""
        store = self.store
        store.write(
            store.reset_script,
            self.keys.all,
            [
                self.ttl,
                store.channel,
                store.notice(self.session_id),
                store.new_version(),
                *link_fields(self.initial_links),
            ],
        )
        self.stale = True
        store.fence()

    def release(self) -> None:
        """Nothing to let go: the session's events live in Redis, under the bound kept there."""
