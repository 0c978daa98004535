#!/usr/bin/env python3
"""Soak the mock: mixed load for a while, then check that nothing failed and the state adds up.

    python bench/soak.py [--duration 600] [--url URL | --server-args '...'] [--seed N] [--json PATH]

Without --url it starts `python -m mockserver serve --port <free> --quiet <server args>` itself
(mockserver.live.LiveServer). Threads of good clients (readers: the list and read operations;
writers: click events and PATCH/DELETE …/connect) and hostile raw-socket clients (stalled, truncated,
oversize, malformed, lower-case method, gzip) run for --duration seconds. Then: every click event
acknowledged with 201 must be stored (or counted as dropped) and nothing else; every (user, partner)
pair must show the link state of its last acknowledged operation. Prints a summary (and --json).
Exit 0 only with no 5xx, no failed good request and both invariants holding; 1 otherwise; 2 when the
run could not start. Parts in bench/soaklib/; see bench/README.md.
"""

from __future__ import annotations

import json
import signal
import sys
import threading
import time
from pathlib import Path
from types import FrameType
from urllib.parse import urlsplit

HERE = Path(__file__).resolve().parent
for _path in (HERE.parent, HERE):  # soaklib, benchlib, and this repository's mockserver.live
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

from benchlib.servers import tree_rss_kib  # noqa: E402
from soaklib.checks import check_click_events, check_links, click_meta  # noqa: E402
from soaklib.client import TRANSPORT_ERRORS, Client, DataSet  # noqa: E402
from soaklib.good import link_pairs, run_reader, run_writer, settle  # noqa: E402
from soaklib.hostile import run_quick, run_stalls  # noqa: E402
from soaklib.options import Options, parse_args  # noqa: E402
from soaklib.report import RunInfo, build, render  # noqa: E402
from soaklib.tally import Tally  # noqa: E402

from mockserver.live import LiveServer, ServerNotReady  # noqa: E402

ROOT = HERE.parent
RSS_INTERVAL = 5.0
"""Seconds between two RSS samples during the load (the peak is reported)."""
QUIESCE = 1.0
"""Seconds between the last hostile socket closing and the checks (let the server finish with them)."""


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


class Soak:
    """One run against host:port; `pid` (when known) is the server's, for its RSS."""

    def __init__(self, options: Options, host: str, port: int, pid: int | None, server: LiveServer | None):
        self.options = options
        self.host = host
        self.port = port
        self.pid = pid
        self.server = server

    def client(self) -> Client:
        return Client(self.host, self.port, self.options.timeout)

    def rss(self) -> int | None:
        return tree_rss_kib(self.pid) if self.pid is not None else None

    def server_exit(self) -> str | None:
        if self.server is None or self.server.alive():
            return None
        return f"exited with code {self.server.process.returncode} during the soak"

    def run(self, target: str) -> dict[str, object]:
        options = self.options
        setup = self.client()
        data = DataSet.fetch(setup)
        baseline = click_meta(setup)
        setup.close()
        rss_start = self.rss()
        log(
            f"soak: {options.duration:g} s against {target} ({len(data.partners)} partners, "
            f"{len(data.tokens)} users, seed {options.seed}); RSS at start "
            + (f"{rss_start / 1024:.1f} MiB" if rss_start is not None else "n/a")
        )

        stop = threading.Event()
        ledgers = link_pairs(options.seed, data, options.writers)
        good: list[tuple[threading.Thread, Tally]] = []
        for i in range(options.readers):
            tally = Tally()
            args = (i, options.seed, data, self.client(), stop, tally)
            good.append((threading.Thread(target=run_reader, args=args, name=f"reader-{i}"), tally))
        for i in range(options.writers):
            tally = Tally()
            writer_args = (i, options.seed, data, ledgers[i], self.client(), stop, tally)
            good.append((threading.Thread(target=run_writer, args=writer_args, name=f"writer-{i}"), tally))
        stall_tally, quick_tally = Tally(), Tally()
        wait = options.hostile_wait
        common = (self.host, self.port, options.seed, data)
        hostile = [
            threading.Thread(
                target=run_stalls, args=(*common, options.stalled, wait, stop, stall_tally), name="stalls"
            ),
            threading.Thread(target=run_quick, args=(*common, wait, stop, quick_tally), name="hostile"),
        ]

        started = time.perf_counter()
        for thread in [t for t, _ in good] + hostile:
            thread.start()
        rss_peak = rss_start
        deadline = time.monotonic() + options.duration
        try:
            while (left := deadline - time.monotonic()) > 0:
                time.sleep(min(left, RSS_INTERVAL))
                rss_now = self.rss()
                if rss_now is not None and rss_peak is not None:
                    rss_peak = max(rss_peak, rss_now)
                if self.server_exit():
                    log(f"soak: the server {self.server_exit()}; stopping the load")
                    break
        except KeyboardInterrupt:
            log("soak: interrupted; stopping the load and checking what ran")
        stop.set()
        for thread, _ in good:
            thread.join()
        elapsed = time.perf_counter() - started
        for thread in hostile:
            thread.join()
        server_exit = self.server_exit()

        tally = Tally()
        for _, part in good:
            tally.merge(part)
        checker = self.client()
        invariants = {}
        if server_exit is None:
            for ledger in ledgers:
                settle(checker, tally, ledger)
            time.sleep(QUIESCE)
            invariants["click_events"] = check_click_events(checker, baseline, tally.ok["click-event"])
            invariants["links"] = check_links(checker, data, ledgers)
        checker.close()
        tally.merge(stall_tally)
        tally.merge(quick_tally)
        rss_end = self.rss()
        rss = None
        if rss_start is not None and rss_end is not None and rss_peak is not None:
            rss = {"start": rss_start, "end": rss_end, "peak": max(rss_peak, rss_end)}
        info = RunInfo(
            target=target,
            server_args=options.server_args,
            seed=options.seed,
            duration_s=options.duration,
            elapsed_s=elapsed,
            threads={"readers": options.readers, "writers": options.writers, "stalled": options.stalled},
            read_timeout_s=options.read_timeout,
            hostile_wait_s=wait,
            rss_kib=rss,
            server_exit=server_exit,
            max_latency_s=options.max_latency,
        )
        return build(info, tally, invariants)


def main(argv: list[str] | None = None) -> int:
    options = parse_args(argv)
    signal.signal(signal.SIGTERM, _interrupt)
    server: LiveServer | None = None
    try:
        if options.url is not None:
            parts = urlsplit(options.url)
            host, port, pid = parts.hostname or "127.0.0.1", parts.port or 80, options.pid
            target = options.url
        else:
            log(f"soak: starting python -m mockserver serve {' '.join(options.server_args)}".rstrip())
            server = LiveServer.start(*options.server_args, cwd=ROOT)
            host, port, pid = server.host, server.port, server.process.pid
            target = f"python -m mockserver serve (port {port})"
        report = Soak(options, host, port, pid, server).run(target)
    except ServerNotReady as exc:
        log(f"soak: the server did not start: {exc}")
        return 2
    except (*TRANSPORT_ERRORS, RuntimeError, KeyError, ValueError) as exc:
        log(f"soak: could not read the data set from the server: {type(exc).__name__}: {exc}")
        return 2
    except KeyboardInterrupt:
        log("soak: interrupted")
        return 2
    finally:
        if server is not None:
            server.stop()
    print(render(report), flush=True)
    if options.json_path is not None:
        options.json_path.parent.mkdir(parents=True, exist_ok=True)
        options.json_path.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return 0 if report["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
