"""The command line of `bash bench/run`, with the --quick and --partners defaults applied."""

from __future__ import annotations

import argparse
import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .common import RESULTS, SPEC


@dataclass
class Options:
    """The parsed options; fields in the command line's order (results.json keeps it)."""

    quick: bool
    duration: int
    repeat: int
    warmup: int
    connections: str
    threads: int
    timeout: int
    scenarios: str | None
    partners: int | None
    server_cmd: str | None
    server_args: str
    baseline_cmd: str | None
    baseline_label: str
    prism_args: str
    prism_dynamic: bool
    spec: Path
    no_spec_arg: bool
    startup_timeout: float
    no_install: bool
    output: Path
    conns: list[int]

    def as_json(self) -> dict[str, Any]:
        """The settings as results.json records them (paths as strings)."""
        values = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        return {k: (str(v) if isinstance(v, Path) else v) for k, v in values.items()}


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="bench/run",
        description="Benchmark mockserver against Prism on openapi.yaml with wrk (see bench/README.md).",
    )
    p.add_argument("--quick", action="store_true", help="smoke run: 3 s runs, 1 repeat, 1 s warm-up")
    p.add_argument("--duration", type=int, help="seconds per wrk run (default 10; 3 with --quick)")
    p.add_argument(
        "--repeat",
        type=int,
        help="runs per server and case; medians are reported (default 3; 1 with --quick)",
    )
    p.add_argument(
        "--warmup", type=int, help="seconds of warm-up per server and scenario (default 2; 1 with --quick)"
    )
    p.add_argument("--connections", default="1,16", help="comma-separated connection counts (default 1,16)")
    p.add_argument(
        "--threads", type=int, default=2, help="wrk threads (default 2; capped at the connection count)"
    )
    p.add_argument(
        "--timeout",
        type=int,
        default=5,
        help="wrk request timeout in seconds; slower answers count as errors (default 5)",
    )
    p.add_argument("--scenarios", help="comma-separated subset of scenario keys (default: all)")
    p.add_argument(
        "--partners", type=int, help="number of Faker partners passed to mockserver (--partners N)"
    )
    add_server_options(p)
    p.add_argument(
        "--startup-timeout",
        type=float,
        help="seconds a server has to come up (default 30; 120 with --partners over 10,000)",
    )
    p.add_argument(
        "--no-install", action="store_true", help="do not install anything; fail when a tool is missing"
    )
    p.add_argument(
        "--output",
        type=Path,
        default=RESULTS / "latest.md",
        help="markdown report (default bench/results/latest.md)",
    )
    return p


def add_server_options(p: argparse.ArgumentParser) -> None:
    """How each server is started: commands, extra options, the spec."""
    p.add_argument(
        "--server-cmd",
        default=os.environ.get("MOCKSERVER_CMD"),
        help="command that starts this server, before its options (default $MOCKSERVER_CMD, else "
        "the project's `mockserver serve`)",
    )
    p.add_argument(
        "--server-args",
        default=os.environ.get("MOCKSERVER_ARGS", ""),
        help="extra options for mockserver, one shell-quoted string, e.g. '--threads 4' "
        "(default $MOCKSERVER_ARGS)",
    )
    p.add_argument(
        "--baseline-cmd",
        help="also run another mockserver started by this command (e.g. an earlier tree: "
        "'env PYTHONPATH=../old python3 -P -m mockserver serve'), with the same options, in the same run",
    )
    p.add_argument("--baseline-label", default="mockserver (baseline)", help="its name in the report")
    p.add_argument("--prism-args", default="", help="extra options for prism mock, one shell-quoted string")
    p.add_argument("--prism-dynamic", action="store_true", help="also benchmark Prism in dynamic mode (-d)")
    p.add_argument(
        "--spec",
        type=Path,
        default=SPEC,
        help="OpenAPI document; both servers serve one snapshot of it (default openapi.yaml)",
    )
    p.add_argument(
        "--no-spec-arg",
        action="store_true",
        help="do not pass --spec SNAPSHOT to this server (for a --server-cmd without --spec)",
    )


def parse_args(argv: list[str] | None) -> Options:
    p = build_parser()
    a = p.parse_args(argv)
    duration: int = a.duration if a.duration is not None else (3 if a.quick else 10)
    repeat: int = a.repeat if a.repeat is not None else (1 if a.quick else 3)
    warmup: int = a.warmup if a.warmup is not None else (1 if a.quick else 2)
    startup_timeout: float = a.startup_timeout
    if startup_timeout is None:  # building 100,000 Faker partners alone takes ~20 s here
        startup_timeout = 120.0 if a.partners is not None and a.partners > 10_000 else 30.0
    conns: list[int] = []
    try:
        conns = [int(c) for c in a.connections.split(",") if c.strip()]
    except ValueError:
        p.error("--connections takes integers, e.g. 1,16")
    if not conns or min(conns) < 1 or duration < 1 or repeat < 1 or warmup < 0:
        p.error("--connections, --duration and --repeat must be >= 1, --warmup >= 0")
    return Options(
        quick=a.quick,
        duration=duration,
        repeat=repeat,
        warmup=warmup,
        connections=a.connections,
        threads=a.threads,
        timeout=a.timeout,
        scenarios=a.scenarios,
        partners=a.partners,
        server_cmd=a.server_cmd,
        server_args=a.server_args,
        baseline_cmd=a.baseline_cmd,
        baseline_label=a.baseline_label,
        prism_args=a.prism_args,
        prism_dynamic=a.prism_dynamic,
        spec=a.spec,
        no_spec_arg=a.no_spec_arg,
        startup_timeout=startup_timeout,
        no_install=a.no_install,
        output=a.output,
        conns=conns,
    )
