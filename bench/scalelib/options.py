"""The command line of `bash bench/scale`, with the --quick defaults applied."""

from __future__ import annotations

import argparse
import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchlib.common import RESULTS, SPEC

CONFIGS = ("memory", "redis", "redis-2w", "prism")
"""Every server configuration, in the order the servers take turns."""
LOADS = ("fixed", "varied", "unique")


@dataclass
class Options:
    """The parsed options (results.json keeps them)."""

    quick: bool
    duration: int
    repeat: int
    warmup: int
    connections: int
    timeout: int
    configs: list[str]
    loads: list[str]
    urls: int
    pages: int
    unique_urls: int
    seed: int
    server_cmd: str | None
    server_args: str
    prism_args: str
    spec: Path
    startup_timeout: float
    no_install: bool
    output: Path

    def as_json(self) -> dict[str, Any]:
        values = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        return {k: (str(v) if isinstance(v, Path) else v) for k, v in values.items()}


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="bench/scale",
        description="Scale-out benchmark: mockserver in memory, on Redis with 1 and 2 workers, and Prism, "
        "under a fixed and a varied list load (wrk, 1 thread); see bench/README.md.",
    )
    p.add_argument("--quick", action="store_true", help="smoke run: 2 s runs, 1 repeat, 1 s warm-up")
    p.add_argument("--duration", type=int, help="seconds per wrk run (default 10; 2 with --quick)")
    p.add_argument(
        "--repeat", type=int, help="runs per server and load; medians reported (3; 1 with --quick)"
    )
    p.add_argument("--warmup", type=int, help="warm-up seconds per server and load (2; 1 with --quick)")
    p.add_argument("--connections", type=int, default=16, help="wrk connections (16; wrk runs 1 thread)")
    p.add_argument("--timeout", type=int, default=5, help="wrk's request timeout in seconds (5)")
    p.add_argument(
        "--configs",
        default=",".join(CONFIGS),
        help=f"comma-separated server configurations, in turn order (default {','.join(CONFIGS)})",
    )
    p.add_argument(
        "--loads", default=",".join(LOADS), help="comma-separated loads (default fixed,varied,unique)"
    )
    p.add_argument("--urls", type=int, default=2000, help="distinct URLs of the varied load (2000; >= 1000)")
    p.add_argument("--pages", type=int, default=6, help="the varied load asks pages 1..N (6)")
    p.add_argument(
        "--unique-urls",
        type=int,
        default=60_000,
        help="distinct URLs of the never-repeating load (60000): more than any run serves",
    )
    p.add_argument("--seed", type=int, default=1, help="seed of the varied URL list (1)")
    p.add_argument(
        "--server-cmd",
        default=os.environ.get("MOCKSERVER_CMD"),
        help="command that starts this server, before its options (default $MOCKSERVER_CMD, else "
        "the project's `mockserver serve`)",
    )
    p.add_argument(
        "--server-args",
        default=os.environ.get("MOCKSERVER_ARGS", ""),
        help="more options for every mockserver configuration, one shell-quoted string",
    )
    p.add_argument("--prism-args", default="", help="more options for prism mock, one shell-quoted string")
    p.add_argument(
        "--spec", type=Path, default=SPEC, help="OpenAPI document; every server serves one snapshot of it"
    )
    p.add_argument("--startup-timeout", type=float, default=30.0, help="seconds a server has to come up (30)")
    p.add_argument("--no-install", action="store_true", help="install nothing; fail when a tool is missing")
    p.add_argument(
        "--output",
        type=Path,
        default=RESULTS / "scale-latest.md",
        help="markdown report (default bench/results/scale-latest.md)",
    )
    return p


def split_list(p: argparse.ArgumentParser, option: str, value: str, known: tuple[str, ...]) -> list[str]:
    items = [v.strip() for v in value.split(",") if v.strip()]
    unknown = [v for v in items if v not in known]
    if not items or unknown or len(set(items)) != len(items):
        p.error(f"{option} takes distinct names among {', '.join(known)} (got {value!r})")
    return items


def parse_args(argv: list[str] | None) -> Options:
    p = build_parser()
    a = p.parse_args(argv)
    duration: int = a.duration if a.duration is not None else (2 if a.quick else 10)
    repeat: int = a.repeat if a.repeat is not None else (1 if a.quick else 3)
    warmup: int = a.warmup if a.warmup is not None else (1 if a.quick else 2)
    if duration < 1 or repeat < 1 or warmup < 0 or a.connections < 1:
        p.error("--duration, --repeat and --connections must be >= 1, --warmup >= 0")
    if a.urls < 1000 or a.pages < 1:
        p.error("--urls must be >= 1000 and --pages >= 1")
    configs = split_list(p, "--configs", a.configs, CONFIGS)
    if configs == ["prism"]:
        p.error("--configs needs at least one mockserver configuration (its data names the URLs)")
    return Options(
        quick=a.quick,
        duration=duration,
        repeat=repeat,
        warmup=warmup,
        connections=a.connections,
        timeout=a.timeout,
        configs=configs,
        loads=split_list(p, "--loads", a.loads, LOADS),
        urls=a.urls,
        pages=a.pages,
        unique_urls=a.unique_urls,
        seed=a.seed,
        server_cmd=a.server_cmd,
        server_args=a.server_args,
        prism_args=a.prism_args,
        spec=a.spec,
        startup_timeout=a.startup_timeout,
        no_install=a.no_install,
        output=a.output,
    )
