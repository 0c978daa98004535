"""Paths, ids and methods: every error is the whole JSON:API document, and nothing changes.

As in test_parameter_errors.py (query parameters, Authorization) and test_body_errors.py (request
bodies, media types, sizes): each test compares the complete error document, then checks the app still
serves and its state is exactly as loaded. Hostile input is included: injection strings and path
traversal as ids. What only a real HTTP server sees is in test_http.py.
"""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient
from support import (
    API,
    AS_BOB,
    B1,
    CLICK_BYTES,
    ID_OPERATION_IDS,
    ID_OPERATIONS,
    INJECTIONS,
    INVALID_PARAMETER,
    JSON,
    METHOD_NOT_ALLOWED,
    NO_SUCH_ID,
    NOT_FOUND,
    P01,
    P02,
    PARTNER_NOT_FOUND,
    assert_errors,
    assert_unchanged,
    id_request,
    item,
    plain_client,
    send,
)

# --------------------------------------------------------------------------------------------------
# unknown paths, wrong methods, HEAD


UNKNOWN_PATHS = [
    "/api/v1/nope",
    "/api/v1/partners/",
    f"/api/v1/partners/{P01}/users",
    f"/api/v1/partners/{P01}/connect/extra",
    "/api/v2/partners",
    "/api",
    "/nope",
    "/",
    "/favicon.ico",
    "/index.html",
]


@pytest.mark.parametrize("method", ["GET", "POST", "DELETE"])
@pytest.mark.parametrize("path", UNKNOWN_PATHS)
def test_unknown_path_is_a_json_404(shared_client: FlaskClient, method: str, path: str) -> None:
    assert_errors(
        send(shared_client, method, path, headers={"Accept": "text/html"}),
        404,
        item(NOT_FOUND, f"No operation is served at {path}"),
    )
    assert_unchanged(shared_client)


def test_unknown_admin_path_is_a_json_404_naming_the_path(shared_client: FlaskClient) -> None:
    response = send(shared_client, "GET", "/__admin/nope", headers={"Accept": "text/html"})
    assert response.status_code == 404
    assert response.mimetype == JSON
    [error] = response.get_json()["errors"]
    assert (error["status"], error["code"], error["title"]) == ("404", "not_found", "Not found")
    # Werkzeug's generic "The requested URL was not found on the server. If you entered the URL
    # manually..." does not say which path; the API's own 404 does.
    assert "/__admin/nope" in error["detail"], error["detail"]


WRONG_METHODS = [
    ("DELETE", API, "/api/v1/partners", "GET, HEAD, OPTIONS"),
    ("POST", API, "/api/v1/partners", "GET, HEAD, OPTIONS"),
    ("POST", f"{API}/available", "/api/v1/partners/available", "GET, HEAD, OPTIONS"),
    ("PUT", f"{API}/wholesalers", "/api/v1/partners/wholesalers", "GET, HEAD, OPTIONS"),
    ("PUT", f"{API}/{P01}", "/api/v1/partners/{id}", "GET, HEAD, OPTIONS"),
    ("PATCH", f"{API}/{P01}", "/api/v1/partners/{id}", "GET, HEAD, OPTIONS"),
    ("DELETE", f"{API}/{P01}", "/api/v1/partners/{id}", "GET, HEAD, OPTIONS"),
    ("GET", f"{API}/{P01}/click_event", "/api/v1/partners/{id}/click_event", "POST, OPTIONS"),
    ("PUT", f"{API}/{P01}/click_event", "/api/v1/partners/{id}/click_event", "POST, OPTIONS"),
    ("GET", f"{API}/{P01}/connect", "/api/v1/partners/{id}/connect", "DELETE, PATCH, OPTIONS"),
    ("POST", f"{API}/{P01}/connect", "/api/v1/partners/{id}/connect", "DELETE, PATCH, OPTIONS"),
    ("PUT", f"{API}/{P01}/connect", "/api/v1/partners/{id}/connect", "DELETE, PATCH, OPTIONS"),
]


@pytest.mark.parametrize(
    ("method", "url", "template", "allow"),
    WRONG_METHODS,
    ids=[f"{m} {u.removeprefix(API) or '/'}" for m, u, _, _ in WRONG_METHODS],
)
def test_wrong_method_is_405_with_allow(
    shared_client: FlaskClient, method: str, url: str, template: str, allow: str
) -> None:
    response = send(shared_client, method, url)
    assert_errors(
        response,
        405,
        item(METHOD_NOT_ALLOWED, f"{method} is not allowed on {template}; allowed: {allow}"),
    )
    assert response.headers["Allow"] == allow
    assert_unchanged(shared_client)


GET_TARGETS = [
    (f"{API}?business_uuid={B1}", 200),
    (f"{API}?business_uuid={B1}&filter[categories][]=pos&include=users", 200),
    (f"{API}?business_uuid={B1}&include=users,partner_integrations&per_page=3&page=2", 200),
    (f"{API}/available", 200),
    (f"{API}/available?filter[status]=coming_soon&page=2&per_page=1", 200),
    (f"{API}/available?search=%F0%9F%98%80", 200),
    (f"{API}/wholesalers", 200),
    (f"{API}/{P01}", 200),
    (f"{API}/{P02}?include=users", 200),
    (f"{API}/{P02}?include=users,partner_integrations", 200),
    # errors too: HEAD answers the GET's status and headers
    (API, 400),
    (f"{API}?business_uuid={B1}&page=0", 400),
    (f"{API}/{NO_SUCH_ID}", 404),
    (f"{API}/..%2fetc%2fpasswd", 404),
    (f"{API}/not-a-uuid", 400),
    ("/__admin/health", 200),
    ("/__admin/data", 200),
    ("/__admin/click-events", 200),
    ("/__admin/requests/count", 200),
    ("/nope", 404),
]


@pytest.mark.parametrize(("target", "status"), GET_TARGETS, ids=[t for t, _ in GET_TARGETS])
def test_head_is_get_without_a_body(shared_client: FlaskClient, target: str, status: int) -> None:
    get = send(shared_client, "GET", target)
    # conftest's spec check reads a HEAD 404's (empty) body as JSON: HEAD goes through a plain client
    head = send(plain_client(shared_client.application), "HEAD", target)
    assert get.status_code == head.status_code == status, get.get_data(as_text=True)[:300]
    assert head.get_data() == b""
    assert head.headers.get("Content-Type") == get.headers.get("Content-Type") == JSON
    assert head.headers.get("Content-Length") == str(len(get.get_data()))
    assert_unchanged(shared_client)


@pytest.mark.parametrize(
    ("target", "template", "allow"),
    [
        (f"{API}/{P01}/click_event", "/api/v1/partners/{id}/click_event", "POST, OPTIONS"),
        (f"{API}/{P01}/connect", "/api/v1/partners/{id}/connect", "DELETE, PATCH, OPTIONS"),
    ],
)
def test_head_where_there_is_no_get_is_405(
    shared_client: FlaskClient, target: str, template: str, allow: str
) -> None:
    response = send(plain_client(shared_client.application), "HEAD", target)
    assert response.status_code == 405
    assert response.get_data() == b""
    assert response.headers["Allow"] == allow
    assert response.mimetype == JSON
    # HEAD has no body to read the document from; GET, refused the same way, shows it.
    get = send(shared_client, "GET", target)
    assert_errors(get, 405, item(METHOD_NOT_ALLOWED, f"GET is not allowed on {template}; allowed: {allow}"))
    assert_unchanged(shared_client)


# --------------------------------------------------------------------------------------------------
# partner ids on the four {id} operations


BAD_IDS = [
    "not-a-uuid",
    "12345",
    P01.replace("-", ""),
    f"{{{P01}}}",
    f"{P01}0",
    *[v for v in INJECTIONS if "/" not in v],
]


@pytest.mark.parametrize(("method", "suffix"), ID_OPERATIONS, ids=ID_OPERATION_IDS)
@pytest.mark.parametrize("bad_id", BAD_IDS)
def test_malformed_partner_id(shared_client: FlaskClient, method: str, suffix: str, bad_id: str) -> None:
    response = id_request(shared_client, method, suffix, bad_id)
    assert_errors(
        response, 400, item(INVALID_PARAMETER, f"id must be a valid uuid, got {bad_id!r}", parameter="id")
    )
    assert "49" not in response.get_data(as_text=True), "a template expression was evaluated"
    assert_unchanged(shared_client)


@pytest.mark.parametrize(("method", "suffix"), ID_OPERATIONS, ids=ID_OPERATION_IDS)
@pytest.mark.parametrize("value", [v for v in INJECTIONS if "/" in v])
def test_injection_with_a_slash_as_partner_id_is_a_json_404(
    shared_client: FlaskClient, method: str, suffix: str, value: str
) -> None:
    """A `/` (even sent as %2F) splits the segment: no operation is served there."""
    assert_errors(
        id_request(shared_client, method, suffix, value),
        404,
        item(NOT_FOUND, f"No operation is served at {API}/{value}{suffix}"),
    )
    assert_unchanged(shared_client)


@pytest.mark.parametrize(("method", "suffix"), ID_OPERATIONS, ids=ID_OPERATION_IDS)
@pytest.mark.parametrize("headers", [None, AS_BOB], ids=["alice", "bob"])
def test_unknown_partner_id(
    shared_client: FlaskClient, method: str, suffix: str, headers: dict[str, str] | None
) -> None:
    assert_errors(
        id_request(shared_client, method, suffix, NO_SUCH_ID, headers),
        404,
        item(PARTNER_NOT_FOUND, f"No partner has id {NO_SUCH_ID}", parameter="id"),
    )
    assert_unchanged(shared_client)


TRAVERSALS = [
    # (path as sent, method, status, expected detail)
    (f"{API}/..%2f..%2fetc%2fpasswd", "GET", 404, f"No operation is served at {API}/../../etc/passwd"),
    (f"{API}/../../etc/passwd", "GET", 404, f"No operation is served at {API}/../../etc/passwd"),
    (
        f"{API}/%2e%2e%2f%2e%2e%2fetc%2fpasswd",
        "GET",
        404,
        f"No operation is served at {API}/../../etc/passwd",
    ),
    (
        f"{API}/....%2f%2f....%2f%2fetc%2fpasswd",
        "GET",
        404,
        f"No operation is served at {API}/....//....//etc/passwd",
    ),
    (
        f"{API}/..%2f..%2fetc%2fpasswd/connect",
        "PATCH",
        404,
        f"No operation is served at {API}/../../etc/passwd/connect",
    ),
    (
        f"{API}/..%2f..%2fetc%2fpasswd/connect",
        "DELETE",
        404,
        f"No operation is served at {API}/../../etc/passwd/connect",
    ),
    (
        f"{API}/..%2f..%2f__admin%2freset/click_event",
        "POST",
        404,
        f"No operation is served at {API}/../../__admin/reset/click_event",
    ),
    (
        "/__admin/../api/v1/partners/available",
        "GET",
        404,
        "No operation is served at /__admin/../api/v1/partners/available",
    ),
    (f"{API}/..", "GET", 400, "id must be a valid uuid, got '..'"),
    (f"{API}/%2e%2e", "GET", 400, "id must be a valid uuid, got '..'"),
    (f"{API}/%2e%2e/connect", "PATCH", 400, "id must be a valid uuid, got '..'"),
    (f"{API}/..%5c..%5cetc%5cpasswd", "GET", 400, "id must be a valid uuid, got '..\\\\..\\\\etc\\\\passwd'"),
    (
        f"{API}/%252e%252e%252fetc%252fpasswd",
        "GET",
        400,
        "id must be a valid uuid, got '%2e%2e%2fetc%2fpasswd'",
    ),
    (f"{API}/..;%2f..;%2fetc%2fpasswd", "GET", 404, f"No operation is served at {API}/..;/..;/etc/passwd"),
]


@pytest.mark.parametrize(
    ("path", "method", "status", "detail"), TRAVERSALS, ids=[f"{m} {p}" for p, m, _, _ in TRAVERSALS]
)
def test_path_traversal_in_ids(shared_app: Flask, path: str, method: str, status: int, detail: str) -> None:
    # A plain client: openapi-core, checking the response, would resolve the `..` in the URL itself.
    client = plain_client(shared_app)
    expected = item(INVALID_PARAMETER, detail, parameter="id") if status == 400 else item(NOT_FOUND, detail)
    body, content_type = (CLICK_BYTES, JSON) if method == "POST" else (None, None)
    response = send(client, method, path, body, content_type)
    assert_errors(response, status, expected)
    assert "root:x:0:0" not in response.get_data(as_text=True)
    assert_unchanged(client)
