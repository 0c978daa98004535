"""How figures are written in the log and the tables."""

from __future__ import annotations


def fmt_ms(ms: float) -> str:
    return f"{ms:.2f} ms" if ms < 100 else f"{ms:.0f} ms"


def fmt_ratio(x: float | None) -> str:
    return "–" if x is None else f"{x:.2f}×"


def fmt_mib(kib: int) -> str:
    return f"{kib / 1024:.0f} MiB"


def fmt_errors(errors: int, requests: int, socket_errors: int) -> str:
    """Errors with their share of requests, and how many were socket errors."""
    if errors == 0:
        return "0"
    pct = 100 * errors / requests if requests else 100.0
    detail = f", {socket_errors} socket" if socket_errors else ""
    return f"{errors} ({pct:.1f}%{detail})"
