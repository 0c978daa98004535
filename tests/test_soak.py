"""bench/soak.py: one minute of mixed load (readers, writers, hostile raw-socket clients, attacks on the
server's bounds, slow upstreams behind a proxy, probes) against the default server, which must end with
no 5xx, no failed good request and every invariant holding (every acknowledged click event stored, no
hostile one; every link as last acknowledged; the server answering; probes on fresh connections fast;
RSS bounded; each attack answered as a server holding its bounds answers).

It takes about 70-120 s: 60 s of load, then the stalled clients' wait and the checks. The attacks run
at low rates: 200 idle connections, chunked floods of 16 MiB at most.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SOAK = ROOT / "bench" / "soak.py"
if str(ROOT / "bench") not in sys.path:
    sys.path.insert(0, str(ROOT / "bench"))

from soaklib.checks import INVARIANTS  # noqa: E402
from soaklib.tally import GOOD_KINDS, HOSTILE_KINDS, MAY_SEND_NONE  # noqa: E402

pytestmark = pytest.mark.system  # a minute of load

ARGS = ["--duration", "60", "--max-latency", "2", "--timeout", "20", "--idle", "200", "--flood-mib", "16"]
ARGS += ["--probe-p99", "2"]
"""--max-latency: a server that froze behind a stalled client would answer late, not fail; --timeout:
a frozen server fails the run within the time-out; the attacks at low rates; the probes' bound loose
enough for a shared machine, far below the seconds a starved server makes them wait."""


def test_one_minute_soak_of_the_default_server(tmp_path: Path) -> None:
    figures = tmp_path / "soak.json"
    result = subprocess.run(
        [sys.executable, str(SOAK), *ARGS, "--json", str(figures)],
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=300,
    )
    output = f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    assert result.returncode == 0, output
    report = json.loads(figures.read_text(encoding="utf-8"))
    assert report["ok"], output
    assert report["five_xx"] == 0, output
    assert report["invariants"]["links"]["checked"] > 0, output
    for name in INVARIANTS:
        assert report["invariants"][name]["ok"], f"invariant {name}\n{output}"
    for kind in GOOD_KINDS:
        assert report["requests"][kind]["sent"] > 0, f"no {kind} request ran\n{output}"
    for kind in HOSTILE_KINDS:
        assert kind in MAY_SEND_NONE or report["hostile"][kind]["sent"] > 0, f"no {kind} client ran\n{output}"
