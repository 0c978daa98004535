"""wrk load: one run per (server, scenario, connections, repeat), warm-up first, servers interleaved."""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from pathlib import Path

from benchlib.common import LUA, log
from benchlib.formats import fmt_ms
from benchlib.servers import BenchServer
from benchlib.turns import turns
from benchlib.turns import warm_up as warm_each
from benchlib.wrk import bench_result, run_wrk

from .options import Options
from .scenarios import Scenario

WARMUP_CONNECTIONS = 16


@dataclass
class Sample:
    server: str
    scenario: str
    conns: int
    rep: int
    rps: float
    requests: int
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    bytes_per_resp: float
    socket_errors: int
    status_errors: int
    cpu_us_per_request: float = 0.0
    """User + system CPU of the server's process tree over the run, per request served."""

    @property
    def errors(self) -> int:
        return self.socket_errors + self.status_errors


@dataclass(frozen=True)
class Wrk:
    """wrk with the run's fixed settings; `run` is one measurement."""

    path: str
    threads: int
    timeout: int
    raw_log: Path
    """Every run's output is appended here."""

    def run(self, url: str, scenario: Scenario, conns: int, duration: int) -> dict[str, float]:
        """One wrk run; the figures of the BENCH_RESULT line printed by request.lua's done()."""
        argv = [
            self.path,
            f"-t{max(1, min(self.threads, conns))}",
            f"-c{conns}",
            f"-d{duration}s",
            f"--timeout={self.timeout}s",
            "--latency",
            "-s",
            str(LUA),
            url,
        ]
        env = {"BENCH_METHOD": scenario.method, "BENCH_BODY": scenario.body or ""}
        heading = f"{shlex.join(argv)} (method {scenario.method})"
        return run_wrk(argv, bench_result, duration, self.raw_log, heading, env)


def to_sample(server: BenchServer, scenario: Scenario, conns: int, rep: int, r: dict[str, float]) -> Sample:
    requests = int(r["requests"])
    return Sample(
        server=server.key,
        scenario=scenario.key,
        conns=conns,
        rep=rep,
        rps=requests / (r["duration_us"] / 1e6) if r["duration_us"] else 0.0,
        requests=requests,
        p50_ms=r["p50_us"] / 1000,
        p90_ms=r["p90_us"] / 1000,
        p99_ms=r["p99_us"] / 1000,
        max_ms=r["max_us"] / 1000,
        bytes_per_resp=r["bytes"] / requests if requests else 0.0,
        socket_errors=int(r["connect"] + r["read"] + r["write"] + r["timeout"]),
        status_errors=int(r["status"]),
    )


def warm_up(servers: list[BenchServer], scenarios: list[Scenario], wrk: Wrk, seconds: int) -> None:
    """`--warmup` seconds of 16-connection load per scenario per server; idle RSS is read after it."""

    def warm(s: BenchServer) -> None:
        for sc in scenarios:
            wrk.run(s.base + sc.path, sc, WARMUP_CONNECTIONS, seconds)

    warm_each(servers, seconds, warm, label_width=20)


Case = tuple[Scenario, int, int]
"""scenario, connections, repeat index: one wrk run of the load (with a server)."""


def load_plan(
    servers: list[BenchServer], scenarios: list[Scenario], options: Options
) -> list[tuple[Case, BenchServer]]:
    """Interleaved: for every scenario, connection count and repeat the servers take turns A, B, A, B."""
    return [
        ((sc, c, rep), s)
        for sc in scenarios
        for c in options.conns
        for rep in range(options.repeat)
        for s in servers
    ]


def progress_line(n: int, total: int, case: Case, s: BenchServer, repeat: int, smp: Sample) -> str:
    sc, c, rep = case
    return (
        f"[{n:>3}/{total}] {s.label:<20} {sc.key:<15} c={c:<3} rep {rep + 1}/{repeat}: "
        f"{smp.rps:>8,.0f} req/s  p50 {fmt_ms(smp.p50_ms):>9}  p99 {fmt_ms(smp.p99_ms):>9}  "
        f"CPU {smp.cpu_us_per_request:>5,.0f} µs/req  errors {smp.errors}"
    )


def run_load(
    servers: list[BenchServer], scenarios: list[Scenario], options: Options, wrk: Wrk
) -> list[Sample]:
    """The measured runs, in the order of `load_plan`; a server that died ends the run."""
    plan = load_plan(servers, scenarios, options)
    samples: list[Sample] = []
    for n, case, s in turns(plan, options.duration):
        sc, c, rep = case
        cpu_before = s.cpu_seconds()
        smp = to_sample(s, sc, c, rep, wrk.run(s.base + sc.path, sc, c, options.duration))
        if smp.requests:
            smp.cpu_us_per_request = (s.cpu_seconds() - cpu_before) * 1e6 / smp.requests
        samples.append(smp)
        log(progress_line(n, len(plan), case, s, options.repeat, smp))
    return samples
