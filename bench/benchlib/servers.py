"""The servers under test: Prism and mockserver as child processes, how each is started, start-up
timing, RSS and CPU, stopping.

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

from . import running
from .common import ROOT, BenchError
from .procfs import tree_cpu_seconds, tree_rss_kib

PROBE_PATH = "/api/v1/partners/available?per_page=1"  # a real operation, served by both servers
POLL_INTERVAL = 0.010  # seconds between start-up probes (10 ms, plus the probe's own cost)
STOP_TIMEOUT = 5.0
LOG_TAIL_LINES = 25


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
        running.started(self)
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

    def as_json(self) -> dict[str, object]:
        """What results.json records of the server."""
        return {
            "key": self.key,
            "label": self.label,
            "argv": self.argv,
            "startups_s": self.startups,
            "rss_idle_kib": self.rss_idle_kib,
            "rss_after_kib": self.rss_after_kib,
        }

    def log_tail(self) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-LOG_TAIL_LINES:])
        except OSError:
            return "(no log)"

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        running.forget(self)
        if proc is not None:
            proc.stop(timeout=STOP_TIMEOUT)


def prism_server(
    key: str, label: str, prism: Path, spec: Path, extra: list[str], log_dir: Path, dynamic: bool = False
) -> BenchServer:
    """`prism mock` on the spec snapshot (static; dynamic, -d, with `dynamic`), `extra` before the spec."""

    def argv(port: int) -> list[str]:
        head = [str(prism), "mock", "-h", "127.0.0.1", "-p", str(port), "--errors=false", "-v", "warn"]
        return [*head, *(["-d"] if dynamic else []), *extra, str(spec)]

    return BenchServer(key, label, argv, log_dir)


def mock_server(key: str, label: str, command: list[str], options: list[str], log_dir: Path) -> BenchServer:
    """This project's server: `command` (it starts `mockserver serve`), the port, --quiet, `options`."""

    def argv(port: int) -> list[str]:
        return [*command, "--host", "127.0.0.1", "--port", str(port), "--quiet", *options]

    return BenchServer(key, label, argv, log_dir, env={"PYTHONUNBUFFERED": "1"})
