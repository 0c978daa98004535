"""`mockserver pact verify` next to PactFlow's swagger-mock-validator and openapi-pact-comparator, on
the hand-written Pact files of tests/pact_cases (each against openapi.yaml, or extras.yaml for OpenAPI
3.1 keywords the Partners API does not use).

    python bench/pact_peers.py            # installs the peers (npm ci, bench/pact/node_modules) first
    python bench/pact_peers.py --no-install

Prints a Markdown table: for each case what each tool answers (an error, a warning, or a pass, with
its first code), and whether that is right (a Pact the spec's provider would fail must be an error).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PEERS = ROOT / "bench" / "pact"
BIN = PEERS / "node_modules" / ".bin"
CASES = ROOT / "tests" / "pact_cases"
TIMEOUT = 120


@dataclass(frozen=True)
class Answer:
    failed: bool
    """The tool's answer is "incompatible" (a non-zero exit)."""
    note: str

    def cell(self, expected_failure: bool) -> str:
        if self.failed != expected_failure:
            return f"{self.note} (**wrong**)"
        if not expected_failure and self.note.startswith("warning"):
            return f"{self.note} (false warning)"
        return f"{self.note} (right)"


def install() -> None:
    subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=PEERS, check=True, timeout=600)


def swagger_mock_validator(spec: Path, pact: Path) -> Answer:
    done = _run([str(BIN / "swagger-mock-validator"), str(spec), str(pact)])
    errors = _codes(done.stdout + done.stderr, "errors")
    warnings = _codes(done.stdout + done.stderr, "warnings")
    return _answer(done.returncode != 0, errors, warnings)


def openapi_pact_comparator(spec: Path, pact: Path) -> Answer:
    done = _run([str(BIN / "opc"), "--oas", str(spec), str(pact)])
    errors: list[str] = []
    warnings: list[str] = []
    for line in done.stdout.splitlines():  # ND-JSON: one array of findings per Pact file
        if line.strip().startswith("["):
            items: list[dict[str, Any]] = json.loads(line)
            errors += [item.get("code", "?") for item in items if item.get("type") == "error"]
            warnings += [item.get("code", "?") for item in items if item.get("type") == "warning"]
    return _answer(done.returncode != 0, errors, warnings)


def mockserver_verify(spec: Path, pact: Path) -> Answer:
    command = [sys.executable, "-m", "mockserver", "pact", "verify", "--format", "json"]
    done = _run([*command, "--spec", str(spec), str(pact)])
    report: dict[str, Any] = json.loads(done.stdout)
    findings = [f for file in report["files"] for f in file["findings"]]
    errors = [f["code"] for f in findings if f["level"] == "error"]
    return _answer(done.returncode != 0, errors, [])


def _answer(failed: bool, errors: list[str], warnings: list[str]) -> Answer:
    if errors:
        return Answer(failed, f"error {errors[0]}" + (f" +{len(errors) - 1}" if len(errors) > 1 else ""))
    if warnings:
        return Answer(failed, f"warning {warnings[0]}, exit {'1' if failed else '0'}")
    return Answer(failed, "fail" if failed else "pass")


def _codes(output: str, kind: str) -> list[str]:
    """swagger-mock-validator's summary lists `code: count` under `N error(s)` / `N warning(s)`."""
    codes: list[str] = []
    section = None
    for line in output.splitlines():
        if line.strip().endswith("error(s)"):
            section = "errors"
        elif line.strip().endswith("warning(s)"):
            section = "warnings"
        elif section == kind and line.startswith("\t") and ":" in line:
            codes.append(line.strip().split(":")[0])
        elif not line.startswith("\t"):
            section = None if section and not line.strip() else section
    return codes


def _run(argv: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=TIMEOUT, check=False)


def table() -> str:
    cases: list[dict[str, Any]] = json.loads((CASES / "cases.json").read_text())
    lines = [
        "| case | swagger-mock-validator 14.5.0 | openapi-pact-comparator 2.3.1 | mockserver pact verify |",
        "| --- | --- | --- | --- |",
    ]
    for case in cases:
        spec = ROOT / "openapi.yaml" if case["spec"] == "openapi.yaml" else CASES / case["spec"]
        pact = CASES / case["pact"]
        expected_failure = case["expected"] is not None
        cells = [tool(spec, pact).cell(expected_failure) for tool in TOOLS]
        lines.append(f"| {case['what']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


TOOLS = (swagger_mock_validator, openapi_pact_comparator, mockserver_verify)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--no-install", action="store_true", help="use bench/pact/node_modules as it is")
    if not parser.parse_args().no_install:
        install()
    print(table())


if __name__ == "__main__":
    main()
