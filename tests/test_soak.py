"""bench/soak.py: one minute of mixed load (readers, writers, hostile raw-socket clients) against the
default server, which must end with no 5xx, no failed good request and both state invariants holding
(every acknowledged click event stored, no hostile one; every link as last acknowledged).

It takes about 65-90 s: 60 s of load, then the stalled clients' wait and the checks.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOAK = ROOT / "bench" / "soak.py"
GOOD_KINDS = (
    "list-available",
    "list-wholesalers",
    "list-business",
    "get-partner",
    "click-event",
    "connect-patch",
    "connect-delete",
)
HOSTILE_KINDS = (
    "stall-body",
    "stall-headers",
    "truncated-body",
    "oversize-body",
    "malformed-json",
    "lowercase-method",
    "gzip-body",
)


def test_one_minute_soak_of_the_default_server(tmp_path: Path) -> None:
    figures = tmp_path / "soak.json"
    result = subprocess.run(
        # --max-latency: a server that froze behind a stalled client would answer late, not fail.
        [sys.executable, str(SOAK), "--duration", "60", "--max-latency", "2", "--json", str(figures)],
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
    assert report["invariants"]["click_events"]["ok"], output
    assert report["invariants"]["links"]["ok"], output
    assert report["invariants"]["links"]["checked"] > 0, output
    for kind in GOOD_KINDS:
        assert report["requests"][kind]["sent"] > 0, f"no {kind} request ran\n{output}"
    for kind in HOSTILE_KINDS:
        assert report["hostile"][kind]["sent"] > 0, f"no {kind} client ran\n{output}"
