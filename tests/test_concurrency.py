"""Writes under concurrency against a live server, checked against a ledger.

32 writer threads send ~2,400 requests — PATCH and DELETE `/connect` and POST `/click_event` — on
eight overlapping partners, as Alice and as Bob, over keep-alive connections. Link writes to one
(user, partner) are serialised by a per-key lock in this test client, so "the last acknowledged
write" of each key is well defined: the ledger appends each acknowledged write under that lock.
Writes to different keys, and every click, run concurrently. Meanwhile reader threads fetch
partners with `include=users` and check each document is consistent with itself.

Afterwards: one stored click event per 201 (same ids), each link in the state its last acknowledged
write left it, no 5xx anywhere, and every response JSON. The load stops issuing
requests after TIME_BUDGET seconds, so the test is bounded even on a slow machine. It runs once per
WSGI server `mockserver serve --server` offers (granian, 1 Python thread; waitress, 8 threads).
"""

from __future__ import annotations

import http.client
import json
import random
import sys
import threading
import time
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from support import ALICE, API, BOB, BUSINESS_OF, INITIAL_LINKS, JSON, PARTNERS, TOKENS, bearer, make_app

from mockserver.testing.live import LiveServer, Reply

WRITTEN = PARTNERS[:8]  # written to; the other six must stay as loaded

WORKERS = 32
READERS = 4
TOTAL_WRITES = 2400
TIME_BUDGET = 45.0
MIN_WRITES = 600
"""Below this many completed writes in TIME_BUDGET the run proves too little: the test fails."""
SEED = 20261127

Key = tuple[str, str]  # (user, partner)


@dataclass
class Ledger:
    """Everything the threads saw, appended under one lock (link writes also under their key's lock)."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    statuses: Counter[int] = field(default_factory=Counter)
    problems: list[str] = field(default_factory=list)
    clicks: list[tuple[str, str, str, str]] = field(default_factory=list)
    """(event id, user, partner, event type) of every 201."""
    link_writes: dict[Key, list[str]] = field(default_factory=lambda: defaultdict(list))
    """Per key, the acknowledged connect/disconnect in completion order."""
    writes_done: int = 0
    writes_skipped: int = 0
    reads: int = 0
    inconsistent_reads: list[str] = field(default_factory=list)

    def problem(self, text: str) -> None:
        with self.lock:
            if len(self.problems) < 200:
                self.problems.append(text)


def checked(ledger: Ledger, what: str, reply: Reply) -> Any:
    """Record the status; the body as JSON (None for a 204, which must be empty)."""
    with ledger.lock:
        ledger.statuses[reply.status] += 1
    if reply.status >= 500:
        ledger.problem(f"{what} -> {reply.status}: {reply.text(300)}")
    if reply.status == 204:
        if reply.body:
            ledger.problem(f"{what} -> 204 with a body: {reply.text(100)}")
        return None
    if reply.mimetype != JSON:
        ledger.problem(f"{what} -> {reply.status} {reply.content_type!r}: {reply.text(200)}")
        return None
    try:
        return reply.json()
    except ValueError:
        ledger.problem(f"{what} -> {reply.status} unparsable JSON: {reply.text(200)}")
        return None


def auth(user: str, with_header: bool = True) -> dict[str, str]:
    """Alice is also the default user: some of her requests go without the header."""
    return bearer(TOKENS[user] if with_header else None)


def plan_writes() -> list[list[tuple[str, str, str, bool, str]]]:
    """Per worker: (action, user, partner, send the header, event type), deterministic."""
    rng = random.Random(SEED)
    actions = ["connect"] * 35 + ["disconnect"] * 35 + ["click"] * 30
    plan: list[list[tuple[str, str, str, bool, str]]] = [[] for _ in range(WORKERS)]
    for n in range(TOTAL_WRITES):
        user = rng.choice([ALICE, BOB])
        with_header = user == BOB or rng.random() < 0.75
        plan[n % WORKERS].append(
            (rng.choice(actions), user, rng.choice(WRITTEN), with_header, rng.choice(["website", "video"]))
        )
    return plan


def write_once(
    ledger: Ledger,
    live: LiveServer,
    conn: http.client.HTTPConnection,
    key_locks: dict[Key, threading.Lock],
    op: tuple[str, str, str, bool, str],
) -> None:
    action, user, partner, with_header, event_type = op
    headers = auth(user, with_header)
    what = f"{action} {user[:5]}/{partner[-2:]}"
    if action == "click":
        body = json.dumps(
            {"data": {"type": "partner_click_events", "attributes": {"event_type": event_type}}}
        ).encode()
        reply = live.request(
            "POST", f"{API}/{partner}/click_event", body, {**headers, "Content-Type": JSON}, connection=conn
        )
        document = checked(ledger, what, reply)
        if reply.status != 201 or document is None:
            ledger.problem(f"{what} -> {reply.status}, expected 201: {reply.text(200)}")
            return
        data = document["data"]
        relationships = data["relationships"]
        seen = (
            relationships["user"]["data"]["id"],
            relationships["partner"]["data"]["id"],
            data["attributes"]["event-type"],
        )
        if seen != (user, partner, event_type):
            ledger.problem(f"{what}: the stored event says {seen}")
        with ledger.lock:
            ledger.clicks.append((data["id"], user, partner, event_type))
            ledger.writes_done += 1
        return

    key = (user, partner)
    lock = key_locks[key]
    if not lock.acquire(timeout=30):
        ledger.problem(f"{what}: the key lock was not free within 30 s")
        return
    try:
        method, expected = ("PATCH", 200) if action == "connect" else ("DELETE", 200)
        reply = live.request(method, f"{API}/{partner}/connect", None, headers, connection=conn)
        document = checked(ledger, what, reply)
        if reply.status != expected:
            ledger.problem(f"{what} -> {reply.status}, expected {expected}: {reply.text(200)}")
            return
        data = (document or {}).get("data", {})
        # Nobody else writes this key now: the answer must show the link just made or removed.
        if data.get("id") != partner or data.get("attributes", {}).get("user-integration-requested") is not (
            action == "connect"
        ):
            ledger.problem(f"{what}: the {action} answer does not show the write: {reply.text(300)}")
        with ledger.lock:
            ledger.link_writes[key].append(action)
            ledger.writes_done += 1
    finally:
        lock.release()


def writer(
    ledger: Ledger,
    live: LiveServer,
    ops: list[tuple[str, str, str, bool, str]],
    key_locks: dict[Key, threading.Lock],
    start: threading.Barrier,
    deadline: float,
) -> None:
    conn = live.connection(timeout=30)
    try:
        start.wait(timeout=30)
        for index, op in enumerate(ops):
            if time.monotonic() > deadline:
                with ledger.lock:
                    ledger.writes_skipped += len(ops) - index
                return
            try:
                write_once(ledger, live, conn, key_locks, op)
            except (OSError, http.client.HTTPException) as exc:
                # The outcome of this write is unknown; the test fails on the recorded problem.
                ledger.problem(f"{op[0]} {op[1][:5]}/{op[2][-2:]}: transport error {exc!r}")
                conn.close()
    finally:
        conn.close()


def consistency_problems(document: dict[str, Any], user: str, partner: str | None) -> list[str]:
    """A document read as `user`: the flag, the linkage and `included` tell the same story."""
    problems = []
    resources = [document["data"]] if partner else document["data"]
    included = {r["id"] for r in document.get("included", []) if r["type"] == "users"}
    linked_anywhere: set[str] = set()
    for resource in resources:
        users = [u["id"] for u in resource["relationships"]["users"]["data"]]
        linked_anywhere.update(users)
        flag = resource["attributes"]["user-integration-requested"]
        if flag != (user in users):
            problems.append(
                f"as {user[:5]}: {resource['id'][-2:]} user-integration-requested={flag} but users={users}"
            )
        if partner and resource["id"] != partner:
            problems.append(f"asked for {partner}, got {resource['id']}")
    if included != linked_anywhere:
        problems.append(
            f"as {user[:5]}: included users {sorted(included)} != linked {sorted(linked_anywhere)}"
        )
    return problems


def reader(ledger: Ledger, live: LiveServer, index: int, stop: threading.Event, deadline: float) -> None:
    rng = random.Random(SEED + 1000 + index)
    conn = live.connection(timeout=30)
    try:
        while not stop.is_set() and time.monotonic() < deadline:
            user = rng.choice([ALICE, BOB])
            if index == 0 and rng.random() < 0.3:
                partner = None
                path = f"{API}?business_uuid={BUSINESS_OF[user]}&include=users&per_page=100"
            else:
                partner = rng.choice(WRITTEN)
                path = f"{API}/{partner}?include=users"
            try:
                reply = live.request("GET", path, None, auth(user), connection=conn)
            except (OSError, http.client.HTTPException) as exc:
                ledger.problem(f"read {path}: transport error {exc!r}")
                conn.close()
                continue
            document = checked(ledger, f"read {path}", reply)
            if reply.status != 200 or document is None:
                ledger.problem(f"read {path} -> {reply.status}: {reply.text(200)}")
                continue
            found = consistency_problems(document, user, partner)
            with ledger.lock:
                ledger.reads += 1
                ledger.inconsistent_reads.extend(found[: max(0, 50 - len(ledger.inconsistent_reads))])
    finally:
        conn.close()


def linked_users(live: LiveServer, partner: str, as_user: str) -> tuple[set[str], bool]:
    reply = live.request("GET", f"{API}/{partner}?include=users", headers=auth(as_user))
    assert reply.status == 200, reply.text()
    data = reply.json()["data"]
    return {u["id"] for u in data["relationships"]["users"]["data"]}, data["attributes"][
        "user-integration-requested"
    ]


def test_concurrent_writes_from_two_users_keep_every_invariant(live: LiveServer) -> None:
    assert live.request("POST", "/__admin/reset").status == 204
    assert live.request("GET", "/__admin/click-events").json()["data"] == []

    ledger = Ledger()
    plan = plan_writes()
    key_locks = {(u, p): threading.Lock() for u in TOKENS for p in WRITTEN}
    start = threading.Barrier(WORKERS)
    stop_readers = threading.Event()
    started = time.monotonic()
    deadline = started + TIME_BUDGET

    with ThreadPoolExecutor(max_workers=WORKERS + READERS) as pool:
        readers = [pool.submit(reader, ledger, live, i, stop_readers, deadline + 5) for i in range(READERS)]
        writers = [
            pool.submit(writer, ledger, live, plan[i], key_locks, start, deadline) for i in range(WORKERS)
        ]
        for future in writers:
            future.result(timeout=TIME_BUDGET + 60)
        stop_readers.set()
        for future in readers:
            future.result(timeout=60)
    elapsed = time.monotonic() - started

    total_requests = sum(ledger.statuses.values())
    print(
        f"\n{ledger.writes_done} writes ({len(ledger.clicks)} clicks), {ledger.reads} reads, "
        f"{ledger.writes_skipped} writes skipped, {total_requests} requests in {elapsed:.1f}s "
        f"({total_requests / elapsed:.0f}/s); statuses {dict(sorted(ledger.statuses.items()))}"
    )

    assert live.alive(), live.output()
    assert ledger.problems == []
    assert not [s for s in ledger.statuses if s >= 500]
    assert ledger.writes_done >= MIN_WRITES, f"only {ledger.writes_done} writes in {TIME_BUDGET}s"
    assert ledger.reads > 0
    assert ledger.inconsistent_reads == []

    # Click events: one stored per 201, the same ids, each with its user, partner and type.
    stored = live.request("GET", "/__admin/click-events").json()["data"]
    assert len(stored) == len(ledger.clicks)
    assert len({event["id"] for event in stored}) == len(stored), "click event ids repeat"
    assert Counter(
        (
            event["id"],
            event["relationships"]["user"]["data"]["id"],
            event["relationships"]["partner"]["data"]["id"],
            event["attributes"]["event-type"],
        )
        for event in stored
    ) == Counter(ledger.clicks)

    # Links: each key as its last acknowledged write left it; keys nobody wrote as loaded.
    expected_links = set()
    for user in TOKENS:
        for partner in PARTNERS:
            writes = ledger.link_writes.get((user, partner))
            linked = writes[-1] == "connect" if writes else (user, partner) in INITIAL_LINKS
            if linked:
                expected_links.add((user, partner))
    for partner in PARTNERS:
        expected_users = {u for u in TOKENS if (u, partner) in expected_links}
        for as_user in TOKENS:
            users, flag = linked_users(live, partner, as_user)
            assert users == expected_users, (partner, ledger.link_writes.get((as_user, partner), [])[-3:])
            assert flag is ((as_user, partner) in expected_links), partner

    # The server is still fine, and said nothing about unhandled errors.
    assert live.request("GET", "/__admin/health").json() == {"status": "ok"}
    assert "Traceback" not in live.output() and "unhandled error" not in live.output(), live.output()[-3000:]


def test_reads_stay_consistent_when_threads_switch_often(state_settings: dict[str, Any]) -> None:
    """The same read check in-process, with the GIL handed over every microsecond instead of 5 ms.

    A document reads the link state several times (the `user-integration-requested` flag, the
    `users` linkage, `included`); a write landing between those reads makes the document
    contradict itself. At the default switch interval the window is rarely hit (the live test
    above may pass by luck); a 1 µs interval makes it show within seconds if it is there.
    """
    app: Flask = make_app(scenario="default", **state_settings)
    partner = WRITTEN[4]  # nobody linked initially
    stop = threading.Event()
    deadline = time.monotonic() + 8.0
    found: list[str] = []
    reads = [0]

    def write() -> None:
        client = FlaskClient(app, app.response_class)  # no spec check: keep the threads in the app
        for n in range(1_000_000):
            if stop.is_set() or time.monotonic() > deadline:
                return
            client.open(f"{API}/{partner}/connect", method="PATCH" if n % 2 == 0 else "DELETE")

    def read() -> None:
        client = FlaskClient(app, app.response_class)
        while not stop.is_set() and time.monotonic() < deadline:
            response = client.get(f"{API}/{partner}?include=users")
            if response.status_code != 200:
                found.append(f"read -> {response.status_code}")
                continue
            problems = consistency_problems(response.get_json(), ALICE, partner)
            reads[0] += 1
            if problems:
                found.extend(problems)
                if len(found) >= 5:
                    stop.set()

    previous = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        threads = [threading.Thread(target=write) for _ in range(2)]
        threads += [threading.Thread(target=read) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
    finally:
        sys.setswitchinterval(previous)
        stop.set()
    assert reads[0] > 0
    assert found == [], f"{len(found)} inconsistent documents in {reads[0]} reads: {found[:3]}"
