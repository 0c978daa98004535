"""Scenario files up to 1 MB load or are refused within 3 s and 300 MB, aliases included.

Run as users run it (`mockserver check FILE` in a fresh process), with the CPU time and the peak
memory of that process measured from outside (CPU time, not wall time: the machine may be shared).
"""

from __future__ import annotations

import copy
import json
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
import yaml
from support import SCENARIOS_DIR

MAX_SECONDS = 3.0
MAX_RSS_MIB = 300
ONE_MB = 1_000_000


MEASURE = """
import json, resource, subprocess, sys
result = subprocess.run(sys.argv[1:], capture_output=True, text=True)
usage = resource.getrusage(resource.RUSAGE_CHILDREN)
print(json.dumps({"code": result.returncode, "out": result.stdout, "err": result.stderr,
                  "cpu": usage.ru_utime + usage.ru_stime, "rss_kib": usage.ru_maxrss}))
"""
"""Runs a command as its only child, so the figures are that command's alone."""


def check(path: Path) -> tuple[dict[str, Any], float, float]:
    """Run `mockserver check`; what it printed and returned, its CPU seconds and peak RSS in MiB."""
    command = [sys.executable, "-c", MEASURE, sys.executable, "-m", "mockserver", "check", str(path)]
    measured = subprocess.run(command, capture_output=True, text=True, timeout=120, check=True)
    figures: dict[str, Any] = json.loads(measured.stdout)
    return figures, figures["cpu"], figures["rss_kib"] / 1024


def big_scenario() -> str:
    """The default scenario with its first partner copied (new ids and names) up to about 1 MB."""
    document = yaml.safe_load((SCENARIOS_DIR / "default.yaml").read_text(encoding="utf-8"))
    base = document["partners"][0]
    copies = []
    for k in range(2000):
        partner = copy.deepcopy(base)
        partner["id"] = str(uuid.UUID(int=10_000 + k, version=4))
        partner["name"] = f"Partner number {k}"
        copies.append(partner)
    document["partners"] = document["partners"] + copies
    text = yaml.safe_dump(document, sort_keys=False)
    assert 0.8 * ONE_MB < len(text) < 1.2 * ONE_MB, len(text)
    return text


def alias_fan_out(aliases: int) -> str:
    """A valid head, then one mapping aliased `aliases` times (about 1 MB at 120,000)."""
    head = "businesses: []\nusers: []\npartners: []\nextra: &item {k: v, l: w}\nmore:\n"
    return head + "- *item\n" * aliases


def alias_expansion(aliases: int, width: int) -> str:
    """Few aliases of one wide sequence: small on disk, huge once expanded."""
    wide = "[" + ", ".join(["{k: v}"] * width) + "]"
    return f"businesses: []\nusers: []\npartners: []\nextra: &wide {wide}\nmore:\n" + "  - *wide\n" * aliases


def test_a_1_mb_scenario_loads_within_the_bounds(tmp_path: Path) -> None:
    path = tmp_path / "big.yaml"
    path.write_text(big_scenario(), encoding="utf-8")
    result, elapsed, peak = check(path)
    assert result["code"] == 0, result["err"]
    assert result["out"].startswith("ok: 20")
    assert elapsed < MAX_SECONDS, f"{elapsed:.2f} s"
    assert peak < MAX_RSS_MIB, f"{peak:.0f} MiB"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (alias_fan_out(120_000), "more than 1000 YAML aliases"),
        (alias_expansion(900, 1000), "YAML nodes once aliases are expanded"),
    ],
    ids=["120000-aliases", "wide-expansion"],
)
def test_an_alias_bomb_is_refused_within_the_bounds(tmp_path: Path, text: str, message: str) -> None:
    assert len(text) <= ONE_MB
    path = tmp_path / "bomb.yaml"
    path.write_text(text, encoding="utf-8")
    result, elapsed, peak = check(path)
    assert result["code"] == 1
    assert message in result["err"]
    assert elapsed < MAX_SECONDS, f"{elapsed:.2f} s"
    assert peak < MAX_RSS_MIB, f"{peak:.0f} MiB"
