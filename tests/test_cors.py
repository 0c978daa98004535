"""mockserver.cors: preflights answered before validation, and the caller's origin allowed on every answer.

A preflight (`OPTIONS`) on a path the server serves is a 204 with the methods of that path in `Allow`
and `Access-Control-Allow-Methods` (the spec's for the API, Flask's routes for /__admin); on any other
path it is the API's JSON 404. Every response, errors included, echoes `Origin` (or `*` without one).
"""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient
from support import (
    API,
    B1,
    NOT_FOUND,
    P01,
    assert_errors,
    assert_unchanged,
    item,
    send,
)
from werkzeug.test import TestResponse

ORIGIN = "http://localhost:3000"

SPEC_OPTIONS = [
    (API, "GET, HEAD, OPTIONS"),
    (f"{API}?business_uuid=nope&page=0", "GET, HEAD, OPTIONS"),  # a preflight does not validate
    (f"{API}/available", "GET, HEAD, OPTIONS"),
    (f"{API}/wholesalers", "GET, HEAD, OPTIONS"),
    (f"{API}/{P01}", "GET, HEAD, OPTIONS"),
    (f"{API}/not-a-uuid", "GET, HEAD, OPTIONS"),
    (f"{API}/{P01}/click_event", "POST, OPTIONS"),
    (f"{API}/{P01}/connect", "DELETE, PATCH, OPTIONS"),
]
ADMIN_OPTIONS = [
    ("/__admin/health", "GET, HEAD, OPTIONS"),
    ("/__admin/data", "GET, HEAD, OPTIONS"),
    ("/__admin/click-events", "GET, HEAD, OPTIONS"),
    ("/__admin/requests", "GET, HEAD, OPTIONS"),
    ("/__admin/requests/count", "GET, HEAD, OPTIONS"),
    ("/__admin/reset", "POST, OPTIONS"),
]


def methods(header: str | None) -> set[str]:
    return {m.strip() for m in (header or "").split(",")}


def assert_preflight(response: TestResponse, allow: str, origin: str | None, requested: str | None) -> None:
    """A 204 without a body naming exactly these methods, for this origin and these request headers."""
    assert response.status_code == 204, (response.status_code, dict(response.headers))
    assert response.get_data() == b""
    assert "text/html" not in response.headers.get("Content-Type", "")
    assert methods(response.headers.get("Allow")) == methods(allow)
    assert methods(response.headers.get("Access-Control-Allow-Methods")) == methods(allow)
    assert response.headers.get("Access-Control-Allow-Origin") == (origin or "*")
    assert response.headers.get("Access-Control-Allow-Headers") == (
        requested or "Authorization, Content-Type"
    )
    assert response.headers.get("Access-Control-Max-Age") == "600"


@pytest.mark.parametrize(
    ("target", "allow"), SPEC_OPTIONS, ids=[t.removeprefix(API) or "/" for t, _ in SPEC_OPTIONS]
)
@pytest.mark.parametrize(
    ("origin", "requested"),
    [(None, None), (ORIGIN, "authorization, content-type, x-requested-with")],
    ids=["bare", "browser-preflight"],
)
def test_options_on_an_api_path_is_a_204_preflight_with_its_methods(
    shared_client: FlaskClient, target: str, allow: str, origin: str | None, requested: str | None
) -> None:
    headers = {}
    if origin:
        headers = {
            "Origin": origin,
            "Access-Control-Request-Method": allow.split(",")[0],
            "Access-Control-Request-Headers": requested or "",
        }
    assert_preflight(send(shared_client, "OPTIONS", target, headers=headers), allow, origin, requested)
    assert_unchanged(shared_client)


@pytest.mark.parametrize(("target", "allow"), ADMIN_OPTIONS, ids=[t for t, _ in ADMIN_OPTIONS])
def test_options_on_an_admin_path_is_a_204_preflight_too(
    shared_client: FlaskClient, target: str, allow: str
) -> None:
    """A browser tool on another origin calls /__admin too; its preflight must not be an HTML 200."""
    headers = {"Origin": ORIGIN, "Access-Control-Request-Method": "GET"}
    assert_preflight(send(shared_client, "OPTIONS", target, headers=headers), allow, ORIGIN, None)
    assert_unchanged(shared_client)


@pytest.mark.parametrize("target", ["/nope", f"{API}/{P01}/users", "/api/v1/partners/", "/__admin/nope"])
def test_options_on_an_unknown_path_is_a_json_404(shared_client: FlaskClient, target: str) -> None:
    response = send(shared_client, "OPTIONS", target, headers={"Origin": ORIGIN})
    assert_errors(response, 404, item(NOT_FOUND, f"No operation is served at {target}"))
    assert response.headers.get("Access-Control-Allow-Origin") == ORIGIN
    assert_unchanged(shared_client)


@pytest.mark.parametrize(
    ("method", "target", "status"),
    [
        ("GET", f"{API}?business_uuid={B1}", 200),
        ("GET", f"{API}/{P01}", 200),
        ("GET", f"{API}?page=0", 400),
        ("GET", "/nope", 404),
        ("DELETE", f"{API}/available", 405),
        ("GET", "/__admin/health", 200),
    ],
)
@pytest.mark.parametrize("origin", [ORIGIN, "https://app.example.com", None])
def test_every_answer_allows_the_callers_origin(
    shared_client: FlaskClient, method: str, target: str, status: int, origin: str | None
) -> None:
    """`Access-Control-Allow-Origin` echoes `Origin` (varying by it), or is `*` when none was sent."""
    response = send(shared_client, method, target, headers={"Origin": origin} if origin else None)
    assert response.status_code == status
    assert response.headers.get("Access-Control-Allow-Origin") == (origin or "*")
    assert response.headers.get("Vary") == "Origin"
