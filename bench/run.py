#!/usr/bin/env python3
"""Benchmark mockserver against Prism (the reference OpenAPI mock server) on the same spec.

One command does everything: install the pinned tools (Prism from bench/package-lock.json into
bench/node_modules, wrk from Debian's packages), start both servers on free loopback ports, time their
start-up, warm them, drive identical wrk load at several connection counts with the servers interleaved
(A, B, A, B, ...), take medians, measure RSS, print a markdown table and write it to
bench/results/latest.md.

Standard library only (and the repository's `mockserver.testing.live`, which is too); needs python3 >= 3.11
(the project's own minimum). The steps live in bench/benchlib/, one job per module. See bench/README.md.
"""

from __future__ import annotations

import atexit
import signal
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
for _path in (
    HERE.parent,
    HERE,
):  # benchlib, and this repository's mockserver.testing.live (runner: plain python3)
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

from benchlib.common import ROOT, BenchError, log  # noqa: E402
from benchlib.load import Wrk, run_load, warm_up  # noqa: E402
from benchlib.machine import load_average  # noqa: E402
from benchlib.options import parse_args  # noqa: E402
from benchlib.report import Results, publish  # noqa: E402
from benchlib.scenarios import check_scenarios, pick_scenarios  # noqa: E402
from benchlib.servers import BenchServer, make_servers, mock_extra_args, stop_all, time_startups  # noqa: E402
from benchlib.tools import install_tools  # noqa: E402
from benchlib.workspace import Workspace, prepare_workspace, resolve_spec  # noqa: E402


def finish_load(servers: list[BenchServer], workspace: Workspace) -> None:
    """RSS after all the load, the load average at the end; then every server is stopped."""
    for s in servers:
        s.rss_after_kib = s.rss_kib()
    workspace.info["load average (end)"] = load_average()
    stop_all()


def main(argv: list[str] | None = None) -> int:
    options = parse_args(argv)
    spec_src = resolve_spec(options.spec)
    tools = install_tools(options.server_cmd, options.no_install)
    workspace = prepare_workspace(spec_src, tools)
    mock_extra = mock_extra_args(options, workspace.spec)
    servers = make_servers(options, tools, workspace, mock_extra)
    mock = servers[-1]

    info = workspace.info
    log(f"bench: results in {workspace.run_dir.relative_to(ROOT)}; {info['nproc']} cores, {info['cpu']}")
    time_startups(servers, options.repeat, options.startup_timeout)
    scenarios = pick_scenarios(mock, options.scenarios)
    checks = check_scenarios(servers, scenarios)
    wrk = Wrk(tools.wrk, options.threads, options.timeout, workspace.raw_log)
    warm_up(servers, scenarios, wrk, options.warmup)
    samples = run_load(servers, scenarios, options, wrk)
    finish_load(servers, workspace)

    publish(Results(options, workspace, servers, scenarios, checks, samples, mock_extra))
    log(f"\nreport: {options.output}  (raw wrk output: {workspace.raw_log})")
    return 0


def _on_signal(signum: int, _frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def run() -> int:
    """main() with every server stopped on any exit (normal end, error, Ctrl-C, SIGTERM, SIGHUP)."""
    atexit.register(stop_all)
    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGHUP, _on_signal)
    try:
        return main()
    except BenchError as exc:
        log(f"bench: error: {exc}")
        return 2
    except KeyboardInterrupt:
        log("bench: interrupted")
        return 130
    finally:
        stop_all()


if __name__ == "__main__":
    sys.exit(run())
