"""mockserver.edge.cors: preflights answered before validation, and allowed origins named on every answer.

A preflight (`OPTIONS`) on a path the server serves is a 204 with the methods of that path in `Allow`
and `Access-Control-Allow-Methods` (the spec's for the API, Flask's routes for /__admin); on any other
path it is the API's JSON 404. Every response, errors included, names an allowed `Origin` in
`Access-Control-Allow-Origin`: by default the loopback origins on any port; `--cors-origin` replaces
them. Another origin is served without that header, and its preflight is a 403 naming `Origin`.
/__admin refuses any cross-origin request before it runs, unless origins were configured explicitly.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient
from support import (
    ALICE,
    API,
    AS_ALICE,
    B1,
    NOT_FOUND,
    P01,
    assert_errors,
    assert_unchanged,
    item,
    links,
    make_app,
    send,
)
from werkzeug.test import TestResponse

from mockserver import Settings
from mockserver.cli import cli
from mockserver.edge.cors import LOOPBACK_ORIGINS, origin_matches

ORIGIN = "http://localhost:3000"
SAME_ORIGIN = "http://localhost"
"""The test client's requests carry `Host: localhost`."""
EVIL = "http://evil.example"
ORIGIN_NOT_ALLOWED = (403, "origin_not_allowed", "Origin not allowed")
DEFAULT_ORIGINS = ", ".join(LOOPBACK_ORIGINS)

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
    ("/__admin/reset", "POST, OPTIONS"),
]
"""/__admin/requests/count is not listed: its methods are the admin API tests' to pin down."""
ALLOWED_BY_DEFAULT = [
    ORIGIN,
    "http://127.0.0.1:5173",
    "http://[::1]:8080",
    "https://localhost:8443",
    "http://localhost",
    "HTTP://LOCALHOST:3000",
]
REFUSED_BY_DEFAULT = [
    EVIL,
    "https://app.example.com",
    "http://localhost.evil.example",
    "http://localhost:3000.evil.example",
    "http://127.0.0.1.evil.example:3000",
    "http://192.168.1.20:3000",
    "null",
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
    assert response.headers.get("Access-Control-Allow-Origin") == origin
    assert response.headers.get("Access-Control-Allow-Headers") == (
        requested or "Authorization, Content-Type"
    )
    assert response.headers.get("Access-Control-Max-Age") == "600"


def preflight_headers(origin: str, method: str = "GET") -> dict[str, str]:
    return {"Origin": origin, "Access-Control-Request-Method": method}


def refused(detail: str) -> dict[str, Any]:
    return item(ORIGIN_NOT_ALLOWED, detail, header="Origin")


def api_refusal(origin: str, allowed: str = DEFAULT_ORIGINS) -> dict[str, Any]:
    return refused(
        f"Origin {origin!r} may not call this server from a browser; allowed: {allowed}; "
        "add it with --cors-origin (repeatable, * for any)"
    )


def admin_refusal(origin: str) -> dict[str, Any]:
    return refused(
        f"/__admin answers no cross-origin request (Origin {origin!r}), so that no web page can change "
        "the mock's state; name the origin with --cors-origin to open it"
    )


@pytest.fixture(scope="module")
def explicit_app() -> Flask:
    """Origins configured explicitly: the loopback one of the tests, and one on the web."""
    return make_app(scenario="default", cors_origins=(ORIGIN, "https://app.example.com"))


@pytest.fixture
def explicit_client(explicit_app: Flask) -> Iterator[FlaskClient]:
    with explicit_app.test_client() as test_client:
        yield test_client
    assert test_client.post("/__admin/reset").status_code == 204


@pytest.fixture(scope="module")
def any_origin_app() -> Flask:
    return make_app(scenario="default", cors_origins=("*",))


# --- preflights -------------------------------------------------------------------------------------


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
    explicit_client: FlaskClient, target: str, allow: str
) -> None:
    """A browser tool on a configured origin calls /__admin too; its preflight must not be an HTML 200."""
    response = send(explicit_client, "OPTIONS", target, headers=preflight_headers(ORIGIN))
    assert_preflight(response, allow, ORIGIN, None)
    assert_unchanged(explicit_client)


@pytest.mark.parametrize("target", ["/nope", f"{API}/{P01}/users", "/api/v1/partners/"])
def test_options_on_an_unknown_path_is_a_json_404(shared_client: FlaskClient, target: str) -> None:
    response = send(shared_client, "OPTIONS", target, headers={"Origin": ORIGIN})
    assert_errors(response, 404, item(NOT_FOUND, f"No operation is served at {target}"))
    assert response.headers.get("Access-Control-Allow-Origin") == ORIGIN
    assert_unchanged(shared_client)


@pytest.mark.parametrize("origin", [SAME_ORIGIN, None])
def test_options_on_an_unknown_admin_path_is_a_json_404(
    shared_client: FlaskClient, origin: str | None
) -> None:
    headers = {"Origin": origin} if origin else None
    response = send(shared_client, "OPTIONS", "/__admin/nope", headers=headers)
    assert_errors(response, 404, item(NOT_FOUND, "No operation is served at /__admin/nope"))
    assert_unchanged(shared_client)


@pytest.mark.parametrize("origin", REFUSED_BY_DEFAULT)
@pytest.mark.parametrize("target", [API, f"{API}/{P01}/connect", "/nope"])
def test_a_preflight_from_another_origin_is_a_403_naming_origin(
    shared_client: FlaskClient, origin: str, target: str
) -> None:
    response = send(shared_client, "OPTIONS", target, headers=preflight_headers(origin, "PATCH"))
    assert_errors(response, 403, api_refusal(origin))
    assert "Access-Control-Allow-Origin" not in response.headers
    assert response.headers.get("Vary") == "Origin"
    assert_unchanged(shared_client)


# --- which origins are named ------------------------------------------------------------------------

ANSWERS = [
    ("GET", f"{API}?business_uuid={B1}", 200),
    ("GET", f"{API}/{P01}", 200),
    ("GET", f"{API}?page=0", 400),
    ("GET", "/nope", 404),
    ("DELETE", f"{API}/available", 405),
]


@pytest.mark.parametrize(("method", "target", "status"), ANSWERS)
@pytest.mark.parametrize("origin", ALLOWED_BY_DEFAULT)
def test_every_answer_names_a_loopback_origin_on_any_port(
    shared_client: FlaskClient, method: str, target: str, status: int, origin: str
) -> None:
    """`Access-Control-Allow-Origin` repeats an allowed `Origin`, and the answer varies by it."""
    response = send(shared_client, method, target, headers={"Origin": origin})
    assert response.status_code == status
    assert response.headers.get("Access-Control-Allow-Origin") == origin
    assert response.headers.get("Vary") == "Origin"


@pytest.mark.parametrize(("method", "target", "status"), ANSWERS)
@pytest.mark.parametrize("origin", [*REFUSED_BY_DEFAULT, None])
def test_another_origin_is_served_without_being_named(
    shared_client: FlaskClient, method: str, target: str, status: int, origin: str | None
) -> None:
    """The request is served as usual (the browser withholds the answer); no Origin, no CORS needed."""
    response = send(shared_client, method, target, headers={"Origin": origin} if origin else None)
    assert response.status_code == status
    assert "Access-Control-Allow-Origin" not in response.headers
    assert response.headers.get("Vary") == "Origin"


def test_configured_origins_replace_the_loopback_ones(explicit_client: FlaskClient) -> None:
    configured = f"{ORIGIN}, https://app.example.com"
    for origin in (ORIGIN, "https://app.example.com"):
        response = send(explicit_client, "GET", f"{API}/{P01}", headers={"Origin": origin})
        assert response.headers.get("Access-Control-Allow-Origin") == origin
    for origin in ("http://localhost:3001", "http://127.0.0.1:3000", EVIL):
        response = send(explicit_client, "GET", f"{API}/{P01}", headers={"Origin": origin})
        assert response.status_code == 200
        assert "Access-Control-Allow-Origin" not in response.headers
        preflight = send(explicit_client, "OPTIONS", f"{API}/{P01}", headers=preflight_headers(origin))
        assert_errors(preflight, 403, api_refusal(origin, configured))


@pytest.mark.parametrize("origin", [EVIL, ORIGIN, "null", "https://anything.example:8443"])
def test_a_star_allows_every_origin(any_origin_app: Flask, origin: str) -> None:
    client = any_origin_app.test_client()
    response = send(client, "GET", f"{API}/{P01}", headers={"Origin": origin})
    assert response.headers.get("Access-Control-Allow-Origin") == origin
    preflight = send(client, "OPTIONS", f"{API}/{P01}/connect", headers=preflight_headers(origin, "PATCH"))
    assert_preflight(preflight, "DELETE, PATCH, OPTIONS", origin, None)
    health = send(client, "GET", "/__admin/health", headers={"Origin": origin})
    assert health.status_code == 200
    assert health.headers.get("Access-Control-Allow-Origin") == origin


@pytest.mark.parametrize(
    ("origin", "pattern", "matches"),
    [
        ("http://dev.example:8080", "http://dev.example:*", True),
        ("http://dev.example", "http://dev.example:*", True),
        ("http://DEV.example:1", "http://dev.example:*", True),
        ("https://dev.example:8080", "http://dev.example:*", False),
        ("http://dev.example.evil:8080", "http://dev.example:*", False),
        ("http://dev.example:", "http://dev.example:*", False),
        ("http://dev.example:80x", "http://dev.example:*", False),
        ("http://dev.example:\uff18\uff10", "http://dev.example:*", False),  # fullwidth digits
        ("http://dev.example:8080", "http://dev.example:8080", True),
        ("http://dev.example:8081", "http://dev.example:8080", False),
        ("http://dev.example", "*", True),
    ],
)
def test_origin_patterns(origin: str, pattern: str, matches: bool) -> None:
    assert origin_matches(origin, pattern) is matches


# --- /__admin ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("origin", [ORIGIN, EVIL, "http://127.0.0.1:4010"])
def test_admin_refuses_a_cross_origin_reset_and_keeps_the_state(client: FlaskClient, origin: str) -> None:
    """Even a loopback origin: a page must not reset the mock blind (the browser would send the POST)."""
    assert send(client, "PATCH", f"{API}/{P01}/connect", headers=AS_ALICE).status_code == 200
    response = send(client, "POST", "/__admin/reset", headers={"Origin": origin})
    assert_errors(response, 403, admin_refusal(origin))
    assert "Access-Control-Allow-Origin" not in response.headers
    assert (ALICE, P01) in links(client)


@pytest.mark.parametrize(("target", "allow"), ADMIN_OPTIONS, ids=[t for t, _ in ADMIN_OPTIONS])
@pytest.mark.parametrize("method", ["GET", "OPTIONS"])
def test_admin_refuses_every_cross_origin_request(
    shared_client: FlaskClient, target: str, allow: str, method: str
) -> None:
    response = send(shared_client, method, target, headers=preflight_headers(ORIGIN))
    assert_errors(response, 403, admin_refusal(ORIGIN))


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": SAME_ORIGIN},
        {"Origin": "https://localhost"},
        {"Origin": "http://127.0.0.1:4010", "Host": "127.0.0.1:4010"},
        {"Origin": "http://[::1]:4010", "Host": "[::1]:4010"},  # another name: see test_admin_access
        {},
    ],
)
def test_a_same_origin_admin_request_passes(client: FlaskClient, headers: dict[str, str]) -> None:
    assert send(client, "PATCH", f"{API}/{P01}/connect", headers=AS_ALICE).status_code == 200
    assert send(client, "GET", "/__admin/health", headers=headers).status_code == 200
    assert send(client, "POST", "/__admin/reset", headers=headers).status_code == 204
    assert (ALICE, P01) not in links(client)


def test_explicit_origins_open_admin_to_them_only(explicit_client: FlaskClient) -> None:
    assert send(explicit_client, "PATCH", f"{API}/{P01}/connect", headers=AS_ALICE).status_code == 200
    response = send(explicit_client, "POST", "/__admin/reset", headers={"Origin": EVIL})
    assert_errors(response, 403, api_refusal(EVIL, f"{ORIGIN}, https://app.example.com"))
    assert (ALICE, P01) in links(explicit_client)
    response = send(explicit_client, "POST", "/__admin/reset", headers={"Origin": "https://app.example.com"})
    assert response.status_code == 204
    assert response.headers.get("Access-Control-Allow-Origin") == "https://app.example.com"
    assert (ALICE, P01) not in links(explicit_client)


# --- configuration ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "env", "origins"),
    [
        (["--cors-origin", "*"], {}, ("*",)),
        (
            ["--cors-origin", ORIGIN, "--cors-origin", "https://b.example:*"],
            {},
            (ORIGIN, "https://b.example:*"),
        ),
        ([], {"MOCKSERVER_CORS_ORIGINS": f"{ORIGIN}, https://b.example"}, (ORIGIN, "https://b.example")),
        ([], {}, ()),
    ],
)
def test_serve_takes_the_origins(
    monkeypatch: pytest.MonkeyPatch, args: list[str], env: dict[str, str], origins: tuple[str, ...]
) -> None:
    served: list[Settings] = []
    monkeypatch.setattr("mockserver.serving.run.serve", served.append)
    monkeypatch.delenv("MOCKSERVER_CORS_ORIGINS", raising=False)
    result = CliRunner().invoke(cli, ["serve", "--scenario", "default", *args], env=env)
    assert result.exit_code == 0, result.output
    assert [settings.cors_origins for settings in served] == [origins]


@pytest.mark.parametrize("origin", ["localhost:3000", "http://localhost:3000/", "http://", "http://a/b"])
def test_serve_refuses_what_is_not_an_origin(origin: str) -> None:
    result = CliRunner().invoke(cli, ["serve", "--cors-origin", origin])
    assert result.exit_code == 2
    assert f"{origin!r} is not an origin" in result.output
