"""The ids a campaign fuzzes with: businesses for `listPartners`, partners for the `/partners/{id}` paths."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

MAX_PAGES = 10
"""Partner ids are read from at most this many pages of 100: enough for a dictionary of ids."""

FetchJson = Callable[[str], Any]
"""GET a path of the server under test; its JSON body (raises when the answer is not 200 with JSON)."""


@dataclass
class DataSet:
    business_ids: list[str]
    partner_ids: list[str]
    partner_count: int | None = None
    """The mock's partner count (from /__admin/data); None for a server given by URL."""
    source: str = ""
    """Where the ids came from, as the campaign's first line says it."""


def served_partner_ids(fetch: FetchJson, business_ids: Sequence[str]) -> list[str]:
    """Partner ids as the API lists them: every partner for the first business, or the available
    partners and wholesalers when there is no business."""
    if business_ids:
        return _paged_ids(fetch, f"/api/v1/partners?business_uuid={business_ids[0]}&per_page=100")
    ids: list[str] = []
    for path in ("/api/v1/partners/available?per_page=100", "/api/v1/partners/wholesalers?per_page=100"):
        ids += [i for i in _paged_ids(fetch, path) if i not in ids]
    return ids


def _paged_ids(fetch: FetchJson, path: str) -> list[str]:
    ids: list[str] = []
    for page in range(1, MAX_PAGES + 1):
        document = fetch(f"{path}&page={page}")
        ids += [str(resource["id"]) for resource in document["data"]]
        if not document["data"] or page >= int(document.get("meta", {}).get("total-pages", 1)):
            break
    return ids
