"""Paths, fixed request data and the error type shared by the benchmark's modules."""

from __future__ import annotations

import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent.parent
ROOT = BENCH.parent
SPEC = ROOT / "openapi.yaml"
LUA = BENCH / "wrk" / "request.lua"
RESULTS = BENCH / "results"
PRISM_PKG = "@stoplight/prism-cli"

PROBE_PATH = "/api/v1/partners/available?per_page=1"  # a real operation, served by both servers
CLICK_BODY = '{"data":{"type":"partner_click_events","attributes":{"event_type":"website"}}}'
FALLBACK_UUID = "3fa85f64-5717-4562-b3fc-2c963f66afa6"  # used only when ids cannot be read from mockserver
POLL_INTERVAL = 0.010  # seconds between start-up probes (10 ms, plus the probe's own cost)


class BenchError(Exception):
    """A failure that ends the run with a clear message (exit code 2)."""


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def rel(arg: str) -> str:
    """An argument with the repo's path made relative, for the report."""
    return arg.replace(str(ROOT) + "/", "")
