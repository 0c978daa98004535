"""The command line of `bash bench/run`, with the --quick and --partners defaults applied."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

from benchlib.common import RESULTS
from benchlib.options import (
    Length,
    OptionsJson,
    add_install_and_output,
    add_length_options,
    add_mockserver_options,
    add_prism_args,
    add_spec,
    add_wrk_timeout,
    length_of,
    options_from,
)

QUICK = Length(duration=3, repeat=1, warmup=1)


@dataclass
class Options(OptionsJson):
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


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="bench/run",
        description="Benchmark mockserver against Prism on openapi.yaml with wrk (see bench/README.md).",
    )
    add_length_options(p, QUICK, case="case", warmed="scenario")
    p.add_argument("--connections", default="1,16", help="comma-separated connection counts (default 1,16)")
    p.add_argument(
        "--threads", type=int, default=2, help="wrk threads (default 2; capped at the connection count)"
    )
    add_wrk_timeout(p)
    p.add_argument("--scenarios", help="comma-separated subset of scenario keys (default: all)")
    p.add_argument(
        "--partners", type=int, help="number of Faker partners passed to mockserver (--partners N)"
    )
    add_mockserver_options(p)
    p.add_argument(
        "--baseline-cmd",
        help="also run another mockserver started by this command (e.g. an earlier tree: "
        "'env PYTHONPATH=../old python3 -P -m mockserver serve'), with the same options, in the same run",
    )
    p.add_argument("--baseline-label", default="mockserver (baseline)", help="its name in the report")
    add_prism_args(p)
    p.add_argument("--prism-dynamic", action="store_true", help="also benchmark Prism in dynamic mode (-d)")
    add_spec(p, "both servers serve")
    p.add_argument(
        "--no-spec-arg",
        action="store_true",
        help="do not pass --spec SNAPSHOT to this server (for a --server-cmd without --spec)",
    )
    p.add_argument(
        "--startup-timeout",
        type=float,
        help="seconds a server has to come up (default 30; 120 with --partners over 10,000)",
    )
    add_install_and_output(p, RESULTS / "latest.md")
    return p


def connection_counts(p: argparse.ArgumentParser, value: str) -> list[int]:
    conns: list[int] = []
    try:
        conns = [int(c) for c in value.split(",") if c.strip()]
    except ValueError:
        p.error("--connections takes integers, e.g. 1,16")
    if not conns or min(conns) < 1:
        p.error("--connections must be >= 1")
    return conns


def parse_args(argv: list[str] | None) -> Options:
    p = build_parser()
    a = p.parse_args(argv)
    length = length_of(p, a, QUICK)
    startup_timeout: float = a.startup_timeout
    if startup_timeout is None:  # building 100,000 Faker partners alone takes ~20 s here
        startup_timeout = 120.0 if a.partners is not None and a.partners > 10_000 else 30.0
    return options_from(
        Options,
        a,
        duration=length.duration,
        repeat=length.repeat,
        warmup=length.warmup,
        startup_timeout=startup_timeout,
        conns=connection_counts(p, a.connections),
    )
