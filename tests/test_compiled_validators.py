"""The compiled validators accept and reject exactly what openapi-core does, with the same errors."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from flask import Flask
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from support import B1, P01, SPEC_OPERATIONS, make_app

from mockserver.contract.validation import validate_current_request
from mockserver.core import api_errors as e
from mockserver.core.channels import SPEC_EXTENSION

pytestmark = pytest.mark.system  # 2,000 generated requests

OPERATIONS = [(method, path) for method, path, _, _ in SPEC_OPERATIONS]
TRICKY_VALUES = [
    "", "0", "1", "-1", "25", "100", "101", "1e9", "6.1e-05", "abc", "+5", " 5", "5_0", "٣",
    "99999999999999999999", "true", "false", "TRUE", "yes", "on", "0", "maybe", "null",
    "users", "partner_integrations", "users,partner_integrations", "users,", ",", "users,bogus",
    "pos", "pos,wholesaler", "wholesaler", "POS", "soft_drinks", "wine,beer", "GB", "gb", "GB,US",
    "available", "coming_soon", "available,coming_soon", "unavailable", "café", "🍕", "\u202eabc",
    "x" * 300, B1, str(uuid.UUID(int=7)), "not-a-uuid", B1.upper(),
    "GB\n", "pos\n", "{" + B1 + "}", "urn:uuid:" + B1,
    B1.replace("-", ""), "1.0", "100.0", "-0", "0x10", "1" * 25,
]  # fmt: skip
IDS = [
    P01, str(uuid.UUID(int=1, version=4)), "abc", "123", P01.upper(), "%20", "a" * 40,
    "{" + P01 + "}", "urn:uuid:" + P01, P01.replace("-", ""),
    P01 + "\n",
]  # fmt: skip
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=8,
)


@st.composite
def click_bodies(draw: st.DrawFn) -> Any:
    event_type = draw(st.sampled_from(["website", "video", "website", "video", "banner", 7, None]))
    data: dict[str, Any] = {
        "type": draw(st.sampled_from(["partner_click_events"] * 3 + ["partners", 1])),
        "attributes": draw(
            st.sampled_from([{"event_type": event_type}, {}, {"event_type": "video", "x": 1}])
        ),
    }
    if draw(st.booleans()):
        partner_ids = [P01] * 3 + [
            "nope", str(uuid.UUID(int=3, version=4)), P01.upper(),
            "{" + P01 + "}", P01.replace("-", ""),
        ]  # fmt: skip
        partner_id = draw(st.sampled_from(partner_ids))
        form = draw(st.sampled_from(["jsonapi", "flat", "both", "bad"]))
        partner = {
            "jsonapi": {"data": {"type": "partners", "id": partner_id}},
            "flat": {"type": "partner", "id": partner_id},
            "both": {"data": {"id": partner_id}, "id": partner_id},
            "bad": {"data": {"type": "users", "id": partner_id, "extra": True}},
        }[form]
        data["relationships"] = {"partner": partner}
    if draw(st.integers(0, 4)) == 0:
        del data[draw(st.sampled_from(["type", "attributes"]))]
    return draw(st.sampled_from([{"data": data}] * 4 + [{"data": data, "meta": 1}, data, [data]]))


BODIES = st.one_of(
    st.just(None),
    click_bodies().map(lambda body: json.dumps(body).encode()),
    JSON_VALUES.map(lambda value: json.dumps(value).encode()),
    st.sampled_from([b"", b"{", b"[1,", b"null", b"\xff\xfe", b"a=b"]),
)


def _outcome(
    app: Flask, method: str, path: str, query: list[tuple[str, str]], body: bytes | None, ctype: str | None
) -> Any:
    headers = {"Content-Type": ctype} if ctype else {}
    with app.test_request_context(path, method=method, query_string=query, data=body, headers=headers):
        try:
            valid = validate_current_request()
        except e.ApiError as error:
            return ("error", error.status, [item.to_json() for item in error.items])
        typed = {"p": valid.path, "q": valid.query, "b": valid.body}
        return ("ok", valid.operation.operation_id, _same_uuids(json.loads(json.dumps(typed, default=str))))


def _same_uuids(value: Any) -> Any:
    """openapi-core hands views `uuid.UUID` objects where the compiled path keeps the valid string;
    both name the same id, so compare them in one canonical (lower-case) spelling."""
    if isinstance(value, dict):
        return {key: _same_uuids(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_same_uuids(item) for item in value]
    if isinstance(value, str) and len(value) == 36:
        try:
            return str(uuid.UUID(value))
        except ValueError:
            return value
    return value


REFERENCE = make_app(scenario="default", validator="openapi-core")
COMPILED = make_app(scenario="default", validator="compiled")


def _declared_query_parameters(method: str, template: str) -> list[str]:
    entry = REFERENCE.extensions[SPEC_EXTENSION].match_path(template.replace("{id}", P01))
    return sorted(entry.operations[method].query_parameters)


@st.composite
def requests(draw: st.DrawFn) -> tuple[str, str, list[tuple[str, str]], bytes | None, str | None]:
    """Mostly the operation's own parameters (so the validators, not the early checks, decide)."""
    method, template = draw(st.sampled_from(OPERATIONS))
    names = _declared_query_parameters(method, template) or ["include"]
    name = st.sampled_from(names) | st.sampled_from(["unknown", "filter[bogus]"])
    value = st.sampled_from(TRICKY_VALUES) | st.text(max_size=6)
    query = draw(st.lists(st.tuples(name, value), max_size=4, unique_by=lambda pair: pair[0]))
    if method == "GET" and template == "/api/v1/partners" and draw(st.integers(0, 9)) > 0:
        query = [("business_uuid", B1), *[(k, v) for k, v in query if k != "business_uuid"]]
    path = template.replace("{id}", draw(st.sampled_from([P01] * 6 + IDS)))
    content_type = draw(
        st.sampled_from(
            [None, "application/json", "application/vnd.api+json", "application/json; charset=utf-8",
             "text/plain", "APPLICATION/JSON"]
        )
    )  # fmt: skip
    if method == "POST" and draw(st.integers(0, 4)) > 0:
        content_type = draw(st.sampled_from(["application/json", "application/vnd.api+json"]))
        return method, path, [], json.dumps(draw(click_bodies())).encode(), content_type
    return method, path, query, draw(BODIES), content_type


@settings(max_examples=2000, deadline=None, suppress_health_check=list(HealthCheck))
@given(request=requests())
def test_compiled_validation_equals_openapi_core(
    request: tuple[str, str, list[tuple[str, str]], bytes | None, str | None],
) -> None:
    expected = _outcome(REFERENCE, *request)
    actual = _outcome(COMPILED, *request)
    event(f"{expected[0]} {expected[1]}")
    assert actual == expected
