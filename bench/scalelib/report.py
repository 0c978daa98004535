"""The scale-out results: medians per (load, server), ratios to 1 worker in-memory and to Prism, the
markdown report and results.json."""

from __future__ import annotations

from dataclasses import dataclass

from benchlib.formats import fmt_ms, fmt_ratio
from benchlib.servers import BenchServer
from benchlib.tables import (
    keep_results,
    markdown_report,
    markdown_table,
    median_of,
    servers_table,
    startup_median,
)
from benchlib.workspace import Workspace

from .check import CheckResult
from .load import Load, Sample
from .options import Options
from .urls import UrlSet

BASELINE = "memory"
PRISM = "prism"
HEAD = [
    "load",
    "server",
    "req/s (median)",
    "p99 (median)",
    "req/s ×1w in-memory",
    "p99 ×1w in-memory",
    "req/s ×Prism",
    "p99 ×Prism",
    "non-2xx",
    "socket errors",
    "bytes/resp",
    "CPU/req (server tree)",
]


@dataclass
class Results:
    options: Options
    workspace: Workspace
    servers: list[BenchServer]
    loads: list[Load]
    urls: UrlSet | None
    checks: dict[tuple[str, str], CheckResult]
    """(server key, load key) -> what the check before the load saw."""
    samples: list[Sample]
    notes: list[str]


def ratio(x: float, base: float | None) -> float | None:
    return x / base if base else None


def results_table(results: Results) -> str:
    rows: list[list[str]] = []
    for load in results.loads:
        picked = {
            s.key: [smp for smp in results.samples if smp.server == s.key and smp.load == load.key]
            for s in results.servers
        }
        rps = {k: median_of(v, "rps") for k, v in picked.items() if v}
        p99 = {k: median_of(v, "p99_ms") for k, v in picked.items() if v}
        for s in results.servers:
            smps = picked[s.key]
            if not smps:
                continue
            requests = sum(x.requests for x in smps)
            non2xx = sum(x.non_2xx for x in smps)
            share = f" ({100 * non2xx / requests:.1f}%)" if non2xx and requests else ""
            cells = [
                f"`{load.key}`",
                s.label,
                f"{rps[s.key]:,.0f}",
                fmt_ms(p99[s.key]),
                fmt_ratio(ratio(rps[s.key], rps.get(BASELINE))),
                fmt_ratio(ratio(p99[s.key], p99.get(BASELINE))),
                fmt_ratio(ratio(rps[s.key], rps.get(PRISM))),
                fmt_ratio(ratio(p99[s.key], p99.get(PRISM))),
                f"{non2xx}{share}",
                str(sum(x.socket_errors for x in smps)),
                f"{median_of(smps, 'bytes_per_resp'):,.0f}",
                f"{median_of(smps, 'cpu_us_per_request'):,.0f} µs",
            ]
            rows.append(cells)
    return markdown_table(HEAD, rows)


def checks_table(results: Results) -> str:
    labels = {s.key: s.label for s in results.servers}
    return markdown_table(
        ["load", "server", "answers to one request of each URL before the load"],
        (
            [f"`{load_key}`", labels[server_key], check.summary()]
            for (server_key, load_key), check in results.checks.items()
        ),
    )


def loads_section(results: Results) -> str:
    parts = []
    for load in results.loads:
        headers = "; headers: " + ", ".join(f"`{h}`" for h in load.headers) if load.headers else ""
        parts.append(f"- **`{load.key}`**: {load.title}{headers}")
    urls = results.urls
    if urls is not None:
        ops = ", ".join(f"`{op.path}` ({urls.per_operation[op.operation_id]:,})" for op in urls.operations)
        params = ", ".join(f"`{name}` {n:,}" for name, n in sorted(urls.per_param.items()))
        parts.append(f"  - operations: {ops}")
        parts.append(f"  - URLs sending each parameter: {params}")
        for op in urls.operations:
            values = ", ".join(f"`{p.name}` ({len(p.values)})" for p in op.params)
            parts.append(f"  - `{op.operation_id}` parameters (number of values): {values}")
        if urls.skipped_params:
            parts.append(f"  - parameters left out (no values known): {', '.join(urls.skipped_params)}")
    return "\n".join(parts)


def settings_line(options: Options) -> str:
    return (
        f"wrk 1 thread, {options.connections} connections, {options.duration} s × {options.repeat} "
        f"repeat(s) per server and load, the servers taking turns; timeout {options.timeout} s; warm-up "
        f"{options.warmup} s per server and load"
        + (f"; mockserver options: `{options.server_args}`" if options.server_args else "")
        + (f"; prism options: `{options.prism_args}`" if options.prism_args else "")
    )


HOW_TO_READ = """## How to read it

- **req/s** is the median over the repeats of wrk's `Requests/sec`; **p99** the median of the runs'
  99% line of wrk's `Latency Distribution` (`--latency`).
- **×1w in-memory** divides by the same load's figure of mockserver with 1 worker and in-memory state:
  req/s above 1 (and p99 below 1) is better than it; the 2-worker row's req/s ratio is the scaling factor.
- **×Prism** divides by Prism's figure on the same load. Prism (static mode) answers the spec's example
  whatever the query: compare **bytes/resp** before comparing req/s.
- **non-2xx** counts wrk's "Non-2xx or 3xx responses" (status >= 400) over all repeats.
- wrk itself takes one core; on a 2-core machine two workers share the other with Redis, so the
  scaling factor is bounded by the machine, not only by the server.
"""


def render_report(results: Results, table: str) -> str:
    """The markdown report: settings, results, notes, loads and their checks, servers, machine, how to
    read it."""
    notes = {"Notes": "\n".join(f"- {n}" for n in results.notes)} if results.notes else {}
    return markdown_report(
        "mockserver scale-out",
        results.workspace.info,
        [settings_line(results.options), table],
        {
            **notes,
            "Loads": f"{loads_section(results)}\n\n{checks_table(results)}",
            "Servers": servers_table(results.servers, "start-up", startup_median),
        },
        HOW_TO_READ,
    )


def publish(results: Results) -> str:
    """Print the table; write the report to --output and the run's folder, and results.json."""
    table = results_table(results)
    report = render_report(results, table)
    info = results.workspace.info
    print(table)
    print()
    print(
        f"machine: {info['nproc']} cores; load average at start {info['load average (start)']}, "
        f"at end {info.get('load average (end)', '?')}"
    )
    for note in results.notes:
        print(f"note: {note}")
    keep_results(
        results,
        report,
        loads=[vars(load) for load in results.loads],
        checks={
            f"{server} {load}": {str(k): v for k, v in c.statuses.items()}
            for (server, load), c in results.checks.items()
        },
        notes=results.notes,
        samples=[vars(s) for s in results.samples],
    )
    return report
