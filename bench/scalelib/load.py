"""wrk on one thread: a run's text output parsed (Requests/sec, the Latency Distribution's 99% line,
errors, bytes), warm-up, and the measured runs with the servers taking turns."""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from pathlib import Path

from benchlib.common import BENCH, log
from benchlib.formats import fmt_ms
from benchlib.servers import BenchServer
from benchlib.turns import turns
from benchlib.turns import warm_up as warm_each
from benchlib.wrk import run_wrk

VARIED_LUA = BENCH / "wrk" / "varied.lua"
TIME_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0, "h": 3_600_000.0}
SIZE_UNITS = {"B": 1, "KB": 1024, "MB": 1024**2, "GB": 1024**3, "TB": 1024**4}

RPS_RE = re.compile(r"^Requests/sec:\s+([\d.]+)", re.M)
PERCENTILE_RE = re.compile(r"^\s+(50|75|90|99)%\s+([\d.]+)(us|ms|s|m|h)\s*$", re.M)
TOTAL_RE = re.compile(r"^\s+(\d+) requests in ([\d.]+)(us|ms|s|m|h), ([\d.]+)(B|KB|MB|GB|TB) read", re.M)
SOCKET_RE = re.compile(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)")
NON2XX_RE = re.compile(r"Non-2xx or 3xx responses: (\d+)")


@dataclass
class Load:
    """One of the two loads: wrk's target path and script arguments."""

    key: str
    title: str
    path: str
    headers: list[str]
    script: list[str]
    """`-s SCRIPT` and the script's arguments after `--` (empty: one fixed request)."""
    served: dict[str, int] | None = None
    """For a load whose URLs must never repeat: requests each server was sent so far, handed to the
    script as where to start, so that a server's runs (warm-up included) go on through the list."""


@dataclass
class Sample:
    server: str
    load: str
    rep: int
    rps: float
    requests: int
    p50_ms: float
    p99_ms: float
    bytes_per_resp: float
    socket_errors: int
    non_2xx: int
    cpu_us_per_request: float = 0.0
    """User + system CPU of the server's process tree over the run (Redis's not counted), per request."""


def parse_wrk(text: str) -> dict[str, float]:
    """The figures of wrk's text output (run with --latency)."""
    rps = RPS_RE.search(text)
    total = TOTAL_RE.search(text)
    percentiles = {int(p): float(v) * TIME_UNITS[u] for p, v, u in PERCENTILE_RE.findall(text)}
    if not rps or not total or 99 not in percentiles or 50 not in percentiles:
        raise ValueError("no Requests/sec, request count or Latency Distribution in wrk's output")
    sockets = SOCKET_RE.search(text)
    non2xx = NON2XX_RE.search(text)
    return {
        "rps": float(rps.group(1)),
        "requests": float(total.group(1)),
        "bytes": float(total.group(4)) * SIZE_UNITS[total.group(5)],
        "p50_ms": percentiles[50],
        "p99_ms": percentiles[99],
        "socket_errors": float(sum(int(x) for x in sockets.groups())) if sockets else 0.0,
        "non_2xx": float(non2xx.group(1)) if non2xx else 0.0,
    }


@dataclass(frozen=True)
class Wrk:
    path: str
    connections: int
    timeout: int
    raw_log: Path

    def run(self, server: BenchServer, load: Load, duration: int) -> dict[str, float]:
        argv = [
            self.path,
            "-t1",
            f"-c{self.connections}",
            f"-d{duration}s",
            f"--timeout={self.timeout}s",
            "--latency",
            *(arg for header in load.headers for arg in ("-H", header)),
        ]
        if load.script:
            start = [] if load.served is None else [str(load.served.get(server.key, 0))]
            argv += ["-s", load.script[0], server.base + load.path, "--", *load.script[1:], *start]
        else:
            argv.append(server.base + load.path)
        heading = f"{server.key} {load.key}: {shlex.join(argv)}"
        figures = run_wrk(argv, parse_wrk, duration, self.raw_log, heading)
        if load.served is not None:
            load.served[server.key] = load.served.get(server.key, 0) + int(figures["requests"])
        return figures


def warm_up(servers: list[BenchServer], loads: list[Load], wrk: Wrk, seconds: int) -> None:
    """`seconds` of load per server and load; the idle RSS is read after it."""

    def warm(s: BenchServer) -> None:
        for load in loads:
            wrk.run(s, load, seconds)

    warm_each(servers, seconds, warm, label_width=34)


def run_load(
    servers: list[BenchServer], loads: list[Load], wrk: Wrk, duration: int, repeat: int
) -> list[Sample]:
    """For each load and repeat the servers take turns (A, B, C, D, A, B, C, D, ...)."""
    plan = [((load, rep), s) for load in loads for rep in range(repeat) for s in servers]
    samples = []
    for n, (load, rep), s in turns(plan, duration):
        cpu_before = s.cpu_seconds()
        r = wrk.run(s, load, duration)
        cpu = s.cpu_seconds() - cpu_before
        requests = int(r["requests"])
        smp = Sample(
            server=s.key,
            load=load.key,
            rep=rep,
            rps=r["rps"],
            requests=requests,
            p50_ms=r["p50_ms"],
            p99_ms=r["p99_ms"],
            bytes_per_resp=r["bytes"] / requests if requests else 0.0,
            socket_errors=int(r["socket_errors"]),
            non_2xx=int(r["non_2xx"]),
            cpu_us_per_request=cpu / requests * 1e6 if requests else 0.0,
        )
        samples.append(smp)
        log(
            f"[{n:>3}/{len(plan)}] {s.label:<34} {load.key:<7} rep {rep + 1}/{repeat}: "
            f"{smp.rps:>8,.0f} req/s  p99 {fmt_ms(smp.p99_ms):>9}  CPU/req {smp.cpu_us_per_request:,.0f} µs  "
            f"non-2xx {smp.non_2xx}  socket errors {smp.socket_errors}"
        )
    return samples
