"""The scale-out results: medians per (load, server), ratios to 1 worker in-memory and to Prism, the
markdown report and results.json."""

from __future__ import annotations

import json
import shlex
import statistics
from dataclasses import dataclass

from benchlib.common import rel
from benchlib.formats import fmt_mib, fmt_ms, fmt_ratio
from benchlib.servers import BenchServer
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


def median(samples: list[Sample], attr: str) -> float:
    return float(statistics.median(float(getattr(s, attr)) for s in samples))


def ratio(x: float, base: float | None) -> float | None:
    return x / base if base else None


def results_table(results: Results) -> str:
    lines = ["| " + " | ".join(HEAD) + " |", "|" + "|".join("---" for _ in HEAD) + "|"]
    for load in results.loads:
        picked = {
            s.key: [smp for smp in results.samples if smp.server == s.key and smp.load == load.key]
            for s in results.servers
        }
        rps = {k: median(v, "rps") for k, v in picked.items() if v}
        p99 = {k: median(v, "p99_ms") for k, v in picked.items() if v}
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
                f"{median(smps, 'bytes_per_resp'):,.0f}",
                f"{median(smps, 'cpu_us_per_request'):,.0f} µs",
            ]
            lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def servers_table(servers: list[BenchServer]) -> str:
    lines = [
        "| server | command | start-up | RSS idle (after warm-up) | RSS after load |",
        "|---|---|---|---|---|",
    ]
    for s in servers:
        startup = f"{statistics.median(s.startups):.2f} s" if s.startups else "–"
        lines.append(
            f"| {s.label} | `{shlex.join(rel(a) for a in s.argv)}` | {startup} | {fmt_mib(s.rss_idle_kib)} "
            f"| {fmt_mib(s.rss_after_kib)} |"
        )
    return "\n".join(lines)


def checks_table(results: Results) -> str:
    lines = ["| load | server | answers to one request of each URL before the load |", "|---|---|---|"]
    for (server_key, load_key), check in results.checks.items():
        label = next(s.label for s in results.servers if s.key == server_key)
        lines.append(f"| `{load_key}` | {label} | {check.summary()} |")
    return "\n".join(lines)


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
    info = results.workspace.info
    machine = "\n".join(f"| {k} | {v} |" for k, v in info.items())
    notes = "\n".join(f"- {n}" for n in results.notes)
    return f"""# mockserver scale-out — {info["date"]}

{settings_line(results.options)}

{table}
{"" if not notes else chr(10) + "## Notes" + chr(10) + chr(10) + notes + chr(10)}
## Loads

{loads_section(results)}

{checks_table(results)}

## Servers

{servers_table(results.servers)}

## Machine

| | |
|---|---|
{machine}

{HOW_TO_READ}"""


def results_json(results: Results) -> str:
    return json.dumps(
        {
            "info": results.workspace.info,
            "settings": results.options.as_json(),
            "servers": [
                {
                    "key": s.key,
                    "label": s.label,
                    "argv": s.argv,
                    "startups_s": s.startups,
                    "rss_idle_kib": s.rss_idle_kib,
                    "rss_after_kib": s.rss_after_kib,
                }
                for s in results.servers
            ],
            "loads": [vars(load) for load in results.loads],
            "checks": {
                f"{server} {load}": {str(k): v for k, v in c.statuses.items()}
                for (server, load), c in results.checks.items()
            },
            "notes": results.notes,
            "samples": [vars(s) for s in results.samples],
        },
        indent=2,
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
    output = results.options.output
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(report)
    run_dir = results.workspace.run_dir
    (run_dir / "report.md").write_text(report)
    (run_dir / "results.json").write_text(results_json(results))
    return report
