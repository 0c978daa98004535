"""Server CPU per request of one or more mockserver trees, side by side, in a few seconds.

A lighter sibling of `bench/run` for comparing changes: no Prism, no report, one wrk thread. Each
`--server LABEL=COMMAND` is started with `--host 127.0.0.1 --port P --quiet` after COMMAND; then, for
each path and round, every server takes its turn (A, B, A, B, ...) under `wrk -t1 -c16` for
`--duration` seconds, and the user + system CPU of its whole process tree over the run (from /proc),
divided by the requests served, is the figure (µs). The median over `--rounds` is printed.

    python bench/cpu.py --server now='.venv/bin/python -m mockserver serve' \
        --server old='env PYTHONPATH=/tmp/old python -m mockserver serve' --rounds 3
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchlib.common import CLICK_BODY, LUA  # noqa: E402
from benchlib.procfs import tree_cpu_seconds  # noqa: E402

from mockserver.testing.live import ServerProcess, free_port  # noqa: E402

RESULT_RE = re.compile(r"^BENCH_RESULT (.*)$", re.M)
DEFAULT_PATHS = ("GET /api/v1/partners/available?per_page=25",)


@dataclass
class Probe:
    label: str
    command: list[str]
    process: ServerProcess | None = None
    figures: dict[str, list[tuple[float, float]]] = field(default_factory=dict)
    """Request line → (CPU µs per request, req/s) of each round."""

    def start(self, extra: list[str], log: Path) -> None:
        port = free_port()
        argv = [*self.command, "--host", "127.0.0.1", "--port", str(port), "--quiet", *extra]
        self.process = ServerProcess(argv, port, log, cwd=log.parent)  # not ROOT: `-m` would import this tree
        self.process.wait_ready(self._ready, timeout=60)

    def _ready(self) -> bool:
        assert self.process is not None
        try:
            return self.process.request("GET", "/api/v1/partners/available?per_page=1").status == 200
        except OSError:
            return False

    def url(self, path: str) -> str:
        assert self.process is not None
        return f"http://127.0.0.1:{self.process.port}{path}"

    def cpu(self) -> float:
        assert self.process is not None
        return tree_cpu_seconds(self.process.process.pid)


def resolve(line: str, probe: Probe) -> tuple[str, str, str | None]:
    """ "POST /api/v1/partners/{partner}/click_event" → method, path with a real id, body."""
    method, _, path = line.partition(" ")
    if "{partner}" in path:
        assert probe.process is not None
        page = probe.process.request("GET", "/api/v1/partners/available?per_page=1")
        path = path.replace("{partner}", json.loads(page.body)["data"][0]["id"])
    return method, path, CLICK_BODY if method == "POST" else None


def wrk(url: str, method: str, body: str | None, seconds: int, connections: int) -> dict[str, float]:
    argv = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", str(LUA), url]
    env = dict(os.environ, BENCH_METHOD=method, BENCH_BODY=body or "")
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=seconds + 60)
    found = RESULT_RE.search(done.stdout)
    if found is None:
        raise SystemExit(f"wrk failed: {done.stdout}{done.stderr}")
    return {k: float(v) for k, v in (kv.split("=") for kv in found.group(1).split())}


def measure(probe: Probe, line: str, seconds: int, connections: int) -> tuple[float, float]:
    method, path, body = resolve(line, probe)
    before = probe.cpu()
    result = wrk(probe.url(path), method, body, seconds, connections)
    used = probe.cpu() - before
    requests = result["requests"]
    return used / max(requests, 1) * 1e6, requests / (result["duration_us"] / 1e6)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--server", action="append", required=True, metavar="LABEL=COMMAND")
    parser.add_argument("--path", action="append", metavar="'METHOD PATH'")
    parser.add_argument("--duration", type=int, default=4)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--server-args", default="", help="more options for every server")
    options = parser.parse_args()
    probes = [
        Probe(label, shlex.split(command)) for label, _, command in (s.partition("=") for s in options.server)
    ]
    lines = options.path or list(DEFAULT_PATHS)
    logs = Path(tempfile.mkdtemp(prefix="bench-cpu-"))
    try:
        for probe in probes:
            probe.start(shlex.split(options.server_args), logs / f"{probe.label}.log")
            for line in lines:
                method, path, body = resolve(line, probe)
                wrk(probe.url(path), method, body, options.warmup, options.connections)
        for _ in range(options.rounds):
            for line in lines:
                for probe in probes:
                    probe.figures.setdefault(line, []).append(
                        measure(probe, line, options.duration, options.connections)
                    )
                    time.sleep(0.2)
    finally:
        for probe in probes:
            if probe.process is not None:
                probe.process.stop()
    for line in lines:
        print(f"{line}")
        for probe in probes:
            cpu = [c for c, _ in probe.figures[line]]
            rps = [r for _, r in probe.figures[line]]
            shown = " ".join(f"{c:.0f}" for c in cpu)
            print(
                f"  {probe.label:>12}: CPU/req {statistics.median(cpu):6.0f} µs ({shown}); "
                f"{statistics.median(rps):7.0f} req/s"
            )


if __name__ == "__main__":
    main()
