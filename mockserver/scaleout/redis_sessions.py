"""Sessions kept in Redis (`--state redis://…`): every worker serves the same data for the same session.

The same interface as `sessions.Sessions`. What Redis holds per session (see `redis_state`): its
links, click events and version, the data set it serves (as the description it was loaded from: the
server's own, or the body of the `PUT /__admin/scenario` that switched it), the rules added at run time
and the rules' counts. What each worker keeps: the data sets, built once per description (they are
deterministic), and per session a snapshot of its links and rules, read again when a notice names it.

A session's keys expire after the TTL; a worker renews them at most every tenth of it while it serves
the session, and notes its use in the sessions' sorted set: Redis holds at most `--max-sessions` named
sessions, and making one past that deletes the least recently used (see `redis_state.CREATE`). The
default session (no header) never expires. What a worker holds is bounded too: snapshots of at most
`--max-sessions` sessions, their rendered partners under one bound, and the switched-to data sets it
built within `--max-switched-partners`.
"""

from __future__ import annotations

import json
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from mockserver.contract.spec import Spec
from mockserver.dataset.model import DataSet
from mockserver.rules.book import Rule, RuleBook, RuleError, compile_rules
from mockserver.scaleout.redis_state import RedisConnection, RedisState, SessionGone, link_fields, with_macros
from mockserver.state.documents import MAX_RENDERED, RenderBudget, Renderer
from mockserver.state.sessions import MAX_SWITCHED_PARTNERS, SESSION_ID, Session
from mockserver.state.store import Store

CONFIGURED = '{"configured": true}'
"""The description of the data set the server was started with."""
MAX_DATASETS = 8
"""Data sets a worker keeps built (the configured one and the most recently used switched-to ones)."""

ADD_RULE = """
--deadline
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
"""KEYS: rule ids, rules, meta, removed; ARGV: ttl, id, "<id>\\n<definition>", channel, notice, deadline."""

REMOVE_RULE = """
--deadline
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
channel, notice, deadline."""

HIT_RULE = """
--deadline
local hits = tonumber(redis.call('HGET', KEYS[1], ARGV[2]) or '0')
local times = tonumber(ARGV[3])
if times >= 0 and hits >= times then return -1 end
redis.call('HINCRBY', KEYS[1], ARGV[2], 1)
local ttl = tonumber(ARGV[1])
if ttl > 0 then redis.call('EXPIRE', KEYS[1], ttl) end
return hits
"""
"""KEYS: hits; ARGV: ttl, rule id, times (-1: no limit), deadline. The rule's count before this call,
counted in the same step; -1 when it has no answers left."""


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
        self, base: tuple[Rule, ...], seed: int, store: RedisConnection, state: RedisState, spec: Spec
    ) -> None:
        self._store = store
        self._state = state
        self._spec = spec
        self._compiled: dict[bytes, Rule] = {}
        register = store.client.register_script
        self._add_rule = register(with_macros(ADD_RULE))
        self._remove_rule = register(with_macros(REMOVE_RULE))
        self._hit_rule = register(with_macros(HIT_RULE))
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
            store.write(
                script,
                [keys.rule_ids, keys.rules, keys.meta, keys.removed],
                [self._state.ttl, *args, store.channel, store.notice(self._state.session_id)],
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
        hits = int(
            self._store.write(self._hit_rule, [self._state.keys.hits], [self._state.ttl, rule.id, times])
        )
        return None if hits < 0 else hits


class RedisSessions:
    """The sessions, kept in Redis; each worker holds a snapshot of those it served. Thread-safe."""

    def __init__(
        self,
        store: RedisConnection,
        configured: Store,
        spec: Spec,
        build: DatasetBuilder,
        ttl: float,
        max_sessions: int,
        source: str = "",
        rules: tuple[Rule, ...] = (),
        clock: Callable[[], float] = time.monotonic,
        max_rendered: int = MAX_RENDERED,
        max_switched_partners: int = MAX_SWITCHED_PARTNERS,
    ) -> None:
        self.store = store
        self.spec = spec
        self.build = build
        self.ttl = ttl
        self.max_sessions = max_sessions
        """Named sessions Redis holds (see redis_state.CREATE), and this worker keeps a snapshot of."""
        self.max_switched_partners = max_switched_partners
        """Partners of the switched-to data sets this worker keeps built."""
        self.max_click_events = configured.max_click_events
        self.clock = clock
        self.renders = RenderBudget(max_rendered)
        self._built: OrderedDict[str, Built] = OrderedDict()
        renderer = Renderer(configured, budget=self.renders)
        self._built[CONFIGURED] = Built(configured, renderer, configured.seed, source, rules)
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

    @property
    def evicted(self) -> int:
        """Sessions Redis dropped for the bound or found idle past the TTL, by every worker."""
        return int(self.store.client.get(self.store.evicted_key) or 0)

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

    def incarnation(self, session_id: str) -> int | None:
        """The incarnation a request naming this id belongs to (the session is made when Redis has none);
        None for an id that is no session's."""
        if not SESSION_ID.fullmatch(session_id):
            return None
        return self.current(session_id).incarnation

    def _ttl(self, key: str) -> str:
        return str(int(self.ttl)) if key else "0"

    def _sync(self, key: str, attempts: int = 3) -> SharedSession:
        session: SharedSession | None = self._local.get(key)
        state = session.state if session is not None else None
        known = str(state.known) if state is not None else ""
        notices = self._notices  # a notice counted during the read (for any session) makes it stale after
        store = self.store
        keys = store.session_keys(key)
        result = store.sync_script(keys=keys.synced, args=[self._ttl(key), known, store.sessions_key, key])
        now = self.clock()
        if not result:
            if attempts == 0:
                raise SessionGone(key)  # made three times and gone each time: a 503 naming the store
            self._create(key)
            return self._sync(key, attempts - 1)
        if session is not None and state is not None and len(result) == 1:
            session.refreshed = now
            state.stale = self._notices != notices
            return session
        version, descriptor, fields, added, removed, incarnation = result
        descriptor = descriptor.decode() if isinstance(descriptor, bytes) else descriptor
        if session is None or session.descriptor != descriptor:
            session = self._session(key, descriptor, self._dataset(descriptor))
            session.refreshed = now
            old = self._local.pop(key, None)
            if old is not None:
                old.release()
            self._local[key] = session
            self._bound(now)
        session.state.stale = self._notices != notices
        session.state.apply(int(version), fields, int(incarnation or 0))
        session.incarnation = session.state.incarnation
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
            key,
            store,
            built.renderer.fork(store),
            self.clock(),
            built.source,
            book,
            descriptor=descriptor,
            state=state,
        )

    def _bound(self, now: float) -> None:
        """Drop the snapshots of sessions idle past the TTL, then the least recently used past the bound."""
        local = self._local
        for key in [key for key, s in local.items() if key and now - s.refreshed > self.ttl]:
            self._drop_snapshot(key)
        while len(local) > self.max_sessions + 1:  # the default is not counted
            self._drop_snapshot(next(key for key in local if key))

    def _drop_snapshot(self, key: str) -> None:
        self._local.pop(key).release()

    def _create(self, key: str) -> None:
        """Make a session in Redis unless another worker just did: a named one from the default's data
        set, the default from the server's own."""
        descriptor = CONFIGURED
        if key:
            raw = self.store.client.hget(self.store.session_keys("").meta, "dataset")
            if raw is None:
                self._create("")
            else:
                descriptor = raw.decode() if isinstance(raw, bytes) else str(raw)
        self._write(key, descriptor, self._dataset(descriptor), replace=False)

    def _write(self, key: str, descriptor: str, built: Built, replace: bool) -> None:
        links = link_fields(built.store.dataset.user_partner_links)
        self.store.create_session(key, self._ttl(key), descriptor, links, replace)

    def _dataset(self, descriptor: str) -> Built:
        built = self._built.get(descriptor)
        if built is None:
            dataset, seed, source = self.build(json.loads(descriptor)["body"])
            rules = compile_rules(list(dataset.rules), self.spec)
            configured = self._built[CONFIGURED].store
            store = Store(dataset, seed, configured.max_click_events)
            renderer = Renderer(store, budget=self.renders)
            built = self._remember(descriptor, Built(store, renderer, seed, source, rules))
        self._built.move_to_end(descriptor)
        return built

    def _remember(self, descriptor: str, built: Built) -> Built:
        """Keep a data set built; past MAX_DATASETS, or past the partners bound, forget the least recently
        used ones (and the snapshots of the sessions serving them: a snapshot would keep one alive)."""
        with self._lock:
            self._built[descriptor] = built
            while len(self._built) > 2 and (
                len(self._built) > MAX_DATASETS or self._switched_partners() > self.max_switched_partners
            ):
                oldest = next(key for key in self._built if key not in (CONFIGURED, descriptor))
                del self._built[oldest]
                for key in [key for key, s in self._local.items() if key and s.descriptor == oldest]:
                    self._drop_snapshot(key)
        return built

    def _switched_partners(self) -> int:
        return sum(len(b.store.dataset.partners) for key, b in self._built.items() if key != CONFIGURED)

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
            renderer = Renderer(store, budget=self.renders)
            self._remember(descriptor, Built(store, renderer, seed, source, rules))
            key = session_id or ""
            self._write(key, descriptor, self._built[descriptor], replace=True)
            self.store.fence()
            return self._sync(key)

    def ids(self) -> list[str]:
        """The named sessions Redis holds, least recently used first."""
        return self.store.live_sessions(self.ttl)

    def usage(self) -> dict[str, dict[str, int]]:
        """Each bound on what sessions hold, and how much of it is used (for /__admin/sessions): sessions
        and click events as Redis holds them, rendered partners and data sets as this worker does."""
        store = self.store
        ids = self.ids()
        pipeline = store.client.pipeline(transaction=False)
        for key in ["", *ids]:
            pipeline.llen(store.session_keys(key).events)
        stored = sum(int(count) for count in pipeline.execute())
        with self._lock:
            switched = self._switched_partners()
        return {
            "sessions": {"limit": self.max_sessions, "used": len(ids), "evicted": self.evicted},
            "click_events": {"limit": self.max_click_events, "used": stored},
            "rendered_partners": {
                "limit": self.renders.limit,
                "used": self.renders.cached,
                "dropped": self.renders.dropped,
            },
            "switched_partners": {"limit": self.max_switched_partners, "used": switched},
        }
