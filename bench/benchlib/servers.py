"""The servers under test: Prism and mockserver as child processes, start-up timing, RSS, stopping.

Each runs in a `mockserver.testing.live.ServerProcess`: its own session, so stopping it SIGKILLs its whole
process group (Prism's node tree, granian's worker) after the SIGTERM.
"""

from __future__ import annotations

import datetime as _dt
import os
import shlex
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from mockserver.testing.live import ServerProcess, free_port

from .common import POLL_INTERVAL, PROBE_PATH, ROOT, BenchError, log
from .options import Options
from .tools import Tools
from .workspace import Workspace

STOP_TIMEOUT = 5.0
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
LOG_TAIL_LINES = 25


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


def tree_cpu_seconds(pid: int) -> float:
    """User + system CPU time of the process tree so far (threads included; a process that has
    exited is no longer counted, so read it around a run in which none exits)."""
    ticks = 0
    for p in process_tree(pid):
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        ticks += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of stat)
    return ticks / CLOCK_TICKS


LIVE: list[BenchServer] = []
"""Servers running now; `stop_all` stops them on every exit."""


@dataclass
class BenchServer:
    key: str
    label: str
    make_argv: Callable[[int], list[str]]
    log_dir: Path
    env: dict[str, str] = field(default_factory=dict)
    proc: ServerProcess | None = None
    port: int = 0
    startups: list[float] = field(default_factory=list)
    rss_idle_kib: int = 0
    rss_after_kib: int = 0
    argv: list[str] = field(default_factory=list)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.log_dir / f"{self.key}.log"

    def start(self, timeout: float) -> float:
        """Spawn the server; return seconds from spawn to its first 2xx answer to a real operation."""
        self.port = free_port()
        self.argv = self.make_argv(self.port)
        with self.log_path.open("ab") as out:
            out.write(f"\n### {_dt.datetime.now().isoformat()} {shlex.join(self.argv)}\n".encode())
        self.proc = ServerProcess(
            self.argv, self.port, self.log_path, cwd=ROOT, env={**os.environ, **self.env}
        )
        LIVE.append(self)
        elapsed = self._wait_first_2xx(self.proc, timeout)
        self.startups.append(elapsed)
        return elapsed

    def _wait_first_2xx(self, proc: ServerProcess, timeout: float) -> float:
        """Poll PROBE_PATH every POLL_INTERVAL (finer than ServerProcess.wait_ready's 50 ms)."""
        deadline = proc.started_at + timeout
        last_status: object = "no answer"
        while True:
            rc = proc.process.poll()
            if rc is not None:
                raise BenchError(
                    f"{self.label} exited with code {rc} before answering; its log ({self.log_path}):\n"
                    + self.log_tail()
                )
            try:
                status, _ = self.request("GET", PROBE_PATH, timeout=2.0)
                if 200 <= status < 300:
                    return time.perf_counter() - proc.started_at
                last_status = status
            except OSError as exc:  # refused, reset, timed out: not up yet
                last_status = exc.__class__.__name__
            if time.perf_counter() > deadline:
                self.stop()
                raise BenchError(
                    f"{self.label} did not answer GET {PROBE_PATH} with a 2xx within {timeout:g} s "
                    f"(last: {last_status}); command: {shlex.join(self.argv)}\n"
                    f"its log ({self.log_path}):\n" + self.log_tail()
                )
            time.sleep(POLL_INTERVAL)

    def request(
        self, method: str, path: str, body: str | None = None, timeout: float = 5.0
    ) -> tuple[int, bytes]:
        """One request to the running server: its status and body."""
        if self.proc is None:
            raise OSError(f"{self.label} is not running")
        headers = {"Content-Type": "application/json"} if body is not None else {}
        data = body.encode() if body is not None else None
        reply = self.proc.request(method, path, body=data, headers=headers, timeout=timeout)
        return reply.status, reply.body

    def alive(self) -> bool:
        return self.proc is not None and self.proc.alive()

    def rss_kib(self) -> int:
        """RSS of the server's whole process tree (granian's supervisor and worker, Prism's node)."""
        return tree_rss_kib(self.proc.process.pid) if self.proc else 0

    def cpu_seconds(self) -> float:
        """CPU time used so far by the server's whole process tree."""
        return tree_cpu_seconds(self.proc.process.pid) if self.proc else 0.0

    def log_tail(self) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-LOG_TAIL_LINES:])
        except OSError:
            return "(no log)"

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if self in LIVE:
            LIVE.remove(self)
        if proc is not None:
            proc.stop(timeout=STOP_TIMEOUT)


def stop_all() -> None:
    for server in list(LIVE):
        server.stop()


def mock_extra_args(options: Options, spec: Path) -> list[str]:
    """mockserver's options after its command: the spec snapshot, --partners, --server-args."""
    return (
        ([] if options.no_spec_arg else ["--spec", str(spec)])
        + (["--partners", str(options.partners)] if options.partners is not None else [])
        + shlex.split(options.server_args)
    )


def make_servers(
    options: Options, tools: Tools, workspace: Workspace, mock_extra: list[str]
) -> list[BenchServer]:
    """Prism (static, and dynamic with --prism-dynamic), then mockserver, which is always last."""
    prism_extra = shlex.split(options.prism_args)

    def prism_argv(dynamic: bool) -> Callable[[int], list[str]]:
        return lambda port: [
            str(tools.prism),
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
            str(workspace.spec),
        ]

    def mock_argv(command: list[str]) -> Callable[[int], list[str]]:
        return lambda port: [*command, "--host", "127.0.0.1", "--port", str(port), "--quiet", *mock_extra]

    run_dir = workspace.run_dir
    unbuffered = {"PYTHONUNBUFFERED": "1"}
    servers = [BenchServer("prism", "Prism (static)", prism_argv(False), run_dir)]
    if options.prism_dynamic:
        servers.append(BenchServer("prism-dynamic", "Prism (dynamic -d)", prism_argv(True), run_dir))
    if options.baseline_cmd:
        baseline = shlex.split(options.baseline_cmd)
        servers.append(
            BenchServer("baseline", options.baseline_label, mock_argv(baseline), run_dir, unbuffered)
        )
    servers.append(BenchServer("mockserver", "mockserver", mock_argv(tools.server_cmd), run_dir, unbuffered))
    return servers


def time_startups(servers: list[BenchServer], trials: int, timeout: float) -> None:
    """Start each server `trials` times (spawn -> first 2xx on a real operation); the last stays up."""
    for t in range(trials):
        for s in servers:
            elapsed = s.start(timeout)
            log(f"start-up {t + 1}/{trials}: {s.label:<20} {elapsed:.3f} s (port {s.port})")
            if t < trials - 1:
                s.stop()
