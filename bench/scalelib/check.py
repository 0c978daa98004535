"""Every URL of the varied load asked once of each server before the load: statuses counted."""

from __future__ import annotations

import http.client
import json
from collections import Counter
from dataclasses import dataclass, field

from benchlib.servers import BenchServer

EXAMPLES = 5


@dataclass
class CheckResult:
    statuses: Counter[int] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)
    """A few non-2xx answers: status, path, the start of the body."""
    bytes_total: int = 0
    empty_pages: int = 0
    """2xx answers whose JSON:API `data` is an empty list (a filter or page with no partner)."""

    @property
    def requests(self) -> int:
        return sum(self.statuses.values())

    @property
    def non_2xx(self) -> int:
        return sum(n for status, n in self.statuses.items() if not 200 <= status < 300)

    def summary(self) -> str:
        spread = ", ".join(f"{n:,} × {status}" for status, n in sorted(self.statuses.items()))
        mean = self.bytes_total / self.requests if self.requests else 0
        empty = f", {self.empty_pages:,} with an empty `data`" if self.empty_pages else ""
        return f"{spread} (mean body {mean:,.0f} B{empty})"


def empty_data(body: bytes) -> bool:
    try:
        return bool(json.loads(body).get("data") == [])
    except (ValueError, AttributeError):
        return False


def check_urls(server: BenchServer, lines: list[tuple[str | None, str]]) -> CheckResult:
    """One GET of each (token, path), over one keep-alive connection (a new one after a failure)."""
    result = CheckResult()
    conn: http.client.HTTPConnection | None = None
    for token, path in lines:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        for attempt in (1, 2):
            if conn is None:
                conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
            try:
                conn.request("GET", path, headers=headers)
                response = conn.getresponse()
                body = response.read()
                break
            except (OSError, http.client.HTTPException):
                conn.close()
                conn = None
                if attempt == 2:
                    raise
        result.statuses[response.status] += 1
        result.bytes_total += len(body)
        if 200 <= response.status < 300 and empty_data(body):
            result.empty_pages += 1
        if not 200 <= response.status < 300 and len(result.failures) < EXAMPLES:
            result.failures.append(f"{response.status} GET {path}: {body[:200]!r}")
    if conn is not None:
        conn.close()
    return result
