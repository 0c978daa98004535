"""Sessions kept in Redis (`--state redis://…`): every worker serves the same data for the same session.

The same interface as `sessions.Sessions`. What Redis holds per session (see `redis_state`): its
links, click events and version, the data set it serves (as the description it was loaded from: the
server's own, or the body of the `PUT /__admin/scenario` that switched it), the rules added at run time
and the rules' counts. What each worker keeps: the data sets, built once per description (they are
deterministic), and per session a snapshot of its links and rules, read again when a notice names it.

A session's keys expire after the TTL; a worker renews them at most every tenth of it while it serves
the session. The default session (no header) never expires.
"""

from __future__ import annotations

import json
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .documents import Renderer
from .model import DataSet
from .redis_state import RedisState, RedisStore, SessionGone, SessionKeys, link_fields
from .rules import Rule, RuleBook, RuleError, compile_rules
from .sessions import Session
from .spec import Spec
from .store import Store

CONFIGURED = '{"configured": true}'
"""The description of the data set the server was started with."""
MAX_DATASETS = 8
"""Data sets a worker keeps built (the configured one and the most recently used switched-to ones)."""

ADD_RULE = """
if redis.call('EXISTS', KEYS[3]) == 0 then return -1 end
if redis.call('SADD', KEYS[1], ARGV[2]) == 0 then return 0 end
redis.call('RPUSH', KEYS[2], ARGV[3])
redis.call('SREM', KEYS[4], ARGV[2])
redis.call('HINCRBY', KEYS[3], 'version', 1)
local ttl = tonumber(ARGV[1])
if ttl > 0 then for i = 1, #KEYS do redis.call('EXPIRE', KEYS[i], ttl) end end
redis.call('PUBLISH', ARGV[4], ARGV[5])
return 1
"""
"""KEYS: rule ids, rules, meta, removed; ARGV: ttl, id, "<id>\\n<definition>", channel, notice."""

REMOVE_RULE = """
local removed = 0
if redis.call('SREM', KEYS[1], ARGV[2]) == 1 then
  local prefix = ARGV[2] .. '\\n'
  for _, entry in ipairs(redis.call('LRANGE', KEYS[2], 0, -1)) do
    if string.sub(entry, 1, #prefix) == prefix then redis.call('LREM', KEYS[2], 1, entry) break end
  end
  removed = 1
elseif ARGV[3] == '1' and redis.call('SADD', KEYS[4], ARGV[2]) == 1 then
  removed = 1
end
if removed == 1 then
  redis.call('HINCRBY', KEYS[3], 'version', 1)
  redis.call('PUBLISH', ARGV[4], ARGV[5])
end
return removed
"""
"""KEYS: rule ids, rules, meta, removed; ARGV: ttl, id, whether the data set has a rule of that id,
channel, notice."""

HIT_RULE = """
local hits = tonumber(redis.call('HGET', KEYS[1], ARGV[2]) or '0')
local times = tonumber(ARGV[3])
if times >= 0 and hits >= times then return -1 end
redis.call('HINCRBY', KEYS[1], ARGV[2], 1)
local ttl = tonumber(ARGV[1])
if ttl > 0 then redis.call('EXPIRE', KEYS[1], ttl) end
return hits
"""
"""KEYS: hits; ARGV: ttl, rule id, times (-1: no limit). The rule's count before this call, counted
in the same step; -1 when it has no answers left."""


@dataclass(frozen=True)
class Built:
    """A data set as one worker built it from its description."""

    store: Store
    """Its indexes (the state here is a placeholder: each session gets a RedisState)."""
    renderer: Renderer
    """Its partner templates, shared by the renderers of every session serving it."""
    seed: int
    source: str
    rules: tuple[Rule, ...]


DatasetBuilder = Callable[[Any], tuple[DataSet, int, str]]
"""A switched-to description (the body of PUT /__admin/scenario) → data set, seed, source."""


@dataclass
class SharedSession(Session):
    """A session as one worker holds it: its store and renderer over the data set it serves, with the
    state in Redis; `descriptor` says which data set (what built it), `state` is the store's."""

    descriptor: str = CONFIGURED
    refreshed: float = 0.0
    """When this worker last renewed the session's TTL (a sync does)."""
    state: RedisState = field(default=None)  # type: ignore[assignment]


class SharedRuleBook(RuleBook):
    """A session's rules: the data set's and those added at run time (kept in Redis), with their counts
    kept in Redis, so that `times` and sequences count every worker's calls."""

    def __init__(
        self, base: tuple[Rule, ...], seed: int, store: RedisStore, state: RedisState, spec: Spec
    ) -> None:
        self._store = store
        self._state = state
        self._spec = spec
        self._compiled: dict[bytes, Rule] = {}
        self._add_rule = store.client.register_script(ADD_RULE)
        self._remove_rule = store.client.register_script(REMOVE_RULE)
        self._hit_rule = store.client.register_script(HIT_RULE)
        super().__init__(base, seed)

    def apply(self, added: list[bytes], removed: list[bytes]) -> None:
        """Take the rules a sync read: the data set's (less those removed), then those added."""
        gone = {raw.decode() for raw in removed}
        rules = [rule for rule in self._base if rule.id not in gone]
        for raw in added:
            rule = self._compiled.get(raw)
            if rule is None:
                _, _, definition = raw.decode().partition("\n")
                (rule,) = compile_rules([json.loads(definition)], self._spec, origin="admin")
                self._compiled[raw] = rule
            rules.append(rule)
        self._rules = rules

    def _run(self, script: Any, args: list[str]) -> int:
        keys = self._state.keys
        store = self._store
        result = int(
            script(
                keys=[keys.rule_ids, keys.rules, keys.meta, keys.removed],
                args=[self._state.ttl, *args, store.channel, store.notice(self._state.session_id)],
            )
        )
        if result == 1:
            self._state.stale = True
            store.fence()
        return result

    def add(self, rule: Rule, definition: Any = None) -> None:
        self.check_room()
        if any(existing.id == rule.id for existing in self._rules):
            raise RuleError([(("id",), f"a rule {rule.id!r} exists; remove it first")])
        entry = f"{rule.id}\n{json.dumps({**definition, 'id': rule.id})}"
        if self._run(self._add_rule, [rule.id, entry]) != 1:
            raise RuleError([(("id",), f"a rule {rule.id!r} exists; remove it first")])
        self._rules = [*self._rules, rule]  # until the next sync reads it back

    def remove(self, rule_id: str) -> bool:
        in_dataset = any(rule.id == rule_id for rule in self._base)
        if self._run(self._remove_rule, [rule_id, "1" if in_dataset else "0"]) != 1:
            return False
        self._rules = [rule for rule in self._rules if rule.id != rule_id]  # until the next sync
        return True

    def _counts(self) -> dict[str, int]:
        raw = self._store.client.hgetall(self._state.keys.hits)
        return {key.decode(): int(value) for key, value in raw.items()}

    def listing(self) -> list[dict[str, Any]]:
        hits = self._counts()
        return [rule.to_json(hits.get(rule.id, 0)) for rule in self._rules]

    def count(self, rule: Rule) -> int | None:
        """Count a call answered by `rule`; its count before, or None when it has no answers left."""
        times = -1 if rule.times is None else rule.times
        hits = int(self._hit_rule(keys=[self._state.keys.hits], args=[self._state.ttl, rule.id, times]))
        return None if hits < 0 else hits


class RedisSessions:
    """The sessions, kept in Redis; each worker holds a snapshot of those it served. Thread-safe."""

    def __init__(
        self,
        store: RedisStore,
        configured: Store,
        spec: Spec,
        build: DatasetBuilder,
        ttl: float,
        max_sessions: int,
        source: str = "",
        rules: tuple[Rule, ...] = (),
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.spec = spec
        self.build = build
        self.ttl = ttl
        self.max_sessions = max_sessions
        """Sessions this worker keeps a snapshot of; Redis keeps every session until its TTL."""
        self.max_click_events = configured.max_click_events
        self.clock = clock
        self.evicted = 0
        """Snapshots this worker dropped for the bound or the TTL since start-up."""
        self._built: OrderedDict[str, Built] = OrderedDict()
        self._built[CONFIGURED] = Built(configured, Renderer(configured), configured.seed, source, rules)
        self._local: OrderedDict[str, SharedSession] = OrderedDict()
        self._lock = threading.RLock()
        self._notices = 0
        """Notices taken so far (all sessions): a sync compares it before and after its read."""
        self._local[""] = self._session("", CONFIGURED, self._built[CONFIGURED])
        store.notices.on_notice = self._on_notice

    @property
    def default(self) -> SharedSession:
        """The default session as this worker last read it (outside requests: at start-up, unread)."""
        return self._local[""]

    def _on_notice(self, session_id: str | None, version: int | None) -> None:
        if session_id is None:
            self._notices += 1
            for each in list(self._local.values()):
                each.state.stale = True
            return
        named = self._local.get(session_id)
        if named is None or version is None or version > named.state.known:
            self._notices += 1
            if named is not None:
                named.state.stale = True
        # else: a write this worker made and took into its snapshot already

    def current(self, session_id: str | None) -> SharedSession:
        """The session a request names (the default for None), read again from Redis when a notice named
        it since, or when its TTL is due for renewal: at most one round trip, none when nothing changed."""
        self.store.notices.check()
        key = session_id or ""
        session = self._local.get(key)
        if session is None or self._due(key, session):
            with self._lock:
                session = self._local.get(key)
                if session is None or self._due(key, session):  # unless a thread read it meanwhile
                    session = self._sync(key)
            return session
        if key:
            self._local.move_to_end(key)
        return session

    def _due(self, key: str, session: SharedSession) -> bool:
        """A notice named the session, or (a named one) its TTL is due for renewal."""
        return session.state.stale or bool(key and self.clock() - session.refreshed > self.ttl / 10)

    def get(self, session_id: str) -> SharedSession:
        return self.current(session_id)

    def _sync(self, key: str, attempts: int = 3) -> SharedSession:
        session: SharedSession | None = self._local.get(key)
        state = session.state if session is not None else None
        known = str(state.known) if state is not None else ""
        notices = self._notices  # a notice counted during the read (for any session) makes it stale after
        keys = self.store.session_keys(key)
        result = self.store.sync_script(keys=keys.synced, args=[str(int(self.ttl)) if key else "0", known])
        now = self.clock()
        if not result:
            if attempts == 0:
                raise SessionGone(key)  # made three times and gone each time: a 503 naming the store
            self._create(key, keys)
            return self._sync(key, attempts - 1)
        if session is not None and state is not None and len(result) == 1:
            session.refreshed = now
            state.stale = self._notices != notices
            return session
        version, descriptor, fields, added, removed = result
        descriptor = descriptor.decode() if isinstance(descriptor, bytes) else descriptor
        if session is None or session.descriptor != descriptor:
            session = self._session(key, descriptor, self._dataset(descriptor))
            session.refreshed = now
            self._local[key] = session
            self._bound(now)
        session.state.stale = self._notices != notices
        session.state.apply(int(version), fields)
        rules = session.rules
        assert isinstance(rules, SharedRuleBook)
        rules.apply(added, removed)
        session.refreshed = now
        return session

    def _session(self, key: str, descriptor: str, built: Built) -> SharedSession:
        state = RedisState(
            self.store,
            key,
            built.store.dataset.user_partner_links,
            built.seed,
            self.max_click_events,
            self.ttl,
        )
        store = built.store.with_state(state)
        book = SharedRuleBook(built.rules, built.seed, self.store, state, self.spec)
        return SharedSession(
            key, store, built.renderer.fork(store), self.clock(), built.source, book, descriptor, state=state
        )

    def _bound(self, now: float) -> None:
        """Drop the snapshots of sessions idle past the TTL, then the least recently used past the bound."""
        local = self._local
        for key in [key for key, s in local.items() if key and now - s.refreshed > self.ttl]:
            del local[key]
            self.evicted += 1
        while len(local) > self.max_sessions + 1:  # the default is not counted
            key = next(key for key in local if key)
            del local[key]
            self.evicted += 1

    def _create(self, key: str, keys: SessionKeys) -> None:
        """Make a session in Redis unless another worker just did: a named one from the default's data
        set, the default from the server's own."""
        descriptor = CONFIGURED
        if key:
            raw = self.store.client.hget(self.store.session_keys("").meta, "dataset")
            if raw is None:
                self._create("", self.store.session_keys(""))
            else:
                descriptor = raw.decode() if isinstance(raw, bytes) else str(raw)
        self._write(key, keys, descriptor, self._dataset(descriptor), replace=False)

    def _write(self, key: str, keys: SessionKeys, descriptor: str, built: Built, replace: bool) -> None:
        store = self.store
        store.create_script(
            keys=keys.all,
            args=[
                str(int(self.ttl)) if key else "0",
                store.new_version(),
                descriptor,
                "1" if replace else "0",
                store.channel,
                store.notice(key),
                *link_fields(built.store.dataset.user_partner_links),
            ],
        )

    def _dataset(self, descriptor: str) -> Built:
        built = self._built.get(descriptor)
        if built is None:
            dataset, seed, source = self.build(json.loads(descriptor)["body"])
            rules = compile_rules(list(dataset.rules), self.spec)
            configured = self._built[CONFIGURED].store
            store = Store(dataset, seed, configured.max_click_events)
            built = self._remember(descriptor, Built(store, Renderer(store), seed, source, rules))
        self._built.move_to_end(descriptor)
        return built

    def _remember(self, descriptor: str, built: Built) -> Built:
        self._built[descriptor] = built
        while len(self._built) > MAX_DATASETS:
            oldest = next(key for key in self._built if key != CONFIGURED)
            del self._built[oldest]
        return built

    def switch(
        self,
        session_id: str | None,
        dataset: DataSet,
        seed: int,
        source: str,
        rules: tuple[Rule, ...] = (),
        body: Any = None,
    ) -> SharedSession:
        """Serve another data set, to one session or by default (None); every worker serves it from the
        next request on. `body` is what it was loaded from: the other workers load it the same way."""
        descriptor = json.dumps({"body": body}, sort_keys=True)
        store = Store(dataset, seed, self._built[CONFIGURED].store.max_click_events)
        with self._lock:
            self._remember(descriptor, Built(store, Renderer(store), seed, source, rules))
            key = session_id or ""
            self._write(key, self.store.session_keys(key), descriptor, self._built[descriptor], replace=True)
            self.store.fence()
            return self._sync(key)

    def ids(self) -> list[str]:
        """The sessions Redis holds (in no particular order)."""
        prefix = f"{self.store.prefix}:session:"
        found = []
        for raw in self.store.client.scan_iter(match=f"{prefix}*:meta", count=1000):
            found.append(raw.decode()[len(prefix) : -len(":meta")] if isinstance(raw, bytes) else raw)
        return sorted(found)

    def drop(self, session_id: str) -> bool:
        keys = self.store.session_keys(session_id)
        with self._lock:
            self._local.pop(session_id, None)
        return bool(self.store.client.delete(*keys.all))
