"""The campaign's summary as printed: phases, operations, cases, failures by check, how to reproduce each."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from .common import TOKEN_ENV
from .options import CampaignOptions
from .results import Summary

RULE = "=" * 30


@dataclass
class Target:
    """The server a campaign ran against: its base URL, and the command that started it (the mock)."""

    base_url: str
    argv: list[str] | None = None


def format_summary(
    summary: Summary,
    *,
    options: CampaignOptions,
    target: Target,
    wall_time: float,
    reasons: Sequence[str],
) -> str:
    out = ["", f"{RULE} fuzzing campaign {RULE}", f"server:             {target.base_url}"]
    out += figures(summary)
    duration = f"{summary.duration:.1f}s" if summary.duration is not None else "?"
    out.append(f"duration:           schemathesis {duration}, whole campaign {wall_time:.1f}s")
    out.append(
        f"settings:           -n {options.examples}, seed {options.seed}, workers {options.workers}, "
        f"phases {','.join(options.phases)}, modes positive+negative, all checks"
    )
    out.append(f"reports:            {options.report_dir} (schemathesis.log, report.json)")
    out.append(f"junit:              {options.junit_path}")
    if summary.reproductions:
        out += reproductions(summary, options, target)
    out.append("")
    out.append("result: " + ("PASS" if not reasons else "FAIL - " + "; ".join(reasons)))
    return "\n".join(out)


def figures(summary: Summary) -> list[str]:
    """Phases, operations covered and their outcomes, cases, failures by check code, errors, warnings,
    stateful link notes."""
    out = ["phases:"] if summary.phases else []
    out += [f"  {name.lower():<10} {counts}" for name, counts in summary.phases.items()]
    total = summary.operations_total
    covered = len(summary.covered) if summary.covered or summary.not_covered else summary.operations_tested
    out.append(f"operations covered: {covered}/{total}")
    out += [f"  {status:<7} {name}" for name, status in summary.outcomes.items()]
    out.append(f"cases generated:    {summary.cases}")
    out.append(f"failures:           {summary.failure_count}")
    for code, (title, count) in sorted(summary.failures.items()):
        where = ", ".join(summary.failure_operations.get(code, []))
        out.append(f"  {code} {title}: {count}" + (f"  [{where}]" if where else ""))
    out.append(f"errors:             {summary.error_count}")
    for title, count in sorted(summary.errors.items()):
        out.append(f"  {title}: {count}")
    for name, items in sorted(summary.warnings.items()):
        out.append(f"warning {name}: {', '.join(items)}")
    if summary.link_notes:
        out.append(
            f"stateful link notes: {summary.link_notes} (a link had nothing to extract, e.g. an empty page)"
        )
    return out


def reproductions(summary: Summary, options: CampaignOptions, target: Target) -> list[str]:
    """The mock's command, then each failing case with its checks, curl lines and `st replay`."""
    if target.argv is not None:
        out = [
            "",
            "reproduce: start the same mock, then curl or replay each case:",
            "  " + " ".join(target.argv),
        ]
    else:
        out = ["", f"reproduce: curl or replay each case against {target.base_url}:"]
    if options.token:
        out.append(f"  (with the token in {TOKEN_ENV}; curl lines show it masked)")
    for repro in summary.reproductions:
        out.append(f"- {repro.operation}  case {repro.case_id}: {'; '.join(repro.checks)}")
        for curl in repro.curl:
            out.append(f"    {curl}")
        out.append(
            f"    st --config-file {options.config_path} replay {repro.case_id} --url {target.base_url}"
        )
    return out
