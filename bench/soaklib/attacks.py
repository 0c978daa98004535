"""Hostile clients that attack the server's bounds: recursive and deeply nested scenarios, backtracking
regular expressions, chunked bodies streamed as fast as possible, and floods of idle connections.

Each outcome is a short string tallied per kind; `tally.ACCEPTED` says which outcomes a server that
holds its bounds gives (anything else fails the run).
"""

from __future__ import annotations

import json
import random
import selectors
import socket
import threading
import time

from .client import TRANSPORT_ERRORS, Client, DataSet
from .hostile import read_answer, status_of
from .tally import Tally

ADMIN_PAUSE = (0.3, 0.8)
"""Seconds between two admin attacks (uniform)."""
QUICK_S = 2.0
"""An answer to a backtracking pattern within this many seconds is quick."""
ATTACK_TIMEOUT = 15.0
"""Seconds an attacking request waits for its answer (a frozen server gives "no answer")."""

RECURSIVE_SCENARIOS = (
    "a: &a [*a]\n",
    "a: &a {<<: *a}\n",
    "businesses: []\nusers: []\npartners: []\nextra: &loop\n  more:\n    - {back: *loop}\n",
    "".join("  " * n + "-\n" for n in range(990)) + "  " * 990 + "- 1\n",
    "[" * 5000 + "]" * 5000,
)
"""Recursive aliases, 990 levels of block nesting, 5,000 of flow nesting: each must be a 400."""
BACKTRACKING_RULE = "/api/v1/partners/([0-9a-f-]+)+X"
BACKTRACKING_FIND = "/([A-Za-z0-9]+)+!"
BACKTRACKING_PATH = "/" + "A" * 64
"""A journaled path BACKTRACKING_FIND would take hours over (2 ** 64 ways to split the letters)."""

FLOOD_CHUNK = 256 * 1024
IDLE_OPEN_RATE = 200.0
"""Idle connections opened per second while the flood fills up (and to replace closed ones)."""


def json_status(reply: tuple[int, bytes]) -> tuple[int, dict[str, object]]:
    status, body = reply
    try:
        document = json.loads(body)
    except ValueError:
        document = {}
    return status, document if isinstance(document, dict) else {}


def pointer_of(document: dict[str, object]) -> str:
    """The first error's `source.pointer` (or "" when there is none)."""
    errors = document.get("errors")
    if isinstance(errors, list) and errors and isinstance(errors[0], dict):
        source = errors[0].get("source")
        if isinstance(source, dict):
            return str(source.get("pointer", ""))
    return ""


def recursive_scenario(client: Client, rng: random.Random) -> str:
    """PUT one hostile scenario (in a session of its own); the status, or the transport error."""
    body = rng.choice(RECURSIVE_SCENARIOS)
    headers = {"Content-Type": "application/yaml", "X-Mock-Session": "soak-scenario"}
    try:
        status, _ = client.send("PUT", "/__admin/scenario", body.encode(), headers)
    except TRANSPORT_ERRORS as exc:
        return "no answer" if isinstance(exc, TimeoutError) else type(exc).__name__
    return str(status)


def backtracking_rule(client: Client, serial: int) -> str:
    """A rule whose path_pattern backtracks, then a GET it would be tried on: "422 <pointer>" when it
    is refused, "201, answered quickly" / "201, slow" / "201, no answer" when it is accepted."""
    session = {"X-Mock-Session": f"soak-regex-{serial}"}
    rule = {
        "id": f"backtrack-{serial}",
        "match": {"operation_id": "getPartner", "path_pattern": BACKTRACKING_RULE},
        "respond": {"status": 404},
    }
    headers = {"Content-Type": "application/json", **session}
    try:
        status, document = json_status(
            client.send("POST", "/__admin/rules", json.dumps(rule).encode(), headers)
        )
        if status != 201:
            return refused(status, document)
        return "201, " + timed_get(client, "/api/v1/partners/" + "0" * 40, session)
    except TRANSPORT_ERRORS as exc:
        return "no answer" if isinstance(exc, TimeoutError) else type(exc).__name__


def backtracking_find(client: Client, serial: int) -> str:
    """Journal a few long paths in a session, then search them with a backtracking path_pattern:
    "422 <pointer>" when refused, "200, answered quickly" or "200, slow" when answered."""
    session = {"X-Mock-Session": f"soak-find-{serial % 8}"}
    try:
        for _ in range(3):
            client.send("GET", BACKTRACKING_PATH, headers=session)
        body = json.dumps({"path_pattern": BACKTRACKING_FIND}).encode()
        started = time.perf_counter()
        headers = {"Content-Type": "application/json", **session}
        status, document = json_status(client.send("POST", "/__admin/requests/find", body, headers))
    except TRANSPORT_ERRORS as exc:
        return "no answer" if isinstance(exc, TimeoutError) else type(exc).__name__
    if status != 200:
        return refused(status, document)
    return f"{status}, {'answered quickly' if time.perf_counter() - started < QUICK_S else 'slow'}"


def refused(status: int, document: dict[str, object]) -> str:
    """A refusal: "<status> naming path_pattern" when its first error points at that field."""
    pointer = pointer_of(document)
    return (
        f"{status} naming path_pattern"
        if pointer.endswith("/path_pattern")
        else f"{status} {pointer}".rstrip()
    )


def timed_get(client: Client, path: str, headers: dict[str, str]) -> str:
    started = time.perf_counter()
    try:
        client.send("GET", path, headers=headers)
    except TRANSPORT_ERRORS:
        return "no answer"
    return "answered quickly" if time.perf_counter() - started < QUICK_S else "slow"


def run_admin_attacks(
    host: str, port: int, seed: int, kinds: frozenset[str], stop: threading.Event, tally: Tally
) -> None:
    """Recursive scenarios and backtracking patterns, one at a time, in a seeded order."""
    rng = random.Random(f"{seed}:admin-attacks")
    client = Client(host, port, ATTACK_TIMEOUT)
    attacks = [k for k in ("recursive-scenario", "backtracking-rule", "backtracking-find") if k in kinds]
    serial = 0
    try:
        while attacks and not stop.is_set():
            kind = rng.choice(attacks)
            serial += 1
            if kind == "recursive-scenario":
                outcome = recursive_scenario(client, rng)
            elif kind == "backtracking-rule":
                outcome = backtracking_rule(client, serial)
            else:
                outcome = backtracking_find(client, serial)
            tally.hostile(kind, outcome)
            stop.wait(rng.uniform(*ADMIN_PAUSE))
    finally:
        client.close()


def chunked_flood(host: str, port: int, partner: str, cap_bytes: int, wait: float) -> str:
    """A chunked click post (of blanks: never valid JSON, so never stored) streamed as fast as the
    socket takes it, up to `cap_bytes`.

    "413, closed": the server answered while the body was coming and closed the connection (what a
    server holding its body limit while reading does); "reset": it cut the connection before an
    answer arrived; "<status> after the whole body": it read all of it first; "<status>, kept open".
    """
    head = (
        f"POST /api/v1/partners/{partner}/click_event HTTP/1.1\r\nHost: {host}:{port}\r\n"
        "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
    ).encode()
    chunk = f"{FLOOD_CHUNK:x}\r\n".encode() + b" " * FLOOD_CHUNK + b"\r\n"
    try:
        sock = socket.create_connection((host, port), timeout=wait)
    except OSError as exc:
        return f"connect {type(exc).__name__}"
    with sock, selectors.DefaultSelector() as selector:
        selector.register(sock, selectors.EVENT_READ)
        try:
            sock.sendall(head)
            sent = 0
            while sent < cap_bytes and not selector.select(timeout=0):
                sock.sendall(chunk)
                sent += FLOOD_CHUNK
        except OSError:
            return answered_early(sock)
        if sent < cap_bytes:
            return answered_early(sock)
        try:
            sock.sendall(b"0\r\n\r\n")
        except OSError:
            return answered_early(sock)
        outcome = read_answer(sock)
        return f"{outcome} after the whole body" if outcome.isdigit() else outcome


def answered_early(sock: socket.socket) -> str:
    """The server answered (or cut) while the body was still coming: its status and whether it closed."""
    received = bytearray()
    sock.settimeout(5.0)
    try:
        while True:
            data = sock.recv(65536)
            if not data:
                break
            received += data
            if status_of(bytes(received)) is not None and b"\r\n\r\n" in received:
                sock.settimeout(1.0)  # the answer is in: is the connection closed after it?
    except TimeoutError:
        status = status_of(bytes(received))
        return f"{status}, kept open" if status else "no answer"
    except OSError:
        status = status_of(bytes(received))
        return f"{status}, closed" if status else "reset"
    status = status_of(bytes(received))
    return f"{status}, closed" if status else "closed"


def run_chunked_floods(
    host: str,
    port: int,
    seed: int,
    data: DataSet,
    cap_bytes: int,
    wait: float,
    stop: threading.Event,
    tally: Tally,
) -> None:
    """One fast chunked flood after another, a short pause between."""
    rng = random.Random(f"{seed}:chunked-flood")
    while not stop.is_set():
        tally.hostile("chunked-flood", chunked_flood(host, port, rng.choice(data.partners), cap_bytes, wait))
        stop.wait(rng.uniform(0.2, 0.6))


def run_idle_flood(host: str, port: int, count: int, stop: threading.Event, tally: Tally) -> None:
    """Hold `count` connections that send nothing; each one the server closes is counted ("closed")
    and opened again, at most IDLE_OPEN_RATE a second."""
    selector = selectors.DefaultSelector()
    opened = 0.0
    started = time.monotonic()
    try:
        while not stop.is_set():
            budget = int((time.monotonic() - started) * IDLE_OPEN_RATE - opened)
            while len(selector.get_map()) < count and budget > 0:
                budget -= 1
                opened += 1
                try:
                    sock = socket.create_connection((host, port), timeout=5.0)
                except OSError as exc:
                    tally.hostile("idle-flood", f"connect {type(exc).__name__}")
                    continue
                sock.setblocking(False)
                selector.register(sock, selectors.EVENT_READ)
            for key, _ in selector.select(timeout=0.1):
                sock = socket_of(key)
                try:
                    data = sock.recv(65536)
                except BlockingIOError:
                    continue
                except OSError:
                    data = b""
                selector.unregister(sock)
                sock.close()
                tally.hostile("idle-flood", "closed" if not data else (status_of(data) or "answered"))
            if not selector.get_map():
                stop.wait(0.1)
    finally:
        for key in list(selector.get_map().values()):
            tally.cut_at_end["idle-flood"] += 1
            socket_of(key).close()
        selector.close()


def socket_of(key: selectors.SelectorKey) -> socket.socket:
    sock = key.fileobj
    assert isinstance(sock, socket.socket)
    return sock
