"""The bench commands stop what they started when they are stopped: `bench/memory.py`, sent SIGTERM while
its load runs, leaves no server behind (the server runs in its own session, so nothing else ends it).

The load is a stand-in `wrk` on PATH that only waits, so the test needs no wrk and sends no load.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
MEMORY = ROOT / "bench" / "memory.py"
if str(ROOT / "bench") not in sys.path:
    sys.path.insert(0, str(ROOT / "bench"))

from benchlib.procfs import process_tree  # noqa: E402

pytestmark = pytest.mark.system

STARTED_WITHIN_S = 90.0
"""The server starts and the stand-in wrk runs within this (seconds, a loaded machine included)."""
STOPPED_WITHIN_S = 30.0
"""After SIGTERM, the command and every process it started are gone within this (the server's stop
waits 5 s for SIGTERM before SIGKILL)."""


def running(pid: int) -> bool:
    """The process exists and is not a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def wait_for_stand_in(bench: subprocess.Popen[str], fake_wrk: Path) -> list[int]:
    """The command's process tree once the stand-in wrk runs (its server is up by then)."""
    deadline = time.monotonic() + STARTED_WITHIN_S
    while time.monotonic() < deadline:
        tree = process_tree(bench.pid)
        if any(str(fake_wrk) in cmdline(pid) for pid in tree):
            return tree
        assert bench.poll() is None, f"memory.py ended early:\n{bench.communicate()}"
        time.sleep(0.2)
    raise AssertionError(f"the stand-in wrk did not start within {STARTED_WITHIN_S:g} s")


def test_memory_bench_stops_its_server_on_sigterm(tmp_path: Path) -> None:
    fake_wrk = tmp_path / "wrk"
    fake_wrk.write_text(f"#!{sys.executable}\nimport time\ntime.sleep(120)\n")
    fake_wrk.chmod(0o755)
    env = {**os.environ, "PATH": f"{tmp_path}{os.pathsep}{os.environ['PATH']}"}
    bench = subprocess.Popen(
        [sys.executable, str(MEMORY), "--posts", "1"],
        cwd=ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    started: list[int] = []
    try:
        started = [pid for pid in wait_for_stand_in(bench, fake_wrk) if pid != bench.pid]
        assert len(started) >= 2, "expected the server and the stand-in wrk among its processes"
        bench.send_signal(signal.SIGTERM)
        _, stderr = bench.communicate(timeout=STOPPED_WITHIN_S)
        deadline = time.monotonic() + STOPPED_WITHIN_S
        while [pid for pid in started if running(pid)] and time.monotonic() < deadline:
            time.sleep(0.2)
        left = {pid: cmdline(pid) for pid in started if running(pid)}
        assert not left, f"still running after memory.py ended: {left}"
        assert bench.returncode == 130, stderr
        assert "memory: interrupted" in stderr
    finally:
        if bench.poll() is None:
            bench.kill()
            bench.communicate()
        for pid in started:
            if running(pid):
                os.kill(pid, signal.SIGKILL)
