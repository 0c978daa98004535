"""wrk runs: the command run, its output kept, a failure turned into a BenchError; and the figures
bench/wrk/request.lua's done() prints on its BENCH_RESULT line."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from .common import BenchError

RESULT_RE = re.compile(r"^BENCH_RESULT (.*)$", re.M)
T = TypeVar("T")


def run_wrk(
    argv: list[str],
    parse: Callable[[str], T],
    duration: int,
    raw_log: Path | None = None,
    heading: str = "",
    env: dict[str, str] | None = None,
) -> T:
    """Run wrk (for `duration` seconds); `parse(stdout)`. The output is appended to `raw_log` under
    `### heading`; a non-zero exit or output `parse` cannot read (ValueError) ends the run."""
    proc = subprocess.run(
        argv, env={**os.environ, **(env or {})}, capture_output=True, text=True, timeout=duration + 120
    )
    if raw_log is not None:
        with raw_log.open("a") as out:
            out.write(f"\n### {heading}\n{proc.stdout}{proc.stderr}")
    try:
        if proc.returncode != 0:
            raise ValueError(f"exit code {proc.returncode}")
        return parse(proc.stdout)
    except ValueError as exc:
        raise BenchError(f"wrk failed ({exc}): {shlex.join(argv)}\n{proc.stdout}{proc.stderr}") from exc


def bench_result(stdout: str) -> dict[str, float]:
    """The `key=value` figures of request.lua's BENCH_RESULT line."""
    m = RESULT_RE.search(stdout)
    if m is None:
        raise ValueError("no BENCH_RESULT line in its output")
    return {k: float(v) for k, v in (kv.split("=") for kv in m.group(1).split())}
