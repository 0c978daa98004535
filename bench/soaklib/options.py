"""The command line of `python bench/soak.py`."""

from __future__ import annotations

import argparse
import shlex
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from .tally import HOSTILE_KINDS

DEFAULT_READ_TIMEOUT = 10.0
"""The server's `--read-timeout` default (mockserver.core.settings.Settings.read_timeout)."""


@dataclass(frozen=True)
class Options:
    duration: float
    url: str | None
    server_args: list[str]
    seed: int
    json_path: Path | None
    readers: int
    writers: int
    stalled: int
    read_timeout: float
    margin: float
    timeout: float
    pid: int | None
    max_latency: float | None
    hostile: frozenset[str]
    """the hostile kinds that run (--hostile; all by default)"""
    idle: int
    flood_bytes: int
    upstream_timeout: float
    probe_p99: float
    max_rss_growth_mib: float
    server_memory_mib: float
    """address space of the server this command starts (0: unbounded)"""

    @property
    def hostile_wait(self) -> float:
        """How long a hostile client waits for an answer: the server's read timeout plus the margin."""
        return self.read_timeout + self.margin


def read_timeout_in(args: Sequence[str]) -> float | None:
    """The value of `--read-timeout` among the server's arguments, if given."""
    for i, arg in enumerate(args):
        if arg.startswith("--read-timeout="):
            return float(arg.split("=", 1)[1])
        if arg == "--read-timeout" and i + 1 < len(args):
            return float(args[i + 1])
    return None


def parse_args(argv: Sequence[str] | None = None) -> Options:
    parser = argparse.ArgumentParser(
        prog="python bench/soak.py",
        description="Mixed load (readers, writers, hostile raw-socket clients) against the mock for a "
        "while, then check that no request failed and that the server's state matches what it "
        "acknowledged. Exit 0 only when all is well.",
    )
    parser.add_argument("--duration", type=float, default=600.0, help="seconds of load (600)")
    target = parser.add_mutually_exclusive_group()
    target.add_argument("--url", help="a running server (e.g. http://127.0.0.1:4010); default: start one")
    target.add_argument(
        "--server-args",
        default="",
        help="options for the server this command starts, one string: --server-args '--server waitress'",
    )
    parser.add_argument("--seed", type=int, default=1, help="seed of every client's choices (1)")
    parser.add_argument("--json", dest="json_path", type=Path, help="also write the figures as JSON here")
    parser.add_argument("--readers", type=int, default=4, help="reader threads (4)")
    parser.add_argument("--writers", type=int, default=2, help="writer threads (2)")
    parser.add_argument("--stalled", type=int, default=16, help="stalled hostile connections at once (16)")
    parser.add_argument(
        "--read-timeout",
        type=float,
        help="the server's read timeout in seconds (default: the --read-timeout in --server-args, else "
        f"{DEFAULT_READ_TIMEOUT:g})",
    )
    parser.add_argument("--margin", type=float, default=3.0, help="seconds hostile clients wait past it (3)")
    parser.add_argument("--timeout", type=float, default=60.0, help="good clients' socket timeout (60)")
    parser.add_argument(
        "--max-latency",
        type=float,
        help="also fail when a good request took longer than this many seconds (default: no limit)",
    )
    parser.add_argument("--pid", type=int, help="with --url: the server's pid, to measure its RSS")
    parser.add_argument(
        "--hostile",
        default="all",
        help="hostile kinds to run, comma-separated, or 'all' or 'none' (all): " + ", ".join(HOSTILE_KINDS),
    )
    parser.add_argument("--idle", type=int, default=1100, help="idle connections the idle flood holds (1100)")
    parser.add_argument(
        "--flood-mib", type=float, default=128.0, help="MiB a chunked flood sends at most (128)"
    )
    parser.add_argument(
        "--upstream-timeout",
        type=float,
        default=2.0,
        help="--upstream-timeout of the proxy started in front of the slow upstream (2)",
    )
    parser.add_argument(
        "--probe-p99",
        type=float,
        default=1.0,
        help="fail when the health probes' (fresh connections) p99 exceeds this many seconds (1)",
    )
    parser.add_argument(
        "--max-rss-growth",
        type=float,
        default=256.0,
        help="fail when the server's peak RSS exceeds its RSS at the start by more MiB than this (256)",
    )
    parser.add_argument(
        "--server-memory",
        type=float,
        default=4096.0,
        help="MiB of address space for the server this command starts; past it the server fails, the "
        "soak with it, instead of the machine running out of memory (4096; 0: no bound)",
    )
    ns = parser.parse_args(argv)
    server_args = shlex.split(ns.server_args or "")
    if ns.url is not None:
        parts = urlsplit(ns.url)
        if parts.scheme != "http" or not parts.hostname or parts.path not in ("", "/"):
            parser.error(f"--url must look like http://HOST:PORT, got {ns.url!r}")
    elif ns.pid is not None:
        parser.error("--pid goes with --url (the server this command starts is measured anyway)")
    if ns.duration <= 0 or ns.readers < 1 or ns.writers < 1 or ns.stalled < 0:
        parser.error("--duration, --readers and --writers must be positive, --stalled at least 0")
    hostile = hostile_kinds(ns.hostile)
    if hostile is None:
        parser.error(f"--hostile takes 'all', 'none' or kinds among: {', '.join(HOSTILE_KINDS)}")
    if ns.idle < 0 or ns.flood_mib <= 0 or ns.upstream_timeout <= 0 or ns.probe_p99 <= 0:
        parser.error("--idle must be at least 0; --flood-mib, --upstream-timeout and --probe-p99 positive")
    read_timeout = ns.read_timeout
    if read_timeout is None:
        given = read_timeout_in(server_args)
        read_timeout = DEFAULT_READ_TIMEOUT if given is None else given
    return Options(
        duration=ns.duration,
        url=ns.url,
        server_args=server_args,
        seed=ns.seed,
        json_path=ns.json_path,
        readers=ns.readers,
        writers=ns.writers,
        stalled=ns.stalled,
        read_timeout=read_timeout,
        margin=ns.margin,
        timeout=ns.timeout,
        pid=ns.pid,
        max_latency=ns.max_latency,
        hostile=hostile,
        idle=ns.idle,
        flood_bytes=int(ns.flood_mib * 1024 * 1024),
        upstream_timeout=ns.upstream_timeout,
        probe_p99=ns.probe_p99,
        max_rss_growth_mib=ns.max_rss_growth,
        server_memory_mib=ns.server_memory,
    )


def hostile_kinds(text: str) -> frozenset[str] | None:
    """The kinds --hostile names (None when one is unknown)."""
    if text == "all":
        return frozenset(HOSTILE_KINDS)
    kinds = frozenset(k.strip() for k in text.split(",") if k.strip() and text != "none")
    return kinds if kinds <= set(HOSTILE_KINDS) else None
