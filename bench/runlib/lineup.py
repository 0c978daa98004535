"""The servers `bash bench/run` compares: Prism (static, and dynamic with --prism-dynamic), a baseline
mockserver with --baseline-cmd, then this mockserver, always last; their start-ups timed."""

from __future__ import annotations

import shlex
from pathlib import Path

from benchlib.common import log
from benchlib.servers import BenchServer, mock_server, prism_server
from benchlib.tools import Tools
from benchlib.workspace import Workspace

from .options import Options


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
    run_dir, spec = workspace.run_dir, workspace.spec
    servers = [prism_server("prism", "Prism (static)", tools.prism, spec, prism_extra, run_dir)]
    if options.prism_dynamic:
        label = "Prism (dynamic -d)"
        servers.append(prism_server("prism-dynamic", label, tools.prism, spec, prism_extra, run_dir, True))
    if options.baseline_cmd:
        baseline = shlex.split(options.baseline_cmd)
        servers.append(mock_server("baseline", options.baseline_label, baseline, mock_extra, run_dir))
    servers.append(mock_server("mockserver", "mockserver", tools.server_cmd, mock_extra, run_dir))
    return servers


def time_startups(servers: list[BenchServer], trials: int, timeout: float) -> None:
    """Start each server `trials` times (spawn -> first 2xx on a real operation); the last stays up."""
    for t in range(trials):
        for s in servers:
            elapsed = s.start(timeout)
            log(f"start-up {t + 1}/{trials}: {s.label:<20} {elapsed:.3f} s (port {s.port})")
            if t < trials - 1:
                s.stop()
