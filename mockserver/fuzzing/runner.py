"""`st run` against the server under test: its command line, its output streamed into the log, a heartbeat."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from .common import HEARTBEAT, STOP_TIMEOUT, TOKEN_ENV
from .options import CampaignOptions


def st_command(options: CampaignOptions, base_url: str) -> list[str]:
    """`st run` with no --checks (schemathesis.toml decides them), all phases and modes, a fixed seed."""
    return [
        sys.executable, "-m", "schemathesis.cli",
        "--config-file", str(options.config_path),
        "--no-color",
        "run", str(options.spec),
        "--url", base_url,
        "--seed", str(options.seed),
        "--max-examples", str(options.examples),
        "--phases", ",".join(options.phases),
        "--mode", "all",
        "--workers", str(options.workers),
        "--generation-database", "none",
        "--report", "junit,json",
        "--report-junit-path", str(options.junit_path),
        "--report-json-path", str(options.json_path),
        *options.extra,
    ]  # fmt: skip


@contextmanager
def _heartbeat(enabled: bool, every: float = HEARTBEAT) -> Iterator[None]:
    """A line every `every` seconds: st writes its console output only when it finishes (not a tty)."""
    stop = threading.Event()
    started = time.monotonic()

    def beat() -> None:
        while not stop.wait(every):
            elapsed = int(time.monotonic() - started)
            print(f"fuzz: schemathesis running, {elapsed // 60}m{elapsed % 60:02d}s", flush=True)

    thread = threading.Thread(target=beat, daemon=True)
    if enabled:
        thread.start()
    try:
        yield
    finally:
        stop.set()
        if enabled:
            thread.join()


def run_schemathesis(command: list[str], options: CampaignOptions) -> int:
    """Run st with its output in the log (and on stdout when streaming); its exit code."""
    env = dict(os.environ, COLUMNS="120", PYTHONUNBUFFERED="1", NO_COLOR="1")
    env.pop(TOKEN_ENV, None)
    if options.token:
        env[TOKEN_ENV] = options.token  # read by the run's schemathesis.toml (config.render_config)
    with options.log_path.open("w", encoding="utf-8") as log:
        log.write("$ " + " ".join(command) + "\n\n")
        log.flush()
        with (
            subprocess.Popen(
                command,
                cwd=options.report_dir,  # st writes .schemathesis/.hypothesis state there, not in the repo
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,
            ) as process,
            _heartbeat(options.stream),
        ):
            try:
                assert process.stdout is not None
                for raw in process.stdout:
                    line = raw.decode("utf-8", errors="replace")
                    log.write(line)
                    if options.stream:
                        sys.stdout.write(line)
                        sys.stdout.flush()
                return process.wait()
            finally:
                if process.poll() is None:
                    process.send_signal(signal.SIGINT)  # st stops and writes its reports when interrupted
                    try:
                        process.wait(STOP_TIMEOUT)
                    except subprocess.TimeoutExpired:
                        process.kill()
                        process.wait()
