"""One campaign, step by step: clean the reports, start the mock (or reach --url), run st, summarise."""

from __future__ import annotations

import json
import shutil
import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from types import FrameType

from .common import REPO_CONFIG, CampaignError
from .config import render_config
from .dataset import DataSet
from .options import CampaignOptions
from .remote import read_remote_data
from .results import Summary, build_summary, parse_console, parse_junit, verdict
from .runner import run_schemathesis, st_command
from .server import read_data_set, start_server
from .summary import Target, format_summary


@dataclass
class Result:
    exit_code: int
    summary: Summary
    text: str
    base_url: str = ""


@contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """SIGTERM (CI cancelling the job) unwinds like Ctrl-C, so the mock is stopped either way."""

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
    """Run st against the target and judge it. CampaignError when it could not run; KeyboardInterrupt
    (Ctrl-C, SIGTERM) goes through, after the mock is stopped."""
    started = time.perf_counter()
    prepare_reports(options)
    with _sigterm_as_interrupt():
        if options.url is not None:
            target = Target(options.url)
            st_exit_code = fuzz(target, read_remote_data(options), options)
        else:
            server = start_server(options.server, options.server_log_path)
            try:
                target = Target(server.base, server.argv)
                data = read_data_set(server, options.business_ids, options.partner_ids)
                st_exit_code = fuzz(target, data, options)
            finally:
                server.stop()
    return collect_results(options, target, st_exit_code, started)


def prepare_reports(options: CampaignOptions) -> None:
    """No report, log or cached request of an earlier run survives into this one."""
    options.report_dir.mkdir(parents=True, exist_ok=True)
    options.junit_path.parent.mkdir(parents=True, exist_ok=True)
    for stale in (options.junit_path, options.json_path, options.log_path):
        stale.unlink(missing_ok=True)
    shutil.rmtree(options.cache_dir, ignore_errors=True)


def fuzz(target: Target, data: DataSet, options: CampaignOptions) -> int:
    """Write the run's schemathesis.toml with the ids to use, then run st; its exit code."""
    if not REPO_CONFIG.is_file():
        raise CampaignError(f"no schemathesis.toml beside the spec: {REPO_CONFIG}")
    options.config_path.write_text(
        render_config(
            REPO_CONFIG.read_text(encoding="utf-8"),
            data,
            options.cache_dir,
            business=options.business,
            token=options.token is not None,
        ),
        encoding="utf-8",
    )
    served = f"{data.partner_count} partners, " if data.partner_count is not None else ""
    print(
        f"fuzz: server {target.base_url} ({served}{len(data.business_ids)} business id(s), "
        f"{len(data.partner_ids)} partner id(s) from {data.source}), st -n {options.examples} "
        f"seed {options.seed}; log {options.log_path}",
        flush=True,
    )
    return run_schemathesis(st_command(options, target.base_url), options)


def collect_results(options: CampaignOptions, target: Target, st_exit_code: int, started: float) -> Result:
    """Read st's log and reports into a Summary, judge it, and format the summary text."""
    console = options.log_path.read_text(encoding="utf-8", errors="replace")
    report = json.loads(options.json_path.read_text()) if options.json_path.is_file() else None
    junit = parse_junit(options.junit_path) if options.junit_path.is_file() else None
    if report is None and junit is None and parse_console(console).cases is None:
        tail = "\n".join(console.splitlines()[-30:])
        raise CampaignError(f"schemathesis exited with {st_exit_code} and no report:\n{tail}")
    summary = build_summary(console, report, junit)
    exit_code, reasons = verdict(summary, st_exit_code)
    wall_time = time.perf_counter() - started
    text = format_summary(summary, options=options, target=target, wall_time=wall_time, reasons=reasons)
    return Result(exit_code, summary, text, target.base_url)
