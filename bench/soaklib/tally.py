"""Counts and latencies. Each thread keeps its own `Tally`; they are merged when the load ends."""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field

READER_KINDS = ("list-available", "list-wholesalers", "list-business", "get-partner")
WRITER_KINDS = ("click-event", "connect-patch", "connect-delete")
GOOD_KINDS = READER_KINDS + WRITER_KINDS
HOSTILE_KINDS = (
    "stall-body",
    "stall-headers",
    "truncated-body",
    "oversize-body",
    "malformed-json",
    "lowercase-method",
    "gzip-body",
    "recursive-scenario",
    "backtracking-rule",
    "backtracking-find",
    "chunked-flood",
    "idle-flood",
    "slow-upstream",
    "trickle-upstream",
)
HOSTILE_EXPECTED = {
    "stall-body": "408 or closed",
    "stall-headers": "408 or closed",
    "truncated-body": "400 or closed",
    "oversize-body": "413",
    "malformed-json": "400",
    "lowercase-method": "405",
    "gzip-body": "415",
    "recursive-scenario": "400",
    "backtracking-rule": "422 naming the field, or a quick answer",
    "backtracking-find": "422 naming the field, or a quick answer",
    "chunked-flood": "413 while sending, closed",
    "idle-flood": "closed (shed) or open",
    "slow-upstream": "504 in time",
    "trickle-upstream": "504 in time",
}
ACCEPTED: dict[str, frozenset[str]] = {
    "recursive-scenario": frozenset({"400"}),
    "backtracking-rule": frozenset({"422 naming path_pattern", "201, answered quickly"}),
    "backtracking-find": frozenset({"422 naming path_pattern", "200, answered quickly"}),
    "chunked-flood": frozenset({"413, closed", "reset"}),
    "idle-flood": frozenset({"closed"}),
    "slow-upstream": frozenset({"504"}),
    "trickle-upstream": frozenset({"504"}),
}
"""Every outcome a server holding its bounds may give, for the kinds checked strictly (the others'
expectations are reported, not enforced)."""
MAY_SEND_NONE = frozenset({"idle-flood"})
"""Hostile kinds that may count nothing sent in a run: the idle flood counts the connections the server
closes, and a server that keeps every idle connection open closes none."""
PROBE_KINDS = ("probe-mock", "probe-proxy")
"""Health checks on fresh connections: to the mock, and to the proxy in front of the slow upstream."""
ERROR_SAMPLES = 20


@dataclass
class Tally:
    sent: Counter[str] = field(default_factory=Counter)
    ok: Counter[str] = field(default_factory=Counter)
    outcomes: Counter[tuple[str, str]] = field(default_factory=Counter)
    """(kind, status or error name) -> count, good and hostile requests alike"""
    transport_errors: Counter[str] = field(default_factory=Counter)
    server_errors: Counter[str] = field(default_factory=Counter)
    """5xx answers by kind"""
    latencies_ms: dict[str, list[float]] = field(default_factory=dict)
    error_samples: list[str] = field(default_factory=list)
    cut_at_end: Counter[str] = field(default_factory=Counter)
    """hostile connections still waiting when the load stopped (closed, not counted as outcomes)"""

    def good(self, kind: str, outcome: int | BaseException, expected: int, seconds: float) -> bool:
        """Record one good client's request; True when it got the expected status."""
        self.sent[kind] += 1
        self.latencies_ms.setdefault(kind, []).append(seconds * 1000)
        if isinstance(outcome, BaseException):
            self.transport_errors[kind] += 1
            self.outcomes[kind, type(outcome).__name__] += 1
            self._sample(f"{kind}: {type(outcome).__name__}: {outcome}")
            return False
        self.outcomes[kind, str(outcome)] += 1
        if outcome >= 500:
            self.server_errors[kind] += 1
        if outcome != expected:
            self._sample(f"{kind}: status {outcome}, expected {expected}")
            return False
        self.ok[kind] += 1
        return True

    def hostile(self, kind: str, outcome: str) -> None:
        self.sent[kind] += 1
        self.outcomes[kind, outcome] += 1
        status = outcome.split(",")[0].split()[0] if outcome else ""
        if status.isdigit() and int(status) >= 500 and outcome not in ACCEPTED.get(kind, ()):
            self.server_errors[kind] += 1

    def probe(self, kind: str, outcome: int | BaseException, seconds: float) -> None:
        """Record one probe: its latency, and its status (200 expected) or transport error."""
        self.sent[kind] += 1
        self.latencies_ms.setdefault(kind, []).append(seconds * 1000)
        name = type(outcome).__name__ if isinstance(outcome, BaseException) else str(outcome)
        self.outcomes[kind, name] += 1
        if name == "200":
            self.ok[kind] += 1
        else:
            self._sample(f"{kind}: {name}")

    def _sample(self, text: str) -> None:
        if len(self.error_samples) < ERROR_SAMPLES:
            self.error_samples.append(text)

    def merge(self, other: Tally) -> None:
        self.sent.update(other.sent)
        self.ok.update(other.ok)
        self.outcomes.update(other.outcomes)
        self.transport_errors.update(other.transport_errors)
        self.server_errors.update(other.server_errors)
        self.cut_at_end.update(other.cut_at_end)
        for kind, values in other.latencies_ms.items():
            self.latencies_ms.setdefault(kind, []).extend(values)
        self.error_samples += other.error_samples[: max(0, ERROR_SAMPLES - len(self.error_samples))]


def percentile(sorted_values: list[float], q: float) -> float:
    """Nearest-rank percentile of an ascending list (0 for an empty one)."""
    if not sorted_values:
        return 0.0
    rank = max(1, math.ceil(q / 100 * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


def latency_summary(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {
        "count": len(ordered),
        "p50_ms": round(percentile(ordered, 50), 3),
        "p99_ms": round(percentile(ordered, 99), 3),
        "max_ms": round(ordered[-1], 3) if ordered else 0.0,
    }
