"""The results: medians per row, the markdown tables and report, results.json."""

from __future__ import annotations

import shlex
from dataclasses import dataclass

from benchlib.common import rel
from benchlib.formats import fmt_errors, fmt_mib, fmt_ms, fmt_ratio
from benchlib.servers import POLL_INTERVAL, PROBE_PATH, BenchServer
from benchlib.tables import (
    keep_results,
    markdown_report,
    markdown_table,
    median_of,
    servers_table,
    startup_median,
    startup_spread,
)
from benchlib.workspace import Workspace

from .load import Sample
from .options import Options
from .scenarios import Scenario

RESULTS_HEAD = [
    "server",
    "scenario",
    "conns",
    "req/s (median)",
    "req/s ×Prism",
    "p50",
    "p99",
    "p99 ×Prism",
    "CPU/req",
    "CPU/req ×Prism",
    "errors",
    "bytes/resp",
    "start-up",
    "RSS after load",
]


@dataclass
class Row:
    server: BenchServer
    scenario: Scenario
    conns: int
    samples: list[Sample]

    def med(self, attr: str) -> float:
        return median_of(self.samples, attr)


@dataclass
class Results:
    """Everything a finished run measured, as the report and results.json need it."""

    options: Options
    workspace: Workspace
    servers: list[BenchServer]
    scenarios: list[Scenario]
    checks: dict[tuple[str, str], str]
    samples: list[Sample]
    mock_extra: list[str]


def build_rows(
    servers: list[BenchServer], scenarios: list[Scenario], conns_list: list[int], samples: list[Sample]
) -> list[Row]:
    rows = []
    for sc in scenarios:
        for c in conns_list:
            for sv in servers:
                picked = [s for s in samples if s.server == sv.key and s.scenario == sc.key and s.conns == c]
                if picked:
                    rows.append(Row(sv, sc, c, picked))
    return rows


def row_cells(r: Row, base: Row | None) -> list[str]:
    """One line of the results table; `base` is Prism (static)'s row of the same case."""
    rps, p99 = r.med("rps"), r.med("p99_ms")
    rps_ratio = rps / base.med("rps") if base and base.med("rps") else None
    p99_ratio = p99 / base.med("p99_ms") if base and base.med("p99_ms") else None
    cpu = r.med("cpu_us_per_request")
    cpu_ratio = cpu / base.med("cpu_us_per_request") if base and base.med("cpu_us_per_request") else None
    requests = sum(s.requests for s in r.samples)
    errors = sum(s.errors for s in r.samples)
    socket_errors = sum(s.socket_errors for s in r.samples)
    return [
        r.server.label,
        f"`{r.scenario.key}`",
        str(r.conns),
        f"{rps:,.0f}",
        fmt_ratio(rps_ratio),
        fmt_ms(r.med("p50_ms")),
        fmt_ms(p99),
        fmt_ratio(p99_ratio),
        f"{cpu:,.0f} µs",
        fmt_ratio(cpu_ratio),
        fmt_errors(errors, requests, socket_errors),
        f"{r.med('bytes_per_resp'):,.0f}",
        startup_median(r.server),
        fmt_mib(r.server.rss_after_kib),
    ]


def results_table(rows: list[Row], ref_key: str) -> str:
    ref = {(r.scenario.key, r.conns): r for r in rows if r.server.key == ref_key}
    return markdown_table(RESULTS_HEAD, (row_cells(r, ref.get((r.scenario.key, r.conns))) for r in rows))


def run_servers_table(servers: list[BenchServer]) -> str:
    return servers_table(servers, "start-up median (min–max, n)", startup_spread)


def settings_line(options: Options, mock_extra: list[str]) -> str:
    return (
        f"wrk {options.duration} s × {options.repeat} repeat(s) per server and case, interleaved; "
        f"{options.threads} threads (1 at 1 connection); timeout {options.timeout} s; warm-up "
        f"{options.warmup} s per scenario; mockserver options: "
        f"`{shlex.join(rel(a) for a in mock_extra) or '(defaults)'}`"
        + (f"; prism options: `{options.prism_args}`" if options.prism_args else "")
    )


def scenarios_table(results: Results) -> str:
    servers = results.servers
    head = ["scenario", "request", *(f"{s.label} answers" for s in servers)]
    rows = (
        [
            f"`{sc.key}`",
            f"`{sc.title}`{' with `' + sc.body + '`' if sc.body else ''}",
            *(results.checks.get((s.key, sc.key), "–") for s in servers),
        ]
        for sc in results.scenarios
    )
    return markdown_table(head, rows)


HOW_TO_READ = f"""## How to read it

- **req/s** is the median over the repeats of wrk's requests / duration; **p50/p99** are medians of the
  per-run percentiles of wrk's latency histogram (`done()` hook of `bench/wrk/request.lua`).
- **req/s ×Prism** > 1 means mockserver serves more requests per second than Prism on that row;
  **p99 ×Prism** < 1 means a lower tail latency.
- **CPU/req** is the user + system CPU time of the server's whole process tree (from `/proc`, granian's
  supervisor and worker, Prism's node) over the run, divided by the requests it served, median over the
  repeats: steadier than req/s on a shared machine, since it does not count time spent waiting for a
  core. **CPU/req ×Prism** < 1 means mockserver spends less CPU per answer than Prism.
- **errors** = socket errors (connect, read, write, timeout) + responses with status ≥ 400 (wrk's
  "Non-2xx or 3xx responses"), summed over all repeats, with the share of all requests.
- **bytes/resp** is the mean bytes read per response, headers included: Prism in static mode answers
  the spec's example, mockserver computes the real page, so the two do not do the same work.
- **start-up**: median time from spawning the process to its first 2xx answer to
  `GET {PROBE_PATH}` (polled every {POLL_INTERVAL * 1000:.0f} ms). **RSS**: VmRSS summed over the
  server's process tree, after all the load (mockserver keeps every click event it is sent).
- The machine is shared and noisy: compare rows of one run; the load averages above hint at noise.
"""


def render_report(results: Results, table: str) -> str:
    """The markdown report: settings, results, servers, scenarios, machine, how to read it."""
    return markdown_report(
        "mockserver vs Prism",
        results.workspace.info,
        [settings_line(results.options, results.mock_extra), table],
        {"Servers": run_servers_table(results.servers), "Scenarios": scenarios_table(results)},
        HOW_TO_READ,
    )


def publish(results: Results) -> None:
    """Print the tables; write the report to --output and the run's folder, and results.json."""
    rows = build_rows(results.servers, results.scenarios, results.options.conns, results.samples)
    table = results_table(rows, "prism")
    report = render_report(results, table)
    print(table)
    print()
    print(run_servers_table(results.servers))
    keep_results(
        results,
        report,
        scenarios=[vars(sc) for sc in results.scenarios],
        checks={f"{k[0]} {k[1]}": v for k, v in results.checks.items()},
        samples=[vars(s) for s in results.samples],
    )
