#!/usr/bin/env python3
"""Benchmark mockserver against Prism (the reference OpenAPI mock server) on the same spec.

One command does everything: install the pinned tools (Prism from bench/package-lock.json into
bench/node_modules, wrk from Debian's packages), start both servers on free loopback ports, time their
start-up, warm them, drive identical wrk load at several connection counts with the servers interleaved
(A, B, A, B, ...), take medians, measure RSS, print a markdown table and write it to
bench/results/latest.md.

Standard library only (and the repository's `mockserver.testing.live`, which is too); needs python3 >= 3.11
(the project's own minimum). The steps live in bench/runlib/, one job per module, on what every bench
command shares in bench/benchlib/. See bench/README.md.
"""

from __future__ import annotations

import sys

from benchlib.common import ROOT, log
from benchlib.running import run_command
from benchlib.tools import install_tools
from benchlib.turns import finish_load
from benchlib.workspace import prepare_workspace, resolve_spec
from runlib.lineup import make_servers, mock_extra_args, time_startups
from runlib.load import Wrk, run_load, warm_up
from runlib.options import parse_args
from runlib.report import Results, publish
from runlib.scenarios import check_scenarios, pick_scenarios


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
    finish_load(servers, info)

    publish(Results(options, workspace, servers, scenarios, checks, samples, mock_extra))
    log(f"\nreport: {options.output}  (raw wrk output: {workspace.raw_log})")
    return 0


if __name__ == "__main__":
    sys.exit(run_command("bench", main))
