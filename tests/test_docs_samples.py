"""Clients written from the API docs work: their JavaScript samples, run with Node's `fetch` against a
live mock, and query strings written by `qs`, installed from the npm registry. Skipped without Node 18
or later (the first with a global `fetch`); `.ci/run` installs Node when the machine lacks it."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support import API, P02

from mockserver.testing.live import LiveServer

NODE = shutil.which("node")
QS_VERSION = "6.17.1"
"""The `qs` this module installs from the npm registry (the version JavaScript clients get today)."""


def _node_major() -> int:
    if NODE is None:
        return 0
    version = subprocess.run([NODE, "--version"], capture_output=True, text=True, timeout=30).stdout
    match = re.match(r"v(\d+)\.", version)
    return int(match.group(1)) if match else 0


NEEDS_NODE_18 = pytest.mark.skipif(_node_major() < 18, reason="needs Node 18+ (global fetch)")
pytestmark = [pytest.mark.system, NEEDS_NODE_18]  # Node and npm (and the npm registry)

DISCONNECT_SAMPLE = """
{
  const res = await fetch(`${BASE_URL}/api/v1/partners/${id}/connect`, {
    method: 'DELETE',
    headers: {
      'Content-Type': 'application/json'
    }});
  const data = await res.json();
  console.log(JSON.stringify({status: res.status, data}));
}
"""
"""The docs' "Disconnects User" sample as printed, plus a line that shows what it read."""


@pytest.fixture(scope="module")
def server() -> Iterator[LiveServer]:
    live = LiveServer.start("--scenario", "default")
    try:
        yield live
    finally:
        live.stop()


def run_node(script: str, cwd: Path | None = None) -> Any:
    """Run an ES module (top-level await, as the docs' samples use it); what it printed, as JSON."""
    assert NODE is not None
    done = subprocess.run(
        [NODE, "--input-type=module", "-e", script], capture_output=True, text=True, timeout=60, cwd=cwd
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_the_disconnect_sample_reads_the_partner(server: LiveServer) -> None:
    script = (
        f"const BASE_URL = {json.dumps(server.base)};\nconst id = {json.dumps(P02)};\n{DISCONNECT_SAMPLE}"
    )
    printed = run_node(script)
    assert printed["status"] == 200
    assert printed["data"]["data"]["id"] == P02
    assert printed["data"]["data"]["attributes"]["user-integration-requested"] is False


@pytest.fixture(scope="module")
def qs_package(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`qs`, installed by npm into a directory of this run (a failed install fails the tests)."""
    npm = shutil.which("npm")
    assert npm is not None, "npm is needed with node (Debian: apt-get install -y npm)"
    prefix = tmp_path_factory.mktemp("qs")
    done = subprocess.run(
        [npm, "install", "--no-audit", "--no-fund", "--silent", "--prefix", str(prefix), f"qs@{QS_VERSION}"],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stderr
    return prefix / "node_modules" / "qs"


@pytest.mark.parametrize("options", ["{}", "{encodeValuesOnly: true}", "{arrayFormat: 'brackets'}"])
def test_filters_written_by_qs_stringify_are_honoured(
    server: LiveServer, qs_package: Path, options: str
) -> None:
    script = f"""
import {{ createRequire }} from 'node:module';
const qs = createRequire({json.dumps(str(qs_package) + "/")})('./');
const query = qs.stringify({{filter: {{categories: ['pos', 'payroll']}}, per_page: 100}}, {options});
const res = await fetch(`{server.base}{API}/available?${{query}}`);
console.log(JSON.stringify({{query, status: res.status, body: await res.json()}}));
"""
    printed = run_node(script)
    assert printed["status"] == 200, printed
    categories = [set(p["attributes"]["categories"]) for p in printed["body"]["data"]]
    assert categories and all(c & {"pos", "payroll"} for c in categories), printed["query"]
    assert printed["body"]["links"]["self"].startswith(f"{API}/available?filter"), printed["body"]["links"]
