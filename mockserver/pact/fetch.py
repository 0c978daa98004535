"""A running mock's journal as a Pact, over its admin API (standard library and `live` only: the
pytest plugin uses it too)."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

from mockserver.testing.live import MockEndpoint

SESSION_HEADER = "X-Mock-Session"


def pact_path(consumer: str, provider: str, version: int, testname: str | None = None) -> str:
    query = {"consumer": consumer, "provider": provider, "version": str(version)}
    if testname:
        query["testname"] = testname[:1000]
    return "/__admin/pact?" + urlencode(query)


def fetch_pact(
    url: str | MockEndpoint,
    consumer: str,
    provider: str,
    version: int,
    session: str | None = None,
    admin_token: str | None = None,
    testname: str | None = None,
) -> dict[str, Any]:
    """GET /__admin/pact of the mock at `url` (the session's journal, or all of it); RuntimeError with
    the mock's error when it refuses, OSError when it cannot be reached."""
    endpoint = url if isinstance(url, MockEndpoint) else MockEndpoint.from_url(url, admin_token)
    headers = {SESSION_HEADER: session} if session else {}
    reply = endpoint.admin(
        "GET", pact_path(consumer, provider, version, testname), headers=headers, timeout=30
    )
    if reply.status != 200:
        raise RuntimeError(f"GET /__admin/pact answered {reply.status}: {reply.text(1000)}")
    pact: dict[str, Any] = json.loads(reply.body)
    return pact
