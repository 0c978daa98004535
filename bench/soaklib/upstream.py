"""Slow upstreams: a hand-written upstream that answers late or trickles, the `mockserver proxy` the
soak starts in front of it, and the client that asks the proxy for those answers.

A proxy that bounds the whole upstream answer in time answers both with a 504 within its
`--upstream-timeout` (plus a margin), and keeps answering `/__admin/health` meanwhile (the probes).
"""

from __future__ import annotations

import contextlib
import random
import socket
import socketserver
import threading
import time

from .hostile import status_of
from .tally import Tally

SILENT_PATH = "/api/v1/partners/wholesalers"
"""The upstream reads the request, then says nothing for SILENT_S seconds."""
TRICKLE_PATH = "/api/v1/partners/available"
"""The upstream sends the head of a 200 announcing 1,000 bytes, then one byte every TRICKLE_EVERY_S."""
SILENT_S = 20.0
TRICKLE_EVERY_S = 2.0
TRICKLE_FOR_S = 60.0
ANSWER_MARGIN_S = 5.0
"""A 504 is expected within the proxy's --upstream-timeout plus this."""
PAUSE = (0.2, 0.6)


class SlowHandler(socketserver.BaseRequestHandler):
    """One connection of the slow upstream: the request's head read, then silence or a trickle."""

    server: SlowUpstream

    def handle(self) -> None:
        sock: socket.socket = self.request
        sock.settimeout(5.0)
        head = b""
        with contextlib.suppress(OSError):
            while b"\r\n\r\n" not in head and len(head) < 65536:
                data = sock.recv(4096)
                if not data:
                    return
                head += data
        target = head.split(b" ", 2)[1].decode(errors="replace") if head.count(b" ") >= 2 else ""
        stop = self.server.ending
        if target.startswith(TRICKLE_PATH):
            self.trickle(sock, stop)
        else:
            stop.wait(SILENT_S)
            with contextlib.suppress(OSError):
                sock.sendall(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"
                )

    @staticmethod
    def trickle(sock: socket.socket, stop: threading.Event) -> None:
        head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n"
        deadline = time.monotonic() + TRICKLE_FOR_S
        with contextlib.suppress(OSError):
            sock.sendall(head)
            while time.monotonic() < deadline and not stop.wait(TRICKLE_EVERY_S):
                sock.sendall(b" ")


class SlowUpstream(socketserver.ThreadingTCPServer):
    """The upstream, on a free loopback port, one thread per connection; `stop()` ends them all."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), SlowHandler)
        self.ending = threading.Event()
        self.thread = threading.Thread(target=self.serve_forever, name="slow-upstream", daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def stop(self) -> None:
        """End every connection's wait, stop serving, close the socket."""
        self.ending.set()
        self.shutdown()
        self.server_close()


def slow_request(host: str, port: int, path: str, wait: float) -> str:
    """One GET through the proxy; "504" (or another status) with "late" when it took longer than
    `wait`, or "no answer", "closed", "reset"."""
    started = time.monotonic()
    try:
        sock = socket.create_connection((host, port), timeout=wait)
    except OSError as exc:
        return f"connect {type(exc).__name__}"
    with sock:
        try:
            sock.sendall(f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nConnection: close\r\n\r\n".encode())
        except OSError:
            return "reset"
        outcome = status_by(sock, started + wait)
    late = time.monotonic() - started > wait
    return f"{outcome}, late" if outcome.isdigit() and late else outcome


def status_by(sock: socket.socket, deadline: float) -> str:
    """The status line's code if it arrives before `deadline` (a trickle cannot stretch the wait)."""
    received = b""
    while (status := status_of(received)) is None:
        left = deadline - time.monotonic()
        if left <= 0:
            return "no answer"
        sock.settimeout(left)
        try:
            data = sock.recv(65536)
        except TimeoutError:
            return "no answer"
        except OSError:
            return "reset"
        if not data:
            return "closed"
        received += data
    return status


def run_slow_upstream_clients(
    host: str, port: int, seed: int, upstream_timeout: float, stop: threading.Event, tally: Tally
) -> None:
    """Ask the proxy for a silent and a trickling answer in turn, one at a time."""
    rng = random.Random(f"{seed}:slow-upstream")
    wait = upstream_timeout + ANSWER_MARGIN_S
    while not stop.is_set():
        for kind, path in (("slow-upstream", SILENT_PATH), ("trickle-upstream", TRICKLE_PATH)):
            if stop.is_set():
                break
            tally.hostile(kind, slow_request(host, port, path, wait))
            stop.wait(rng.uniform(*PAUSE))
