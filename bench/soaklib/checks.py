"""The state invariants, checked once the load has stopped."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .client import TRANSPORT_ERRORS, Client, DataSet, bearer
from .good import Pair, PairState

MISMATCH_SAMPLES = 10
INVARIANTS = ("answering", "click_events", "links", "probes", "proxy_probes", "rss", "hostile_outcomes")
"""Every invariant of a run with the proxy, by its key in the report (`proxy_probes` only with it)."""


@dataclass
class Invariant:
    name: str
    ok: bool
    detail: str
    figures: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {"name": self.name, "ok": self.ok, "detail": self.detail, **self.figures}


def click_meta(client: Client) -> dict[str, int]:
    meta = client.get_json("/__admin/click-events")["meta"]
    return {"stored": int(meta["stored"]), "dropped": int(meta["dropped"]), "limit": int(meta["limit"])}


def check_click_events(client: Client, baseline: dict[str, int], created: int) -> Invariant:
    """stored + dropped grew by exactly the 201s the writers counted: nothing lost, and no hostile
    (truncated, malformed, lower-case, gzip) click post stored."""
    name = "click events: stored + dropped == 201s counted"
    try:
        meta = click_meta(client)
    except (*TRANSPORT_ERRORS, RuntimeError, KeyError, ValueError) as exc:
        return Invariant(name, False, f"could not read /__admin/click-events: {exc}")
    grown = meta["stored"] + meta["dropped"] - baseline["stored"] - baseline["dropped"]
    before = (
        f" (minus {baseline['stored'] + baseline['dropped']} before the soak)"
        if any(baseline.values())
        else ""
    )
    detail = f"stored {meta['stored']} + dropped {meta['dropped']}{before} = {grown}; 201s counted {created}"
    figures = {**meta, "baseline": baseline, "grown": grown, "created_201": created}
    return Invariant(name, grown == created, detail, figures)


def check_links(client: Client, data: DataSet, ledgers: list[dict[Pair, PairState]]) -> Invariant:
    """For every pair with an acknowledged operation, the partner read with that user's token shows
    `user-integration-requested` true iff the last one was PATCH (and `include=users` agrees)."""
    name = "links: user-integration-requested == last acknowledged op was PATCH"
    pairs = {
        pair: state for ledger in ledgers for pair, state in ledger.items() if state.acked or state.uncertain
    }
    unsettled = sorted(pair for pair, state in pairs.items() if state.uncertain)
    mismatches: list[str] = []
    linked = 0
    for (token, partner), state in sorted(pairs.items()):
        if state.uncertain:
            continue
        expected = state.last_ack == "linked"
        linked += expected
        try:
            doc = client.get_json(f"/api/v1/partners/{partner}?include=users", bearer(token))
            flag = doc["data"]["attributes"]["user-integration-requested"]
            users = {r["id"] for r in doc.get("included", []) if r.get("type") == "users"}
        except (*TRANSPORT_ERRORS, RuntimeError, KeyError, ValueError, TypeError) as exc:
            mismatches.append(f"{token} {partner}: read failed: {exc}")
            continue
        listed = data.user_ids[token] in users
        if flag is not expected or listed is not expected:
            mismatches.append(
                f"{token} {partner}: last acknowledged {state.last_ack}, "
                f"user-integration-requested {flag}, in included users {listed}"
            )
    checked = len(pairs) - len(unsettled)
    detail = f"{checked} pairs checked ({linked} linked), {len(mismatches)} mismatched"
    if unsettled:
        detail += f", {len(unsettled)} never settled (no acknowledgement for their last operation)"
    figures: dict[str, Any] = {
        "pairs": len(pairs),
        "checked": checked,
        "linked": linked,
        "mismatched": len(mismatches),
        "unsettled": len(unsettled),
        "mismatch_samples": mismatches[:MISMATCH_SAMPLES],
    }
    return Invariant(name, not mismatches and not unsettled and checked > 0, detail, figures)
