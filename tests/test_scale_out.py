"""Scale-out against a real Redis: several worker processes serve one state (`serve --state redis://…`).

Two `mockserver serve` processes on one Redis, with requests alternating between them as a round-robin
load balancer sends them, answer as one server: a write on one is read on the other by the very next
request (links, click events, rules and their counts, data-set switches, resets, sessions, the
journal). The 32-thread write storm of test_concurrency keeps its invariants with `--workers 2` and
across two processes. More than one worker without `--state` is refused. When Redis goes away the
server answers 503 `store_unavailable` and stays up; when Redis is back (its append-only file synced
before every reply) the server serves again by itself and every write it acknowledged is there.

Each test has a redis-server of its own (or its module's), started on a free port, so tests running
at the same time under xdist never see each other's state.
"""

from __future__ import annotations

import contextlib
import http.client
import itertools
import json
import os
import random
import re
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, cast

import pytest
import redis
import test_concurrency
from click.testing import CliRunner
from support import (
    ALICE,
    API,
    B1,
    BOB,
    INITIAL_LINKS,
    JSON,
    NO_REDIS,
    P01,
    P02,
    P07,
    P08,
    PARTNERS,
    REDIS_SERVER,
    TOKENS,
    RedisServer,
    bearer,
)

from mockserver.cli import cli
from mockserver.testing.live import LiveServer, Reply, free_port, python_environment

pytestmark = [pytest.mark.system, pytest.mark.skipif(REDIS_SERVER is None, reason=NO_REDIS)]  # redis-server

READY = re.compile(r"state in Redis at (\S+), shared \((\d+) workers? here; pid (\d+)\)")
"""The start-up line each worker prints."""
CLICK = json.dumps({"data": {"type": "partner_click_events", "attributes": {"event_type": "website"}}})
VIDEO_CLICK = CLICK.replace("website", "video")


def serve_args(url: str, *extra: str) -> list[str]:
    return ["--scenario", "default", "--state", url, *extra]


def start_together(*argvs: list[str]) -> list[LiveServer]:
    """Start several servers at once (each start is mostly waiting); stop them all if one fails."""
    with ThreadPoolExecutor(max_workers=len(argvs)) as pool:
        futures = [pool.submit(LiveServer.start, *argv) for argv in argvs]
    started = [future.result() for future in futures if future.exception() is None]
    for future in futures:
        failure = future.exception()
        if failure is not None:
            for server in started:
                server.stop()
            raise failure
    return started


def with_session(session: str | None, headers: dict[str, str] | None = None) -> dict[str, str]:
    sent = dict(headers or {})
    if session is not None:
        sent["X-Mock-Session"] = session
    return sent


def as_user(user: str, session: str | None = None) -> dict[str, str]:
    return with_session(session, bearer(TOKENS[user]))


def ok(reply: Reply, status: int = 200) -> Any:
    assert reply.status == status, f"{reply.status}: {reply.text(1000)}"
    return reply.json() if reply.body else None


def linked(server: LiveServer, partner: str, user: str, session: str | None = None) -> tuple[set[str], bool]:
    """The users linked to `partner`, and its `user-integration-requested` flag, as `user` reads them."""
    data = ok(server.request("GET", f"{API}/{partner}?include=users", headers=as_user(user, session)))["data"]
    users = {u["id"] for u in data["relationships"]["users"]["data"]}
    return users, data["attributes"]["user-integration-requested"]


def click_events(server: LiveServer, session: str | None = None) -> list[tuple[str, str, str, str]]:
    """(id, user, partner, event type) of the stored click events, oldest first."""
    document = ok(server.request("GET", "/__admin/click-events", headers=with_session(session)))
    assert document["meta"]["stored"] == len(document["data"])
    return [
        (
            event["id"],
            event["relationships"]["user"]["data"]["id"],
            event["relationships"]["partner"]["data"]["id"],
            event["attributes"]["event-type"],
        )
        for event in document["data"]
    ]


def post_click(
    server: LiveServer, partner: str, user: str, body: str = CLICK, session: str | None = None
) -> Reply:
    headers = {**as_user(user, session), "Content-Type": JSON}
    return server.request("POST", f"{API}/{partner}/click_event", body, headers)


def click_row(reply: Reply) -> tuple[str, str, str, str]:
    data = ok(reply, 201)["data"]
    relationships = data["relationships"]
    return (
        data["id"],
        relationships["user"]["data"]["id"],
        relationships["partner"]["data"]["id"],
        data["attributes"]["event-type"],
    )


def rules(server: LiveServer, session: str | None = None) -> list[dict[str, Any]]:
    document = ok(server.request("GET", "/__admin/rules", headers=with_session(session)))
    listed: list[dict[str, Any]] = document["rules"]
    return listed


def add_rule(server: LiveServer, rule: dict[str, Any]) -> Reply:
    return server.request("POST", "/__admin/rules", json.dumps(rule), {"Content-Type": JSON})


def switch(server: LiveServer, body: dict[str, Any], session: str | None = None) -> Reply:
    headers = with_session(session, {"Content-Type": JSON})
    return server.request("PUT", "/__admin/scenario", json.dumps(body), headers)


def source_of(server: LiveServer, session: str | None = None) -> tuple[str, int]:
    document = ok(server.request("GET", "/__admin/data", headers=with_session(session)))
    return document["source"], document["partners"]


# --------------------------------------------------------------------------------------------------
# two servers on one Redis, requests alternating between them


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiveServer, LiveServer]]:
    """Two `mockserver serve` processes (one worker each) on a Redis of this module's own."""
    redis_server = RedisServer(tmp_path_factory.mktemp("redis-pair")).start()
    try:
        a, b = start_together(serve_args(redis_server.url), serve_args(redis_server.url))
        try:
            yield a, b
        finally:
            a.stop()
            b.stop()
    finally:
        redis_server.stop()


@pytest.fixture
def servers(pair: tuple[LiveServer, LiveServer]) -> Iterator[tuple[LiveServer, LiveServer]]:
    """The pair, reset (on one of them) before the test; after it, both still up and quiet."""
    a, b = pair
    assert a.request("POST", "/__admin/reset").status == 204
    yield pair
    for server in pair:
        assert server.alive(), server.tail()
        assert "Traceback" not in server.output(), server.output()[-3000:]


def test_a_write_on_one_server_is_read_on_the_other_by_the_very_next_request(
    servers: tuple[LiveServer, LiveServer],
) -> None:
    """Requests go A, B, A, B…: each write (a connect or a disconnect that changes the link, on A and
    on B in turn) is followed at once by a read of the partner on the other server, then by a read of
    the business's whole list on the writer's; both must show every link as the writes left it."""
    connections = [server.connection() for server in servers]
    expected = set(INITIAL_LINKS)
    rng = random.Random(20261202)
    written = PARTNERS[:8]
    user, partner, writes = ALICE, P01, Counter[str]()
    try:
        for k in range(600):  # 200 writes, 400 reads
            index = k % 2
            server, connection = servers[index], connections[index]
            step = f"request {k} on {'AB'[index]}"
            if k % 3 == 0:
                user, partner = rng.choice([ALICE, BOB]), rng.choice(written)
                connect = (user, partner) not in expected
                method = "PATCH" if connect else "DELETE"
                reply = server.request(
                    method, f"{API}/{partner}/connect", None, as_user(user), connection=connection
                )
                assert reply.status == 200, (step, reply.text())
                assert reply.json()["data"]["attributes"]["user-integration-requested"] is connect, step
                expected.symmetric_difference_update({(user, partner)})
                writes[f"{method} on {'AB'[index]}"] += 1
            elif k % 3 == 1:  # the other server, right after the write
                reply = server.request(
                    "GET", f"{API}/{partner}?include=users", None, as_user(user), connection=connection
                )
                assert reply.status == 200, (step, reply.text())
                data = reply.json()["data"]
                users = {u["id"] for u in data["relationships"]["users"]["data"]}
                assert users == {u for u in TOKENS if (u, partner) in expected}, step
                assert data["attributes"]["user-integration-requested"] is ((user, partner) in expected), step
            else:  # the writer's server: the whole list, every link
                path = f"{API}?business_uuid={B1}&include=users&per_page=100"
                reply = server.request("GET", path, None, as_user(ALICE), connection=connection)
                assert reply.status == 200, (step, reply.text())
                resources = [r for r in reply.json()["data"] if r["id"] in written]
                assert len(resources) == len(written), step
                for resource in resources:
                    users = {u["id"] for u in resource["relationships"]["users"]["data"]}
                    assert users == {u for u in TOKENS if (u, resource["id"]) in expected}, (
                        step,
                        resource["id"],
                    )
    finally:
        for connection in connections:
            connection.close()
    # Both servers wrote both ways (the random walk is seeded: this only guards against a dull plan).
    assert set(writes) == {"PATCH on A", "PATCH on B", "DELETE on A", "DELETE on B"}, writes
    for server in servers:
        for partner in written:
            assert linked(server, partner, BOB)[0] == {u for u in TOKENS if (u, partner) in expected}


def test_writes_landing_at_the_same_moment_on_both_servers_are_read_by_both(
    servers: tuple[LiveServer, LiveServer],
) -> None:
    """Round after round, A and B each change a link at the same moment (Alice's on A, Bob's on B);
    once both are acknowledged, both servers must list every link as the writes left it. A server whose
    own write lands while the other's notice is still on its way must still read the other's write."""
    barrier = threading.Barrier(2)
    connections = [server.connection() for server in servers]
    expected = set(INITIAL_LINKS)
    listed = f"{API}?business_uuid={B1}&include=users&per_page=100"  # all fourteen partners

    def write(index: int, user: str, partner: str, connect: bool) -> int:
        barrier.wait(timeout=10)
        method = "PATCH" if connect else "DELETE"
        path = f"{API}/{partner}/connect"
        return servers[index].request(method, path, None, as_user(user), connection=connections[index]).status

    deadline = time.monotonic() + 8
    rounds = 0
    try:
        with ThreadPoolExecutor(max_workers=2) as pool:
            while rounds < 150 and time.monotonic() < deadline:
                keys = [(ALICE, PARTNERS[rounds % 7]), (BOB, PARTNERS[7 + rounds % 7])]
                futures = [
                    pool.submit(write, index, user, partner, (user, partner) not in expected)
                    for index, (user, partner) in enumerate(keys)
                ]
                assert [future.result(timeout=20) for future in futures] == [200, 200], f"round {rounds}"
                expected.symmetric_difference_update(keys)
                for index, server in enumerate(servers):
                    reply = server.request("GET", listed, None, as_user(ALICE), connection=connections[index])
                    data = ok(reply)["data"]
                    assert sorted(p["id"] for p in data) == PARTNERS
                    seen = {
                        (user["id"], p["id"]) for p in data for user in p["relationships"]["users"]["data"]
                    }
                    assert seen == expected, (
                        f"round {rounds}: {'AB'[index]} misses {sorted(expected - seen)}, "
                        f"adds {sorted(seen - expected)}"
                    )
                rounds += 1
    finally:
        for connection in connections:
            connection.close()
    assert rounds >= 20, f"only {rounds} rounds in 8 s"


def test_click_events_posted_to_both_are_listed_on_either_with_unique_ids(
    servers: tuple[LiveServer, LiveServer],
) -> None:
    a, b = servers
    posted = []
    for n in range(20):  # in turn: the list is in this order
        server = servers[n % 2]
        user, partner = (ALICE, BOB)[n // 2 % 2], PARTNERS[n % len(PARTNERS)]
        posted.append(click_row(post_click(server, partner, user, (CLICK, VIDEO_CLICK)[n // 4 % 2])))
        assert click_events(servers[1 - n % 2]) == posted, f"click {n} is not listed on the other server"

    def post_many(server: LiveServer, user: str) -> list[tuple[str, str, str, str]]:
        return [click_row(post_click(server, P07, user)) for _ in range(15)]

    with ThreadPoolExecutor(max_workers=4) as pool:  # and at once: the numbering is one step in Redis
        futures = [pool.submit(post_many, server, user) for server in servers for user in (ALICE, BOB)]
        concurrent = [row for future in futures for row in future.result()]
    listed_a, listed_b = click_events(a), click_events(b)
    assert listed_a == listed_b
    assert len(listed_a) == 80
    assert len({row[0] for row in listed_a}) == 80, "click event ids repeat"
    assert listed_a[:20] == posted
    assert Counter(listed_a[20:]) == Counter(concurrent)


def test_a_rule_added_on_one_server_answers_on_the_other_and_its_times_count_across_both(
    servers: tuple[LiveServer, LiveServer],
) -> None:
    a, b = servers
    once = {"id": "once", "match": {"operation_id": "getPartner"}, "respond": {"status": 404}, "times": 1}
    assert ok(add_rule(a, once), 201)["rule"] == {**once, "origin": "admin", "hits": 0}
    assert b.request("GET", f"{API}/{P07}").status == 404  # the rule, on the other server
    assert a.request("GET", f"{API}/{P07}").status == 200  # used up, counted on B
    assert b.request("GET", f"{API}/{P07}").status == 200
    assert rules(a) == rules(b) == [{**once, "origin": "admin", "hits": 1}]

    # A rule of five answers, hit from both servers at once: exactly five 404s in all.
    five = {"id": "five", "match": {"operation_id": "getPartner"}, "respond": {"status": 404}, "times": 5}
    assert add_rule(b, five).status == 201
    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(lambda n: servers[n % 2].request("GET", f"{API}/{P08}").status, range(40)))
    assert Counter(statuses) == {404: 5, 200: 35}
    assert [rule["hits"] for rule in rules(a)] == [rule["hits"] for rule in rules(b)] == [1, 5]

    # Added on B, answering on A; removed on A, gone on B.
    always = {"id": "always", "match": {"operation_id": "getPartner"}, "respond": {"status": 500}}
    assert add_rule(b, always).status == 201
    assert add_rule(a, always).status == 422  # one id once, whichever server is asked
    assert [a.request("GET", f"{API}/{P07}").status for _ in range(3)] == [500, 500, 500]
    assert b.request("GET", f"{API}/{P07}").status == 500
    assert [rule["hits"] for rule in rules(b)] == [1, 5, 4]
    assert a.request("DELETE", "/__admin/rules/always").status == 204
    assert b.request("GET", f"{API}/{P07}").status == 200
    assert b.request("DELETE", "/__admin/rules/always").status == 404
    assert [rule["id"] for rule in rules(b)] == ["once", "five"]


def test_a_scenario_switch_on_one_server_switches_the_other(servers: tuple[LiveServer, LiveServer]) -> None:
    a, b = servers
    session = f"switch-{uuid.uuid4().hex[:8]}"
    assert source_of(a) == source_of(b) == ("scenario default", 14)
    try:
        assert switch(a, {"name": "empty"}).status == 200
        assert source_of(b) == ("scenario empty", 0)
        assert ok(b.request("GET", f"{API}/available"))["meta"]["total-count"] == 0
        assert b.request("GET", f"{API}/{P07}").status == 404
        # One session switched on B: A serves that data set to that session only.
        assert switch(b, {"seed": 3, "partners": 5}, session).status == 200
        assert source_of(a, session) == ("Faker data (seed 3, 5 partners)", 5)
        assert source_of(a) == ("scenario empty", 0)
    finally:
        back = switch(b, {"name": "default"})
        assert back.status == 200, back.text()
    assert source_of(a) == ("scenario default", 14)
    assert a.request("GET", f"{API}/{P07}").status == 200
    assert source_of(b, session) == ("Faker data (seed 3, 5 partners)", 5)


def test_a_reset_on_one_server_resets_the_other(servers: tuple[LiveServer, LiveServer]) -> None:
    a, b = servers
    assert a.request("PATCH", f"{API}/{P08}/connect", None, as_user(ALICE)).status == 200
    assert a.request("DELETE", f"{API}/{P02}/connect", None, as_user(ALICE)).status == 200
    click_row(post_click(b, P01, BOB))
    failing = {"id": "r", "match": {"operation_id": "listWholesalers"}, "respond": {"status": 500}}
    assert add_rule(a, failing).status == 201
    assert linked(b, P08, ALICE) == ({ALICE}, True) and linked(b, P02, ALICE) == (set(), False)
    assert len(click_events(a)) == 1 and len(rules(b)) == 1
    assert a.request("GET", f"{API}/wholesalers").status == 500  # journaled on A, right before the reset

    assert b.request("POST", "/__admin/reset").status == 204
    assert linked(a, P08, ALICE) == (set(), False)
    assert linked(a, P02, ALICE) == ({ALICE}, True)
    assert click_events(a) == [] and rules(a) == []
    assert a.request("GET", f"{API}/wholesalers").status == 200
    journal = ok(b.request("GET", "/__admin/requests"))["requests"]
    assert [(e["method"], e["path"], e["status"]) for e in journal] == [
        ("GET", f"{API}/{P08}", 200),
        ("GET", f"{API}/{P02}", 200),
        ("GET", f"{API}/wholesalers", 200),
    ]


def test_sessions_are_shared_by_both_servers_and_kept_apart(servers: tuple[LiveServer, LiveServer]) -> None:
    a, b = servers
    tag = uuid.uuid4().hex[:8]
    one, two = f"one-{tag}", f"two-{tag}"
    assert a.request("PATCH", f"{API}/{P08}/connect", None, as_user(ALICE, one)).status == 200
    assert linked(b, P08, ALICE, one) == ({ALICE}, True)
    assert linked(b, P08, ALICE) == (set(), False)
    assert linked(b, P08, ALICE, two) == (set(), False)
    assert b.request("DELETE", f"{API}/{P02}/connect", None, as_user(ALICE, two)).status == 200
    assert linked(a, P02, ALICE, two) == (set(), False)
    assert linked(a, P02, ALICE, one) == ({ALICE}, True)
    assert linked(a, P02, ALICE) == ({ALICE}, True)

    row = click_row(post_click(b, P01, BOB, session=one))
    assert click_events(a, one) == [row]
    assert click_events(a) == [] and click_events(a, two) == []
    for server in servers:
        assert {one, two} <= set(ok(server.request("GET", "/__admin/sessions"))["sessions"])

    assert a.request("POST", "/__admin/reset", headers={"X-Mock-Session": one}).status == 204
    assert linked(b, P08, ALICE, one) == (set(), False) and click_events(b, one) == []
    assert linked(b, P02, ALICE, two) == (set(), False)  # another session: untouched


def test_the_journal_read_on_one_server_lists_what_the_other_answered_just_before(
    servers: tuple[LiveServer, LiveServer],
) -> None:
    expected: list[tuple[str, int]] = []
    for n in range(50):  # a read that did not gather misses the other's last entries within a few rounds
        answering, reading = servers[n % 2], servers[1 - n % 2]
        missing = str(uuid.uuid4())
        assert answering.request("GET", f"{API}/{missing}").status == 404
        assert answering.request("GET", f"{API}/{P07}").status == 200
        expected += [(f"{API}/{missing}", 404), (f"{API}/{P07}", 200)]
        journal = ok(reading.request("GET", "/__admin/requests"))["requests"]
        assert [(e["path"], e["status"]) for e in journal] == expected, f"round {n}"


# --------------------------------------------------------------------------------------------------
# the write storm of test_concurrency, across workers


class RoundRobinConnection:
    """One keep-alive connection per server; each request takes the next in turn."""

    def __init__(self, connections: list[http.client.HTTPConnection]) -> None:
        self.connections = connections
        self._turn = itertools.count()

    def next(self) -> tuple[int, http.client.HTTPConnection]:
        index = next(self._turn) % len(self.connections)
        return index, self.connections[index]

    def close(self) -> None:
        for connection in self.connections:
            connection.close()


class RoundRobin:
    """What the storm uses of a LiveServer, over several: each request goes to the next in turn."""

    def __init__(self, servers: list[LiveServer]) -> None:
        self.servers = servers
        self._turn = itertools.count()
        self._lock = threading.Lock()
        self.answered = Counter[int]()
        """Requests each server answered."""

    def connection(self, timeout: float = 10.0) -> RoundRobinConnection:
        return RoundRobinConnection([server.connection(timeout) for server in self.servers])

    def request(
        self,
        method: str,
        path: str,
        body: bytes | str | None = None,
        headers: dict[str, str] | None = None,
        timeout: float = 10.0,
        connection: RoundRobinConnection | None = None,
    ) -> Reply:
        if connection is None:
            index, sent_on = next(self._turn) % len(self.servers), None
        else:
            index, sent_on = connection.next()
        reply = self.servers[index].request(method, path, body, headers, timeout, connection=sent_on)
        with self._lock:
            self.answered[index] += 1
        return reply

    def alive(self) -> bool:
        return all(server.alive() for server in self.servers)

    def output(self) -> str:
        return "\n".join(server.output() for server in self.servers)


def storm(live: LiveServer | RoundRobin, monkeypatch: pytest.MonkeyPatch) -> None:
    """test_concurrency's storm and its checks, bounded to 20 s of writes (it needs about 5 here)."""
    monkeypatch.setattr(test_concurrency, "TIME_BUDGET", 20.0)
    test_concurrency.test_concurrent_writes_from_two_users_keep_every_invariant(cast(LiveServer, live))


def test_the_write_storm_keeps_every_invariant_across_two_servers(
    servers: tuple[LiveServer, LiveServer], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The storm over two processes, every thread's requests alternating between them."""
    both = RoundRobin(list(servers))
    storm(both, monkeypatch)
    assert min(both.answered.values()) > 1000, both.answered


def worker_pids(server: LiveServer, workers: int, timeout: float = 30.0) -> list[int]:
    """The pids the workers print once their app is built (the first one ready answers before the rest)."""
    deadline = time.monotonic() + timeout
    while True:
        found = READY.findall(server.output())
        if len(found) >= workers or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert len(found) == workers, server.output()
    return [int(pid) for _url, _count, pid in found]


def cpu_ticks(pid: int) -> int:
    """User and system time the process has used, in clock ticks (/proc/PID/stat fields 14 and 15)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return int(fields[11]) + int(fields[12])


def test_the_write_storm_keeps_every_invariant_with_two_workers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`serve --workers 2 --state`: two worker processes, each announcing itself, both serving the storm."""
    redis_server = RedisServer(tmp_path).start()
    try:
        live = LiveServer.start(*serve_args(redis_server.url, "--workers", "2"), ready_timeout=40)
        try:
            pids = worker_pids(live, 2)
            assert len(set(pids)) == 2 and live.process.pid not in pids, pids
            for pid in pids:  # granian's worker processes, in the server's own process group
                assert os.getpgid(pid) == live.process.pid, pid
            assert READY.findall(live.output())[0][:2] == (redis_server.url, "2")
            before = {pid: cpu_ticks(pid) for pid in pids}
            try:
                storm(live, monkeypatch)
            finally:
                # Each worker served part of the storm (no response says which one answered): each used
                # CPU well beyond its idle polling. 1 s of CPU is about 1,000 requests here; each used
                # about 2.4 s of the storm's 3,500 requests.
                ticks = os.sysconf("SC_CLK_TCK")
                used = {pid: f"{(cpu_ticks(pid) - before[pid]) / ticks:.2f} s" for pid in pids}
                print(f"CPU used by each worker during the storm: {used}")
                assert min(cpu_ticks(pid) - before[pid] for pid in pids) > ticks // 4, used
        finally:
            live.stop()
    finally:
        redis_server.stop()


# --------------------------------------------------------------------------------------------------
# the command line


NO_STATE = "error: --workers 2 needs a shared state store: add --state redis://host:port/db"
ONE_PROCESS = "error: --workers 2 needs --server granian (waitress runs one process)"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--workers", "2"], NO_STATE),
        (["--workers", "2", "--server", "waitress", "--state", "redis://127.0.0.1:1/0"], ONE_PROCESS),
    ],
    ids=["no-state", "waitress"],
)
def test_more_than_one_worker_needs_a_shared_state_and_granian(args: list[str], message: str) -> None:
    result = CliRunner().invoke(
        cli, ["serve", "--scenario", "default", *args], env={"MOCKSERVER_STATE": None}
    )
    assert result.exit_code == 1, result.output
    assert message in result.output, result.output
    assert "serving" not in result.output


def test_the_refusal_is_the_exit_code_of_the_process() -> None:
    """The same refusal from `python -m mockserver serve --workers 2`: exit code 1, before any worker."""
    env = python_environment()
    env.pop("MOCKSERVER_STATE", None)
    done = subprocess.run(
        [sys.executable, "-m", "mockserver", "serve", "--workers", "2", "--port", str(free_port())],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1, (done.stdout, done.stderr)
    assert NO_STATE in done.stderr and "state in Redis" not in done.stderr, done.stderr


# --------------------------------------------------------------------------------------------------
# Redis going away and coming back


def error_of(reply: Reply) -> dict[str, Any]:
    assert reply.status == 503 and reply.mimetype == JSON, f"{reply.status}: {reply.text()}"
    (error,) = reply.json()["errors"]
    assert isinstance(error, dict)
    return error


def test_an_outage_answers_503_and_loses_no_acknowledged_write(tmp_path: Path) -> None:
    """Writes acknowledged before Redis stops, and while it stops, are all there once it is back; in
    between every request is a 503 naming the store, and the server serves again by itself."""
    redis_server = RedisServer(tmp_path, persistent=True).start()
    url, port = redis_server.url, redis_server.port
    restarted: RedisServer | None = None
    live = LiveServer.start(*serve_args(url))
    lock = threading.Lock()
    expected: dict[tuple[str, str], bool] = {key: True for key in INITIAL_LINKS}
    """(user, partner) → linked, as the last acknowledged write left it."""
    unknown: set[tuple[str, str]] = set()
    """Keys whose last write was refused (503) or cut: it may or may not have been made."""
    clicks: list[tuple[str, str, str, str]] = []
    """Every acknowledged click event."""
    refused_clicks = 0
    progress = Counter[str]()
    try:
        # Before: links made and removed, click events, all acknowledged.
        for user in (ALICE, BOB):
            for partner in PARTNERS[8:]:
                assert live.request("PATCH", f"{API}/{partner}/connect", None, as_user(user)).status == 200
                expected[(user, partner)] = True
                clicks.append(click_row(post_click(live, partner, user)))
        for user, partner in INITIAL_LINKS:
            assert live.request("DELETE", f"{API}/{partner}/connect", None, as_user(user)).status == 200
            expected[(user, partner)] = False

        # While Redis stops: each writer writes until its first refusal; only that write's fate is open.
        def refused(reply: Reply | None) -> bool:
            if reply is not None and reply.status in (200, 201):
                return False
            if reply is not None:  # else the connection was cut: no answer at all
                assert error_of(reply)["code"] == "store_unavailable"
            return True

        def send(
            connection: http.client.HTTPConnection, method: str, path: str, body: str | None, headers: Any
        ) -> Reply | None:
            try:
                return live.request(method, path, body, headers, connection=connection)
            except (OSError, http.client.HTTPException):
                return None

        def write_links(user: str, partners: list[str]) -> None:
            connection = live.connection(timeout=10)
            try:
                for partner in itertools.cycle(partners):
                    key = (user, partner)
                    connect = not expected.get(key, key in INITIAL_LINKS)
                    method = "PATCH" if connect else "DELETE"
                    reply = send(connection, method, f"{API}/{partner}/connect", None, as_user(user))
                    if refused(reply):
                        with lock:
                            unknown.add(key)
                        return
                    assert reply is not None
                    assert reply.json()["data"]["attributes"]["user-integration-requested"] is connect
                    with lock:
                        expected[key] = connect
                        progress[f"links {user[:5]} {partners[0][-2:]}"] += 1
            finally:
                connection.close()

        def write_clicks(user: str) -> None:
            nonlocal refused_clicks
            connection = live.connection(timeout=10)
            headers = {**as_user(user), "Content-Type": JSON}
            try:
                for partner in itertools.cycle(PARTNERS):
                    reply = send(connection, "POST", f"{API}/{partner}/click_event", CLICK, headers)
                    if refused(reply):
                        with lock:
                            refused_clicks += 1
                        return
                    assert reply is not None
                    row = click_row(reply)
                    with lock:
                        clicks.append(row)
                        progress[f"clicks {user[:5]}"] += 1
            finally:
                connection.close()

        with ThreadPoolExecutor(max_workers=6) as pool:
            writers = [
                pool.submit(write_links, user, PARTNERS[half * 4 : half * 4 + 4])
                for user in (ALICE, BOB)
                for half in (0, 1)
            ]
            writers += [pool.submit(write_clicks, user) for user in (ALICE, BOB)]
            started = time.monotonic()
            while len(progress) < 6 or min(progress.values()) < 10:  # every writer under way
                assert time.monotonic() - started < 20, progress
                assert not any(future.done() for future in writers), [f.exception() for f in writers]
                time.sleep(0.01)
            redis_server.stop()
            for future in writers:
                future.result(timeout=30)
        assert len(unknown) == 4 and refused_clicks == 2  # every writer met the outage

        # Redis is down: a 503 naming the store, for reads, writes and admin requests alike.
        for method, path, body in [
            ("GET", f"{API}/{P07}", None),
            ("GET", f"{API}?business_uuid={B1}", None),
            ("PATCH", f"{API}/{P08}/connect", None),
            ("POST", f"{API}/{P07}/click_event", CLICK),
            ("GET", "/__admin/click-events", None),
        ]:
            reply = live.request(method, path, body, {**as_user(ALICE), "Content-Type": JSON})
            error = error_of(reply)
            assert (error["status"], error["code"], error["title"]) == (
                "503",
                "store_unavailable",
                "State store unavailable",
            )
            assert f"The state store (Redis at {url}) cannot be reached" in error["detail"], error
            assert reply.headers.get("retry-after") == "1"
        health = live.request("GET", "/__admin/health")  # the process answers, whatever it says
        assert health.status == 200 or error_of(health)["code"] == "store_unavailable"
        assert live.alive(), live.tail()

        # Redis is back on the same port and files: the server serves again by itself.
        restarted = RedisServer(tmp_path, persistent=True, port=port).start()
        back = time.monotonic()
        while live.request("GET", f"{API}/{P07}").status != 200:
            assert time.monotonic() - back < 10, "still not serving 10 s after Redis came back"
            time.sleep(0.05)
        print(f"\n{dict(progress)} written before the outage; serving {time.monotonic() - back:.2f}s after")

        for user in (ALICE, BOB):
            for partner in PARTNERS:
                key = (user, partner)
                if key in unknown:
                    continue
                want = expected.get(key, key in INITIAL_LINKS)
                users, flag = linked(live, partner, user)
                assert (user in users, flag) == (want, want), (key, "revived" if flag else "lost")
        stored = click_events(live)
        assert len({row[0] for row in stored}) == len(stored), "click event ids repeat"
        missing = Counter(clicks) - Counter(stored)
        assert not missing, f"acknowledged click events lost: {sorted(missing)}"
        assert len(stored) - len(clicks) <= refused_clicks  # a refused one may have been kept too
        assert "Traceback" not in live.output(), live.output()[-3000:]
    finally:
        live.stop()
        redis_server.stop()
        if restarted is not None:
            restarted.stop()


# --------------------------------------------------------------------------------------------------
# Redis hanging (stopped, not dead)


def test_a_hung_redis_stalls_no_read_and_stores_no_write_its_client_was_told_failed(tmp_path: Path) -> None:
    """redis-server stopped with SIGSTOP for 3 s (it accepts connections, answers nothing): plain GETs
    in the default session keep answering within a second (no request waits for the journal), every
    write gets a 503 `store_unavailable` within 2 s (`--state-timeout 0.5`), and once Redis resumes, no
    write answered 503 is found stored: each write carried a deadline Redis checks before it writes."""
    redis_server = RedisServer(tmp_path).start()
    assert redis_server.process is not None
    pid = redis_server.process.pid
    live = LiveServer.start(*serve_args(redis_server.url, "--state-timeout", "0.5"))
    session = f"hang-{uuid.uuid4().hex[:8]}"
    pairs = [
        (user, partner)
        for partner in PARTNERS
        for user in (ALICE, BOB)
        if (user, partner) not in INITIAL_LINKS
    ]
    acknowledged: set[tuple[str, str]] = set()
    refused: set[tuple[str, str]] = set()
    clicks = Counter[str]()
    write_times: list[float] = []
    probe_times: list[float] = []
    hanging = threading.Event()
    done = threading.Event()

    def write() -> None:
        connection = live.connection(timeout=30)
        try:
            for n, (user, partner) in enumerate(pairs):
                if done.is_set():
                    return
                started = time.monotonic()
                if n % 2:
                    reply = post_click(live, partner, user, session=session)
                    kind = "click"
                else:
                    reply = live.request(
                        "PATCH",
                        f"{API}/{partner}/connect",
                        None,
                        as_user(user, session),
                        connection=connection,
                    )
                    kind = "link"
                took = time.monotonic() - started
                if reply.status in (200, 201):
                    if kind == "link":
                        acknowledged.add((user, partner))
                    clicks["acknowledged" if kind == "click" else "links"] += 1
                    continue
                assert error_of(reply)["code"] == "store_unavailable"
                if hanging.is_set():
                    write_times.append(took)
                if kind == "link":
                    refused.add((user, partner))
                else:
                    clicks["refused"] += 1
                time.sleep(0.05)
        finally:
            connection.close()

    try:
        for _ in range(5):  # warm: the default session read, the writer's session made
            ok(live.request("GET", f"{API}/{P07}", headers=as_user(ALICE)))
        ok(live.request("GET", f"{API}/{P07}", headers=as_user(ALICE, session)))
        os.kill(pid, signal.SIGSTOP)
        hanging.set()
        writer = threading.Thread(target=write)
        writer.start()
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:
            started = time.monotonic()
            reply = live.request("GET", f"{API}/{P07}", headers=as_user(ALICE), timeout=30)
            probe_times.append(time.monotonic() - started)
            ok(reply)
            time.sleep(0.05)
        hanging.clear()
        os.kill(pid, signal.SIGCONT)
        done.set()
        writer.join(timeout=30)
        assert write_times, "no write met the hang"
        assert max(probe_times) < 1.0, f"plain GETs took up to {max(probe_times):.2f} s while Redis hung"
        assert max(write_times) < 2.0, f"writes took up to {max(write_times):.2f} s to get their 503"
        # Redis answers again: what it holds is exactly what was acknowledged.
        back = time.monotonic()
        while live.request("GET", f"{API}/{P07}", headers=as_user(ALICE, session)).status != 200:
            assert time.monotonic() - back < 10
            time.sleep(0.05)
        assert refused, "no link write was refused"
        for user, partner in acknowledged | refused:
            users, _ = linked(live, partner, user, session)
            assert (user in users) is ((user, partner) in acknowledged), (user, partner, "stored after a 503")
        stored = click_events(live, session)
        assert len(stored) == clicks["acknowledged"], (clicks, len(stored))
        print(f"\nprobes {len(probe_times)}, slowest {max(probe_times):.3f} s; "
              f"writes refused {len(write_times)}, "
              f"slowest {max(write_times):.3f} s; {dict(clicks)}")  # fmt: skip
        assert "Traceback" not in live.output(), live.output()[-3000:]
    finally:
        done.set()
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGCONT)
        live.stop()
        redis_server.stop()


# --------------------------------------------------------------------------------------------------
# the bounds held in Redis for the whole server


def test_redis_holds_at_most_max_sessions_sessions_and_max_click_events_events(tmp_path: Path) -> None:
    """40 sessions each link a partner and post two click events, `--max-sessions 5 --max-click-events
    30`: counted in Redis itself, at most 5 sessions' keys and 30 events remain, and /__admin/sessions
    lists at most 5 beside its limit (before, Redis kept every session until its TTL: 20,000 ids made
    40,005 keys, listed next to "limit": 1000)."""
    redis_server = RedisServer(tmp_path).start()
    client = redis.Redis.from_url(redis_server.url)
    live = LiveServer.start(*serve_args(redis_server.url, "--max-sessions", "5", "--max-click-events", "30"))
    try:
        for n in range(40):
            session = f"many-{n}"
            assert live.request("PATCH", f"{API}/{P08}/connect", None, as_user(ALICE, session)).status == 200
            for _ in range(2):
                click_row(post_click(live, P07, BOB, session=session))
        keys = [key.decode() for key in client.scan_iter(count=1000)]
        sessions = {key.split(":session:")[1].rsplit(":", 1)[0] for key in keys if ":session:" in key}
        assert len(sessions) <= 5, sorted(sessions)
        assert sessions <= {f"many-{n}" for n in range(35, 40)}, sorted(sessions)  # the most recent
        assert len(keys) <= 5 * 7 + 16, sorted(keys)  # the default session's and the server's own
        events = sum(int(client.llen(key)) for key in keys if key.endswith(":events"))
        assert events <= 30
        document = ok(live.request("GET", "/__admin/sessions"))
        assert len(document["sessions"]) <= 5 and document["limit"] == 5
        assert document["evicted"] >= 35
        assert document["bounds"]["sessions"] == {
            "limit": 5,
            "used": len(document["sessions"]),
            "evicted": document["evicted"],
        }
        assert document["bounds"]["click_events"] == {"limit": 30, "used": events}
        # The newest session still serves its own state.
        assert linked(live, P08, ALICE, "many-39") == ({ALICE}, True)
        assert len(click_events(live, "many-39")) == 2
    finally:
        live.stop()
        client.close()
        redis_server.stop()


def test_click_event_ids_do_not_repeat_after_redis_restarts_without_persistence(tmp_path: Path) -> None:
    """Redis without persistence restarts empty: the sessions are made again, and their click events
    numbered from 1 again. Their ids derive from the session's incarnation, drawn when Redis made it,
    so the new events' ids are new (before, the same ids came back)."""
    redis_server = RedisServer(tmp_path).start()
    port = redis_server.port
    restarted: RedisServer | None = None
    live = LiveServer.start(*serve_args(redis_server.url))
    try:
        before = {click_row(post_click(live, P07, ALICE))[0] for _ in range(3)}
        redis_server.stop()
        restarted = RedisServer(tmp_path, port=port).start()
        back = time.monotonic()
        while live.request("GET", f"{API}/{P07}").status != 200:
            assert time.monotonic() - back < 10
            time.sleep(0.05)
        after: set[str] = set()
        while len(after) < 3:
            reply = post_click(live, P07, ALICE)
            if reply.status == 201:
                after.add(click_row(reply)[0])
            else:  # the first write may find the session's state gone: a 503, then it is made again
                assert error_of(reply)["code"] == "store_unavailable"
        assert len(click_events(live)) == 3
        assert not before & after, "click event ids repeat after the restart"
    finally:
        live.stop()
        redis_server.stop()
        if restarted is not None:
            restarted.stop()
