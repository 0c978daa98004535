"""Every error path of the Partners API: the whole JSON:API error document, and no state change.

Each test compares the complete error document (status, code, title, detail, source) for equality,
so a vague or misplaced message fails here. After error requests the mutable state (links between
users and partners, click events) must be exactly as the data set loaded it.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from support import (
    ALICE,
    API,
    AVAILABLE_FILTERS,
    B1,
    BOB,
    BUSINESS_NOT_FOUND,
    CATEGORIES,
    DUPLICATE_PARAMETER,
    INVALID_BODY,
    INVALID_PARAMETER,
    JSON,
    LIST_FILTERS,
    MALFORMED_BODY,
    METHOD_NOT_ALLOWED,
    MISSING_BODY,
    MISSING_PARAMETER,
    NOT_FOUND,
    P01,
    P02,
    P03,
    P04,
    P08,
    PARTNER_MISMATCH,
    PARTNER_NOT_FOUND,
    UNKNOWN_PARAMETER,
    UNKNOWN_TOKEN,
    UNSUPPORTED_MEDIA_TYPE,
    VALID_CLICK,
    WHOLESALER_TYPES,
    canonical,
    item,
    post_click,
    send,
)
from werkzeug.test import TestResponse

NO_SUCH_ID = "00000000-0000-4000-8000-000000000000"

INITIAL_LINKS = {(ALICE, P02), (ALICE, P03), (BOB, P04)}


LIST_URLS = {
    "listPartners": f"{API}?business_uuid={B1}&",
    "listAvailablePartners": f"{API}/available?",
    "listWholesalers": f"{API}/wholesalers?",
}


# --------------------------------------------------------------------------------------------------
# helpers


def assert_errors(response: TestResponse, status: int, *items: dict[str, Any]) -> None:
    """The response is exactly this JSON:API error document, served as JSON (never HTML).

    Each error object must be equal to an expected one, and each expected one must be there exactly
    once; the order of several errors is not part of the contract.
    """
    text = response.get_data(as_text=True)
    assert response.status_code == status, text
    assert response.mimetype == JSON, (response.content_type, text[:300])
    document = response.get_json()
    assert isinstance(document, dict) and set(document) == {"errors"}, text
    if len(items) == 1:
        assert document == {"errors": list(items)}, text
    else:
        assert sorted(map(canonical, document["errors"])) == sorted(map(canonical, items)), text


def links(client: FlaskClient) -> set[tuple[str, str]]:
    """All (user, partner) links, read through the API (`include=users` names each partner's users)."""
    response = send(client, "GET", f"{API}?business_uuid={B1}&per_page=100&include=users")
    assert response.status_code == 200, response.get_data(as_text=True)
    document = response.get_json()
    return {
        (user["id"], partner["id"])
        for partner in document["data"]
        for user in partner["relationships"]["users"]["data"]
    }


def click_events(client: FlaskClient) -> list[dict[str, Any]]:
    response = send(client, "GET", "/__admin/click-events")
    assert response.status_code == 200
    events: list[dict[str, Any]] = response.get_json()["data"]
    return events


def assert_state_unchanged(client: FlaskClient) -> None:
    assert click_events(client) == []
    assert links(client) == INITIAL_LINKS


# --------------------------------------------------------------------------------------------------
# business_uuid


def test_missing_business_uuid(client: FlaskClient) -> None:
    assert_errors(
        send(client, "GET", API),
        400,
        item(MISSING_PARAMETER, "business_uuid is required", parameter="business_uuid"),
    )
    assert_state_unchanged(client)


@pytest.mark.parametrize("value", ["abc", "12345", f"{B1}x", B1.replace("-", "")])
def test_malformed_business_uuid(client: FlaskClient, value: str) -> None:
    assert_errors(
        send(client, "GET", f"{API}?business_uuid={value}"),
        400,
        item(
            INVALID_PARAMETER, f"business_uuid must be a valid uuid, got '{value}'", parameter="business_uuid"
        ),
    )
    assert_state_unchanged(client)


def test_empty_business_uuid(client: FlaskClient) -> None:
    assert_errors(
        send(client, "GET", f"{API}?business_uuid="),
        400,
        item(INVALID_PARAMETER, "business_uuid must not be empty", parameter="business_uuid"),
    )


def test_unknown_business_uuid(client: FlaskClient) -> None:
    assert_errors(
        send(client, "GET", f"{API}?business_uuid={NO_SUCH_ID}"),
        404,
        item(BUSINESS_NOT_FOUND, f"No business has id {NO_SUCH_ID}", parameter="business_uuid"),
    )
    assert_state_unchanged(client)


# --------------------------------------------------------------------------------------------------
# page, per_page, include


PAGE_CASES = [
    ("0", "page must be at least 1, got 0"),
    ("-1", "page must be at least 1, got -1"),
    ("abc", "page must be an integer, got 'abc'"),
    ("1e9", "page must be an integer, got '1e9'"),
    ("6.1e-05", "page must be an integer, got '6.1e-05'"),
    ("1.0", "page must be an integer, got '1.0'"),
    ("", "page must be an integer, got ''"),
    ("12345678901234567890", "page must be at most 2147483647, got 12345678901234567890"),
]


@pytest.mark.parametrize("operation", sorted(LIST_URLS))
@pytest.mark.parametrize(("value", "detail"), PAGE_CASES, ids=[v or "empty" for v, _ in PAGE_CASES])
def test_bad_page(client: FlaskClient, operation: str, value: str, detail: str) -> None:
    assert_errors(
        send(client, "GET", f"{LIST_URLS[operation]}page={value}"),
        400,
        item(INVALID_PARAMETER, detail, parameter="page"),
    )
    assert_state_unchanged(client)


PER_PAGE_CASES = [
    ("0", "per_page must be at least 1, got 0"),
    ("101", "per_page must be at most 100, got 101"),
    ("1000", "per_page must be at most 100, got 1000"),
    ("ten", "per_page must be an integer, got 'ten'"),
]


@pytest.mark.parametrize("operation", sorted(LIST_URLS))
@pytest.mark.parametrize(("value", "detail"), PER_PAGE_CASES, ids=[v for v, _ in PER_PAGE_CASES])
def test_bad_per_page(client: FlaskClient, operation: str, value: str, detail: str) -> None:
    assert_errors(
        send(client, "GET", f"{LIST_URLS[operation]}per_page={value}"),
        400,
        item(INVALID_PARAMETER, detail, parameter="per_page"),
    )
    assert_state_unchanged(client)


INCLUDE_CASES = [
    ("bogus", "include item 1 must be one of 'users', 'partner_integrations', got 'bogus'"),
    ("", "include item 1 must be one of 'users', 'partner_integrations', got ''"),
    ("users,bogus", "include item 2 must be one of 'users', 'partner_integrations', got 'bogus'"),
    (
        "partner-integrations",
        "include item 1 must be one of 'users', 'partner_integrations', got 'partner-integrations'",
    ),
]
INCLUDE_URLS = {**LIST_URLS, "getPartner": f"{API}/{P01}?"}


@pytest.mark.parametrize("operation", sorted(INCLUDE_URLS))
@pytest.mark.parametrize(("value", "detail"), INCLUDE_CASES, ids=[v or "empty" for v, _ in INCLUDE_CASES])
def test_bad_include(client: FlaskClient, operation: str, value: str, detail: str) -> None:
    assert_errors(
        send(client, "GET", f"{INCLUDE_URLS[operation]}include={value}"),
        400,
        item(INVALID_PARAMETER, detail, parameter="include"),
    )
    assert_state_unchanged(client)


def test_search_too_long(client: FlaskClient) -> None:
    assert_errors(
        send(client, "GET", f"{API}?business_uuid={B1}&search={'x' * 257}"),
        400,
        item(INVALID_PARAMETER, "search must be at most 256 characters long, got 257", parameter="search"),
    )


# --------------------------------------------------------------------------------------------------
# filters


UNKNOWN_FILTER_CASES = [
    (f"{API}?business_uuid={B1}&", "filter[bogus]", LIST_FILTERS),
    (f"{API}?business_uuid={B1}&", "filter[status]", LIST_FILTERS),
    (f"{API}?business_uuid={B1}&", "filter[status][]", LIST_FILTERS),
    (f"{API}?business_uuid={B1}&", "filter[categories][0]", LIST_FILTERS),
    (f"{API}?business_uuid={B1}&", "filter[]", LIST_FILTERS),
    (f"{API}/available?", "filter[preferred]", AVAILABLE_FILTERS),
    (f"{API}/available?", "filter[bogus]", AVAILABLE_FILTERS),
    (f"{API}/available?", "filter[country_codes][]", AVAILABLE_FILTERS),
    (f"{API}/available?", "filter[active]", AVAILABLE_FILTERS),
]


@pytest.mark.parametrize(
    ("url", "key", "known"),
    UNKNOWN_FILTER_CASES,
    ids=[f"{u.split('?')[0]}-{k}" for u, k, _ in UNKNOWN_FILTER_CASES],
)
def test_unknown_filter_key(client: FlaskClient, url: str, key: str, known: str) -> None:
    assert_errors(
        send(client, "GET", f"{url}{key}=x"),
        400,
        item(UNKNOWN_PARAMETER, f"Unknown filter {key}; known filters: {known}", parameter=key),
    )
    assert_state_unchanged(client)


@pytest.mark.parametrize("url", [f"{API}/wholesalers", f"{API}/{P01}"])
def test_filter_on_operation_without_filters(client: FlaskClient, url: str) -> None:
    assert_errors(
        send(client, "GET", f"{url}?filter[categories]=pos"),
        400,
        item(
            UNKNOWN_PARAMETER,
            "Unknown filter filter[categories]; this operation has no filters",
            parameter="filter[categories]",
        ),
    )


def test_two_unknown_filters_are_both_reported(client: FlaskClient) -> None:
    assert_errors(
        send(client, "GET", f"{API}/available?filter[bogus]=1&filter[other]=2"),
        400,
        item(
            UNKNOWN_PARAMETER,
            f"Unknown filter filter[bogus]; known filters: {AVAILABLE_FILTERS}",
            parameter="filter[bogus]",
        ),
        item(
            UNKNOWN_PARAMETER,
            f"Unknown filter filter[other]; known filters: {AVAILABLE_FILTERS}",
            parameter="filter[other]",
        ),
    )


@pytest.mark.parametrize("key", ["filter[preferred]", "filter[active]"])
@pytest.mark.parametrize("value", ["maybe", ""])
def test_bad_boolean_filter(client: FlaskClient, key: str, value: str) -> None:
    assert_errors(
        send(client, "GET", f"{API}?business_uuid={B1}&{key}={value}"),
        400,
        item(INVALID_PARAMETER, f"{key} must be a boolean (true or false), got '{value}'", parameter=key),
    )
    assert_state_unchanged(client)


BAD_ENUM_CASES = [
    ("filter[categories][]", "pos&filter[categories][]=bogus", 2, "bogus", CATEGORIES),
    ("filter[categories][]", "bogus", 1, "bogus", CATEGORIES),
    ("filter[categories][]", "", 1, "", CATEGORIES),
    ("filter[categories]", "pos,bogus", 2, "bogus", CATEGORIES),
    ("filter[categories]", "POS", 1, "POS", CATEGORIES),
    ("filter[categories]", "pos,,payroll", 2, "", CATEGORIES),
    ("filter[excluded_categories][]", "nope", 1, "nope", CATEGORIES),
    ("filter[excluded_categories]", "payroll,nope", 2, "nope", CATEGORIES),
    ("filter[wholesaler_categories][]", "lemonade", 1, "lemonade", WHOLESALER_TYPES),
    ("filter[wholesaler_categories]", "wine,lemonade", 2, "lemonade", WHOLESALER_TYPES),
]


@pytest.mark.parametrize(
    ("key", "value", "position", "bad", "allowed"),
    BAD_ENUM_CASES,
    ids=[f"{k}={v}" for k, v, *_ in BAD_ENUM_CASES],
)
def test_bad_enum_in_array_filter(
    client: FlaskClient, key: str, value: str, position: int, bad: str, allowed: str
) -> None:
    assert_errors(
        send(client, "GET", f"{API}?business_uuid={B1}&{key}={value}"),
        400,
        item(
            INVALID_PARAMETER, f"{key} item {position} must be one of {allowed}, got '{bad}'", parameter=key
        ),
    )
    assert_state_unchanged(client)


def test_bad_category_on_available(client: FlaskClient) -> None:
    assert_errors(
        send(client, "GET", f"{API}/available?filter[categories]=bogus"),
        400,
        item(
            INVALID_PARAMETER,
            f"filter[categories] item 1 must be one of {CATEGORIES}, got 'bogus'",
            parameter="filter[categories]",
        ),
    )


@pytest.mark.parametrize(
    ("key", "value", "position", "bad"),
    [
        ("filter[country_codes][]", "gb", 1, "gb"),
        ("filter[country_codes][]", "GB&filter[country_codes][]=fr", 2, "fr"),
        ("filter[country_codes]", "gb", 1, "gb"),
        ("filter[country_codes]", "GB,Fr", 2, "Fr"),
        ("filter[country_codes]", "GBR", 1, "GBR"),
    ],
)
def test_bad_country_code(client: FlaskClient, key: str, value: str, position: int, bad: str) -> None:
    assert_errors(
        send(client, "GET", f"{API}?business_uuid={B1}&{key}={value}"),
        400,
        item(
            INVALID_PARAMETER,
            f"{key} item {position} must match the pattern ^[A-Z]{{2}}$, got '{bad}'",
            parameter=key,
        ),
    )
    assert_state_unchanged(client)


@pytest.mark.parametrize("key", ["filter[status]", "filter[status][]"])
@pytest.mark.parametrize("status", ["unavailable", "discontinued", "bogus"])
def test_status_filter_outside_available_statuses(client: FlaskClient, key: str, status: str) -> None:
    assert_errors(
        send(client, "GET", f"{API}/available?{key}={status}"),
        400,
        item(
            INVALID_PARAMETER,
            f"{key} item 1 must be one of 'available', 'coming_soon', got '{status}'",
            parameter=key,
        ),
    )
    assert_state_unchanged(client)


# --------------------------------------------------------------------------------------------------
# repeated single-valued parameters


DUPLICATE_CASES = [
    (f"{API}?business_uuid={B1}&page=1&page=2", "page"),
    (f"{API}?business_uuid={B1}&per_page=5&per_page=5", "per_page"),
    (f"{API}?business_uuid={B1}&business_uuid={B1}", "business_uuid"),
    (f"{API}?business_uuid={B1}&search=a&search=b", "search"),
    (f"{API}?business_uuid={B1}&include=users&include=users", "include"),
    (f"{API}?business_uuid={B1}&filter[preferred]=true&filter[preferred]=false", "filter[preferred]"),
    (f"{API}?business_uuid={B1}&filter[categories]=pos&filter[categories]=payroll", "filter[categories]"),
    (f"{API}/available?page=1&page=1", "page"),
    (f"{API}/available?filter[status]=available&filter[status]=coming_soon", "filter[status]"),
    (f"{API}/wholesalers?per_page=1&per_page=2", "per_page"),
    (f"{API}/{P01}?include=users&include=users", "include"),
]


@pytest.mark.parametrize(
    ("url", "name"), DUPLICATE_CASES, ids=[u.removeprefix(API) for u, _ in DUPLICATE_CASES]
)
def test_repeated_single_valued_parameter(client: FlaskClient, url: str, name: str) -> None:
    assert_errors(
        send(client, "GET", url),
        400,
        item(DUPLICATE_PARAMETER, f"{name} must be given once, got 2 values", parameter=name),
    )
    assert_state_unchanged(client)


def test_repeated_array_parameter_is_not_a_duplicate(client: FlaskClient) -> None:
    response = send(
        client, "GET", f"{API}?business_uuid={B1}&filter[categories][]=pos&filter[categories][]=payroll"
    )
    assert response.status_code == 200, response.get_data(as_text=True)


# --------------------------------------------------------------------------------------------------
# several errors in one response


def test_several_parameter_errors_at_once(client: FlaskClient) -> None:
    assert_errors(
        send(client, "GET", f"{API}?business_uuid={B1}&page=0&per_page=101&include=bogus"),
        400,
        item(
            INVALID_PARAMETER,
            "include item 1 must be one of 'users', 'partner_integrations', got 'bogus'",
            parameter="include",
        ),
        item(INVALID_PARAMETER, "page must be at least 1, got 0", parameter="page"),
        item(INVALID_PARAMETER, "per_page must be at most 100, got 101", parameter="per_page"),
    )
    assert_state_unchanged(client)


def test_missing_and_invalid_parameters_at_once(client: FlaskClient) -> None:
    assert_errors(
        send(client, "GET", f"{API}?page=0&per_page=0"),
        400,
        item(MISSING_PARAMETER, "business_uuid is required", parameter="business_uuid"),
        item(INVALID_PARAMETER, "page must be at least 1, got 0", parameter="page"),
        item(INVALID_PARAMETER, "per_page must be at least 1, got 0", parameter="per_page"),
    )


def test_several_duplicates_at_once(client: FlaskClient) -> None:
    assert_errors(
        send(client, "GET", f"{API}/wholesalers?page=1&page=2&per_page=1&per_page=2"),
        400,
        item(DUPLICATE_PARAMETER, "page must be given once, got 2 values", parameter="page"),
        item(DUPLICATE_PARAMETER, "per_page must be given once, got 2 values", parameter="per_page"),
    )


def test_several_missing_body_keys_each_reported_once(client: FlaskClient) -> None:
    assert_errors(
        post_click(client, {"data": {}}),
        422,
        item(INVALID_BODY, "/data/type is required", pointer="/data/type"),
        item(INVALID_BODY, "/data/attributes is required", pointer="/data/attributes"),
    )
    assert_state_unchanged(client)


def test_several_body_errors_at_once(client: FlaskClient) -> None:
    assert_errors(
        post_click(client, {"data": {"type": "x", "attributes": {"event_type": "website", "a": 1, "b": 2}}}),
        422,
        item(INVALID_BODY, "/data/attributes/a is not allowed here", pointer="/data/attributes/a"),
        item(INVALID_BODY, "/data/attributes/b is not allowed here", pointer="/data/attributes/b"),
        item(INVALID_BODY, "/data/type must be one of 'partner_click_events', got 'x'", pointer="/data/type"),
    )
    assert_state_unchanged(client)


# --------------------------------------------------------------------------------------------------
# partner ids on the four {id} operations


ID_OPERATIONS = [
    ("GET", ""),
    ("POST", "/click_event"),
    ("PATCH", "/connect"),
    ("DELETE", "/connect"),
]


def _id_request(client: FlaskClient, method: str, suffix: str, partner_id: str) -> TestResponse:
    if method == "POST":
        return post_click(client, partner_id=partner_id)
    return send(client, method, f"{API}/{partner_id}{suffix}")


@pytest.mark.parametrize(("method", "suffix"), ID_OPERATIONS, ids=[f"{m}{s}" for m, s in ID_OPERATIONS])
@pytest.mark.parametrize(
    "bad_id",
    [
        "not-a-uuid",
        "12345",
        "c0000000000040008000000000000001",
        "{c0000000-0000-4000-8000-000000000001}",
        f"{P01}0",
    ],
)
def test_malformed_partner_id(client: FlaskClient, method: str, suffix: str, bad_id: str) -> None:
    assert_errors(
        _id_request(client, method, suffix, bad_id),
        400,
        item(INVALID_PARAMETER, f"id must be a valid uuid, got '{bad_id}'", parameter="id"),
    )
    assert_state_unchanged(client)


@pytest.mark.parametrize(("method", "suffix"), ID_OPERATIONS, ids=[f"{m}{s}" for m, s in ID_OPERATIONS])
def test_unknown_partner_id(client: FlaskClient, method: str, suffix: str) -> None:
    assert_errors(
        _id_request(client, method, suffix, NO_SUCH_ID),
        404,
        item(PARTNER_NOT_FOUND, f"No partner has id {NO_SUCH_ID}", parameter="id"),
    )
    assert_state_unchanged(client)


# --------------------------------------------------------------------------------------------------
# unknown paths and methods


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
def test_unknown_path_is_a_json_404(client: FlaskClient, method: str, path: str) -> None:
    assert_errors(
        send(client, method, path, headers={"Accept": "text/html"}),
        404,
        item(NOT_FOUND, f"No operation is served at {path}"),
    )
    assert_state_unchanged(client)


def test_unknown_admin_path_is_a_json_404_naming_the_path(client: FlaskClient) -> None:
    response = send(client, "GET", "/__admin/nope", headers={"Accept": "text/html"})
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
    client: FlaskClient, method: str, url: str, template: str, allow: str
) -> None:
    response = send(client, method, url)
    assert_errors(
        response,
        405,
        item(METHOD_NOT_ALLOWED, f"{method} is not allowed on {template}; allowed: {allow}"),
    )
    assert response.headers["Allow"] == allow
    assert_state_unchanged(client)


# --------------------------------------------------------------------------------------------------
# POST click_event: the body


def test_click_without_body(client: FlaskClient) -> None:
    assert_errors(
        post_click(client, None, content_type=None),
        422,
        item(MISSING_BODY, "A JSON request body is required", pointer=""),
    )
    assert_state_unchanged(client)


def test_click_with_empty_json_body(client: FlaskClient) -> None:
    assert_errors(
        post_click(client, b""),
        422,
        item(MISSING_BODY, "A JSON request body is required", pointer=""),
    )
    assert_state_unchanged(client)


@pytest.mark.parametrize(
    ("raw", "detail"),
    [
        (
            b"{",
            "The body is not valid JSON: Expecting property name enclosed in double quotes: "
            "line 1 column 2 (char 1)",
        ),
        (b'{"data": ', "The body is not valid JSON: Expecting value: line 1 column 10 (char 9)"),
        (
            b"{'data': {}}",
            "The body is not valid JSON: Expecting property name enclosed in double quotes: "
            "line 1 column 2 (char 1)",
        ),
        (b"{} {}", "The body is not valid JSON: Extra data: line 1 column 4 (char 3)"),
    ],
)
def test_click_with_malformed_json(client: FlaskClient, raw: bytes, detail: str) -> None:
    assert_errors(post_click(client, raw), 400, item(MALFORMED_BODY, detail, pointer=""))
    assert_state_unchanged(client)


@pytest.mark.parametrize(("raw", "byte"), [(b"\xff\xfe{}", 0), (b'{"data": "\xff"}', 10), (b"\xc3(", 0)])
def test_click_with_non_utf8_body(client: FlaskClient, raw: bytes, byte: int) -> None:
    assert_errors(
        post_click(client, raw),
        400,
        item(MALFORMED_BODY, f"The body is not valid UTF-8 (byte {byte})", pointer=""),
    )
    assert_state_unchanged(client)


@pytest.mark.parametrize("raw", [b"NaN", b"Infinity", b'{"data": -Infinity}'])
def test_click_with_non_standard_json_numbers_is_malformed(client: FlaskClient, raw: bytes) -> None:
    """NaN and Infinity are not JSON (RFC 8259); Python's json module accepts them unless told not to."""
    response = post_click(client, raw)
    assert response.status_code == 400, response.get_data(as_text=True)
    [error] = response.get_json()["errors"]
    assert (error["code"], error["source"]) == ("malformed_body", {"pointer": ""})
    assert_state_unchanged(client)


@pytest.mark.parametrize(
    ("raw", "got"),
    [
        (b"[]", "an array"),
        (b'[{"data": {}}]', "an array"),
        (b"42", "42"),
        (b'"x"', "'x'"),
        (b"true", "true"),
        (b"null", "null"),
    ],
)
def test_click_with_non_object_body(client: FlaskClient, raw: bytes, got: str) -> None:
    assert_errors(
        post_click(client, raw),
        422,
        item(INVALID_BODY, f"The body must be an object, got {got}", pointer=""),
    )
    assert_state_unchanged(client)


@pytest.mark.parametrize(
    ("content_type", "shown"),
    [
        ("text/plain", "text/plain"),
        ("text/plain; charset=utf-8", "text/plain"),
        ("application/x-www-form-urlencoded", "application/x-www-form-urlencoded"),
        ("multipart/form-data; boundary=x", "multipart/form-data"),
        ("application/json-patch+json", "application/json-patch+json"),
        (None, "no Content-Type header"),
    ],
)
def test_click_with_wrong_content_type(client: FlaskClient, content_type: str | None, shown: str) -> None:
    assert_errors(
        post_click(client, json.dumps(VALID_CLICK), content_type=content_type),
        415,
        item(
            UNSUPPORTED_MEDIA_TYPE,
            f"Content-Type must be application/json or application/vnd.api+json, got {shown}",
            header="Content-Type",
        ),
    )
    assert_state_unchanged(client)


def test_click_with_form_encoded_body(client: FlaskClient) -> None:
    assert_errors(
        post_click(
            client,
            "data[type]=partner_click_events&data[attributes][event_type]=website",
            content_type="application/x-www-form-urlencoded",
        ),
        415,
        item(
            UNSUPPORTED_MEDIA_TYPE,
            "Content-Type must be application/json or application/vnd.api+json, "
            "got application/x-www-form-urlencoded",
            header="Content-Type",
        ),
    )
    assert_state_unchanged(client)


MISSING_KEY_CASES = [
    ({}, "/data"),
    ({"meta": {}}, "/data"),
    ({"data": {"attributes": {"event_type": "website"}}}, "/data/type"),
    ({"data": {"type": "partner_click_events"}}, "/data/attributes"),
    ({"data": {"type": "partner_click_events", "attributes": {}}}, "/data/attributes/event_type"),
    (
        {"data": {**VALID_CLICK["data"], "relationships": {"partner": {"data": {"type": "partners"}}}}},
        "/data/relationships/partner/data/id",
    ),
]


@pytest.mark.parametrize(
    ("body", "pointer"), MISSING_KEY_CASES, ids=[p + str(i) for i, (_, p) in enumerate(MISSING_KEY_CASES)]
)
def test_click_with_missing_key(client: FlaskClient, body: dict[str, Any], pointer: str) -> None:
    expected = [item(INVALID_BODY, f"{pointer} is required", pointer=pointer)]
    if "meta" in body:
        expected.insert(0, item(INVALID_BODY, "/meta is not allowed here", pointer="/meta"))
    assert_errors(post_click(client, body), 422, *expected)
    assert_state_unchanged(client)


WRONG_VALUE_CASES = [
    (
        {"data": {"type": "partners", "attributes": {"event_type": "website"}}},
        "/data/type",
        "/data/type must be one of 'partner_click_events', got 'partners'",
    ),
    (
        {"data": {"type": "partner_click_event", "attributes": {"event_type": "website"}}},
        "/data/type",
        "/data/type must be one of 'partner_click_events', got 'partner_click_event'",
    ),
    (
        {"data": {"type": "partner_click_events", "attributes": {"event_type": "banner"}}},
        "/data/attributes/event_type",
        "/data/attributes/event_type must be one of 'website', 'video', got 'banner'",
    ),
    (
        {"data": {"type": "partner_click_events", "attributes": {"event_type": "Website"}}},
        "/data/attributes/event_type",
        "/data/attributes/event_type must be one of 'website', 'video', got 'Website'",
    ),
    ({"data": []}, "/data", "/data must be an object, got an array"),
    ({"data": None}, "/data", "/data must be an object, got null"),
    (
        {"data": {"type": "partner_click_events", "attributes": []}},
        "/data/attributes",
        "/data/attributes must be an object, got an array",
    ),
    (
        {"data": {**VALID_CLICK["data"], "relationships": None}},
        "/data/relationships",
        "/data/relationships must be an object, got null",
    ),
    (
        {
            "data": {
                **VALID_CLICK["data"],
                "relationships": {"partner": {"data": {"type": "bogus", "id": P01}}},
            }
        },
        "/data/relationships/partner/data/type",
        "/data/relationships/partner/data/type must be one of 'partners', 'partner', got 'bogus'",
    ),
    (
        {"data": {**VALID_CLICK["data"], "relationships": {"partner": {"type": "partners", "id": "nope"}}}},
        "/data/relationships/partner/id",
        "/data/relationships/partner/id must be a valid uuid, got 'nope'",
    ),
]


@pytest.mark.parametrize(
    ("body", "pointer", "detail"), WRONG_VALUE_CASES, ids=[d[:50] for _, _, d in WRONG_VALUE_CASES]
)
def test_click_with_wrong_value(client: FlaskClient, body: dict[str, Any], pointer: str, detail: str) -> None:
    assert_errors(post_click(client, body), 422, item(INVALID_BODY, detail, pointer=pointer))
    assert_state_unchanged(client)


EXTRA_KEY_CASES = [
    ({**VALID_CLICK, "meta": {}}, "/meta"),
    ({"data": {**VALID_CLICK["data"], "id": P01}}, "/data/id"),
    (
        {"data": {"type": "partner_click_events", "attributes": {"event_type": "website", "extra": 1}}},
        "/data/attributes/extra",
    ),
    (
        {
            "data": {
                "type": "partner_click_events",
                "attributes": {"event_type": "website", "event-type": "video"},
            }
        },
        "/data/attributes/event-type",
    ),
    ({"data": {**VALID_CLICK["data"], "relationships": {"user": {}}}}, "/data/relationships/user"),
    (
        {"data": {**VALID_CLICK["data"], "relationships": {"partner": {"data": {"id": P01, "x": 1}}}}},
        "/data/relationships/partner/data/x",
    ),
    (
        {"data": {**VALID_CLICK["data"], "relationships": {"partner": {"links": {}}}}},
        "/data/relationships/partner/links",
    ),
]


@pytest.mark.parametrize(("body", "pointer"), EXTRA_KEY_CASES, ids=[p for _, p in EXTRA_KEY_CASES])
def test_click_with_extra_key(client: FlaskClient, body: dict[str, Any], pointer: str) -> None:
    assert_errors(
        post_click(client, body), 422, item(INVALID_BODY, f"{pointer} is not allowed here", pointer=pointer)
    )
    assert_state_unchanged(client)


@pytest.mark.parametrize(
    ("partner", "pointer"),
    [
        ({"data": {"type": "partners", "id": P02}}, "/data/relationships/partner/data/id"),
        ({"data": {"type": "partner", "id": P02}}, "/data/relationships/partner/data/id"),
        ({"data": {"id": P02}}, "/data/relationships/partner/data/id"),
        ({"type": "partners", "id": P02}, "/data/relationships/partner/id"),
        ({"type": "partner", "id": P02}, "/data/relationships/partner/id"),
        ({"id": P02}, "/data/relationships/partner/id"),
    ],
    ids=[
        "jsonapi-partners",
        "jsonapi-partner",
        "jsonapi-no-type",
        "flat-partners",
        "flat-partner",
        "flat-no-type",
    ],
)
def test_click_naming_another_partner(client: FlaskClient, partner: dict[str, Any], pointer: str) -> None:
    body = {"data": {**VALID_CLICK["data"], "relationships": {"partner": partner}}}
    assert_errors(
        post_click(client, body),
        409,
        item(PARTNER_MISMATCH, f"{pointer} must be the path's partner id {P01}, got {P02}", pointer=pointer),
    )
    assert_state_unchanged(client)


def test_click_naming_another_partner_in_both_forms(client: FlaskClient) -> None:
    partner = {"data": {"type": "partners", "id": P02}, "type": "partners", "id": P03}
    body = {"data": {**VALID_CLICK["data"], "relationships": {"partner": partner}}}
    assert_errors(
        post_click(client, body),
        409,
        item(
            PARTNER_MISMATCH,
            f"/data/relationships/partner/data/id must be the path's partner id {P01}, got {P02}",
            pointer="/data/relationships/partner/data/id",
        ),
        item(
            PARTNER_MISMATCH,
            f"/data/relationships/partner/id must be the path's partner id {P01}, got {P03}",
            pointer="/data/relationships/partner/id",
        ),
    )
    assert_state_unchanged(client)


def test_click_with_unknown_partner_and_bad_body_reports_the_body(client: FlaskClient) -> None:
    """The body is validated before the partner is looked up: a 422 names what to fix first."""
    assert_errors(
        post_click(client, {"data": {"type": "partner_click_events"}}, partner_id=NO_SUCH_ID),
        422,
        item(INVALID_BODY, "/data/attributes is required", pointer="/data/attributes"),
    )


@pytest.mark.parametrize("shape", ["arrays", "objects", "under-data"])
def test_click_with_deeply_nested_json(client: FlaskClient, shape: str) -> None:
    depth = 10_000
    raw = {
        "arrays": "[" * depth + "]" * depth,
        "objects": '{"a":' * depth + "1" + "}" * depth,
        "under-data": '{"data":' + '{"a":' * depth + "1" + "}" * depth + "}",
    }[shape]
    assert_errors(
        post_click(client, raw),
        400,
        item(MALFORMED_BODY, "The body is nested too deeply", pointer=""),
    )
    # The server survived and keeps serving.
    assert send(client, "GET", f"{API}/{P01}").status_code == 200
    assert post_click(client).status_code == 201
    assert len(click_events(client)) == 1


def _plain_client(app: Flask) -> FlaskClient:
    """A client that does not check responses against the spec, to look at an undocumented answer."""
    return FlaskClient(app, app.response_class, use_cookies=True)


@pytest.mark.parametrize(
    ("raw", "content_type"),
    [
        (b'{"data": "' + b"x" * (1024 * 1024) + b'"}', JSON),
        (b"x" * (1024 * 1024 + 1), JSON),
        (b"a=" + b"x" * (1024 * 1024), "application/x-www-form-urlencoded"),
    ],
    ids=["json", "garbage", "form"],
)
def test_body_over_one_mib_is_a_clean_413(app: Flask, raw: bytes, content_type: str) -> None:
    client = _plain_client(app)
    response = post_click(client, raw, content_type=content_type)
    assert response.status_code == 413, response.get_data(as_text=True)[:300]
    assert response.mimetype == JSON
    [error] = response.get_json()["errors"]
    assert {k: error[k] for k in ("status", "code", "title")} == {
        "status": "413",
        "code": "payload_too_large",
        "title": "Request body too large",
    }
    # Actionable: the detail must state the limit (1 MiB = 1048576 bytes), not Werkzeug's generic
    # "The data value transmitted exceeds the capacity limit."
    assert "1048576" in error["detail"] or "1 MiB" in error["detail"], error["detail"]
    assert_state_unchanged(client)


def test_413_is_documented_for_click_event(client: FlaskClient) -> None:
    """The spec-checking client rejects a 413 the spec does not declare for createPartnerClickEvent."""
    response = post_click(client, b"x" * (1024 * 1024 + 1))
    assert response.status_code == 413


# --------------------------------------------------------------------------------------------------
# Authorization


OPERATIONS = [
    ("GET", f"{API}?business_uuid={B1}"),
    ("GET", f"{API}/available"),
    ("GET", f"{API}/wholesalers"),
    ("GET", f"{API}/{P01}"),
    ("POST", f"{API}/{P01}/click_event"),
    ("PATCH", f"{API}/{P08}/connect"),
    ("DELETE", f"{API}/{P02}/connect"),
]
AUTH_CASES = [
    ("Bearer nope", "The bearer token does not belong to any user of the data set"),
    ("Bearer ALICE-TOKEN", "The bearer token does not belong to any user of the data set"),
    ("Basic x", "Authorization must be 'Bearer <token>'"),
    ("Basic YWxpY2U6c2VjcmV0", "Authorization must be 'Bearer <token>'"),
    ("Bearer ", "Authorization must be 'Bearer <token>'"),
    ("Bearer", "Authorization must be 'Bearer <token>'"),
    ("alice-token", "Authorization must be 'Bearer <token>'"),
    ("", "Authorization must be 'Bearer <token>'"),
]


def _operation_request(client: FlaskClient, method: str, url: str, headers: dict[str, str]) -> TestResponse:
    if method == "POST":
        return send(client, method, url, json.dumps(VALID_CLICK), JSON, headers)
    return send(client, method, url, headers=headers)


@pytest.mark.parametrize(
    ("method", "url"), OPERATIONS, ids=[f"{m} {u.removeprefix(API) or '/'}" for m, u in OPERATIONS]
)
@pytest.mark.parametrize(("header", "detail"), AUTH_CASES, ids=[repr(h) for h, _ in AUTH_CASES])
def test_bad_authorization_is_401(
    client: FlaskClient, method: str, url: str, header: str, detail: str
) -> None:
    assert_errors(
        _operation_request(client, method, url, {"Authorization": header}),
        401,
        item(UNKNOWN_TOKEN, detail, header="Authorization"),
    )
    assert_state_unchanged(client)


@pytest.mark.parametrize(
    ("method", "url"), OPERATIONS, ids=[f"{m} {u.removeprefix(API) or '/'}" for m, u in OPERATIONS]
)
def test_401_tells_the_client_how_to_authenticate(client: FlaskClient, method: str, url: str) -> None:
    """RFC 9110 15.5.2: a 401 response MUST carry a WWW-Authenticate challenge."""
    response = _operation_request(client, method, url, {"Authorization": "Bearer nope"})
    assert response.status_code == 401
    assert response.headers.get("WWW-Authenticate", "").lower().startswith("bearer"), dict(response.headers)


# --------------------------------------------------------------------------------------------------
# state after a battery of failing writes


def test_failing_writes_change_nothing(client: FlaskClient) -> None:
    before_links = links(client)
    assert before_links == INITIAL_LINKS
    failing = [
        post_click(client, {"data": {}}),
        post_click(client, b"{"),
        post_click(client, json.dumps(VALID_CLICK), content_type="text/plain"),
        post_click(client, partner_id=NO_SUCH_ID),
        post_click(client, partner_id="nope"),
        post_click(client, {"data": {**VALID_CLICK["data"], "relationships": {"partner": {"id": P02}}}}),
        post_click(client, headers={"Authorization": "Bearer nope"}),
        send(client, "PATCH", f"{API}/{NO_SUCH_ID}/connect"),
        send(client, "PATCH", f"{API}/{P08}/connect", headers={"Authorization": "Bearer nope"}),
        send(client, "PATCH", f"{API}/{P08}/connect", headers={"Authorization": "Basic x"}),
        send(client, "DELETE", f"{API}/{NO_SUCH_ID}/connect"),
        send(client, "DELETE", f"{API}/{P02}/connect", headers={"Authorization": "Bearer nope"}),
        send(client, "DELETE", f"{API}/not-a-uuid/connect"),
        send(client, "POST", f"{API}/{P08}/connect"),
        send(client, "PUT", f"{API}/{P08}/connect"),
    ]
    assert [r.status_code for r in failing] == [
        422,
        400,
        415,
        404,
        400,
        409,
        401,
        404,
        401,
        401,
        404,
        401,
        400,
        405,
        405,
    ]
    assert click_events(client) == []
    assert links(client) == before_links
    # Every one of them was journaled with its status, none as a success.
    journal = send(client, "GET", "/__admin/requests").get_json()["requests"]
    statuses = [entry["status"] for entry in journal if entry["method"] != "GET"]
    assert statuses == [r.status_code for r in failing]
