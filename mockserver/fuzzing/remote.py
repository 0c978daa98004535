"""A server given by URL (the real API, staging, a proxy): checked reachable, and the ids to fuzz with."""

from __future__ import annotations

import contextlib
import http.client
import json
import urllib.error
import urllib.request
from typing import Any

from .common import PROBE_TIMEOUT, CampaignError
from .dataset import DataSet, served_partner_ids
from .options import CampaignOptions

PROBE_PATH = "/api/v1/partners/available?per_page=1"


class NotJson(Exception):
    """The server answered, but not 200 with a JSON body."""


def http_get_json(base_url: str, path: str, token: str | None) -> Any:
    """GET base_url + path (with the bearer token); its JSON body, NotJson for another answer, and
    CampaignError when the server cannot be reached at all."""
    headers = {"Accept": "application/json", **({"Authorization": f"Bearer {token}"} if token else {})}
    request = urllib.request.Request(base_url + path, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=PROBE_TIMEOUT) as response:
            body = response.read()
    except urllib.error.HTTPError as exc:
        raise NotJson(f"GET {path} answered {exc.code}") from None
    except (urllib.error.URLError, OSError, ValueError, http.client.HTTPException) as exc:
        reason = getattr(exc, "reason", exc)
        raise CampaignError(f"cannot reach {base_url}: {reason}") from None
    try:
        return json.loads(body)
    except ValueError:
        raise NotJson(f"GET {path} answered a body that is not JSON") from None


def read_remote_data(options: CampaignOptions) -> DataSet:
    """The ids given on the command line; partner ids the API lists when none are given.

    The first request also checks that the server answers at all (CampaignError when it does not).
    """
    assert options.url is not None
    url, token = options.url, options.token

    def fetch(path: str) -> Any:
        return http_get_json(url, path, token)

    with contextlib.suppress(NotJson):  # it answers; whether the answer is right is the campaign's question
        fetch(PROBE_PATH)
    businesses = list(options.business_ids)
    if options.partner_ids:
        return DataSet(businesses, list(options.partner_ids), source="the command line")
    try:
        partners = served_partner_ids(fetch, businesses)
    except (NotJson, AttributeError, KeyError, TypeError, ValueError) as exc:
        return DataSet(businesses, [], source=f"nowhere: listing partners failed ({exc}); pass --partner-id")
    return DataSet(businesses, partners, source="the API's partner lists")
