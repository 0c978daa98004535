"""Paths, the click event every command posts, and the error type shared by the bench commands."""

from __future__ import annotations

import json
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent.parent
ROOT = BENCH.parent
SPEC = ROOT / "openapi.yaml"
LUA = BENCH / "wrk" / "request.lua"
RESULTS = BENCH / "results"


def click_body(event_type: str = "website") -> str:
    """A valid click event, as every bench command posts it (compact JSON)."""
    document = {"data": {"type": "partner_click_events", "attributes": {"event_type": event_type}}}
    return json.dumps(document, separators=(",", ":"))


CLICK_BODY = click_body()


class BenchError(Exception):
    """A failure that ends the run with a clear message (exit code 2)."""


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def rel(arg: str) -> str:
    """An argument with the repo's path made relative, for the report."""
    return arg.replace(str(ROOT) + "/", "")
