"""One campaign, step by step: clean the report dir, start the server, run st against it, summarise."""

from __future__ import annotations

import json
import shutil
import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from types import FrameType

from mockserver.live import LiveServer

from .common import EXIT_INTERRUPTED, EXIT_NOT_RUN, REPO_CONFIG, CampaignError
from .config import render_config
from .options import CampaignOptions
from .results import Summary, build_summary, parse_console, parse_junit, verdict
from .runner import run_schemathesis, st_command
from .server import read_data_set, start_server
from .summary import format_summary


@dataclass
class Result:
    exit_code: int
    summary: Summary | None
    text: str
    base_url: str = ""


@contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """SIGTERM (CI cancelling the job) unwinds like Ctrl-C, so the server is stopped either way."""

    def interrupt(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    try:
        previous = signal.signal(signal.SIGTERM, interrupt)
    except ValueError:  # not the main thread: leave the handler alone
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def run_campaign(options: CampaignOptions) -> Result:
    started = time.perf_counter()
    prepare_report_dir(options)
    outcome = run_live(options)
    if isinstance(outcome, Result):
        return outcome
    server, st_exit_code = outcome
    return collect_results(options, server, st_exit_code, started)


def prepare_report_dir(options: CampaignOptions) -> None:
    """No report, log or cached request of an earlier run survives into this one."""
    options.report_dir.mkdir(parents=True, exist_ok=True)
    for stale in (options.junit_path, options.json_path, options.log_path):
        stale.unlink(missing_ok=True)
    shutil.rmtree(options.cache_dir, ignore_errors=True)


def run_live(options: CampaignOptions) -> tuple[LiveServer, int] | Result:
    """Start the server, run st against it, stop it: the server and st's exit code, or why it did not run."""
    server: LiveServer | None = None
    try:
        with _sigterm_as_interrupt():
            server = start_server(options.server, options.server_log_path)
            return server, fuzz_server(server, options)
    except KeyboardInterrupt:
        return Result(EXIT_INTERRUPTED, None, "fuzz: interrupted; server stopped")
    except CampaignError as exc:
        return Result(EXIT_NOT_RUN, None, f"fuzz: {exc}")
    finally:
        if server is not None:
            server.stop()


def fuzz_server(server: LiveServer, options: CampaignOptions) -> int:
    """Write the run's schemathesis.toml with the served ids, then run st; its exit code."""
    data = read_data_set(server)
    options.config_path.write_text(
        render_config(REPO_CONFIG.read_text(), data, options.cache_dir, business=options.business),
        encoding="utf-8",
    )
    print(
        f"fuzz: server {server.base} ({data.partner_count} partners, {len(data.business_ids)} "
        f"businesses), st -n {options.examples} seed {options.seed}; log {options.log_path}",
        flush=True,
    )
    return run_schemathesis(st_command(options, server.base), options)


def collect_results(
    options: CampaignOptions, server: LiveServer, st_exit_code: int, started: float
) -> Result:
    """Read st's log and reports into a Summary, judge it, and format the summary text."""
    console = options.log_path.read_text(encoding="utf-8", errors="replace")
    report = json.loads(options.json_path.read_text()) if options.json_path.is_file() else None
    junit = parse_junit(options.junit_path) if options.junit_path.is_file() else None
    if report is None and junit is None and parse_console(console).cases is None:
        tail = "\n".join(console.splitlines()[-30:])
        return Result(
            EXIT_NOT_RUN, None, f"fuzz: schemathesis exited with {st_exit_code} and no report:\n{tail}"
        )
    summary = build_summary(console, report, junit)
    exit_code, reasons = verdict(summary, st_exit_code)
    wall_time = time.perf_counter() - started
    text = format_summary(summary, options=options, server=server, wall_time=wall_time, reasons=reasons)
    return Result(exit_code, summary, text, server.base)
