"""Hostile clients on raw sockets: stalled requests (a bounded pool held open) and malformed ones.

Outcomes are the status the server answered ("408"), or "closed" (it closed without answering),
"reset" (connection reset), "no answer" (nothing within the server's read timeout plus the margin;
the client closed), "connect <error>".
"""

from __future__ import annotations

import gzip
import random
import selectors
import socket
import threading
import time
from dataclasses import dataclass, field

from .client import CLICK_BODY, DataSet
from .tally import Tally

OPEN_INTERVAL = 0.1
"""Seconds between two new stalled connections (the pool fills in --stalled × this)."""
QUICK_PAUSE = (0.02, 0.08)
"""Seconds between two malformed requests (uniform)."""
STALL_DECLARED = 200
STALL_SENT = 20
OVERSIZE = 2 * 1024 * 1024
CHUNK = 64 * 1024
TRUNCATED_DECLARED = 200
MALFORMED_BODY = CLICK_BODY[:-1]  # the last closing brace missing
STALL_KINDS = ("stall-body", "stall-headers")
QUICK_KINDS = ("truncated-body", "oversize-body", "malformed-json", "lowercase-method", "gzip-body")


def status_of(received: bytes) -> str | None:
    """The status code of a response's first line, once it has arrived."""
    line, sep, _ = received.partition(b"\r\n")
    if not sep:
        return None
    parts = line.split()
    if len(parts) >= 2 and parts[0].startswith(b"HTTP/") and parts[1].isdigit():
        return parts[1].decode()
    return "garbage"


def click_head(method: str, partner: str, host: str, length: int, extra: str = "") -> bytes:
    return (
        f"{method} /api/v1/partners/{partner}/click_event HTTP/1.1\r\nHost: {host}\r\n"
        f"Content-Type: application/json\r\nConnection: close\r\n{extra}Content-Length: {length}\r\n\r\n"
    ).encode()


def read_answer(sock: socket.socket, received: bytes = b"") -> str:
    """Read until the status line arrives; the outcome (the socket's timeout bounds each wait)."""
    buffer = bytearray(received)
    while (status := status_of(bytes(buffer))) is None:
        try:
            chunk = sock.recv(65536)
        except TimeoutError:
            return "no answer"
        except OSError:
            return "reset"
        if not chunk:
            return "closed"
        buffer += chunk
    return status


def send_oversize(sock: socket.socket, head: bytes) -> str:
    """Declare and send 2 MiB, stopping as soon as the server answers (it may refuse it unread)."""
    sock.sendall(head)
    selector = selectors.DefaultSelector()
    selector.register(sock, selectors.EVENT_READ)
    try:
        chunk = b" " * CHUNK
        for _ in range(OVERSIZE // CHUNK):
            if selector.select(timeout=0):
                break
            try:
                sock.sendall(chunk)
            except OSError:
                break  # the server answered and closed: read what it said
    finally:
        selector.close()
    return read_answer(sock)


def quick_request(kind: str, host: str, port: int, partner: str, wait: float) -> str:
    """One malformed request on a fresh connection; the outcome."""
    authority = f"{host}:{port}"
    try:
        sock = socket.create_connection((host, port), timeout=wait)
    except OSError as exc:
        return f"connect {type(exc).__name__}"
    with sock:
        try:
            if kind == "oversize-body":
                return send_oversize(sock, click_head("POST", partner, authority, OVERSIZE))
            if kind == "truncated-body":
                sock.sendall(click_head("POST", partner, authority, TRUNCATED_DECLARED) + CLICK_BODY)
                sock.shutdown(socket.SHUT_WR)
            elif kind == "malformed-json":
                sock.sendall(click_head("POST", partner, authority, len(MALFORMED_BODY)) + MALFORMED_BODY)
            elif kind == "lowercase-method":
                sock.sendall(click_head("post", partner, authority, len(CLICK_BODY)) + CLICK_BODY)
            elif kind == "gzip-body":
                body = gzip.compress(CLICK_BODY, mtime=0)
                extra = "Content-Encoding: gzip\r\n"
                sock.sendall(click_head("POST", partner, authority, len(body), extra) + body)
            else:
                raise ValueError(kind)
        except TimeoutError:
            return "no answer"
        except OSError:
            return read_answer(sock)
        return read_answer(sock)


def run_quick(
    host: str,
    port: int,
    seed: int,
    data: DataSet,
    wait: float,
    stop: threading.Event,
    tally: Tally,
    kinds: tuple[str, ...] = QUICK_KINDS,
) -> None:
    """Malformed requests one after the other, each kind once per round, in a seeded order."""
    rng = random.Random(f"{seed}:hostile")
    while kinds and not stop.is_set():
        for kind in rng.sample(kinds, len(kinds)):
            if stop.is_set():
                break
            tally.hostile(kind, quick_request(kind, host, port, rng.choice(data.partners), wait))
            stop.wait(rng.uniform(*QUICK_PAUSE))


@dataclass
class Stall:
    kind: str
    deadline: float
    received: bytearray = field(default_factory=bytearray)


def entry(key: selectors.SelectorKey) -> tuple[socket.socket, Stall]:
    sock, stall = key.fileobj, key.data
    assert isinstance(sock, socket.socket) and isinstance(stall, Stall)
    return sock, stall


def stall_payload(kind: str, rng: random.Random, partner: str, authority: str) -> bytes:
    if kind == "stall-body":
        return click_head("POST", partner, authority, STALL_DECLARED) + CLICK_BODY[:STALL_SENT]
    if rng.random() < 0.5:
        return b"GET /api/v1/partners/avail"  # half a request line
    whole = click_head("POST", partner, authority, len(CLICK_BODY))
    return whole[: len(whole) // 2]  # half the headers


def run_stalls(
    host: str,
    port: int,
    seed: int,
    data: DataSet,
    max_open: int,
    wait: float,
    stop: threading.Event,
    tally: Tally,
    kinds: tuple[str, ...] = STALL_KINDS,
) -> None:
    """Keep up to `max_open` stalled connections: each sends part of a request, then waits up to `wait`
    seconds for the server to answer or close, then closes."""
    rng = random.Random(f"{seed}:stall")
    selector = selectors.DefaultSelector()
    next_open = 0.0

    def finish(sock: socket.socket, stall: Stall, outcome: str) -> None:
        selector.unregister(sock)
        sock.close()
        tally.hostile(stall.kind, status_of(bytes(stall.received)) or outcome)

    try:
        while not stop.is_set():
            now = time.monotonic()
            if max_open and kinds and len(selector.get_map()) < max_open and now >= next_open:
                next_open = now + OPEN_INTERVAL
                kind = rng.choice(kinds)
                payload = stall_payload(kind, rng, rng.choice(data.partners), f"{host}:{port}")
                try:
                    sock = socket.create_connection((host, port), timeout=wait)
                    sock.sendall(payload)
                except OSError as exc:
                    tally.hostile(kind, f"connect {type(exc).__name__}")
                else:
                    sock.setblocking(False)
                    selector.register(sock, selectors.EVENT_READ, Stall(kind, now + wait))
            if not selector.get_map():
                stop.wait(OPEN_INTERVAL)
                continue
            for key, _ in selector.select(timeout=OPEN_INTERVAL / 2):
                sock, stall = entry(key)
                try:
                    chunk = sock.recv(65536)
                except BlockingIOError:
                    continue
                except OSError:
                    finish(sock, stall, "reset")
                    continue
                stall.received += chunk
                if not chunk:
                    finish(sock, stall, "closed")
                elif status_of(bytes(stall.received)) is not None:
                    finish(sock, stall, "answered")
            now = time.monotonic()
            for sock, stall in [entry(key) for key in selector.get_map().values()]:
                if now >= stall.deadline:
                    finish(sock, stall, "no answer")
    finally:
        for sock, stall in [entry(key) for key in selector.get_map().values()]:
            tally.cut_at_end[stall.kind] += 1
            sock.close()
        selector.close()
