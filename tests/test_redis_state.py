"""The session state in a real Redis (`redis-server` from Debian's packages, started here on a free port
with persistence off): the same answers as the in-memory store, atomic writes from several clients at
once, sessions kept apart by their key prefix. Skipped only when no `redis-server` binary exists
(`.ci/run` installs it)."""

from __future__ import annotations

import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from support import ALICE, BOB, INITIAL_LINKS, P02, P04, P08, PARTNERS

from mockserver.live import free_port
from mockserver.redis_state import RedisState

REDIS_SERVER = shutil.which("redis-server")
pytestmark = pytest.mark.skipif(
    REDIS_SERVER is None, reason="no redis-server binary (apt-get install redis-server)"
)


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    assert REDIS_SERVER is not None
    port = free_port()
    directory: Path = tmp_path_factory.mktemp("redis")
    process = subprocess.Popen(
        [REDIS_SERVER, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--dir", str(directory)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"redis://127.0.0.1:{port}/0"
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                redis.Redis.from_url(url).ping()
                break
            except redis.ConnectionError:
                assert time.monotonic() < deadline, "redis-server did not start"
                time.sleep(0.05)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture
def client(redis_url: str) -> Iterator[Any]:
    connection = redis.Redis.from_url(redis_url)
    connection.flushdb()
    yield connection
    connection.close()


def state(client: Any, session: str = "default", **kwargs: Any) -> RedisState:
    redis_state = RedisState(client, session, INITIAL_LINKS, PARTNERS, seed=1, **kwargs)
    redis_state.reset()
    return redis_state


def test_reset_loads_the_data_set_links(client: Any) -> None:
    shared = state(client)
    assert shared.linked_user_ids(P02) == frozenset({ALICE})
    assert shared.linked_user_ids(P04) == frozenset({BOB})
    assert shared.linked_user_ids(P08) == frozenset()


def test_links_and_the_version_behave_as_the_in_memory_store(client: Any) -> None:
    shared = state(client)
    version = shared.version
    assert shared.connect(BOB, P08) is True
    assert shared.connect(BOB, P08) is False  # already linked: no change, no new version
    assert shared.version == version + 1
    assert shared.linked_user_ids(P08) == frozenset({BOB})
    assert shared.disconnect(BOB, P08) is True
    assert shared.disconnect(BOB, P08) is False
    assert shared.version == version + 2
    shared.connect(ALICE, P08)
    shared.reset()
    assert shared.linked_user_ids(P08) == frozenset()
    assert shared.linked_user_ids(P02) == frozenset({ALICE})


def test_click_events_are_numbered_capped_and_counted(client: Any) -> None:
    shared = state(client, max_click_events=3)
    recorded = [
        shared.record_click(P08, BOB, kind) for kind in ("website", "video", "phone", "email", "meeting")
    ]
    stored = shared.click_events()
    assert [event.event_type for event in stored] == ["phone", "email", "meeting"]
    assert [event.id for event in stored] == [event.id for event in recorded[2:]]
    assert shared.click_events_dropped == 2
    # The ids follow from the seed and the number, as the in-memory store's do.
    again = state(client, "other", max_click_events=3)
    assert again.record_click(P08, BOB, "website").id == recorded[0].id


def test_sessions_are_kept_apart_by_their_prefix(client: Any) -> None:
    one, two = state(client, "one"), state(client, "two")
    one.connect(BOB, P08)
    one.record_click(P08, BOB, "website")
    assert two.linked_user_ids(P08) == frozenset()
    assert two.click_events() == ()
    two.reset()
    assert one.linked_user_ids(P08) == frozenset({BOB})


def test_writes_from_several_clients_at_once_are_atomic(redis_url: str, client: Any) -> None:
    """Eight threads, each with its own connection (as separate workers would have), toggle links on
    one partner and record clicks: every effective change bumps the version once, no click number is
    handed out twice, and the final links are what the last toggles left."""
    state(client)  # reset once
    workers, rounds = 8, 60
    changes: list[int] = []
    ids: list[str] = []
    lock = threading.Lock()

    def work(index: int) -> None:
        mine = RedisState(redis.Redis.from_url(redis_url), "default", INITIAL_LINKS, PARTNERS, seed=1)
        user = f"user-{index}"
        made = 0
        for step in range(rounds):
            made += mine.connect(user, P08) if step % 2 == 0 else mine.disconnect(user, P08)
            event = mine.record_click(P08, user, "website")
            with lock:
                ids.append(event.id)
        with lock:
            changes.append(made)

    version = RedisState(client, "default", INITIAL_LINKS, PARTNERS).version
    threads = [threading.Thread(target=work, args=(n,)) for n in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    final = RedisState(client, "default", INITIAL_LINKS, PARTNERS, seed=1)
    assert sum(changes) == workers * rounds  # every toggle changed something
    assert final.version == version + workers * rounds
    assert final.linked_user_ids(P08) == frozenset()  # each worker's last step unlinked it
    assert len(set(ids)) == workers * rounds  # no number twice
    assert len(final.click_events()) == workers * rounds
    assert {event.id for event in final.click_events()} == set(ids)
