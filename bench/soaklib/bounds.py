"""The bounds a server must hold under the hostile clients, checked once the load has stopped: it still
answers, new connections are served quickly (the probes' p99), its memory stays bounded, and every
strictly checked hostile kind got only accepted outcomes."""

from __future__ import annotations

from .checks import Invariant
from .client import TRANSPORT_ERRORS, Client
from .tally import ACCEPTED, MAY_SEND_NONE, Tally, latency_summary

OUTCOME_SAMPLES = 5


def check_answering(client: Client) -> Invariant:
    """`/__admin/health` answers 200 after the load (a frozen server does not: the state is not read)."""
    name = "server answers /__admin/health after the load"
    try:
        status, _ = client.send("GET", "/__admin/health")
    except TRANSPORT_ERRORS as exc:
        return Invariant(name, False, f"no answer: {type(exc).__name__}: {exc}")
    return Invariant(name, status == 200, f"status {status}")


def check_probes(tally: Tally, kind: str, label: str, p99_bound_s: float) -> Invariant:
    """Every probe got a 200, and their p99 latency is within the bound."""
    name = f"{label}: probes on fresh connections all 200, p99 <= {p99_bound_s:g} s"
    summary = latency_summary(tally.latencies_ms.get(kind, []))
    failed = tally.sent[kind] - tally.ok[kind]
    ok = summary["count"] > 0 and failed == 0 and summary["p99_ms"] <= p99_bound_s * 1000
    detail = (
        f"{summary['count']} probes, {failed} failed, p50 {summary['p50_ms']:.1f} ms, "
        f"p99 {summary['p99_ms']:.1f} ms, max {summary['max_ms']:.1f} ms"
    )
    return Invariant(name, ok, detail, {"latency": summary, "failed": failed})


def check_rss(rss_kib: dict[str, int] | None, bound_mib: float) -> Invariant:
    """The server's process tree never grew past its RSS at the start plus the bound."""
    name = f"RSS: peak <= start + {bound_mib:g} MiB"
    if rss_kib is None:
        return Invariant(name, True, "not measured (pass --pid with --url)")
    growth = (rss_kib["peak"] - rss_kib["start"]) / 1024
    detail = f"start {rss_kib['start'] / 1024:.1f} MiB, peak {rss_kib['peak'] / 1024:.1f} MiB (+{growth:.1f})"
    return Invariant(name, growth <= bound_mib, detail, {"growth_mib": round(growth, 1)})


def check_hostile_outcomes(tally: Tally, kinds: frozenset[str]) -> Invariant:
    """Each strictly checked kind that ran got only the outcomes a server holding its bounds gives."""
    name = "hostile outcomes: only the accepted ones (kinds with strict expectations)"
    checked = sorted(kind for kind in kinds if kind in ACCEPTED)
    unexpected = {
        kind: {
            out: n
            for (k, out), n in sorted(tally.outcomes.items())
            if k == kind and out not in ACCEPTED[kind]
        }
        for kind in checked
    }
    unexpected = {kind: outs for kind, outs in unexpected.items() if outs}
    silent = [kind for kind in checked if tally.sent[kind] == 0 and kind not in MAY_SEND_NONE]
    parts = [
        f"{kind}: " + ", ".join(f"{o}: {n}" for o, n in list(outs.items())[:OUTCOME_SAMPLES])
        for kind, outs in unexpected.items()
    ]
    parts += [f"{kind}: none sent" for kind in silent]
    detail = "; ".join(parts) if parts else f"{len(checked)} kinds checked, all as accepted"
    return Invariant(name, not parts, detail, {"unexpected": unexpected, "none_sent": silent})
