"""The mock under test: `python -m mockserver serve` on a free port, and the ids of its data set."""

from __future__ import annotations

import http.client
from pathlib import Path
from typing import Any

from mockserver.testing.live import LiveServer, ServerNotReady

from .common import READY_TIMEOUT, CampaignError
from .dataset import DataSet, served_partner_ids
from .options import ServerOptions

START_ATTEMPTS = 3


def start_server(options: ServerOptions, log: Path, attempts: int = START_ATTEMPTS) -> LiveServer:
    """Start and wait for /__admin/health (its output in `log`); a new port if another process took it."""
    attempt = 1
    while True:
        log.unlink(missing_ok=True)  # this attempt's output only, never an earlier run's
        try:
            # The caller's directory: a relative --scenario path means what it means on their command line.
            return LiveServer.start(*options.cli_args(), ready_timeout=READY_TIMEOUT, log=log)
        except ServerNotReady as exc:
            if attempt >= attempts or not _port_taken(log):
                raise CampaignError(f"the mock did not start: {exc}") from None
        attempt += 1


def _port_taken(log: Path) -> bool:
    try:
        return "address already in use" in log.read_text(errors="replace").lower()
    except OSError:
        return False


def read_data_set(
    server: LiveServer, business_ids: tuple[str, ...] = (), partner_ids: tuple[str, ...] = ()
) -> DataSet:
    """The ids the mock serves: businesses from /__admin/data, partners from the list endpoints
    (ids given on the command line take their place)."""

    def fetch(path: str) -> Any:
        try:
            return server.get_json(path, timeout=5)
        except (RuntimeError, OSError, ValueError, http.client.HTTPException) as exc:
            raise CampaignError(f"GET {server.base}{path} failed: {exc}") from None

    data = fetch("/__admin/data")
    businesses = list(business_ids) or [business["id"] for business in data["businesses"]]
    partners = list(partner_ids) or served_partner_ids(fetch, businesses)
    source = "the command line" if partner_ids else "the mock's data set"
    return DataSet(businesses, partners, int(data["partners"]), source=source)
