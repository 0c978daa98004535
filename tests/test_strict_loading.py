"""Scenario files up to 1 MB load or are refused within 3 s and 300 MB, aliases and nesting included.

Run as users run it (`mockserver check FILE` or `serve --scenario FILE` in a fresh process), with the
CPU time and the peak memory of that process measured from outside (CPU time, not wall time: the
machine may be shared). The process runs with 2 GiB of address space at most, so that a file that
would take all the memory fails here quickly instead of starving the machine.
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

from mockserver.dataset.yaml_reader import MAX_DEPTH
from mockserver.testing.live import free_port

pytestmark = pytest.mark.live

MAX_SECONDS = 3.0
MAX_RSS_MIB = 300
ONE_MB = 1_000_000
ADDRESS_SPACE = 2 * 1024**3


MEASURE = """
import json, resource, subprocess, sys
limit = int(sys.argv[1])
def bound(): resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
result = subprocess.run(sys.argv[2:], capture_output=True, text=True, preexec_fn=bound, timeout=60)
usage = resource.getrusage(resource.RUSAGE_CHILDREN)
print(json.dumps({"code": result.returncode, "out": result.stdout, "err": result.stderr,
                  "cpu": usage.ru_utime + usage.ru_stime, "rss_kib": usage.ru_maxrss}))
"""
"""Runs a command as its only child (within ADDRESS_SPACE), so the figures are that command's alone."""

PURE_LOADER = """
import sys, yaml
from mockserver.dataset import yaml_reader as scenario_file
from mockserver.cli import cli
scenario_file.SAFE_LOADER = yaml.SafeLoader
cli(sys.argv[1:], prog_name="mockserver")
"""
"""`python -m mockserver` with PyYAML's pure-Python loader in place of libyaml's."""


def measure(*args: str, pure: bool = False) -> tuple[dict[str, Any], float, float]:
    """Run `mockserver ARGS` (with the pure-Python loader when `pure`); what it printed and returned,
    its CPU seconds and peak RSS in MiB."""
    mockserver = ["-c", PURE_LOADER] if pure else ["-m", "mockserver"]
    command = [sys.executable, "-c", MEASURE, str(ADDRESS_SPACE), sys.executable, *mockserver, *args]
    measured = subprocess.run(command, capture_output=True, text=True, timeout=120, check=True)
    figures: dict[str, Any] = json.loads(measured.stdout)
    return figures, figures["cpu"], figures["rss_kib"] / 1024


def check(path: Path, pure: bool = False) -> tuple[dict[str, Any], float, float]:
    """`mockserver check FILE`, measured."""
    return measure("check", str(path), pure=pure)


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


HEAD = "businesses: []\nusers: []\npartners: []\n"
"""Three lines before the hostile part."""


def block_nesting(levels: int) -> str:
    """A sequence in a sequence ... `levels` deep, one per line, under `extra:` (line 4)."""
    return HEAD + "extra:\n" + "".join("  " * n + "-\n" for n in range(1, levels)) + "  " * levels + "- 1\n"


HOSTILE_FILES = {
    "recursive-sequence": ("a: &a [*a]\n", 1, "the alias *a is inside the node it names (a recursive alias)"),
    "recursive-merge": (
        "a: &a {<<: *a}\n",
        1,
        "the alias *a is inside the node it names (a recursive alias)",
    ),
    "recursive-deeper": (
        HEAD + "extra: &loop\n  more:\n    - {back: *loop}\n",
        6,
        "the alias *loop is inside the node it names (a recursive alias)",
    ),
    "block-nesting-990": (block_nesting(990), 4 + MAX_DEPTH, f"nested more than {MAX_DEPTH} levels deep"),
    "flow-nesting-990": ("[" * 990 + "]" * 990 + "\n", 1, f"nested more than {MAX_DEPTH} levels deep"),
    "flow-nesting-500000": ("[" * 500_000 + "]" * 500_000, 1, f"nested more than {MAX_DEPTH} levels deep"),
    "nesting-through-aliases": (
        "a: &a " + "[" * 60 + "]" * 60 + "\nb: " + "[" * 50 + "*a" + "]" * 50 + "\n",
        2,
        f"nested more than {MAX_DEPTH} levels deep once aliases are expanded",
    ),
}


@pytest.mark.parametrize("pure", [False, True], ids=["libyaml", "pure-python"])
@pytest.mark.parametrize(("text", "line", "message"), HOSTILE_FILES.values(), ids=HOSTILE_FILES.keys())
def test_recursive_aliases_and_deep_nesting_are_refused_with_their_line_within_the_bounds(
    tmp_path: Path, text: str, line: int, message: str, pure: bool
) -> None:
    path = tmp_path / "hostile.yaml"
    path.write_text(text, encoding="utf-8")
    result, elapsed, peak = check(path, pure)
    assert (result["code"], result["err"]) == (1, f"error: {path}:{line}: {message}\n")
    assert elapsed < MAX_SECONDS, f"{elapsed:.2f} s"
    assert peak < MAX_RSS_MIB, f"{peak:.0f} MiB"


def test_nesting_up_to_the_limit_loads(tmp_path: Path) -> None:
    path = tmp_path / "deep.yaml"
    text = (SCENARIOS_DIR / "empty.yaml").read_text(encoding="utf-8")
    body = "[" * (MAX_DEPTH - 4) + "1" + "]" * (MAX_DEPTH - 4)  # in the root > rules > rule > respond
    rule = f"  - match: {{operation_id: listAvailablePartners}}\n    respond: {{body: {body}}}\n"
    path.write_text(text + "rules:\n" + rule + "    contract_violation: true\n", encoding="utf-8")
    result, _, _ = check(path)
    assert result["code"] == 0, result["err"]


@pytest.mark.parametrize("name", ["recursive-sequence", "recursive-merge", "block-nesting-990"])
def test_serve_refuses_a_hostile_file_with_one_line_within_the_bounds(tmp_path: Path, name: str) -> None:
    text, line, message = HOSTILE_FILES[name]
    path = tmp_path / "hostile.yaml"
    path.write_text(text, encoding="utf-8")
    result, elapsed, peak = measure("serve", "--port", str(free_port()), "--scenario", str(path))
    assert (result["code"], result["err"]) == (1, f"error: {path}:{line}: {message}\n")
    assert elapsed < MAX_SECONDS, f"{elapsed:.2f} s"
    assert peak < MAX_RSS_MIB, f"{peak:.0f} MiB"
