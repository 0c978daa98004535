"""The server under test: `python -m mockserver serve` on a free port, and the ids of its data set."""

from __future__ import annotations

import http.client
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mockserver.live import LiveServer, ServerNotReady

from .common import READY_TIMEOUT, ROOT, CampaignError
from .options import ServerOptions

START_ATTEMPTS = 3


def start_server(options: ServerOptions, log: Path, attempts: int = START_ATTEMPTS) -> LiveServer:
    """Start and wait for /__admin/health (its output in `log`); a new port if another process took it."""
    attempt = 1
    while True:
        log.unlink(missing_ok=True)  # this attempt's output only, never an earlier run's
        try:
            return LiveServer.start(*options.cli_args(), ready_timeout=READY_TIMEOUT, log=log, cwd=ROOT)
        except ServerNotReady as exc:
            if attempt >= attempts or not _port_taken(log):
                raise CampaignError(f"the server did not start: {exc}") from None
        attempt += 1


def _port_taken(log: Path) -> bool:
    try:
        return "address already in use" in log.read_text(errors="replace").lower()
    except OSError:
        return False


def get_json(server: LiveServer, path: str) -> Any:
    """GET `path` and its JSON body; CampaignError when the server does not answer 200 with JSON."""
    try:
        return server.get_json(path, timeout=5)
    except (RuntimeError, OSError, ValueError, http.client.HTTPException) as exc:
        raise CampaignError(f"GET {server.base}{path} failed: {exc}") from None


@dataclass
class DataSet:
    business_ids: list[str]
    partner_ids: list[str]
    partner_count: int


def read_data_set(server: LiveServer) -> DataSet:
    """The ids the server actually serves: businesses from /__admin/data, partners from the list endpoints."""
    data = get_json(server, "/__admin/data")
    business_ids = [business["id"] for business in data["businesses"]]
    partner_ids: list[str] = []
    if business_ids:
        # Every partner, whatever its status, is listed by GET /api/v1/partners.
        page = 1
        while True:
            document = get_json(
                server, f"/api/v1/partners?business_uuid={business_ids[0]}&per_page=100&page={page}"
            )
            partner_ids += [partner["id"] for partner in document["data"]]
            if not document["data"] or page >= document["meta"]["total-pages"]:
                break
            page += 1
    else:
        for path in ("/api/v1/partners/available", "/api/v1/partners/wholesalers"):
            document = get_json(server, f"{path}?per_page=100")
            partner_ids += [p["id"] for p in document["data"] if p["id"] not in partner_ids]
    return DataSet(business_ids=business_ids, partner_ids=partner_ids, partner_count=int(data["partners"]))
