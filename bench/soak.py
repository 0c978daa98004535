#!/usr/bin/env python3
"""Soak the mock: mixed load for a while, then check that nothing failed and the state adds up.

    python bench/soak.py [--duration 600] [--url URL | --server-args '...'] [--seed N] [--json PATH]

Without --url it starts `python -m mockserver serve --port <free> --quiet <server args>` itself
(mockserver.testing.live.LiveServer). Threads of good clients (readers: the list and read operations;
writers: click events and PATCH/DELETE …/connect), hostile raw-socket clients (stalled, truncated,
oversize, malformed, lower-case method, gzip), attacks on the server's bounds (recursive and deeply
nested scenarios, backtracking patterns, fast chunked floods, a flood of idle connections), slow and
trickling upstreams behind a `mockserver proxy` it starts, and probes (health checks on fresh
connections) run for --duration seconds. Then: the server still answers; every click event
acknowledged with 201 must be stored (or counted as dropped) and nothing else; every (user, partner)
pair must show the link state of its last acknowledged operation; the probes' p99 and the RSS growth
stay within their bounds; the attacks got only accepted outcomes. Prints a summary (and --json).
Exit 0 only with no 5xx, no failed good request and every invariant holding; 1 otherwise; 2 when the
run could not start. Its own parts in bench/soaklib/, what every bench command shares in bench/benchlib/;
see bench/README.md.
"""

from __future__ import annotations

import json
import resource
import sys
import threading
import time
from collections.abc import Callable
from urllib.parse import urlsplit

from benchlib import running
from benchlib.common import ROOT, BenchError, log
from benchlib.procfs import tree_rss_kib
from soaklib.attacks import run_admin_attacks, run_chunked_floods, run_idle_flood
from soaklib.bounds import check_answering, check_hostile_outcomes, check_probes, check_rss
from soaklib.checks import Invariant, check_click_events, check_links, click_meta
from soaklib.client import TRANSPORT_ERRORS, Client, DataSet
from soaklib.good import Pair, PairState, link_pairs, run_reader, run_writer, settle
from soaklib.hostile import QUICK_KINDS, STALL_KINDS, run_quick, run_stalls
from soaklib.options import Options, parse_args
from soaklib.probes import run_probe
from soaklib.report import RunInfo, build, render
from soaklib.tally import Tally
from soaklib.upstream import SlowUpstream, run_slow_upstream_clients

from mockserver.testing.live import LiveServer, ServerNotReady

RSS_INTERVAL = 5.0
"""Seconds between two RSS samples during the load (the peak is reported)."""
QUIESCE = 1.0
"""Seconds between the last hostile socket closing and the checks (let the server finish with them)."""
ADMIN_ATTACKS = ("recursive-scenario", "backtracking-rule", "backtracking-find")
UPSTREAM_KINDS = ("slow-upstream", "trickle-upstream")
FINAL_HEALTH_TIMEOUT = 10.0
BOUNDED_SERVER = """
import resource, sys
limit = int(sys.argv.pop(1))
resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
from mockserver.cli import cli
cli(sys.argv[1:], prog_name="mockserver")
"""
"""`python -m mockserver` within an address space (--server-memory): a server that takes all the memory
fails the soak instead of starving the machine."""


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
        hostile, hostile_tallies = self.hostile_threads(data, stop)
        proxy = self.start_proxy()
        if proxy is not None:
            threads, tallies = self.proxy_threads(proxy[1], stop)
            hostile += threads
            hostile_tallies += tallies

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
        if proxy is not None:
            running.stop(proxy[1])
            running.stop(proxy[0])
        server_exit = self.server_exit()

        tally = Tally()
        for _, part in good:
            tally.merge(part)
        for part in hostile_tallies:
            tally.merge(part)
        invariants: dict[str, Invariant] = {}
        if server_exit is None:
            invariants = self.state_invariants(tally, ledgers, data, baseline)
        rss_end = self.rss()
        rss = None
        if rss_start is not None and rss_end is not None and rss_peak is not None:
            rss = {"start": rss_start, "end": rss_end, "peak": max(rss_peak, rss_end)}
        invariants["probes"] = check_probes(tally, "probe-mock", "mock", options.probe_p99)
        if proxy is not None:
            invariants["proxy_probes"] = check_probes(tally, "probe-proxy", "proxy", options.probe_p99)
        invariants["rss"] = check_rss(rss, options.max_rss_growth_mib)
        invariants["hostile_outcomes"] = check_hostile_outcomes(tally, options.hostile)
        info = RunInfo(
            target=target,
            server_args=options.server_args,
            seed=options.seed,
            duration_s=options.duration,
            elapsed_s=elapsed,
            threads={"readers": options.readers, "writers": options.writers, "stalled": options.stalled},
            read_timeout_s=options.read_timeout,
            hostile_wait_s=options.hostile_wait,
            rss_kib=rss,
            server_exit=server_exit,
            max_latency_s=options.max_latency,
            hostile_kinds=sorted(options.hostile),
            idle=options.idle if "idle-flood" in options.hostile else 0,
            flood_mib=options.flood_bytes / 2**20,
            proxy=f"mockserver proxy --upstream-timeout {options.upstream_timeout:g}" if proxy else None,
        )
        return build(info, tally, invariants)

    def hostile_threads(
        self, data: DataSet, stop: threading.Event
    ) -> tuple[list[threading.Thread], list[Tally]]:
        """The threads of the hostile kinds --hostile selects, each with its tally; and the probe."""
        options, kinds = self.options, self.options.hostile
        wait = options.hostile_wait
        common = (self.host, self.port, options.seed)
        threads: list[threading.Thread] = []
        tallies: list[Tally] = []

        def add(
            name: str, target: Callable[..., None], *args: object, after: tuple[object, ...] = ()
        ) -> None:
            tallies.append(Tally())
            threads.append(threading.Thread(target=target, args=(*args, tallies[-1], *after), name=name))

        add("probe-mock", run_probe, self.host, self.port, "probe-mock", stop)
        stalls = tuple(k for k in STALL_KINDS if k in kinds)
        if stalls:
            add("stalls", run_stalls, *common, data, options.stalled, wait, stop, after=(stalls,))
        quick = tuple(k for k in QUICK_KINDS if k in kinds)
        if quick:
            add("hostile", run_quick, *common, data, wait, stop, after=(quick,))
        if kinds & set(ADMIN_ATTACKS):
            add("admin-attacks", run_admin_attacks, *common, kinds, stop)
        if "chunked-flood" in kinds:
            add("chunked-flood", run_chunked_floods, *common, data, options.flood_bytes, wait, stop)
        if "idle-flood" in kinds and options.idle:
            add("idle-flood", run_idle_flood, self.host, self.port, options.idle, stop)
        return threads, tallies

    def proxy_threads(
        self, proxy: LiveServer, stop: threading.Event
    ) -> tuple[list[threading.Thread], list[Tally]]:
        """The slow-upstream clients and the probe of the proxy, each with its tally."""
        options = self.options
        clients, probes = Tally(), Tally()
        ask = (proxy.host, proxy.port, options.seed, options.upstream_timeout, stop, clients)
        probe = (proxy.host, proxy.port, "probe-proxy", stop, probes)
        threads = [
            threading.Thread(target=run_slow_upstream_clients, args=ask, name="slow-upstream"),
            threading.Thread(target=run_probe, args=probe, name="probe-proxy"),
        ]
        return threads, [clients, probes]

    def start_proxy(self) -> tuple[SlowUpstream, LiveServer] | None:
        """The slow upstream and a `mockserver proxy` in front of it, when their kinds run."""
        if not set(UPSTREAM_KINDS) & self.options.hostile:
            return None
        upstream = running.started(SlowUpstream())
        timeout = f"{self.options.upstream_timeout:g}"
        proxy = running.started(
            LiveServer.start(
                "--upstream", upstream.url, "--upstream-timeout", timeout, subcommand="proxy", cwd=ROOT
            )
        )
        log(f"soak: proxy on port {proxy.port} in front of a slow upstream at {upstream.url}")
        return upstream, proxy

    def state_invariants(
        self, tally: Tally, ledgers: list[dict[Pair, PairState]], data: DataSet, baseline: dict[str, int]
    ) -> dict[str, Invariant]:
        """The server answers; then the click events and the links are as acknowledged."""
        checker = Client(self.host, self.port, FINAL_HEALTH_TIMEOUT)
        try:
            answering = check_answering(checker)
            if not answering.ok:
                return {"answering": answering}
            checker.close()
            checker = self.client()
            for ledger in ledgers:
                settle(checker, tally, ledger)
            time.sleep(QUIESCE)
            return {
                "answering": answering,
                "click_events": check_click_events(checker, baseline, tally.ok["click-event"]),
                "links": check_links(checker, data, ledgers),
            }
        finally:
            checker.close()


def raise_open_files() -> None:
    """The soft limit on open files up to the hard one: the idle flood holds over a thousand sockets
    (and the server it starts inherits the limit)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def start_server(options: Options) -> LiveServer:
    """`python -m mockserver serve` with --server-args, within --server-memory of address space."""
    log(f"soak: starting python -m mockserver serve {' '.join(options.server_args)}".rstrip())
    command = None
    if options.server_memory_mib:
        limit = str(int(options.server_memory_mib * 2**20))
        command = [sys.executable, "-c", BOUNDED_SERVER, limit]
    try:
        return running.started(LiveServer.start(*options.server_args, cwd=ROOT, command=command))
    except ServerNotReady as exc:
        raise BenchError(f"the server did not start: {exc}") from exc


def soak(options: Options) -> dict[str, object]:
    """The run against --url, or against a server it starts (stopped before the report is printed)."""
    server: LiveServer | None = None
    if options.url is not None:
        parts = urlsplit(options.url)
        host, port, pid = parts.hostname or "127.0.0.1", parts.port or 80, options.pid
        target = options.url
    else:
        server = start_server(options)
        host, port, pid = server.host, server.port, server.process.pid
        target = f"python -m mockserver serve (port {port})"
    try:
        return Soak(options, host, port, pid, server).run(target)
    except (*TRANSPORT_ERRORS, RuntimeError, KeyError, ValueError) as exc:
        raise BenchError(f"could not read the data set from the server: {type(exc).__name__}: {exc}") from exc
    finally:
        running.stop_everything()


def main(argv: list[str] | None = None) -> int:
    options = parse_args(argv)
    raise_open_files()
    report = soak(options)
    print(render(report), flush=True)
    if options.json_path is not None:
        options.json_path.parent.mkdir(parents=True, exist_ok=True)
        options.json_path.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return 0 if report["ok"] else 1


if __name__ == "__main__":
    sys.exit(running.run_command("soak", main, interrupted=2))
