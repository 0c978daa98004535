#!/usr/bin/env python3
"""Benchmark mockserver against Prism (the reference OpenAPI mock server) on the same spec.

One command does everything: install the pinned tools (Prism from bench/package-lock.json into
bench/node_modules, wrk from Debian's packages), start both servers on free loopback ports, time their
start-up, warm them, drive identical wrk load at several connection counts with the servers interleaved
(A, B, A, B, ...), take medians, measure RSS, print a markdown table and write it to
bench/results/latest.md.

Standard library only; needs python3 >= 3.11 (the project's own minimum). See bench/README.md.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import datetime as _dt
import hashlib
import http.client
import json
import os
import platform
import re
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

BENCH = Path(__file__).resolve().parent
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


# ----------------------------------------------------------------------------------------------------
# Tool set-up
# ----------------------------------------------------------------------------------------------------


def pinned_prism_version() -> str:
    deps = json.loads((BENCH / "package.json").read_text())["dependencies"]
    return str(deps[PRISM_PKG])


def installed_prism_version() -> str | None:
    pkg = BENCH / "node_modules" / "@stoplight" / "prism-cli" / "package.json"
    try:
        return str(json.loads(pkg.read_text())["version"])
    except (OSError, ValueError, KeyError):
        return None


def prism_node_engine() -> str:
    """The Node versions the installed Prism declares it supports (npm warns, but runs it, on others)."""
    pkg = BENCH / "node_modules" / "@stoplight" / "prism-cli" / "package.json"
    try:
        return str(json.loads(pkg.read_text())["engines"]["node"])
    except (OSError, ValueError, KeyError, TypeError):
        return "unknown"


def ensure_prism(skip_install: bool) -> Path:
    """Prism pinned by bench/package.json + package-lock.json, installed with `npm ci` (never global)."""
    pin = pinned_prism_version()
    prism = BENCH / "node_modules" / ".bin" / "prism"
    if installed_prism_version() == pin and prism.exists():
        return prism
    if skip_install:
        raise BenchError(f"Prism {pin} is not installed in bench/node_modules (run without --no-install)")
    if shutil.which("npm") is None or shutil.which("node") is None:
        raise BenchError("node and npm are needed to install Prism (e.g. apt-get install -y nodejs npm)")
    log(f"setup: installing Prism {pin} into bench/node_modules (npm ci)")
    env = dict(os.environ, SCARF_ANALYTICS="false", DO_NOT_TRACK="1")
    rc = subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=BENCH, env=env).returncode
    if rc != 0:
        raise BenchError(f"npm ci failed with exit code {rc}")
    if installed_prism_version() != pin or not prism.exists():
        raise BenchError(f"npm ci did not install Prism {pin} (found {installed_prism_version()})")
    return prism


def ensure_wrk(skip_install: bool) -> str:
    """wrk from Debian's packages, installed with apt-get when missing."""
    found = shutil.which("wrk")
    if found:
        return found
    if skip_install:
        raise BenchError("wrk is not installed (apt-get install -y wrk, or run without --no-install)")
    if shutil.which("apt-get") is None:
        raise BenchError("wrk is missing and there is no apt-get to install it; install wrk by hand")
    prefix: list[str] = []
    if os.geteuid() != 0:
        if shutil.which("sudo") is None:
            raise BenchError("wrk is missing; installing it needs root (apt-get install -y wrk)")
        prefix = ["sudo", "-n"]
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    log("setup: installing wrk (apt-get install -y wrk)")
    rc = subprocess.run([*prefix, "apt-get", "install", "-y", "-q", "wrk"], env=env).returncode
    if rc != 0:  # probably an empty or stale package list: update once and retry
        subprocess.run([*prefix, "apt-get", "update", "-q"], env=env, check=False)
        rc = subprocess.run([*prefix, "apt-get", "install", "-y", "-q", "wrk"], env=env).returncode
    found = shutil.which("wrk")
    if rc != 0 or not found:
        raise BenchError(f"apt-get install -y wrk failed (exit code {rc})")
    return found


def resolve_server_cmd(explicit: str | None, skip_install: bool) -> list[str]:
    """The command that starts this project's server, without its options.

    --server-cmd / $MOCKSERVER_CMD win; then the repo's .venv, bench/.venv, `mockserver` on PATH; when
    none exists, bench/.venv is created and the project is installed there (pip install -e .).
    """
    if explicit:
        return shlex.split(explicit)
    for candidate in (ROOT / ".venv" / "bin" / "mockserver", BENCH / ".venv" / "bin" / "mockserver"):
        if candidate.exists():
            return [str(candidate), "serve"]
    on_path = shutil.which("mockserver")
    if on_path:
        return [on_path, "serve"]
    if skip_install:
        raise BenchError("mockserver is not installed (pip install -e .), or give --server-cmd")
    venv = BENCH / ".venv"
    log(f"setup: creating {venv} and installing the project into it (pip install -e .)")
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet"]
    subprocess.run([*pip, "--upgrade", "pip"], check=True)
    subprocess.run([*pip, "-e", str(ROOT)], check=True)
    return [str(venv / "bin" / "mockserver"), "serve"]


# ----------------------------------------------------------------------------------------------------
# Processes
# ----------------------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def http_request(
    port: int, method: str, path: str, body: str | None = None, timeout: float = 5.0
) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        headers = {"Content-Type": "application/json"} if body is not None else {}
        conn.request(method, path, body=body.encode() if body is not None else None, headers=headers)
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def process_tree(pid: int) -> list[int]:
    """pid and all its descendants, from /proc."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry))
    tree, todo = [], [pid]
    while todo:
        p = todo.pop()
        tree.append(p)
        todo.extend(children.get(p, []))
    return tree


def tree_rss_kib(pid: int) -> int:
    """Sum of VmRSS over the process tree (threads share their process's RSS; shared pages of several
    processes are counted once per process)."""
    total = 0
    for p in process_tree(pid):
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total


LIVE: list[Server] = []


@dataclass
class Server:
    key: str
    label: str
    make_argv: Callable[[int], list[str]]
    log_dir: Path
    env: dict[str, str] = field(default_factory=dict)
    proc: subprocess.Popen[bytes] | None = None
    port: int = 0
    startups: list[float] = field(default_factory=list)
    rss_idle_kib: int = 0
    rss_after_kib: int = 0
    argv: list[str] = field(default_factory=list)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float) -> float:
        """Spawn the server; return seconds from spawn to its first 2xx answer to a real operation."""
        self.port = free_port()
        self.argv = self.make_argv(self.port)
        logfile = self.log_dir / f"{self.key}.log"
        with logfile.open("ab") as out:
            out.write(f"\n### {_dt.datetime.now().isoformat()} {shlex.join(self.argv)}\n".encode())
            out.flush()
            t0 = time.perf_counter()
            self.proc = subprocess.Popen(
                self.argv,
                cwd=ROOT,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                env={**os.environ, **self.env},
                start_new_session=True,  # own process group: stop() kills the whole tree
            )
        LIVE.append(self)
        deadline = t0 + timeout
        last_status: object = "no answer"
        while True:
            rc = self.proc.poll()
            if rc is not None:
                raise BenchError(
                    f"{self.label} exited with code {rc} before answering; its log ({logfile}):\n"
                    + tail(logfile)
                )
            try:
                status, _ = http_request(self.port, "GET", PROBE_PATH, timeout=2.0)
                if 200 <= status < 300:
                    elapsed = time.perf_counter() - t0
                    self.startups.append(elapsed)
                    return elapsed
                last_status = status
            except OSError as exc:  # refused, reset, timed out: not up yet
                last_status = exc.__class__.__name__
            if time.perf_counter() > deadline:
                self.stop()
                raise BenchError(
                    f"{self.label} did not answer GET {PROBE_PATH} with a 2xx within {timeout:g} s "
                    f"(last: {last_status}); command: {shlex.join(self.argv)}\nits log ({logfile}):\n"
                    + tail(logfile)
                )
            time.sleep(POLL_INTERVAL)

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if self in LIVE:
            LIVE.remove(self)
        if proc is None or proc.poll() is not None:
            return
        for sig, wait in ((signal.SIGTERM, 5.0), (signal.SIGKILL, 5.0)):
            try:
                os.killpg(proc.pid, sig)
            except ProcessLookupError:
                return
            try:
                proc.wait(timeout=wait)
                break
            except subprocess.TimeoutExpired:
                continue
        with contextlib.suppress(ProcessLookupError, PermissionError):  # stragglers of the group
            os.killpg(proc.pid, signal.SIGKILL)


def stop_all() -> None:
    for server in list(LIVE):
        server.stop()


def tail(path: Path, lines: int = 25) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


# ----------------------------------------------------------------------------------------------------
# Load
# ----------------------------------------------------------------------------------------------------


@dataclass
class Scenario:
    key: str
    method: str
    path: str
    body: str | None = None

    @property
    def title(self) -> str:
        return f"{self.method} {self.path}"


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

    @property
    def errors(self) -> int:
        return self.socket_errors + self.status_errors


RESULT_RE = re.compile(r"^BENCH_RESULT (.*)$", re.M)


def run_wrk(
    wrk: str,
    url: str,
    scenario: Scenario,
    conns: int,
    threads: int,
    duration: int,
    timeout: int,
    raw_log: Path,
) -> dict[str, float]:
    argv = [
        wrk,
        f"-t{max(1, min(threads, conns))}",
        f"-c{conns}",
        f"-d{duration}s",
        f"--timeout={timeout}s",
        "--latency",
        "-s",
        str(LUA),
        url,
    ]
    env = dict(os.environ, BENCH_METHOD=scenario.method, BENCH_BODY=scenario.body or "")
    proc = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=duration + 120)
    with raw_log.open("a") as out:
        out.write(f"\n### {shlex.join(argv)} (method {scenario.method})\n{proc.stdout}{proc.stderr}")
    m = RESULT_RE.search(proc.stdout)
    if proc.returncode != 0 or not m:
        raise BenchError(
            f"wrk failed (exit code {proc.returncode}): {shlex.join(argv)}\n{proc.stdout}{proc.stderr}"
        )
    return {k: float(v) for k, v in (kv.split("=") for kv in m.group(1).split())}


def to_sample(server: Server, scenario: Scenario, conns: int, rep: int, r: dict[str, float]) -> Sample:
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


# ----------------------------------------------------------------------------------------------------
# Reporting
# ----------------------------------------------------------------------------------------------------


def cmd_output(argv: list[str]) -> str:
    try:
        p = subprocess.run(argv, capture_output=True, text=True, timeout=30)
        return (p.stdout or p.stderr).strip().splitlines()[0]
    except (OSError, subprocess.SubprocessError, IndexError):
        return "unknown"


def interpreter_of(argv: list[str]) -> str | None:
    exe = shutil.which(argv[0]) or argv[0]
    if Path(exe).name.startswith("python"):
        return exe
    try:
        first = Path(exe).read_bytes()[:300].split(b"\n", 1)[0].decode()
    except (OSError, UnicodeDecodeError):
        return None
    if first.startswith("#!"):
        parts = first[2:].split()
        if parts and Path(parts[0]).name == "env" and len(parts) > 1:
            return shutil.which(parts[1])
        return parts[0] if parts else None
    return None


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def git_commit() -> str:
    """The checked-out commit, read from .git (no git command is run)."""
    try:
        head = (ROOT / ".git" / "HEAD").read_text().strip()
        if not head.startswith("ref: "):
            return head[:12]
        ref = head[5:]
        ref_file = ROOT / ".git" / ref
        if ref_file.exists():
            return ref_file.read_text().strip()[:12] + f" ({ref.rsplit('/', 1)[-1]})"
        for line in (ROOT / ".git" / "packed-refs").read_text().splitlines():
            if line.endswith(" " + ref):
                return line.split()[0][:12] + f" ({ref.rsplit('/', 1)[-1]})"
    except OSError:
        pass
    return "unknown"


def machine_info(server_cmd: list[str], wrk: str) -> dict[str, str]:
    interp = interpreter_of(server_cmd)
    mem = "unknown"
    try:
        kib = int(Path("/proc/meminfo").read_text().split("\n", 1)[0].split()[1])
        mem = f"{kib / 1024 / 1024:.1f} GiB"
    except (OSError, ValueError, IndexError):
        pass
    return {
        "date": _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC"),
        "nproc": str(len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()),
        "cpu": cpu_model(),
        "memory": mem,
        "kernel": platform.release(),
        "load average (start)": " ".join(f"{x:.2f}" for x in os.getloadavg()),
        "python (mockserver)": cmd_output([interp, "--version"]) if interp else "unknown",
        "python (runner)": platform.python_version(),
        "node": cmd_output(["node", "--version"]),
        "prism": f"{installed_prism_version() or 'unknown'} (declares node {prism_node_engine()})",
        "wrk": cmd_output([wrk, "-v"]).split(" Copyright")[0],
        "commit": git_commit(),
    }


def rel(arg: str) -> str:
    """An argument with the repo's path made relative, for the report."""
    return arg.replace(str(ROOT) + "/", "")


def fmt_ms(ms: float) -> str:
    return f"{ms:.2f} ms" if ms < 100 else f"{ms:.0f} ms"


def fmt_ratio(x: float | None) -> str:
    return "–" if x is None else f"{x:.2f}×"


def fmt_mib(kib: int) -> str:
    return f"{kib / 1024:.0f} MiB"


def fmt_errors(errors: int, requests: int, socket_errors: int) -> str:
    if errors == 0:
        return "0"
    pct = 100 * errors / requests if requests else 100.0
    detail = f", {socket_errors} socket" if socket_errors else ""
    return f"{errors} ({pct:.1f}%{detail})"


@dataclass
class Row:
    server: Server
    scenario: Scenario
    conns: int
    samples: list[Sample]

    def med(self, attr: str) -> float:
        return float(statistics.median(float(getattr(s, attr)) for s in self.samples))


def build_rows(
    servers: list[Server], scenarios: list[Scenario], conns_list: list[int], samples: list[Sample]
) -> list[Row]:
    rows = []
    for sc in scenarios:
        for c in conns_list:
            for sv in servers:
                picked = [s for s in samples if s.server == sv.key and s.scenario == sc.key and s.conns == c]
                if picked:
                    rows.append(Row(sv, sc, c, picked))
    return rows


def results_table(rows: list[Row], ref_key: str) -> str:
    ref = {(r.scenario.key, r.conns): r for r in rows if r.server.key == ref_key}
    head = [
        "server",
        "scenario",
        "conns",
        "req/s (median)",
        "req/s ×Prism",
        "p50",
        "p99",
        "p99 ×Prism",
        "errors",
        "bytes/resp",
        "start-up",
        "RSS after load",
    ]
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    for r in rows:
        base = ref.get((r.scenario.key, r.conns))
        rps, p99 = r.med("rps"), r.med("p99_ms")
        rps_ratio = rps / base.med("rps") if base and base.med("rps") else None
        p99_ratio = p99 / base.med("p99_ms") if base and base.med("p99_ms") else None
        requests = sum(s.requests for s in r.samples)
        errors = sum(s.errors for s in r.samples)
        socket_errors = sum(s.socket_errors for s in r.samples)
        cells = [
            r.server.label,
            f"`{r.scenario.key}`",
            str(r.conns),
            f"{rps:,.0f}",
            fmt_ratio(rps_ratio),
            fmt_ms(r.med("p50_ms")),
            fmt_ms(p99),
            fmt_ratio(p99_ratio),
            fmt_errors(errors, requests, socket_errors),
            f"{r.med('bytes_per_resp'):,.0f}",
            f"{statistics.median(r.server.startups):.2f} s",
            fmt_mib(r.server.rss_after_kib),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def servers_table(servers: list[Server]) -> str:
    lines = [
        "| server | command | start-up median (min–max, n) | RSS idle (after warm-up) | RSS after load |",
        "|---|---|---|---|---|",
    ]
    for s in servers:
        argv = [rel(a) for a in s.argv]
        st = s.startups
        startup = f"{statistics.median(st):.2f} s ({min(st):.2f}–{max(st):.2f}, {len(st)})"
        lines.append(
            f"| {s.label} | `{shlex.join(argv)}` | {startup} | {fmt_mib(s.rss_idle_kib)} "
            f"| {fmt_mib(s.rss_after_kib)} |"
        )
    return "\n".join(lines)


# ----------------------------------------------------------------------------------------------------
# Main
# ----------------------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
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
    a = p.parse_args(argv)
    a.duration = a.duration if a.duration is not None else (3 if a.quick else 10)
    a.repeat = a.repeat if a.repeat is not None else (1 if a.quick else 3)
    a.warmup = a.warmup if a.warmup is not None else (1 if a.quick else 2)
    if a.startup_timeout is None:  # building 100,000 Faker partners alone takes ~20 s here
        a.startup_timeout = 120.0 if a.partners is not None and a.partners > 10_000 else 30.0
    try:
        a.conns = [int(c) for c in a.connections.split(",") if c.strip()]
    except ValueError:
        p.error("--connections takes integers, e.g. 1,16")
    if not a.conns or min(a.conns) < 1 or a.duration < 1 or a.repeat < 1 or a.warmup < 0:
        p.error("--connections, --duration and --repeat must be >= 1, --warmup >= 0")
    return a


def discover_ids(mock: Server) -> tuple[str, str, list[str]]:
    """A real business id and partner id from mockserver (Prism accepts any UUID)."""
    notes = []
    business = partner = None
    try:
        status, body = http_request(mock.port, "GET", "/__admin/data")
        if status == 200:
            businesses = json.loads(body).get("businesses") or []
            business = businesses[0]["id"] if businesses else None
    except (OSError, ValueError, KeyError, TypeError):
        pass
    candidates = ["/api/v1/partners/available?per_page=1"]
    if business:
        candidates.append(f"/api/v1/partners?business_uuid={business}&per_page=1")
    for path in candidates:
        try:
            status, body = http_request(mock.port, "GET", path)
            data = json.loads(body).get("data") if status == 200 else None
            if data:
                partner = data[0]["id"]
                break
        except (OSError, ValueError, KeyError, TypeError):
            continue
    if business is None:
        notes.append(f"no business id from GET /__admin/data; used {FALLBACK_UUID}")
        business = FALLBACK_UUID
    if partner is None:
        notes.append(f"no partner id from mockserver; used {FALLBACK_UUID} (expect 404s from mockserver)")
        partner = FALLBACK_UUID
    return business, partner, notes


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    spec_src = args.spec.resolve()
    if not spec_src.is_file():
        raise BenchError(f"{spec_src} not found")

    # 1. tools
    prism = ensure_prism(args.no_install)
    wrk = ensure_wrk(args.no_install)
    server_cmd = resolve_server_cmd(args.server_cmd, args.no_install)

    stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    run_dir = RESULTS / "runs" / stamp
    run_dir.mkdir(parents=True, exist_ok=True)
    raw_log = run_dir / "wrk.log"
    info = machine_info(server_cmd, wrk)
    # Both servers serve one frozen copy of the document: Prism watches its document and restarts its
    # HTTP server when the file changes (dropping connections mid-run), and mockserver reads it once, so
    # an edit of openapi.yaml during a run would otherwise break Prism's numbers and let the two differ.
    spec = run_dir / "openapi.yaml"
    shutil.copyfile(spec_src, spec)
    info["spec"] = f"{spec_src.relative_to(ROOT) if spec_src.is_relative_to(ROOT) else spec_src} " + (
        f"(sha256 {hashlib.sha256(spec.read_bytes()).hexdigest()[:12]}, snapshot at start)"
    )

    # 2. servers
    prism_extra = shlex.split(args.prism_args)
    mock_extra = (
        ([] if args.no_spec_arg else ["--spec", str(spec)])
        + (["--partners", str(args.partners)] if args.partners is not None else [])
        + shlex.split(args.server_args)
    )

    def prism_argv(dynamic: bool) -> Callable[[int], list[str]]:
        return lambda port: [
            str(prism),
            "mock",
            "-h",
            "127.0.0.1",
            "-p",
            str(port),
            "--errors=false",
            "-v",
            "warn",
            *(["-d"] if dynamic else []),
            *prism_extra,
            str(spec),
        ]

    servers = [Server("prism", "Prism (static)", prism_argv(False), run_dir)]
    if args.prism_dynamic:
        servers.append(Server("prism-dynamic", "Prism (dynamic -d)", prism_argv(True), run_dir))
    mock = Server(
        "mockserver",
        "mockserver",
        lambda port: [*server_cmd, "--host", "127.0.0.1", "--port", str(port), "--quiet", *mock_extra],
        run_dir,
        env={"PYTHONUNBUFFERED": "1"},
    )
    servers.append(mock)

    log(f"bench: results in {run_dir.relative_to(ROOT)}; {info['nproc']} cores, {info['cpu']}")
    trials = args.repeat
    for t in range(trials):  # start-up: spawn -> first 2xx on a real operation; the last trial stays up
        for s in servers:
            elapsed = s.start(args.startup_timeout)
            log(f"start-up {t + 1}/{trials}: {s.label:<20} {elapsed:.3f} s (port {s.port})")
            if t < trials - 1:
                s.stop()

    # 3. scenarios, with real ids from this server
    business, partner, id_notes = discover_ids(mock)
    for note in id_notes:
        log(f"warning: {note}")
    scenarios = [
        Scenario("list-available", "GET", "/api/v1/partners/available?per_page=25"),
        Scenario("list-business", "GET", f"/api/v1/partners?business_uuid={business}"),
        Scenario("get-partner", "GET", f"/api/v1/partners/{partner}"),
        Scenario("click-event", "POST", f"/api/v1/partners/{partner}/click_event", CLICK_BODY),
    ]
    if args.scenarios:
        wanted = [k.strip() for k in args.scenarios.split(",") if k.strip()]
        unknown = set(wanted) - {s.key for s in scenarios}
        if unknown:
            raise BenchError(f"unknown scenario(s) {sorted(unknown)}; known: {[s.key for s in scenarios]}")
        scenarios = [s for s in scenarios if s.key in wanted]

    # one request of each scenario to each server, to show what each answers
    checks: dict[tuple[str, str], str] = {}
    for s in servers:
        for sc in scenarios:
            try:
                status, body = http_request(s.port, sc.method, sc.path, sc.body)
                checks[(s.key, sc.key)] = f"{status} ({len(body):,} B body)"
                if not 200 <= status < 300:
                    log(f"warning: {s.label} answers {status} to {sc.title}: {body[:300]!r}")
            except OSError as exc:
                checks[(s.key, sc.key)] = f"failed: {exc}"
                log(f"warning: {s.label} failed on {sc.title}: {exc}")

    # warm-up
    for s in servers:
        if args.warmup:
            for sc in scenarios:
                run_wrk(wrk, s.base + sc.path, sc, 16, args.threads, args.warmup, args.timeout, raw_log)
        s.rss_idle_kib = tree_rss_kib(s.proc.pid) if s.proc else 0
        log(f"warm-up: {s.label:<20} done, RSS {fmt_mib(s.rss_idle_kib)}")

    # load, interleaved: for every case the servers take turns A, B, A, B, ...
    samples: list[Sample] = []
    total = len(scenarios) * len(args.conns) * args.repeat * len(servers)
    eta = total * (args.duration + 0.3)
    log(f"load: {total} wrk runs of {args.duration} s (about {eta / 60:.1f} min)")
    n = 0
    for sc in scenarios:
        for c in args.conns:
            for rep in range(args.repeat):
                for s in servers:
                    n += 1
                    if s.proc is None or s.proc.poll() is not None:
                        raise BenchError(
                            f"{s.label} died during the load; its log:\n{tail(run_dir / (s.key + '.log'))}"
                        )
                    r = run_wrk(
                        wrk, s.base + sc.path, sc, c, args.threads, args.duration, args.timeout, raw_log
                    )
                    smp = to_sample(s, sc, c, rep, r)
                    samples.append(smp)
                    log(
                        f"[{n:>3}/{total}] {s.label:<20} {sc.key:<15} c={c:<3} rep {rep + 1}/{args.repeat}: "
                        f"{smp.rps:>8,.0f} req/s  p50 {fmt_ms(smp.p50_ms):>9}  p99 {fmt_ms(smp.p99_ms):>9}  "
                        f"errors {smp.errors}"
                    )

    for s in servers:
        s.rss_after_kib = tree_rss_kib(s.proc.pid) if s.proc else 0
    info["load average (end)"] = " ".join(f"{x:.2f}" for x in os.getloadavg())
    stop_all()

    # 4. report
    rows = build_rows(servers, scenarios, args.conns, samples)
    table = results_table(rows, "prism")
    settings = (
        f"wrk {args.duration} s × {args.repeat} repeat(s) per server and case, interleaved; "
        f"{args.threads} threads (1 at 1 connection); timeout {args.timeout} s; warm-up {args.warmup} s "
        f"per scenario; mockserver options: `{shlex.join(rel(a) for a in mock_extra) or '(defaults)'}`"
        + (f"; prism options: `{args.prism_args}`" if args.prism_args else "")
    )
    scen_lines = "\n".join(
        f"| `{sc.key}` | `{sc.title}`{' with `' + sc.body + '`' if sc.body else ''} | "
        + " | ".join(checks.get((s.key, sc.key), "–") for s in servers)
        + " |"
        for sc in scenarios
    )
    scen_head = "| scenario | request | " + " | ".join(f"{s.label} answers" for s in servers) + " |"
    scen_sep = "|---|---|" + "---|" * len(servers)
    report = (
        f"""# mockserver vs Prism — {info["date"]}

{settings}

{table}

## Servers

{servers_table(servers)}

## Scenarios

{scen_head}
{scen_sep}
{scen_lines}

## Machine

| | |
|---|---|
"""
        + "\n".join(f"| {k} | {v} |" for k, v in info.items())
        + f"""

## How to read it

- **req/s** is the median over the repeats of wrk's requests / duration; **p50/p99** are medians of the
  per-run percentiles of wrk's latency histogram (`done()` hook of `bench/wrk/request.lua`).
- **req/s ×Prism** > 1 means mockserver serves more requests per second than Prism on that row;
  **p99 ×Prism** < 1 means a lower tail latency.
- **errors** = socket errors (connect, read, write, timeout) + responses with status ≥ 400 (wrk's
  "Non-2xx or 3xx responses"), summed over all repeats, with the share of all requests.
- **bytes/resp** is the mean bytes read per response, headers included: Prism in static mode answers
  the spec's example, mockserver computes the real page, so the two do not do the same work.
- **start-up**: median time from spawning the process to its first 2xx answer to
  `GET {PROBE_PATH}` (polled every {POLL_INTERVAL * 1000:.0f} ms). **RSS**: VmRSS summed over the
  server's process tree, after all the load (mockserver keeps every click event it is sent).
- The machine is shared and noisy: compare rows of one run; the load averages above hint at noise.
"""
    )
    print(table)
    print()
    print(servers_table(servers))
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(report)
    (run_dir / "report.md").write_text(report)
    (run_dir / "results.json").write_text(
        json.dumps(
            {
                "info": info,
                "settings": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
                "servers": [
                    {
                        "key": s.key,
                        "argv": s.argv,
                        "startups_s": s.startups,
                        "rss_idle_kib": s.rss_idle_kib,
                        "rss_after_kib": s.rss_after_kib,
                    }
                    for s in servers
                ],
                "scenarios": [vars(sc) for sc in scenarios],
                "checks": {f"{k[0]} {k[1]}": v for k, v in checks.items()},
                "samples": [vars(s) for s in samples],
            },
            indent=2,
        )
    )
    log(f"\nreport: {args.output}  (raw wrk output: {raw_log})")
    return 0


def _on_signal(signum: int, _frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


if __name__ == "__main__":
    atexit.register(stop_all)
    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGHUP, _on_signal)
    try:
        code = main()
    except BenchError as exc:
        log(f"bench: error: {exc}")
        code = 2
    except KeyboardInterrupt:
        log("bench: interrupted")
        code = 130
    finally:
        stop_all()
    sys.exit(code)
