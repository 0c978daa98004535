"""Memory under write load: RSS of `mockserver serve` after N click-event POSTs, against the cap.

    python bench/memory.py [--posts 1000000] [--connections 16] [--server-args '...']

Starts the server, records the RSS of its process tree, then POSTs valid click events with wrk (in
30-second rounds, until at least N were answered 201), and prints the RSS after the load and after
`POST /__admin/reset`, with what `/__admin/click-events` says was stored and dropped. Exit 1 when a
POST was not answered 201 or the end RSS exceeds --max-rss-mib.
"""

from __future__ import annotations

import argparse
import shlex
import shutil
import sys
import tempfile
from pathlib import Path

from benchlib import running
from benchlib.common import CLICK_BODY, LUA, BenchError
from benchlib.procfs import tree_rss_kib
from benchlib.wrk import bench_result, run_wrk

from mockserver.testing.live import LiveServer

ROUND_SECONDS = 30


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--posts", type=int, default=1_000_000, help="click events to POST (at least)")
    parser.add_argument("--connections", type=int, default=16, help="wrk connections")
    parser.add_argument("--server-args", default="", help="extra `mockserver serve` options")
    parser.add_argument("--max-rss-mib", type=float, default=250.0, help="fail above this end RSS")
    return parser.parse_args(argv)


def mib(kib: int) -> float:
    return kib / 1024


def post_round(base: str, path: str, connections: int, seconds: int) -> tuple[int, int]:
    """One wrk round of click-event POSTs: (requests answered, answers that were not 2xx)."""
    env = {"BENCH_METHOD": "POST", "BENCH_BODY": CLICK_BODY, "BENCH_CONTENT_TYPE": "application/json"}
    argv = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "-s", str(LUA), base + path]
    result = run_wrk(argv, bench_result, seconds, env=env)
    return int(result["requests"]), int(result["status"])


def main(argv: list[str] | None = None) -> int:
    options = parse_args(argv)
    if shutil.which("wrk") is None:
        raise BenchError("wrk is needed (apt-get install -y wrk)")
    with tempfile.TemporaryDirectory(prefix="mockserver-memory-") as scratch:
        log = Path(scratch) / "server.log"
        server = running.started(LiveServer.start(*shlex.split(options.server_args), log=log))
        try:
            return measure(server, options)
        finally:
            running.stop(server)


def measure(server: LiveServer, options: argparse.Namespace) -> int:
    pid = server.process.pid
    partner = server.get_json("/api/v1/partners/wholesalers?per_page=1")["data"][0]["id"]
    path = f"/api/v1/partners/{partner}/click_event"
    rss_start = tree_rss_kib(pid)
    posted = failed = rounds = 0
    while posted < options.posts:
        rounds += 1
        answered, not_2xx = post_round(server.base, path, options.connections, ROUND_SECONDS)
        posted += answered
        failed += not_2xx
        print(f"  {posted:,} POSTs, RSS {mib(tree_rss_kib(pid)):.0f} MiB", flush=True)
    rss_end = tree_rss_kib(pid)
    meta = server.get_json("/__admin/click-events")["meta"]
    server.request("POST", "/__admin/reset")
    rss_reset = tree_rss_kib(pid)
    print(f"click-event POSTs: {posted:,} ({failed} not 2xx)")
    print(f"stored {meta['stored']:,}, dropped {meta['dropped']:,}, cap {meta['limit']:,}")
    print(f"RSS of the server's process tree, limit {options.max_rss_mib:g} MiB:")
    print(f"  start {mib(rss_start):.0f} MiB, after the POSTs {mib(rss_end):.0f} MiB, after a reset ", end="")
    print(f"{mib(rss_reset):.0f} MiB")
    recorded = meta["stored"] + meta["dropped"]
    in_flight = options.connections * rounds  # sent when a round ended, answered after wrk counted
    ok = failed == 0 and mib(rss_end) <= options.max_rss_mib and posted <= recorded <= posted + in_flight
    print("memory: ok" if ok else "memory: FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(running.run_command("memory", main))
