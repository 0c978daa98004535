"""Helpers shared by the test modules that send raw requests and assert whole error documents."""

from __future__ import annotations

import io
import json
from typing import Any

from flask.testing import FlaskClient
from werkzeug.test import EnvironBuilder, TestResponse

API = "/api/v1/partners"
JSON = "application/json"
P01 = "c0000000-0000-4000-8000-000000000001"  # Fizzwell Beverages HBC in the default scenario
VALID_CLICK = {"data": {"type": "partner_click_events", "attributes": {"event_type": "website"}}}


def send(
    client: FlaskClient,
    method: str,
    url: str,
    body: bytes | str | None = None,
    content_type: str | None = None,
    headers: dict[str, str] | None = None,
) -> TestResponse:
    """One request with exactly these bytes and headers (the body stays readable on `response.request`)."""
    builder = EnvironBuilder(path=url, method=method, data=body, content_type=content_type, headers=headers)
    request = builder.get_request()
    raw = request.get_data(cache=True)
    request.environ["wsgi.input"] = io.BytesIO(raw)
    response: TestResponse = client.open(request)
    return response


def post_click(
    client: FlaskClient,
    body: Any = VALID_CLICK,
    *,
    partner_id: str = P01,
    content_type: str | None = JSON,
    headers: dict[str, str] | None = None,
) -> TestResponse:
    raw = body if isinstance(body, (bytes, str)) or body is None else json.dumps(body)
    return send(client, "POST", f"{API}/{partner_id}/click_event", raw, content_type, headers)


def item(kind: tuple[int, str, str], detail: str, **source: str) -> dict[str, Any]:
    """One expected error object; `source` is one of parameter=, pointer=, header=."""
    status, code, title = kind
    expected: dict[str, Any] = {"status": str(status), "code": code, "title": title, "detail": detail}
    if source:
        assert len(source) == 1
        expected["source"] = dict(source)
    return expected


def canonical(error: dict[str, Any]) -> str:
    return json.dumps(error, sort_keys=True)
