"""The state kept in a real Redis (the run's `redis-server`, see conftest's `redis_url`): the same answers
as the in-memory state, atomic writes from several clients at once, sessions kept apart by their key
prefix and expiring, change notices on the other worker's socket as soon as a write is acknowledged,
and the journal's list bounded. Skipped only when no `redis-server` binary exists (`.ci/run` installs
it)."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator

import pytest
from support import (
    ALICE,
    API,
    AS_ALICE,
    BOB,
    INITIAL_LINKS,
    NO_REDIS,
    P02,
    P04,
    P08,
    REDIS_SERVER,
    make_app,
    plain_client,
)

from mockserver.core.api_errors import INVALID_PARAMETER, ErrorItem
from mockserver.core.channels import SESSIONS_EXTENSION
from mockserver.journal.log import Entry
from mockserver.scaleout.redis_journal import RedisJournal
from mockserver.scaleout.redis_sessions import CONFIGURED
from mockserver.scaleout.redis_state import RedisConnection, RedisState, SessionGone, link_fields
from mockserver.state.mutable import MemoryState, click_event_id
from mockserver.testing.live import free_port

pytestmark = [pytest.mark.system, pytest.mark.skipif(REDIS_SERVER is None, reason=NO_REDIS)]  # redis-server


@pytest.fixture
def store(redis_url: str) -> Iterator[RedisConnection]:
    """A worker's connection, under a namespace of the test's own."""
    shared = RedisConnection(redis_url, f"unit-{uuid.uuid4().hex[:12]}")
    yield shared
    shared.notices.close()
    shared.client.close()


def other_worker(store: RedisConnection) -> RedisConnection:
    """Another worker's connection to the same namespace."""
    return RedisConnection(store.url, store.prefix.split(":", 1)[1])


def state(
    store: RedisConnection, session: str = "", max_click_events: int = 100, create: bool = True
) -> RedisState:
    """A session's state as a worker holds it: made in Redis (as loaded) and read once."""
    shared = RedisState(store, session, INITIAL_LINKS, seed=1, max_click_events=max_click_events, ttl=600)
    if create:
        store.create_session(session, shared.ttl, CONFIGURED, link_fields(INITIAL_LINKS), replace=True)
        store.fence()
    sync(shared)
    return shared


def sync(shared: RedisState) -> None:
    store = shared.store
    result = store.sync_script(
        keys=shared.keys.synced, args=[shared.ttl, "", store.sessions_key, shared.session_id]
    )
    shared.apply(int(result[0]), result[2], int(result[5]))


def test_a_new_session_holds_the_data_set_links(store: RedisConnection) -> None:
    shared = state(store)
    assert shared.linked_user_ids(P02) == frozenset({ALICE})
    assert shared.linked_user_ids(P04) == frozenset({BOB})
    assert shared.linked_user_ids(P08) == frozenset()


def test_links_and_the_version_behave_as_the_in_memory_state(store: RedisConnection) -> None:
    shared, memory = state(store), MemoryState(INITIAL_LINKS, 1, 100)
    version = shared.version
    for target in (shared, memory):
        assert target.connect(BOB, P08) is True
        assert target.linked_user_ids(P08) == frozenset({BOB})  # the writer reads its own write at once
        assert target.connect(BOB, P08) is False  # already linked: no change, no new version
        assert target.disconnect(BOB, P08) is True
        assert target.disconnect(BOB, P08) is False
    assert shared.version == version + 2
    shared.connect(ALICE, P08)
    reader = state(other_worker(store), create=False)
    assert reader.linked_user_ids(P08) == frozenset({ALICE})
    shared.reset()
    sync(reader)
    assert reader.linked_user_ids(P08) == frozenset()
    assert reader.linked_user_ids(P02) == frozenset({ALICE})


def test_click_events_are_numbered_capped_and_counted_like_in_memory(store: RedisConnection) -> None:
    shared, memory = state(store, max_click_events=3), MemoryState(INITIAL_LINKS, 1, 3)
    kinds = ("website", "video", "phone", "email", "meeting")
    recorded = [shared.record_click(P08, BOB, kind) for kind in kinds]
    in_memory = [memory.record_click(P08, BOB, kind) for kind in kinds]
    assert shared.incarnation != 0
    assert [event.id for event in recorded] == [click_event_id(1, n, shared.incarnation) for n in range(1, 6)]
    assert [event.id for event in in_memory] == [click_event_id(1, n) for n in range(1, 6)]
    stored = shared.click_events()
    assert [event.event_type for event in stored] == ["phone", "email", "meeting"]
    assert [event.id for event in stored] == [event.id for event in recorded[2:]]
    assert shared.click_events_dropped == 2 == memory.click_events_dropped


def test_sessions_are_kept_apart_by_their_prefix_and_expire(store: RedisConnection) -> None:
    one, two = state(store, "one"), state(store, "two")
    one.connect(BOB, P08)
    one.record_click(P08, BOB, "website")
    sync(two)
    assert two.linked_user_ids(P08) == frozenset()
    assert two.click_events() == ()
    two.reset()
    sync(one)
    assert one.linked_user_ids(P08) == frozenset({BOB})
    for key in (one.keys.meta, one.keys.links, one.keys.events):
        assert 0 < store.client.ttl(key) <= 600
    default = state(store)
    assert store.client.ttl(default.keys.meta) == -1  # the default session never expires


def test_a_write_to_a_session_gone_from_redis_is_refused(store: RedisConnection) -> None:
    shared = state(store, "gone")
    store.client.delete(*shared.keys.all)
    with pytest.raises(SessionGone):
        shared.connect(BOB, P08)
    with pytest.raises(SessionGone):
        shared.record_click(P08, BOB, "website")
    assert shared.stale


def test_the_other_worker_has_the_notice_when_the_write_is_acknowledged(store: RedisConnection) -> None:
    """No sleep: the fence after the write guarantees the notice is on the other socket already."""
    other = other_worker(store)
    heard: list[tuple[str | None, int | None]] = []
    other.notices.on_notice = lambda session, version: heard.append((session, version))
    other.notices.check()  # subscribes
    assert heard == [(None, None)]  # a new subscription reads everything again
    heard.clear()
    writer = state(store, "s1")
    other.notices.check()
    assert heard == [("s1", None)]  # made: no version, read it whole
    heard.clear()
    for n in range(50):
        assert writer.connect(BOB, P08) if n % 2 == 0 else writer.disconnect(BOB, P08)
        other.notices.check()
        assert heard == [("s1", writer.version)], n
        heard.clear()
    writer.record_click(P08, BOB, "website")  # changes nothing a page shows: no notice
    other.notices.check()
    assert heard == []
    other.notices.close()


def test_writes_from_several_workers_at_once_are_atomic(store: RedisConnection) -> None:
    """Eight threads, each with its own connection (as separate workers would have), toggle links on
    one partner and record clicks: every effective change bumps the version once, no click number is
    handed out twice, and the final links are what the last toggles left."""
    first = state(store, max_click_events=1000)
    workers, rounds = 8, 60
    changes: list[int] = []
    ids: list[str] = []
    lock = threading.Lock()

    def work(index: int) -> None:
        mine = state(other_worker(store), max_click_events=1000, create=False)
        user = f"user-{index}"
        made = 0
        for step in range(rounds):
            made += mine.connect(user, P08) if step % 2 == 0 else mine.disconnect(user, P08)
            event = mine.record_click(P08, user, "website")
            with lock:
                ids.append(event.id)
        with lock:
            changes.append(made)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    final = state(store, max_click_events=1000, create=False)
    assert sum(changes) == workers * rounds  # every toggle changed something
    assert final.version == first.version + workers * rounds
    assert final.linked_user_ids(P08) == frozenset()  # each worker's last step unlinked it
    assert len(set(ids)) == workers * rounds  # no number twice
    assert {event.id for event in final.click_events()} == set(ids)


def test_the_journal_list_is_bounded_and_counts_what_it_drops(store: RedisConnection) -> None:
    journal = RedisJournal(store, size=3)
    incarnation = state(store, "s1").incarnation  # drops are counted in the session's keys
    journal.incarnation_of = lambda session: incarnation
    item = ErrorItem(INVALID_PARAMETER, "page must be an integer", ("parameter", "page"))
    entries = [
        Entry("GET", f"/p/{n}", "page=x", 400, 1.5, "s1" if n % 2 else None, 1000.0 + n,
              (("HTTP_ACCEPT", "*/*"),), b"\x00\xffbody", n == 4, "getPartner", (item,), None,
              n == 3, incarnation if n % 2 else None)
        for n in range(5)
    ]  # fmt: skip
    for entry in entries:
        journal.record(entry)
    journal.flush()
    assert journal.entries() == entries[2:]  # every field comes back, bytes and errors included
    assert journal.entries()[0].violation is entries[2].violation
    assert journal.dropped_for(None) == 2
    assert journal.dropped_for("s1") == 1  # entry 1 was the session's
    journal.clear("s1")
    assert [entry.path for entry in journal.entries()] == ["/p/2", "/p/4"]


def test_an_unreachable_store_is_a_503_naming_it() -> None:
    """In-process (the live outage test in test_scale_out stops and restarts a real Redis)."""
    port = free_port()  # nothing listens there
    app = make_app(scenario="default", state=f"redis://:secret@127.0.0.1:{port}/3", state_namespace="gone")
    for response in (
        plain_client(app).get(f"{API}/{P08}", headers=AS_ALICE),  # outside the API's contract: unchecked
        app.test_client().get("/__admin/requests"),  # checked against the admin contract, which declares it
        app.test_client().post("/__admin/reset"),
    ):
        assert response.status_code == 503
        assert response.headers["Retry-After"] == "1"
        (error,) = response.get_json()["errors"]
        assert error["code"] == "store_unavailable"
        assert error["detail"].startswith(
            f"The state store (Redis at redis://127.0.0.1:{port}/3) cannot be reached"
        )
        assert "secret" not in error["detail"]


def test_a_session_that_cannot_be_made_in_redis_is_a_503_not_a_500(
    redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = make_app(scenario="default", state=redis_url, state_namespace=f"vanish-{uuid.uuid4().hex[:12]}")
    sessions = app.extensions[SESSIONS_EXTENSION]
    monkeypatch.setattr(sessions, "_create", lambda key: None)  # as if deleted as soon as made
    response = plain_client(app).get(f"{API}/{P08}", headers={**AS_ALICE, "X-Mock-Session": "gone"})
    assert response.status_code == 503
    (error,) = response.get_json()["errors"]
    assert error["code"] == "store_unavailable" and "lost this session's state" in error["detail"]
