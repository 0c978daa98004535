"""Request bodies of POST click_event: every error is the whole JSON:API document, and nothing changes.

Malformed and hostile JSON, wrong shapes and values, missing and extra members, another partner
named in the body, look-alike media types, bodies over the size limit (with and without
Content-Length). As in test_parameter_errors.py and test_path_and_method_errors.py, each test
compares the complete error document, then checks the app still serves and its state is exactly as
loaded.
"""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from support import (
    API,
    CLICK_BYTES,
    CLIENT_GENERATED_ID,
    INITIAL_LINKS,
    INVALID_BODY,
    JSON,
    MALFORMED_BODY,
    MIB,
    MISSING_BODY,
    NO_SUCH_ID,
    P01,
    P02,
    P03,
    P08,
    PARTNER_MISMATCH,
    PAYLOAD_TOO_LARGE,
    UNSUPPORTED_MEDIA_TYPE,
    VALID_CLICK,
    assert_errors,
    assert_unchanged,
    click_events,
    item,
    links,
    make_app,
    padded_click,
    plain_client,
    post_click,
    send,
)
from werkzeug.test import EnvironBuilder, run_wsgi_app

# --------------------------------------------------------------------------------------------------
# POST click_event: the body


def test_click_without_body(shared_client: FlaskClient) -> None:
    assert_errors(
        post_click(shared_client, None, content_type=None),
        422,
        item(MISSING_BODY, "A JSON request body is required", pointer=""),
    )
    assert_unchanged(shared_client)


def test_click_with_empty_json_body(shared_client: FlaskClient) -> None:
    assert_errors(
        post_click(shared_client, b""),
        422,
        item(MISSING_BODY, "A JSON request body is required", pointer=""),
    )
    assert_unchanged(shared_client)


MALFORMED_JSON = [
    (b"{", "Expecting property name enclosed in double quotes: line 1 column 2 (char 1)"),
    (b'{"data": ', "Expecting value: line 1 column 10 (char 9)"),
    (b"{'data': {}}", "Expecting property name enclosed in double quotes: line 1 column 2 (char 1)"),
    (b"{} {}", "Extra data: line 1 column 4 (char 3)"),
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
def test_malformed_json_is_400_naming_line_and_column(
    shared_client: FlaskClient, raw: bytes, detail: str
) -> None:
    assert_errors(
        post_click(shared_client, raw),
        400,
        item(MALFORMED_BODY, f"The body is not valid JSON: {detail}", pointer=""),
    )
    assert_unchanged(shared_client)


@pytest.mark.parametrize(
    ("raw", "byte", "headers"),
    [
        (b"\xff\xfe{}", 0, None),
        (b'{"data": "\xff"}', 10, None),
        (b"\xc3(", 0, None),
        # Compressed bytes sent without saying so are named as bytes, never half-parsed.
        (b"\x1f\x8b\x08\x00\x00\x00\x00\x00", 1, None),
    ],
    ids=["utf16-bom", "in-a-string", "truncated-sequence", "undeclared-gzip"],
)
def test_click_with_non_utf8_body(
    shared_client: FlaskClient, raw: bytes, byte: int, headers: dict[str, str] | None
) -> None:
    assert_errors(
        post_click(shared_client, raw, headers=headers),
        400,
        item(MALFORMED_BODY, f"The body is not valid UTF-8 (byte {byte})", pointer=""),
    )
    assert_unchanged(shared_client)


@pytest.mark.parametrize(
    ("encoding", "header"),
    [("gzip", "Content-Encoding"), ("br", "Content-Encoding"), ("gzip, chunked", "Transfer-Encoding")],
)
def test_click_with_an_encoded_body_is_415(shared_client: FlaskClient, encoding: str, header: str) -> None:
    """The mock never decodes a body: an encoded one is refused by name, the header at fault."""
    response = post_click(shared_client, b"\x1f\x8b\x08\x00\x00\x00\x00\x00", headers={header: encoding})
    assert_errors(
        response,
        415,
        item(
            UNSUPPORTED_MEDIA_TYPE,
            f"{header} {encoding.split(',')[0]!r} is not supported; "
            + ("send the body unencoded" if header == "Content-Encoding" else "only chunked is"),
            header=header,
        ),
    )
    assert_unchanged(shared_client)


@pytest.mark.parametrize("raw", [b"NaN", b"Infinity", b'{"data": -Infinity}'])
def test_click_with_non_standard_json_numbers_is_malformed(shared_client: FlaskClient, raw: bytes) -> None:
    """NaN and Infinity are not JSON (RFC 8259); Python's json module accepts them unless told not to."""
    response = post_click(shared_client, raw)
    assert response.status_code == 400, response.get_data(as_text=True)
    [error] = response.get_json()["errors"]
    assert (error["code"], error["source"]) == ("malformed_body", {"pointer": ""})
    assert_unchanged(shared_client)


@pytest.mark.parametrize("shape", ["arrays", "objects", "under-data"])
def test_click_with_deeply_nested_json(client: FlaskClient, shape: str) -> None:
    depth = 10_000
    raw = {
        "arrays": "[" * depth + "]" * depth,
        "objects": '{"a":' * depth + "1" + "}" * depth,
        "under-data": '{"data":' + '{"a":' * depth + "1" + "}" * depth + "}",
    }[shape]
    assert_errors(
        post_click(client, raw), 400, item(MALFORMED_BODY, "The body is nested too deeply", pointer="")
    )
    assert_unchanged(client)
    # The app survived and keeps taking clicks.
    assert post_click(client).status_code == 201
    assert len(click_events(client)) == 1


def test_nesting_deep_but_parseable_is_a_schema_error(shared_client: FlaskClient) -> None:
    """500 levels parse (Python's limit is ~1000): the schema rejects the value, nothing recurses further."""
    depth = 500
    raw = b'{"data": {"type": "partner_click_events", "attributes": {"event_type": '
    raw += b"[" * depth + b"]" * depth + b"}}}"
    pointer = "/data/attributes/event_type"
    assert_errors(
        post_click(shared_client, raw),
        422,
        item(INVALID_BODY, f"{pointer} must be a string, got an array", pointer=pointer),
        item(INVALID_BODY, f"{pointer} must be one of 'website', 'video', got an array", pointer=pointer),
    )
    assert_unchanged(shared_client)


def _with_relationships(relationships: Any) -> bytes:
    return json.dumps({"data": {**VALID_CLICK["data"], "relationships": relationships}}).encode()


WRONG_SHAPES = [
    # not an object at all
    (b"[]", "", "The body must be an object, got an array"),
    (b'[{"data": {}}]', "", "The body must be an object, got an array"),
    (b"42", "", "The body must be an object, got 42"),
    (b"-1", "", "The body must be an object, got -1"),
    (b"1.5", "", "The body must be an object, got 1.5"),
    (b'"x"', "", "The body must be an object, got 'x'"),
    ('"é"'.encode(), "", "The body must be an object, got 'é'"),
    (b"true", "", "The body must be an object, got true"),
    (b"null", "", "The body must be an object, got null"),
    # an object with a member of the wrong type or value
    (b'{"data": []}', "/data", "/data must be an object, got an array"),
    (b'{"data": null}', "/data", "/data must be an object, got null"),
    (b'{"data": "x"}', "/data", "/data must be an object, got 'x'"),
    (b'{"data": 0}', "/data", "/data must be an object, got 0"),
    (b'{"data": false}', "/data", "/data must be an object, got false"),
    (
        b'{"data": {"type": "partners", "attributes": {"event_type": "website"}}}',
        "/data/type",
        "/data/type must be one of 'partner_click_events', got 'partners'",
    ),
    (
        b'{"data": {"type": "partner_click_event", "attributes": {"event_type": "website"}}}',
        "/data/type",
        "/data/type must be one of 'partner_click_events', got 'partner_click_event'",
    ),
    (
        b'{"data": {"type": "partner_click_events", "attributes": {"event_type": "banner"}}}',
        "/data/attributes/event_type",
        "/data/attributes/event_type must be one of 'website', 'video', got 'banner'",
    ),
    (
        b'{"data": {"type": "partner_click_events", "attributes": {"event_type": "Website"}}}',
        "/data/attributes/event_type",
        "/data/attributes/event_type must be one of 'website', 'video', got 'Website'",
    ),
    (
        # injection strings are plain data in a body too
        b'{"data": {"type": "partner_click_events", "attributes": {"event_type": "{{7*7}}"}}}',
        "/data/attributes/event_type",
        "/data/attributes/event_type must be one of 'website', 'video', got '{{7*7}}'",
    ),
    (
        b'{"data": {"type": "partner_click_events", "attributes": []}}',
        "/data/attributes",
        "/data/attributes must be an object, got an array",
    ),
    (
        b'{"data": {"type": "partner_click_events", "attributes": "website"}}',
        "/data/attributes",
        "/data/attributes must be an object, got 'website'",
    ),
    (_with_relationships(None), "/data/relationships", "/data/relationships must be an object, got null"),
    (_with_relationships([]), "/data/relationships", "/data/relationships must be an object, got an array"),
    (
        _with_relationships({"partner": P01}),
        "/data/relationships/partner",
        f"/data/relationships/partner must be an object, got '{P01}'",
    ),
    (
        _with_relationships({"partner": {"data": [{"id": P01}]}}),
        "/data/relationships/partner/data",
        "/data/relationships/partner/data must be an object, got an array",
    ),
    (
        _with_relationships({"partner": {"data": {"type": "bogus", "id": P01}}}),
        "/data/relationships/partner/data/type",
        "/data/relationships/partner/data/type must be one of 'partners', 'partner', got 'bogus'",
    ),
    (
        _with_relationships({"partner": {"type": "partners", "id": "nope"}}),
        "/data/relationships/partner/id",
        "/data/relationships/partner/id must be a valid uuid, got 'nope'",
    ),
]


@pytest.mark.parametrize(("raw", "pointer", "detail"), WRONG_SHAPES, ids=[d[:50] for _, _, d in WRONG_SHAPES])
def test_click_with_a_wrong_shape_or_value_is_422(
    shared_client: FlaskClient, raw: bytes, pointer: str, detail: str
) -> None:
    assert_errors(post_click(shared_client, raw), 422, item(INVALID_BODY, detail, pointer=pointer))
    assert_unchanged(shared_client)


@pytest.mark.parametrize(
    ("field", "pointer"), [("type", "/data/type"), ("event_type", "/data/attributes/event_type")]
)
def test_array_instead_of_a_string_reports_type_and_enum(
    shared_client: FlaskClient, field: str, pointer: str
) -> None:
    body = json.loads(CLICK_BYTES)
    if field == "type":
        body["data"]["type"] = ["partner_click_events"]
        allowed = "'partner_click_events'"
    else:
        body["data"]["attributes"]["event_type"] = ["website"]
        allowed = "'website', 'video'"
    assert_errors(
        post_click(shared_client, body),
        422,
        item(INVALID_BODY, f"{pointer} must be a string, got an array", pointer=pointer),
        item(INVALID_BODY, f"{pointer} must be one of {allowed}, got an array", pointer=pointer),
    )
    assert_unchanged(shared_client)


MISSING_KEY_CASES = [
    ({}, "/data"),
    ({"meta": {}, "jsonapi": {"version": "1.1"}}, "/data"),
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
def test_click_with_missing_key(shared_client: FlaskClient, body: dict[str, Any], pointer: str) -> None:
    assert_errors(
        post_click(shared_client, body), 422, item(INVALID_BODY, f"{pointer} is required", pointer=pointer)
    )
    assert_unchanged(shared_client)


EXTRA_KEY_CASES = [
    ({**VALID_CLICK, "links": {}}, "/links"),
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
def test_click_with_extra_key(shared_client: FlaskClient, body: dict[str, Any], pointer: str) -> None:
    assert_errors(
        post_click(shared_client, body),
        422,
        item(INVALID_BODY, f"{pointer} is not allowed here", pointer=pointer),
    )
    assert_unchanged(shared_client)


@pytest.mark.parametrize(
    "extra",
    [{"meta": {"client": "web"}}, {"jsonapi": {"version": "1.1"}}, {"meta": {}, "jsonapi": {}}],
)
def test_click_with_top_level_meta_or_jsonapi_is_stored(client: FlaskClient, extra: dict[str, Any]) -> None:
    """JSON:API allows `meta` and `jsonapi` in every document; the mock ignores them."""
    response = post_click(client, {**VALID_CLICK, **extra})
    assert response.status_code == 201, response.get_data(as_text=True)
    assert len(click_events(client)) == 1


def test_click_with_meta_that_is_not_an_object_is_422(shared_client: FlaskClient) -> None:
    assert_errors(
        post_click(shared_client, {**VALID_CLICK, "meta": "web"}),
        422,
        item(INVALID_BODY, "/meta must be an object, got 'web'", pointer="/meta"),
    )
    assert_unchanged(shared_client)


def test_click_with_a_client_generated_id_is_403(shared_client: FlaskClient) -> None:
    """JSON:API: a server that assigns ids itself answers 403 to a client-generated one."""
    assert_errors(
        post_click(shared_client, {"data": {**VALID_CLICK["data"], "id": P01}}),
        403,
        item(
            CLIENT_GENERATED_ID,
            "/data/id is assigned by the server; send the click event without an id",
            pointer="/data/id",
        ),
    )
    assert_unchanged(shared_client)


def test_several_missing_body_keys_each_reported_once(shared_client: FlaskClient) -> None:
    assert_errors(
        post_click(shared_client, {"data": {}}),
        422,
        item(INVALID_BODY, "/data/type is required", pointer="/data/type"),
        item(INVALID_BODY, "/data/attributes is required", pointer="/data/attributes"),
    )
    assert_unchanged(shared_client)


def test_several_body_errors_at_once(shared_client: FlaskClient) -> None:
    assert_errors(
        post_click(
            shared_client, {"data": {"type": "x", "attributes": {"event_type": "website", "a": 1, "b": 2}}}
        ),
        422,
        item(INVALID_BODY, "/data/attributes/a is not allowed here", pointer="/data/attributes/a"),
        item(INVALID_BODY, "/data/attributes/b is not allowed here", pointer="/data/attributes/b"),
        item(INVALID_BODY, "/data/type must be one of 'partner_click_events', got 'x'", pointer="/data/type"),
    )
    assert_unchanged(shared_client)


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
def test_click_naming_another_partner(
    shared_client: FlaskClient, partner: dict[str, Any], pointer: str
) -> None:
    assert_errors(
        post_click(shared_client, _with_relationships({"partner": partner})),
        409,
        item(PARTNER_MISMATCH, f"{pointer} must be the path's partner id {P01}, got {P02}", pointer=pointer),
    )
    assert_unchanged(shared_client)


def test_click_naming_another_partner_in_both_forms(shared_client: FlaskClient) -> None:
    partner = {"data": {"type": "partners", "id": P02}, "type": "partners", "id": P03}
    assert_errors(
        post_click(shared_client, _with_relationships({"partner": partner})),
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
    assert_unchanged(shared_client)


def test_click_with_unknown_partner_and_bad_body_reports_the_body(shared_client: FlaskClient) -> None:
    """The body is validated before the partner is looked up: a 422 names what to fix first."""
    assert_errors(
        post_click(shared_client, {"data": {"type": "partner_click_events"}}, partner_id=NO_SUCH_ID),
        422,
        item(INVALID_BODY, "/data/attributes is required", pointer="/data/attributes"),
    )


# --------------------------------------------------------------------------------------------------
# Content-Type


FORM_CLICK = b"data[type]=partner_click_events&data[attributes][event_type]=website"


@pytest.mark.parametrize(
    ("content_type", "shown", "body"),
    [
        ("text/plain", "text/plain", CLICK_BYTES),
        ("text/plain; charset=utf-8", "text/plain", CLICK_BYTES),
        ("application/x-www-form-urlencoded", "application/x-www-form-urlencoded", CLICK_BYTES),
        ("application/x-www-form-urlencoded", "application/x-www-form-urlencoded", FORM_CLICK),
        ("multipart/form-data; boundary=x", "multipart/form-data", CLICK_BYTES),
        ("application/json-patch+json", "application/json-patch+json", CLICK_BYTES),
        (None, "no Content-Type header", CLICK_BYTES),
        # look-alikes of JSON
        ("application/xml", "application/xml", CLICK_BYTES),
        ("application/jsonx", "application/jsonx", CLICK_BYTES),
        ("application/*", "application/*", CLICK_BYTES),
        ("*/*", "*/*", CLICK_BYTES),
        ("json", "json", CLICK_BYTES),
        ("text/json", "text/json", CLICK_BYTES),
        ("application/ld+json", "application/ld+json", CLICK_BYTES),
    ],
)
def test_click_with_wrong_content_type_is_415(
    shared_client: FlaskClient, content_type: str | None, shown: str, body: bytes
) -> None:
    assert_errors(
        post_click(shared_client, body, content_type=content_type),
        415,
        item(
            UNSUPPORTED_MEDIA_TYPE,
            f"Content-Type must be application/json or application/vnd.api+json, got {shown}",
            header="Content-Type",
        ),
    )
    assert_unchanged(shared_client)


# --------------------------------------------------------------------------------------------------
# body size: the limit is configurable and exact


@pytest.fixture(scope="module")
def small_limit_app() -> Flask:
    """The default scenario accepting bodies of at most 1000 bytes."""
    return make_app(scenario="default", max_body_bytes=1000)


@pytest.mark.parametrize(
    ("limit", "raw", "content_type"),
    [
        (1000, padded_click(1001), JSON),
        (1000, padded_click(1001), "application/vnd.api+json"),
        (MIB, b'{"data": "' + b"x" * MIB + b'"}', JSON),
        (MIB, b"x" * (MIB + 1), JSON),
        (MIB, b"a=" + b"x" * MIB, "application/x-www-form-urlencoded"),
    ],
    ids=["1001-json", "1001-jsonapi", "1MiB-json", "1MiB-garbage", "1MiB-form"],
)
def test_body_over_the_limit_is_413_naming_the_limit(
    shared_client: FlaskClient, small_limit_app: Flask, limit: int, raw: bytes, content_type: str
) -> None:
    """Actionable: the detail states both sizes, not Werkzeug's generic "The data value transmitted
    exceeds the capacity limit". The spec-checking client also proves 413 is documented here."""
    client = shared_client if limit == MIB else small_limit_app.test_client()
    assert_errors(
        post_click(client, raw, content_type=content_type),
        413,
        item(
            PAYLOAD_TOO_LARGE,
            f"The body is {len(raw)} bytes; at most {limit} bytes are accepted",
            header="Content-Length",
        ),
    )
    assert_unchanged(client)


def test_body_exactly_at_the_limit_is_accepted() -> None:
    app = make_app(scenario="default", max_body_bytes=1000)
    with app.test_client() as client:
        response = post_click(client, padded_click(1000))
        assert response.status_code == 201, response.get_data(as_text=True)
        assert len(click_events(client)) == 1


def test_body_of_exactly_one_mib_is_accepted_by_default(client: FlaskClient) -> None:
    response = post_click(client, padded_click(MIB))
    assert response.status_code == 201, response.get_data(as_text=True)[:300]
    assert len(click_events(client)) == 1


def test_body_over_the_limit_without_content_length_is_413(small_limit_app: Flask) -> None:
    """A streamed body (chunked: no CONTENT_LENGTH, `wsgi.input_terminated` set, as granian and
    other servers pass it) is held to the same limit, not silently cut at it.

    Werkzeug then reads at most `max_body_bytes` and stops without an error; the app must notice
    that more was sent. Here the first 1000 bytes are a valid click and the rest is garbage.
    """
    body = padded_click(1000) + b"garbage that must not be ignored"
    environ = EnvironBuilder(
        path=f"{API}/{P01}/click_event", method="POST", data=body, content_type=JSON
    ).get_environ()
    del environ["CONTENT_LENGTH"]
    environ["wsgi.input_terminated"] = True
    iterable, status, headers = run_wsgi_app(small_limit_app, environ, buffered=True)
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
    assert_unchanged(plain_client(small_limit_app))


class _CountingInput(io.BytesIO):
    """A request body that remembers how much of it the server read."""

    consumed = 0

    def read(self, size: int | None = -1) -> bytes:
        chunk = super().read(size)
        self.consumed += len(chunk)
        return chunk


@pytest.mark.parametrize(("method", "status_ok"), [("PATCH", 200), ("DELETE", 200)])
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
# state after a battery of failing writes


def test_failing_writes_change_nothing(client: FlaskClient) -> None:
    assert links(client) == INITIAL_LINKS
    failing = [
        post_click(client, {"data": {}}),
        post_click(client, b"{"),
        post_click(client, CLICK_BYTES, content_type="text/plain"),
        post_click(client, partner_id=NO_SUCH_ID),
        post_click(client, partner_id="nope"),
        post_click(client, _with_relationships({"partner": {"id": P02}})),
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
    assert_unchanged(client)
    # Every one of them was journaled with its status, none as a success.
    journal = send(client, "GET", "/__admin/requests").get_json()["requests"]
    statuses = [entry["status"] for entry in journal if entry["method"] != "GET"]
    assert statuses == [r.status_code for r in failing]
