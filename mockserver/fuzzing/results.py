"""What a campaign found: `st run`'s console output, JSON report and JUnit XML read into a Summary."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .common import EXIT_FAILED, EXIT_OK


@dataclass
class Reproduction:
    operation: str
    case_id: str
    checks: list[str]
    curl: list[str]


@dataclass
class Summary:
    operations_total: int | None = None
    operations_selected: int | None = None
    operations_tested: int | None = None
    covered: list[str] = field(default_factory=list)
    not_covered: list[str] = field(default_factory=list)
    cases: int | None = None
    failures: dict[str, tuple[str, int]] = field(default_factory=dict)
    failure_operations: dict[str, list[str]] = field(default_factory=dict)
    errors: dict[str, int] = field(default_factory=dict)
    warnings: dict[str, list[str]] = field(default_factory=dict)
    duration: float | None = None
    exit_code: int | None = None
    reproductions: list[Reproduction] = field(default_factory=list)
    link_notes: int = 0
    phases: dict[str, str] = field(default_factory=dict)
    """Phase -> its counts as st printed them ("7 passed, 1 failed"), in the order the phases ran."""
    outcomes: dict[str, str] = field(default_factory=dict)
    """Operation (or "Stateful tests") -> passed / failed / error / skipped, from the JUnit XML."""

    @property
    def failure_count(self) -> int:
        return sum(count for _, count in self.failures.values())

    @property
    def error_count(self) -> int:
        return sum(self.errors.values())


_SECTION = re.compile(r"^={3,} (.+?) ={3,}$")
_OPERATION = re.compile(r"^_{3,} (.+?) _{3,}$")
_CASE = re.compile(r"^\s*\d+\. Test Case ID: (\S+)")
_CHECK = re.compile(r"^- (ST\d+) (.+)$")
_FAILURE_LINE = re.compile(r"^\s*❌ (\S+) (.+): (\d+)$")
_ERROR_LINE = re.compile(r"^\s*🚫 (.+): (\d+)$")
_DURATION = re.compile(r"^=+ .*?(?:in|after) (\d+(?:\.\d+)?)s =+$")
_PHASE = re.compile(r"^\s*\S+\s+(Examples|Coverage|Fuzzing|Stateful)\b.*\(in (\d+(?:\.\d+)?)s\)")
_COUNT = re.compile(r"(\d+) (passed|failed|errors?|skipped|without checks)\b")


def parse_console(text: str) -> Summary:
    """The figures of `st run`'s console output (its SUMMARY and FAILURES sections)."""
    summary = Summary()
    lines = text.splitlines()
    section = ""
    block = ""
    current: Reproduction | None = None
    operation = ""
    phase = ""
    for line in lines:
        if not section and (match := _PHASE.match(line)):
            phase = match.group(1)
            summary.phases[phase] = f"in {match.group(2)}s"
        elif phase and (counts := _COUNT.findall(line)):
            summary.phases[phase] = (
                ", ".join(f"{n} {what}" for n, what in counts) + f" {summary.phases[phase]}"
            )
            phase = ""
        if match := _DURATION.match(line):
            summary.duration = float(match.group(1))
        if match := _SECTION.match(line):
            section, current = match.group(1), None
            continue
        if section == "FAILURES":
            if match := _OPERATION.match(line):
                operation, current = match.group(1), None
            elif match := _CASE.match(line):
                current = Reproduction(operation=operation, case_id=match.group(1), checks=[], curl=[])
                summary.reproductions.append(current)
            elif current is not None and (match := _CHECK.match(line)):
                current.checks.append(f"{match.group(1)} {match.group(2).strip()}")
            elif current is not None and line.strip().startswith("curl "):
                current.curl.append(line.strip())
        elif section == "Stateful tests" and "Could not resolve parameter" in line:
            summary.link_notes += 1
        elif section == "SUMMARY":
            stripped = line.strip()
            if stripped.endswith(":") and not stripped.startswith(("❌", "🚫", "-")):
                block = stripped[:-1]
            elif match := re.match(r"Selected: (\d+)/(\d+)", stripped):
                summary.operations_selected, summary.operations_total = (
                    int(match.group(1)),
                    int(match.group(2)),
                )
            elif match := re.match(r"Tested: (\d+)", stripped):
                summary.operations_tested = int(match.group(1))
            elif block == "Test cases" and (match := re.match(r"(\d+) generated", stripped)):
                summary.cases = int(match.group(1))
            elif block == "Test cases" and stripped.startswith("No test cases were generated"):
                summary.cases = 0
            elif block == "Failures" and (match := _FAILURE_LINE.match(line)):
                summary.failures[match.group(1)] = (match.group(2), int(match.group(3)))
            elif block == "Errors" and (match := _ERROR_LINE.match(line)):
                summary.errors[match.group(1)] = int(match.group(2))
    return summary


def parse_junit(path: Path) -> dict[str, str]:
    """Operation (or "Stateful tests") -> passed / failed / error / skipped, from st's JUnit XML."""
    outcome: dict[str, str] = {}
    for case in ET.parse(path).getroot().iter("testcase"):
        status = "passed"
        for tag in ("skipped", "error", "failure"):
            if case.find(tag) is not None:
                status = "failed" if tag == "failure" else tag
        outcome[case.get("name", "")] = status
    return outcome


def build_summary(
    console: str, report: dict[str, Any] | None = None, junit: dict[str, str] | None = None
) -> Summary:
    """Console figures, overridden by the JSON report's when there is one; coverage from the JUnit XML."""
    summary = parse_console(console)
    if report is not None:
        operations = report.get("operations") or {}
        summary.operations_total = operations.get("total", summary.operations_total)
        summary.operations_selected = operations.get("selected", summary.operations_selected)
        summary.operations_tested = operations.get("tested", summary.operations_tested)
        summary.cases = (report.get("test_cases") or {}).get("generated", summary.cases)
        summary.failures = {f["code"]: (f["title"], int(f["count"])) for f in report.get("failures", [])}
        summary.failure_operations = {
            f["code"]: list(f.get("operations", [])) for f in report.get("failures", [])
        }
        summary.errors = {e["title"]: int(e["count"]) for e in report.get("errors", [])}
        summary.warnings = {k: list(v) for k, v in (report.get("warnings") or {}).items() if v}
        summary.duration = report.get("running_time", summary.duration)
        summary.exit_code = report.get("exit_code")
    if junit is not None:
        summary.outcomes = dict(junit)
        operations_only = {name: status for name, status in junit.items() if name != "Stateful tests"}
        summary.covered = sorted(name for name, status in operations_only.items() if status != "skipped")
        summary.not_covered = sorted(name for name, status in operations_only.items() if status == "skipped")
    return summary


def verdict(summary: Summary, st_exit_code: int) -> tuple[int, list[str]]:
    """The command's exit code and the reasons behind a non-zero one."""
    reasons = []
    if summary.failure_count:
        reasons.append(f"{summary.failure_count} failure(s)")
    if summary.error_count:
        reasons.append(f"{summary.error_count} error(s)")
    selected = summary.operations_selected
    if summary.operations_tested is None or selected is None or summary.operations_tested < selected:
        reasons.append(f"operations tested {summary.operations_tested}/{selected}")
    if summary.not_covered:
        reasons.append(f"not covered: {', '.join(summary.not_covered)}")
    if summary.cases is None or summary.cases == 0:
        reasons.append("no test case generated")
    if st_exit_code != 0:
        reasons.append(f"schemathesis exited with {st_exit_code}")
    return (EXIT_FAILED if reasons else EXIT_OK), reasons
