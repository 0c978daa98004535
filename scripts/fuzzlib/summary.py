"""The campaign's summary as printed: coverage, cases, failures by check, how to reproduce each."""

from __future__ import annotations

from collections.abc import Sequence

from mockserver.live import LiveServer

from .options import CampaignOptions
from .results import Summary

RULE = "=" * 30


def format_summary(
    summary: Summary,
    *,
    options: CampaignOptions,
    server: LiveServer,
    wall_time: float,
    reasons: Sequence[str],
) -> str:
    out = ["", f"{RULE} fuzzing campaign {RULE}"]
    out += figures(summary)
    duration = f"{summary.duration:.1f}s" if summary.duration is not None else "?"
    out.append(f"duration:           schemathesis {duration}, whole campaign {wall_time:.1f}s")
    out.append(
        f"settings:           -n {options.examples}, seed {options.seed}, workers {options.workers}, "
        f"phases {','.join(options.phases)}, modes positive+negative, all checks"
    )
    out.append(f"reports:            {options.report_dir} (schemathesis.log, junit.xml, report.json)")
    if summary.reproductions:
        out += reproductions(summary, options, server)
    out.append("")
    out.append("result: " + ("PASS" if not reasons else "FAIL - " + "; ".join(reasons)))
    return "\n".join(out)


def figures(summary: Summary) -> list[str]:
    """Operations covered, cases, failures by check code, errors, warnings, stateful link notes."""
    total = summary.operations_total
    covered = len(summary.covered) if summary.covered or summary.not_covered else summary.operations_tested
    out = [f"operations covered: {covered}/{total}"]
    if summary.not_covered:
        out.append(f"  not covered: {', '.join(summary.not_covered)}")
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


def reproductions(summary: Summary, options: CampaignOptions, server: LiveServer) -> list[str]:
    """The server's command, then each failing case with its checks, curl lines and `st replay`."""
    out = ["", "reproduce: start the same server, then curl or replay each case:"]
    out.append("  " + " ".join(server.argv))
    for repro in summary.reproductions:
        out.append(f"- {repro.operation}  case {repro.case_id}: {'; '.join(repro.checks)}")
        for curl in repro.curl:
            out.append(f"    {curl}")
        out.append(
            f"    st --config-file {options.config_path} replay {repro.case_id} "
            f"--url {server.base or 'http://127.0.0.1:PORT'}"
        )
    return out
