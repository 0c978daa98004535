"""The command line of `bash bench/scale`, with the --quick defaults applied."""

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
    names_of,
    options_from,
)

CONFIGS = ("memory", "redis", "redis-2w", "prism")
"""Every server configuration, in the order the servers take turns."""
LOADS = ("fixed", "varied", "unique")
QUICK = Length(duration=2, repeat=1, warmup=1)


@dataclass
class Options(OptionsJson):
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


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="bench/scale",
        description="Scale-out benchmark: mockserver in memory, on Redis with 1 and 2 workers, and Prism, "
        "under a fixed and a varied list load (wrk, 1 thread); see bench/README.md.",
    )
    add_length_options(p, QUICK, case="load", warmed="load")
    p.add_argument("--connections", type=int, default=16, help="wrk connections (16; wrk runs 1 thread)")
    add_wrk_timeout(p)
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
    add_mockserver_options(p)
    add_prism_args(p)
    add_spec(p, "every server serves")
    p.add_argument("--startup-timeout", type=float, default=30.0, help="seconds a server has to come up (30)")
    add_install_and_output(p, RESULTS / "scale-latest.md")
    return p


def parse_args(argv: list[str] | None) -> Options:
    p = build_parser()
    a = p.parse_args(argv)
    length = length_of(p, a, QUICK)
    if a.connections < 1:
        p.error("--connections must be >= 1")
    if a.urls < 1000 or a.pages < 1:
        p.error("--urls must be >= 1000 and --pages >= 1")
    configs = names_of(p, "--configs", a.configs, CONFIGS)
    if configs == ["prism"]:
        p.error("--configs needs at least one mockserver configuration (its data names the URLs)")
    return options_from(
        Options,
        a,
        duration=length.duration,
        repeat=length.repeat,
        warmup=length.warmup,
        configs=configs,
        loads=names_of(p, "--loads", a.loads, LOADS),
    )
