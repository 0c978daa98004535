"""The run's figures as one JSON-able dict, and the summary printed from it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .checks import Invariant
from .tally import (
    ACCEPTED,
    GOOD_KINDS,
    HOSTILE_EXPECTED,
    HOSTILE_KINDS,
    PROBE_KINDS,
    READER_KINDS,
    WRITER_KINDS,
    Tally,
    latency_summary,
)


@dataclass(frozen=True)
class RunInfo:
    target: str
    server_args: list[str]
    seed: int
    duration_s: float
    elapsed_s: float
    threads: dict[str, int]
    read_timeout_s: float
    hostile_wait_s: float
    rss_kib: dict[str, int] | None
    """start, end and peak RSS of the server's process tree (None when its pid is unknown)"""
    server_exit: str | None
    """how the server this command started had ended before the checks (None: still running)"""
    max_latency_s: float | None
    """--max-latency: a good request slower than this is a failure (None: no limit)"""
    hostile_kinds: list[str]
    """the hostile kinds that ran (--hostile)"""
    idle: int
    """idle connections the idle flood held (0: it did not run)"""
    flood_mib: float
    proxy: str | None
    """the proxy started in front of the slow upstream (None: not started)"""


SLOW_MS = 1000.0
"""Good requests slower than this are counted (and printed) as slow."""


def mib(kib: int) -> float:
    return round(kib / 1024, 1)


def build(info: RunInfo, tally: Tally, invariants: dict[str, Invariant]) -> dict[str, Any]:
    requests = {
        kind: {
            "sent": tally.sent[kind],
            "ok": tally.ok[kind],
            "statuses": {out: n for (k, out), n in sorted(tally.outcomes.items()) if k == kind},
        }
        for kind in GOOD_KINDS
    }
    good_sent = sum(tally.sent[k] for k in GOOD_KINDS)
    good_ok = sum(tally.ok[k] for k in GOOD_KINDS)
    reader_all = [v for k in READER_KINDS for v in tally.latencies_ms.get(k, [])]
    hostile = {
        kind: {
            "sent": tally.sent[kind],
            "expected": HOSTILE_EXPECTED[kind],
            "accepted": sorted(ACCEPTED[kind]) if kind in ACCEPTED else None,
            "ran": kind in info.hostile_kinds,
            "outcomes": {out: n for (k, out), n in sorted(tally.outcomes.items()) if k == kind},
            "cut_at_end": tally.cut_at_end[kind],
        }
        for kind in HOSTILE_KINDS
    }
    good_latencies = [v for k in GOOD_KINDS for v in tally.latencies_ms.get(k, [])]
    slow = sum(1 for v in good_latencies if v > SLOW_MS)
    slowest = max(good_latencies, default=0.0)
    five_xx = sum(tally.server_errors.values())
    transport = sum(tally.transport_errors[k] for k in GOOD_KINDS)
    failures = []
    if five_xx:
        failures.append(f"{five_xx} responses with status 5xx")
    if good_sent != good_ok:
        failures.append(f"{good_sent - good_ok} good requests failed ({transport} transport errors)")
    if info.max_latency_s is not None and slowest > info.max_latency_s * 1000:
        over = sum(1 for v in good_latencies if v > info.max_latency_s * 1000)
        failures.append(f"{over} good requests slower than --max-latency {info.max_latency_s:g} s")
    if info.server_exit is not None:
        failures.append(f"the server {info.server_exit}")
    failures += [f"invariant failed: {inv.name}" for inv in invariants.values() if not inv.ok]
    return {
        "target": info.target,
        "server_args": info.server_args,
        "seed": info.seed,
        "duration_s": info.duration_s,
        "elapsed_s": round(info.elapsed_s, 3),
        "threads": info.threads,
        "hostile_kinds": info.hostile_kinds,
        "idle_connections": info.idle,
        "flood_mib": info.flood_mib,
        "proxy": info.proxy,
        "read_timeout_s": info.read_timeout_s,
        "hostile_wait_s": info.hostile_wait_s,
        "requests": requests,
        "good": {
            "sent": good_sent,
            "ok": good_ok,
            "failed": good_sent - good_ok,
            "throughput_rps": round(good_ok / info.elapsed_s, 1) if info.elapsed_s else 0.0,
        },
        "reader_latency": {
            "all": latency_summary(reader_all),
            **{k: latency_summary(tally.latencies_ms.get(k, [])) for k in READER_KINDS},
        },
        "writer_latency": {k: latency_summary(tally.latencies_ms.get(k, [])) for k in WRITER_KINDS},
        "probe_latency": {
            k: latency_summary(tally.latencies_ms.get(k, [])) for k in PROBE_KINDS if tally.sent[k]
        },
        "slow_requests": slow,
        "slow_threshold_ms": SLOW_MS,
        "slowest_ms": round(slowest, 3),
        "max_latency_s": info.max_latency_s,
        "five_xx": five_xx,
        "five_xx_by_kind": dict(sorted(tally.server_errors.items())),
        "transport_errors": transport,
        "transport_errors_by_kind": {
            k: tally.transport_errors[k] for k in GOOD_KINDS if tally.transport_errors[k]
        },
        "hostile": hostile,
        "rss_mib": {k: mib(v) for k, v in info.rss_kib.items()} if info.rss_kib is not None else None,
        "server_exit": info.server_exit,
        "invariants": {key: inv.as_json() for key, inv in invariants.items()},
        "error_samples": tally.error_samples,
        "failures": failures,
        "ok": not failures,
    }


def ms(value: float) -> str:
    return f"{value:.2f} ms" if value < 100 else f"{value:,.0f} ms"


def render(report: dict[str, Any]) -> str:
    """The summary printed at the end of a run."""
    args = " ".join(report["server_args"])
    lines = [
        f"soak: {report['elapsed_s']:.1f} s of load (--duration {report['duration_s']:g}) against "
        f"{report['target']}{' ' + args if args else ''}, seed {report['seed']}",
        f"threads: {report['threads']['readers']} readers, {report['threads']['writers']} writers, "
        f"hostile: {report['threads']['stalled']} stalled at most + 1 malformed-request client "
        f"(they wait {report['hostile_wait_s']:g} s = read timeout {report['read_timeout_s']:g} s + margin), "
        f"1 admin attacker, chunked floods of {report['flood_mib']:g} MiB at most, "
        f"{report['idle_connections']:,} idle connections, "
        + (f"slow upstreams behind {report['proxy']}" if report["proxy"] else "no proxy")
        + "; probes on fresh connections every 0.2 s",
        "",
        f"{'good requests':<18}{'sent':>9}{'ok':>9}  statuses",
    ]
    for kind, row in report["requests"].items():
        statuses = ", ".join(f"{s}: {n}" for s, n in row["statuses"].items()) or "-"
        lines.append(f"  {kind:<16}{row['sent']:>9,}{row['ok']:>9,}  {statuses}")
    good = report["good"]
    throughput = f"throughput {good['throughput_rps']:,.1f} req/s ok"
    lines.append(f"  {'total':<16}{good['sent']:>9,}{good['ok']:>9,}  {throughput}")
    lines += ["", f"{'latency':<25}{'count':>9}{'p50':>12}{'p99':>12}{'max':>12}"]
    rows = [(f"reader {kind}", row) for kind, row in report["reader_latency"].items()]
    rows += [(f"writer {kind}", row) for kind, row in report["writer_latency"].items()]
    rows += [(kind, row) for kind, row in report["probe_latency"].items()]
    for label, row in rows:
        figures = "".join(f"{ms(row[key]):>12}" for key in ("p50_ms", "p99_ms", "max_ms"))
        lines.append(f"  {label:<23}{row['count']:>9,}{figures}")
    by_kind = ", ".join(f"{k}: {n}" for k, n in report["five_xx_by_kind"].items())
    lines += [
        "",
        f"5xx responses: {report['five_xx']}{f' ({by_kind})' if by_kind else ''}  "
        f"[{'ok' if not report['five_xx'] else 'FAILED'}]",
        f"good requests slower than {report['slow_threshold_ms'] / 1000:g} s: {report['slow_requests']:,} "
        f"(slowest {ms(report['slowest_ms'])})",
        f"transport errors of good clients: {report['transport_errors']}"
        + (
            f" ({', '.join(f'{k}: {n}' for k, n in report['transport_errors_by_kind'].items())})"
            if report["transport_errors"]
            else ""
        ),
        "",
        f"{'hostile clients':<22}{'sent':>7}  {'expected':<41}outcomes",
    ]
    for kind, row in report["hostile"].items():
        if not row["ran"]:
            continue
        outcomes = ", ".join(f"{s}: {n}" for s, n in row["outcomes"].items()) or "-"
        cut = f"; {row['cut_at_end']} still open at the end" if row["cut_at_end"] else ""
        lines.append(f"  {kind:<20}{row['sent']:>7,}  {row['expected']:<41}{outcomes}{cut}")
    rss = report["rss_mib"]
    lines += [
        "",
        "RSS of the server's process tree: "
        + (
            f"start {rss['start']:.1f} MiB, end {rss['end']:.1f} MiB (peak {rss['peak']:.1f} MiB)"
            if rss
            else "n/a (pass --pid with --url)"
        ),
    ]
    if report["server_exit"]:
        lines.append(f"server: {report['server_exit']}  [FAILED]")
    lines.append("")
    for inv in report["invariants"].values():
        lines.append(f"invariant {inv['name']}: {inv['detail']}  [{'ok' if inv['ok'] else 'FAILED'}]")
        lines += [f"    {sample}" for sample in inv.get("mismatch_samples", [])]
    if report["error_samples"]:
        lines += ["", "first failures of good requests:"] + [f"  {s}" for s in report["error_samples"]]
    lines += ["", "result: " + ("ok" if report["ok"] else "FAILED: " + "; ".join(report["failures"]))]
    return "\n".join(lines)
