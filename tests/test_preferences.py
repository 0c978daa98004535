"""Forcing a response: `Prefer: code=…, example=…, dynamic=true, delay=…` and the `__code`-style query
parameters; every forced response still fits the spec (the app's own response check is on, and the
test client checks every answer against openapi.yaml as well)."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from support import API, B1, P01, P07, SPEC, VALID_CLICK, make_app, send

from mockserver.testing.live import LiveServer

EXAMPLES = SPEC.resolved["components"]["examples"]


@pytest.fixture(scope="module")
def checked_app() -> Flask:
    """The default scenario with the response self-check on: a forced answer that broke the spec
    would come back as a 500 naming the violation."""
    return make_app(scenario="default", validate_responses=True)


@pytest.fixture
def client(checked_app: Flask) -> FlaskClient:
    return checked_app.test_client()


def get(client: FlaskClient, url: str, prefer: str | None = None) -> Any:
    return client.get(url, headers={"Prefer": prefer} if prefer else {})


def about(example: dict[str, Any], detail: str) -> dict[str, Any]:
    """A one-error example with another detail."""
    (error,) = example["errors"]
    return {"errors": [{**error, "detail": detail}]}


def test_a_declared_status_answers_its_named_example(client: FlaskClient) -> None:
    response = get(client, f"{API}/{P07}", "code=404")
    assert response.status_code == 404
    assert response.get_json() == about(EXAMPLES["UnknownPartner"]["value"], f"No partner has id {P07}")
    assert response.headers["Preference-Applied"] == "code=404"
    assert set(response.vary) == {"Prefer", "Origin"}


def test_a_forced_error_speaks_of_the_id_requested(client: FlaskClient) -> None:
    """The example's detail names the id of the request (the example's own id is a placeholder), and
    the spec's example itself is left as written."""
    written = json.dumps(EXAMPLES)
    for partner in (P07, P01.upper()):
        (error,) = get(client, f"{API}/{partner}", "code=404").get_json()["errors"]
        assert error["detail"] == f"No partner has id {partner.lower()}"
        assert error["source"] == {"parameter": "id"}
    (error,) = get(client, f"{API}?business_uuid={B1}&__code=404").get_json()["errors"]
    assert error["detail"] == f"No business has id {B1}"
    (error,) = get(client, f"{API}/available?per_page=5", "code=400").get_json()["errors"]
    assert error == EXAMPLES["PerPageTooLarge"]["value"]["errors"][0]  # no UUID to speak of: as written
    assert json.dumps(EXAMPLES) == written


def test_the_same_as_query_parameters_which_never_reach_the_contract(client: FlaskClient) -> None:
    response = get(client, f"{API}/{P07}?__code=401")
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="mockserver"'
    assert response.headers["Preference-Applied"] == "code=401"
    # With the view's own status, the view answers, and its paging links do not carry __code.
    listed = get(client, f"{API}?business_uuid={B1}&per_page=2&__code=200")
    assert listed.status_code == 200 and "__code" not in listed.get_json()["links"]["next"]
    journal = client.get("/__admin/requests").get_json()["requests"]
    assert journal[-1]["query"] == f"business_uuid={B1}&per_page=2&__code=200"  # as sent
    assert client.get("/__admin/violations").get_json()["violations"] == []


def test_a_named_example_picks_its_status(client: FlaskClient) -> None:
    response = get(client, f"{API}?business_uuid={B1}", "example=unknownBusiness")
    assert response.status_code == 404
    assert response.get_json() == about(EXAMPLES["UnknownBusiness"]["value"], f"No business has id {B1}")
    response = get(client, f"{API}?business_uuid={B1}&__example=unknownBusiness&__code=404")
    assert response.status_code == 404


def test_a_dynamic_body_fits_the_schema_and_is_the_same_for_the_same_request(client: FlaskClient) -> None:
    first = get(client, f"{API}/available?page=1", "dynamic=true")
    again = get(client, f"{API}/available?page=1", "dynamic=true")
    other = get(client, f"{API}/available?page=2", "dynamic=true")
    real = get(client, f"{API}/available?page=1")
    assert first.status_code == 200 and first.headers["Preference-Applied"] == "dynamic=true"
    assert first.get_json() == again.get_json()
    assert first.get_json() != other.get_json()
    assert first.get_json() != real.get_json()


def test_a_dynamic_error_body_names_its_own_status(client: FlaskClient) -> None:
    response = get(client, f"{API}/{P07}", "code=404, dynamic=true")
    assert response.status_code == 404
    assert {item["status"] for item in response.get_json()["errors"]} == {"404"}


@pytest.mark.parametrize(
    ("url", "prefer", "source", "detail"),
    [
        (
            f"{API}/{P07}",
            "code=418",
            {"header": "Prefer"},
            "code=418 is not a status getPartner declares; choose one of 200, 400, 401, 404, 408, 500",
        ),
        (
            f"{API}/{P07}?__code=302",
            None,
            {"parameter": "__code"},
            "code=302 is not a status getPartner declares; choose one of 200, 400, 401, 404, 408, 500",
        ),
        (
            f"{API}/{P07}",
            "example=nope",
            {"header": "Prefer"},
            "example=nope is not a named example for getPartner; choose one of:",
        ),
        (
            f"{API}/{P07}",
            "code=404, example=unknownToken",
            {"header": "Prefer"},
            "example=unknownToken is not a named example for status 404 of getPartner; "
            "choose one of: unknownPartner",
        ),
        (f"{API}/{P07}", "delay=soon", {"header": "Prefer"}, "delay must be a whole number of milliseconds"),
        (f"{API}/{P07}?__delay=60001", None, {"parameter": "__delay"}, "delay must be a whole number"),
        (f"{API}/{P07}", "dynamic=maybe", {"header": "Prefer"}, "dynamic must be true or false"),
    ],
    ids=[
        "undeclared-code",
        "undeclared-code-query",
        "unknown-example",
        "example-of-another-status",
        "bad-delay",
        "long-delay",
        "bad-dynamic",
    ],
)
def test_an_impossible_preference_is_a_400_listing_the_choices(
    client: FlaskClient, url: str, prefer: str | None, source: dict[str, str], detail: str
) -> None:
    response = get(client, url, prefer)
    assert response.status_code == 400
    (error,) = response.get_json()["errors"]
    assert error["code"] == "invalid_preference" and error["source"] == source
    assert error["detail"].startswith(detail), error["detail"]


def test_preferences_the_mock_does_not_know_are_ignored(client: FlaskClient) -> None:
    response = get(client, f"{API}/{P07}", "return=minimal, respond-async")
    assert response.status_code == 200 and "Preference-Applied" not in response.headers


def test_an_off_contract_request_is_refused_whatever_it_prefers(client: FlaskClient) -> None:
    response = get(client, f"{API}/available?per_page=abc", "code=500")
    assert response.status_code == 400
    assert response.get_json()["errors"][0]["code"] == "invalid_parameter"


def test_a_delay_holds_the_answer(client: FlaskClient) -> None:
    started = time.perf_counter()
    response = get(client, f"{API}/{P07}", "delay=300, code=404")
    assert time.perf_counter() - started >= 0.3
    assert response.status_code == 404 and response.headers["Preference-Applied"] == "delay=300, code=404"


OPERATIONS = [
    (method, template, operation_id, status)
    for template, item in SPEC.resolved["paths"].items()
    for method, operation in item.items()
    if isinstance(operation, dict) and "responses" in operation
    for operation_id in [operation["operationId"]]
    for status in operation["responses"]
]


@pytest.mark.parametrize("dynamic", [False, True], ids=["example", "dynamic"])
def test_every_declared_status_of_every_operation_can_be_forced_and_fits_the_spec(
    client: FlaskClient, dynamic: bool
) -> None:
    """The checking client and the app's response check both judge each forced answer."""
    for method, template, operation_id, status in OPERATIONS:
        url = template.replace("{id}", P07)
        if operation_id.startswith("list") and operation_id != "listAvailablePartners":
            url += f"?business_uuid={B1}" if operation_id == "listPartners" else ""
        prefer = f"code={status}" + (", dynamic=true" if dynamic else "")
        body = VALID_CLICK if method == "post" else None
        response = send(
            client,
            method.upper(),
            url,
            None if body is None else json.dumps(body),
            "application/json" if body else None,
            {"Prefer": prefer},
        )
        assert response.status_code == int(status), (operation_id, status, response.get_data(as_text=True))
        assert response.headers.get("Preference-Applied") == prefer, (operation_id, status)


@pytest.mark.live
def test_a_delay_under_the_default_server_holds_no_one_else() -> None:
    """granian's front waits on its event loop: a delayed answer does not hold the others."""
    server = LiveServer.start("--scenario", "default")
    try:
        delayed: list[float] = []

        def slow() -> None:
            started = time.perf_counter()
            reply = server.request("GET", f"{API}/{P07}", headers={"Prefer": "delay=1500"})
            assert reply.status == 200 and reply.headers["preference-applied"] == "delay=1500"
            delayed.append(time.perf_counter() - started)

        thread = threading.Thread(target=slow)
        thread.start()
        time.sleep(0.2)
        started = time.perf_counter()
        assert server.request("GET", f"{API}/{P07}").status == 200
        quick = time.perf_counter() - started
        thread.join(timeout=10)
        assert delayed and delayed[0] >= 1.5
        assert quick < 1.0, f"a plain request waited {quick:.2f} s behind a delayed one"
    finally:
        server.stop()


def test_a_view_preference_and_a_forced_one_are_both_applied(client: FlaskClient) -> None:
    response = send(client, "DELETE", f"{API}/{P07}/connect", headers={"Prefer": "return=minimal, delay=50"})
    assert response.status_code == 204
    assert response.headers["Preference-Applied"] == "return=minimal, delay=50"


@pytest.mark.parametrize(
    ("sent", "shown"),
    [("%D9%A1%D9%A0", "١٠"), ("%EF%BC%91", "１"), ("%C2%B2", "²"), ("1" * 5000, "1" * 20)],
    ids=["arabic-indic", "fullwidth", "superscript", "5000-digits"],
)
def test_a_delay_takes_ascii_digits_only(client: FlaskClient, sent: str, shown: str) -> None:
    """`str.isdigit` also says yes to ARABIC-INDIC and FULLWIDTH digits (which int() reads) and to "²"
    (which it does not); int() refuses 5,000 digits."""
    response = get(client, f"{API}/{P07}?__delay={sent}")
    assert response.status_code == 400, response.get_data(as_text=True)
    assert response.get_json()["errors"] == [
        {
            "status": "400",
            "code": "invalid_preference",
            "title": "Invalid preference",
            "detail": f"delay must be a whole number of milliseconds, 0 to 60000, got {shown!r}",
            "source": {"parameter": "__delay"},
        }
    ]


def test_a_delay_may_have_leading_zeros(client: FlaskClient) -> None:
    response = get(client, f"{API}/{P07}?__delay=" + "0" * 30 + "1")
    assert response.status_code == 200
    assert response.headers["Preference-Applied"] == "delay=" + "0" * 30 + "1"
