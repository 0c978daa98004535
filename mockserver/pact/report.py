"""What `mockserver pact verify` prints: one line per finding, JSON with stable codes, JUnit XML."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

from .verify import Finding, PactResult

EXIT_COMPATIBLE = 0
EXIT_INCOMPATIBLE = 1
EXIT_UNREADABLE = 2


def exit_code(results: list[PactResult]) -> int:
    if any(result.unreadable for result in results):
        return EXIT_UNREADABLE
    return EXIT_COMPATIBLE if all(result.compatible for result in results) else EXIT_INCOMPATIBLE


def finding_line(path: str, finding: Finding) -> str:
    """`FILE: "interaction": code at POINTER (spec SPEC#POINTER): what differs`."""
    spec = f" (spec {finding.spec_at})" if finding.spec_at else ""
    return f'{path}: "{finding.interaction}": {finding.code} at {finding.pact_at}{spec}: {finding.message}'


def text_report(results: list[PactResult]) -> str:
    lines = []
    for result in results:
        if result.unreadable:
            lines.append(f"{result.path}: unreadable: {result.unreadable}")
            continue
        lines += [finding_line(result.path, finding) for finding in result.findings]
    checked = sum(len(result.interactions) for result in results)
    failed = sum(len(_failed(result)) for result in results)
    verdict = {0: "compatible", 1: "not compatible", 2: "not checked: a file cannot be read"}
    lines.append(
        f"{checked} interaction(s) in {len(results)} file(s), {failed} with errors: "
        f"{verdict[exit_code(results)]}"
    )
    return "\n".join(lines)


def json_report(results: list[PactResult]) -> str:
    files: list[dict[str, Any]] = []
    for result in results:
        files.append(
            {
                "path": result.path,
                "unreadable": result.unreadable,
                "compatible": result.compatible,
                "interactions": len(result.interactions),
                "findings": [finding.to_json() for finding in result.findings],
            }
        )
    code = exit_code(results)
    return json.dumps({"compatible": code == EXIT_COMPATIBLE, "exit_code": code, "files": files}, indent=2)


def write_junit(results: list[PactResult], path: Path) -> None:
    """One test suite per Pact file, one test case per interaction, a failure per finding."""
    suites = ElementTree.Element("testsuites", name="mockserver pact verify")
    for result in results:
        suite = ElementTree.SubElement(suites, "testsuite", name=result.path)
        cases = 0
        failures = 0
        if result.unreadable:
            case = ElementTree.SubElement(suite, "testcase", name="read", classname=result.path)
            ElementTree.SubElement(case, "error", message=result.unreadable)
            suite.set("errors", "1")
            cases = 1
        for interaction in result.interactions:
            case = ElementTree.SubElement(
                suite, "testcase", name=interaction.description, classname=result.path
            )
            cases += 1
            found = [f for f in result.findings if f.error and _of(f, interaction.at)]
            for finding in found:
                failure = ElementTree.SubElement(case, "failure", message=finding.message, type=finding.code)
                failure.text = finding_line(result.path, finding)
            failures += bool(found)
        for finding in result.findings:
            if not finding.error:
                case = ElementTree.SubElement(
                    suite, "testcase", name=finding.interaction, classname=result.path
                )
                ElementTree.SubElement(case, "skipped", message=finding.message)
                cases += 1
        suite.set("tests", str(cases))
        suite.set("failures", str(failures))
    path.parent.mkdir(parents=True, exist_ok=True)
    ElementTree.ElementTree(suites).write(path, encoding="utf-8", xml_declaration=True)


def _of(finding: Finding, interaction_at: str) -> bool:
    return finding.pact_at == interaction_at or finding.pact_at.startswith(interaction_at + "/")


def _failed(result: PactResult) -> set[str]:
    """The interactions (their pointers) with an error."""
    return {
        interaction.at
        for interaction in result.interactions
        if any(finding.error and _of(finding, interaction.at) for finding in result.findings)
    }
