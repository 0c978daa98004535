"""Instructions per plain request, counted by callgrind: a measure the shared machine's noise leaves
alone, for comparing two commits of the request path.

Runs the app in-process (Flask's test client, no session header) under `valgrind --tool=callgrind`
twice, with FEW and MANY requests; (total of MANY - total of FEW) / (MANY - FEW) is the cost of one
request, start-up excluded. With `--front`, the requests go through the server front instead
(`serving.front.WholeRequestFront` on uvloop, as granian's worker runs it, the memo of answers off),
handed to it by a stand-in for granian's RSGI protocol: the front's Python and the app, without
granian's own threads and sockets. Usage:

    python bench/instructions.py                      # this checkout
    python bench/instructions.py --tree /tmp/old      # another checkout (a clone at another commit)
    python bench/instructions.py --front              # through the front (trees that have one)
    python bench/instructions.py --state redis://127.0.0.1:6379/0   # the state in Redis (the worker's
                                                      # instructions, its journal thread's included)

Needs valgrind (Debian: apt-get install -y valgrind). Each run takes a minute or two.
"""

from __future__ import annotations

import argparse
import dataclasses
import gc
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
"""This checkout. The script imports nothing of benchlib, which puts this checkout first on sys.path:
its measured child must import the mockserver of --tree."""
FEW, MANY = 20, 520
CASES = ("get", "post")
CLICK = json.dumps({"data": {"type": "partner_click_events", "attributes": {"event_type": "website"}}})


def inner(case: str, count: int, tree: Path, state: str | None, front: bool) -> None:
    """The measured program: build the app from `tree`'s files, send `count` requests."""
    from mockserver import Settings, create_app

    shared: dict[str, object] = (
        {"state": state, "state_namespace": f"instructions-{os.getpid()}"} if state else {}
    )
    if "max_click_events" in {field.name for field in dataclasses.fields(Settings)}:
        shared["max_click_events"] = 10  # trees older than the bound keep every event (520 at most)
    settings = Settings(
        spec_path=tree / "openapi.yaml",
        scenarios_dir=tree / "scenarios",
        seed=1,
        partners=100,
        **shared,  # type: ignore[arg-type]
    )
    app = create_app(settings)
    client = app.test_client()
    gc.collect()
    gc.freeze()  # as `mockserver serve` does after start-up: the collector skips what start-up built
    environ = {"REMOTE_ADDR": "127.0.0.1"}
    listed = client.get("/api/v1/partners/available?per_page=1", environ_base=environ).get_json()
    partner = listed["data"][0]["id"]
    if front:
        through_front(app.wsgi_app, settings, case, count, partner)
        return
    for _ in range(count):
        if case == "get":
            response = client.get("/api/v1/partners/available?page=1&per_page=25", environ_base=environ)
            assert response.status_code == 200, response.data[:300]
        else:
            url = f"/api/v1/partners/{partner}/click_event"
            response = client.post(url, data=CLICK, content_type="application/json", environ_base=environ)
            assert response.status_code == 201, response.data[:300]


class StandInScope:
    """What the front reads of granian's RSGI scope."""

    proto = "http"
    http_version = "1.1"
    scheme = "http"
    server = "127.0.0.1:8000"
    client = "127.0.0.1:40000"

    def __init__(self, method: str, path: str, query: str, headers: dict[str, str]) -> None:
        self.method, self.path, self.query_string = method, path, query
        self.headers = StandInHeaders(headers)


class StandInHeaders(dict[str, str]):
    """granian's headers: a mapping whose `items()` is a list."""

    def items(self) -> list[tuple[str, str]]:  # type: ignore[override]
        return list(super().items())


class StandInProtocol:
    """What the front asks of granian's RSGI protocol: the body, and where the answer goes."""

    def __init__(self, body: bytes) -> None:
        self.body = body
        self.status = 0

    async def __call__(self) -> bytes:
        return self.body

    def response_bytes(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
        self.status = status


def through_front(wsgi_app: Any, settings: Any, case: str, count: int, partner: str) -> None:
    """`count` requests through the server front, on uvloop, as granian's worker runs it."""
    import uvloop

    from mockserver.serving.front import WholeRequestFront

    front = WholeRequestFront(wsgi_app, settings.read_timeout, settings.max_body_bytes)
    headers = {"host": "127.0.0.1:8000"}
    if case == "get":
        method, path, query, body, expected = (
            "GET",
            "/api/v1/partners/available",
            "page=1&per_page=25",
            b"",
            200,
        )
    else:
        method, path, query, expected = "POST", f"/api/v1/partners/{partner}/click_event", "", 201
        body = CLICK.encode()
        headers |= {"content-type": "application/json", "content-length": str(len(body))}

    async def send() -> None:
        for _ in range(count):
            protocol = StandInProtocol(body)
            await front.__rsgi__(StandInScope(method, path, query, headers), protocol)  # type: ignore[arg-type]
            assert protocol.status == expected, protocol.status

    uvloop.run(send())


def total(case: str, count: int, tree: Path, state: str | None, front: bool) -> int:
    """Instructions of one whole run under callgrind."""
    with tempfile.TemporaryDirectory() as scratch:
        out = Path(scratch) / "callgrind.out"
        env = {**os.environ, "PYTHONPATH": str(tree), "PYTHONHASHSEED": "0"}  # the same dict and set layouts
        command = [
            "valgrind", "--tool=callgrind", f"--callgrind-out-file={out}",
            sys.executable, __file__, "--inner", case, str(count), "--tree", str(tree),
            *(["--state", state] if state else []),
            *(["--front"] if front else []),
        ]  # fmt: skip
        subprocess.run(command, check=True, env=env, capture_output=True)
        match = re.search(r"^summary: (\d+)", out.read_text(), re.MULTILINE)
        assert match, "callgrind wrote no summary"
        return int(match.group(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tree", type=Path, default=ROOT, help="checkout to measure (default: this one)")
    parser.add_argument("--state", help="serve with the state in Redis at this URL")
    parser.add_argument("--front", action="store_true", help="through the server front (uvloop)")
    parser.add_argument("--inner", nargs=2, metavar=("CASE", "COUNT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    tree = args.tree.resolve()
    if args.inner:
        inner(args.inner[0], int(args.inner[1]), tree, args.state, args.front)
        return
    if shutil.which("valgrind") is None:
        sys.exit("bench/instructions.py needs valgrind (apt-get install -y valgrind)")
    for case in CASES:
        runs = [total(case, n, tree, args.state, args.front) for n in (MANY, FEW)]
        per_request = (runs[0] - runs[1]) // (MANY - FEW)
        where = f"{tree}, state in {args.state}" if args.state else str(tree)
        where += ", through the front" if args.front else ""
        print(f"{case:5} {per_request:>12,} instructions per request  ({where})")


if __name__ == "__main__":
    main()
