"""Probes: a health check on a fresh connection every PROBE_INTERVAL seconds, its latency recorded.

Readers keep their connections alive, so they do not see a server that stops accepting new ones (a
flood of idle connections) or a proxy frozen behind a slow upstream; a new connection does.
"""

from __future__ import annotations

import threading
import time

from .client import TRANSPORT_ERRORS, Client
from .tally import Tally

PROBE_INTERVAL = 0.2
PROBE_TIMEOUT = 30.0


def run_probe(host: str, port: int, kind: str, stop: threading.Event, tally: Tally) -> None:
    """GET /__admin/health on a new connection, again and again; 200 expected."""
    while not stop.is_set():
        client = Client(host, port, PROBE_TIMEOUT)
        started = time.perf_counter()
        try:
            status, _ = client.send("GET", "/__admin/health", headers={"Connection": "close"})
            outcome: int | BaseException = status
        except TRANSPORT_ERRORS as exc:
            outcome = exc
        finally:
            client.close()
        tally.probe(kind, outcome, time.perf_counter() - started)
        stop.wait(PROBE_INTERVAL)
