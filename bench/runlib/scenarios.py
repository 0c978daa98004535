"""The four scenarios, with real ids read from mockserver, and one check request of each per server."""

from __future__ import annotations

import json
from dataclasses import dataclass

from benchlib.common import CLICK_BODY, BenchError, log
from benchlib.servers import BenchServer

FALLBACK_UUID = "3fa85f64-5717-4562-b3fc-2c963f66afa6"  # used only when ids cannot be read from mockserver


@dataclass
class Scenario:
    key: str
    method: str
    path: str
    body: str | None = None

    @property
    def title(self) -> str:
        return f"{self.method} {self.path}"


def discover_ids(mock: BenchServer) -> tuple[str, str, list[str]]:
    """A real business id and partner id from mockserver (Prism accepts any UUID)."""
    notes = []
    business = partner = None
    try:
        status, body = mock.request("GET", "/__admin/data")
        if status == 200:
            businesses = json.loads(body).get("businesses") or []
            business = businesses[0]["id"] if businesses else None
    except (OSError, ValueError, KeyError, TypeError):
        pass
    candidates = ["/api/v1/partners/available?per_page=1"]
    if business:
        candidates.append(f"/api/v1/partners?business_uuid={business}&per_page=1")
    for path in candidates:
        try:
            status, body = mock.request("GET", path)
            data = json.loads(body).get("data") if status == 200 else None
            if data:
                partner = data[0]["id"]
                break
        except (OSError, ValueError, KeyError, TypeError):
            continue
    if business is None:
        notes.append(f"no business id from GET /__admin/data; used {FALLBACK_UUID}")
        business = FALLBACK_UUID
    if partner is None:
        notes.append(f"no partner id from mockserver; used {FALLBACK_UUID} (expect 404s from mockserver)")
        partner = FALLBACK_UUID
    return business, partner, notes


def all_scenarios(business: str, partner: str) -> list[Scenario]:
    return [
        Scenario("list-available", "GET", "/api/v1/partners/available?per_page=25"),
        Scenario("list-business", "GET", f"/api/v1/partners?business_uuid={business}"),
        Scenario("get-partner", "GET", f"/api/v1/partners/{partner}"),
        Scenario("click-event", "POST", f"/api/v1/partners/{partner}/click_event", CLICK_BODY),
    ]


def pick_scenarios(mock: BenchServer, subset: str | None) -> list[Scenario]:
    """The scenarios to run (all, or the comma-separated `subset`), with real ids from this server."""
    business, partner, id_notes = discover_ids(mock)
    for note in id_notes:
        log(f"warning: {note}")
    scenarios = all_scenarios(business, partner)
    if not subset:
        return scenarios
    wanted = [k.strip() for k in subset.split(",") if k.strip()]
    unknown = set(wanted) - {s.key for s in scenarios}
    if unknown:
        raise BenchError(f"unknown scenario(s) {sorted(unknown)}; known: {[s.key for s in scenarios]}")
    return [s for s in scenarios if s.key in wanted]


def check_scenarios(servers: list[BenchServer], scenarios: list[Scenario]) -> dict[tuple[str, str], str]:
    """One request of each scenario to each server, to show what each answers: (server, scenario) -> text."""
    checks: dict[tuple[str, str], str] = {}
    for s in servers:
        for sc in scenarios:
            try:
                status, body = s.request(sc.method, sc.path, sc.body)
                checks[(s.key, sc.key)] = f"{status} ({len(body):,} B body)"
                if not 200 <= status < 300:
                    log(f"warning: {s.label} answers {status} to {sc.title}: {body[:300]!r}")
            except OSError as exc:
                checks[(s.key, sc.key)] = f"failed: {exc}"
                log(f"warning: {s.label} failed on {sc.title}: {exc}")
    return checks
