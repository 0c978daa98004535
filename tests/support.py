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

B1 = "b0000000-0000-4000-8000-000000000001"  # The Golden Fork (Alice's business)
ALICE = "a11ce000-0000-4000-8000-000000000001"
BOB = "b0b00000-0000-4000-8000-000000000002"
P02 = "c0000000-0000-4000-8000-000000000002"  # TillTop POS (Alice linked)
P03 = "c0000000-0000-4000-8000-000000000003"  # LedgerLeaf (Alice linked)
P04 = "c0000000-0000-4000-8000-000000000004"  # TableTime (Bob linked)
P08 = "c0000000-0000-4000-8000-000000000008"  # Nordkaffe Roasters (nobody linked)

# Error kinds: (status, code, title), as mockserver/errors.py defines them.
INVALID_PARAMETER = (400, "invalid_parameter", "Invalid parameter")
MISSING_PARAMETER = (400, "missing_parameter", "Missing parameter")
UNKNOWN_PARAMETER = (400, "unknown_parameter", "Unknown parameter")
DUPLICATE_PARAMETER = (400, "duplicate_parameter", "Parameter given more than once")
MALFORMED_BODY = (400, "malformed_body", "Malformed request body")
UNKNOWN_TOKEN = (401, "unknown_token", "Unknown bearer token")
NOT_FOUND = (404, "not_found", "Not found")
PARTNER_NOT_FOUND = (404, "partner_not_found", "Partner not found")
BUSINESS_NOT_FOUND = (404, "business_not_found", "Business not found")
METHOD_NOT_ALLOWED = (405, "method_not_allowed", "Method not allowed")
PARTNER_MISMATCH = (409, "partner_mismatch", "Partner does not match the path")
PAYLOAD_TOO_LARGE = (413, "payload_too_large", "Request body too large")
UNSUPPORTED_MEDIA_TYPE = (415, "unsupported_media_type", "Unsupported media type")
MISSING_BODY = (422, "missing_body", "Missing request body")
INVALID_BODY = (422, "invalid_body", "Invalid request body")

# Vocabularies and filter lists as error details spell them.
CATEGORIES = (
    "'accounting', 'delivery', 'inventory', 'marketing', 'payments', 'payroll', 'pos', "
    "'reservations', 'scheduling', 'wholesaler'"
)
WHOLESALER_TYPES = (
    "'beer', 'coffee', 'dairy', 'dry_goods', 'meat', 'produce', 'seafood', 'soft_drinks', 'spirits', 'wine'"
)
LIST_FILTERS = (
    "filter[active], filter[categories], filter[categories][], filter[country_codes], "
    "filter[country_codes][], filter[excluded_categories], filter[excluded_categories][], "
    "filter[preferred], filter[wholesaler_categories], filter[wholesaler_categories][]"
)
AVAILABLE_FILTERS = "filter[categories], filter[categories][], filter[status], filter[status][]"


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


def server_choices() -> list[str | None]:
    """The WSGI servers `mockserver serve --server` offers, default first; [None] without the option."""
    from mockserver.cli import serve_command

    for param in serve_command.params:
        if param.name == "server":
            choices = [str(c) for c in getattr(param.type, "choices", ())]
            default = str(param.default) if param.default in choices else None
            ordered = ([default] if default else []) + [c for c in choices if c != default]
            return list(ordered) or [None]
    return [None]


def server_args(server: str | None) -> list[str]:
    return [] if server is None else ["--server", server]
