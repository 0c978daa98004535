"""What the report records about the machine and the software: CPU, memory, versions, commit."""

from __future__ import annotations

import datetime as _dt
import os
import platform
import shutil
import subprocess
from pathlib import Path

from .common import ROOT
from .tools import installed_prism_version, prism_node_engine


def cmd_output(argv: list[str]) -> str:
    """The first line a command prints, or "unknown"."""
    try:
        p = subprocess.run(argv, capture_output=True, text=True, timeout=30)
        return (p.stdout or p.stderr).strip().splitlines()[0]
    except (OSError, subprocess.SubprocessError, IndexError):
        return "unknown"


def interpreter_of(argv: list[str]) -> str | None:
    """The Python that runs a command: the command itself, or its script's shebang interpreter."""
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


def memory_total() -> str:
    try:
        kib = int(Path("/proc/meminfo").read_text().split("\n", 1)[0].split()[1])
        return f"{kib / 1024 / 1024:.1f} GiB"
    except (OSError, ValueError, IndexError):
        return "unknown"


def load_average() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def machine_info(server_cmd: list[str], wrk: str) -> dict[str, str]:
    interp = interpreter_of(server_cmd)
    return {
        "date": _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC"),
        "nproc": str(len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()),
        "cpu": cpu_model(),
        "memory": memory_total(),
        "kernel": platform.release(),
        "load average (start)": load_average(),
        "python (mockserver)": cmd_output([interp, "--version"]) if interp else "unknown",
        "python (runner)": platform.python_version(),
        "node": cmd_output(["node", "--version"]),
        "prism": f"{installed_prism_version() or 'unknown'} (declares node {prism_node_engine()})",
        "wrk": cmd_output([wrk, "-v"]).split(" Copyright")[0],
        "commit": git_commit(),
    }
