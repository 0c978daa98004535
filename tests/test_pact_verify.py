"""`mockserver pact verify`: Pact files of every version checked against the spec with the mock's own
validators, both ways (what a provider refuses is an error, what it accepts is not), the output's
pointers and codes, and the exit codes."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import pytest
from click.testing import CliRunner
from support import ROOT, SPEC

from mockserver.cli import cli
from mockserver.contract.spec import load_spec
from mockserver.pact.model import PactUnreadable, read_pact, read_pact_file
from mockserver.pact.verify import Finding, Verifier, consumer_subset, verify_files

pytestmark = pytest.mark.app

CASES_DIR = ROOT / "tests" / "pact_cases"
CASES = json.loads((CASES_DIR / "cases.json").read_text())
EXTRAS = load_spec(CASES_DIR / "extras.yaml")
P = "609881f5-3b64-4a4f-9d72-022fb9a6a58a"
B = "b0000000-0000-4000-8000-000000000001"


def spec_of(case: dict[str, Any]) -> Any:
    return EXTRAS if case["spec"] == "extras.yaml" else SPEC


@pytest.mark.parametrize("case", CASES, ids=[case["case"] for case in CASES])
def test_each_hand_written_case_gets_its_result(case: dict[str, Any]) -> None:
    (result,) = verify_files([CASES_DIR / case["pact"]], spec_of(case))
    codes = [finding.code for finding in result.findings]
    if case["expected"] is None:
        assert codes == [], result.findings
        assert result.compatible
    else:
        assert codes == [case["expected"]], result.findings
        assert not result.compatible


def findings(document: dict[str, Any], spec: Any = SPEC) -> list[Finding]:
    return list(Verifier(spec).verify(read_pact(document, "pact.json")).findings)


def pact(*interactions: dict[str, Any], version: str = "3.0.0") -> dict[str, Any]:
    return {
        "consumer": {"name": "web"},
        "provider": {"name": "api"},
        "interactions": list(interactions),
        "metadata": {"pactSpecification": {"version": version}},
    }


def listing(query: Any, status: int = 200, body: Any = None, **request: Any) -> dict[str, Any]:
    response: dict[str, Any] = {"status": status}
    if body is not None:
        response["body"] = body
    return {
        "description": "partners",
        "request": {"method": "GET", "path": "/api/v1/partners", "query": query, **request},
        "response": response,
    }


# --- the request, as the mock reads it --------------------------------------------------------------


@pytest.mark.parametrize(
    "query",
    [
        f"business_uuid={B}&filter[categories][]=pos&filter[categories][]=payroll",  # v2: a string
        {"business_uuid": [B], "filter[categories]": ["pos,payroll"]},  # the comma form
        {"business_uuid": [B], "filter[categories][0]": ["pos"], "filter[categories][1]": ["payroll"]},
        {"business_uuid": [B], "filter[categories]": ["pos", "payroll"]},  # repeated comma form
        {"business_uuid": B, "page": "2"},  # single values written as strings
    ],
)
def test_every_array_form_the_mock_reads_is_accepted(query: Any) -> None:
    assert findings(pact(listing(query))) == []


@pytest.mark.parametrize(
    ("query", "code", "where"),
    [
        ({"business_uuid": [B], "filter[colour]": ["red"]}, "request.unknown_parameter", "/filter[colour]"),
        (
            {"business_uuid": [B], "filter[categories][0]": ["bogus"]},
            "request.invalid_parameter",
            "/filter[categories][0]",
        ),
        ({"business_uuid": [B], "page": ["1", "2"]}, "request.duplicate_parameter", "/page"),
        ({}, "request.missing_parameter", "/business_uuid"),
        ({"business_uuid": [B], "per_page": ["1_0"]}, "request.invalid_parameter", "/per_page"),
    ],
)
def test_what_the_mock_refuses_is_an_error_at_the_query_key(query: Any, code: str, where: str) -> None:
    (finding,) = findings(pact(listing(query)))
    assert finding.code == code
    assert finding.pact_at in (f"/interactions/0/request/query{where}", "/interactions/0/request/query")
    assert finding.spec_at.startswith("openapi.yaml#/")
    assert finding.interaction == "partners"


def test_a_missing_parameter_points_at_where_the_spec_declares_it() -> None:
    (finding,) = findings(pact(listing({})))
    assert finding.spec_at == "openapi.yaml#/components/parameters/business_uuid"


def test_the_request_body_is_read_as_strict_json_with_its_media_type() -> None:
    click = {
        "description": "a click",
        "request": {
            "method": "post",  # Pact writes methods in any case
            "path": f"/api/v1/partners/{P}/click_event",
            "headers": {"Content-Type": "text/plain"},
            "body": "website",
        },
        "response": {"status": 201},
    }
    (finding,) = findings(pact(click))
    assert finding.code == "request.unsupported_media_type"
    assert finding.pact_at == "/interactions/0/request/headers/Content-Type"
    assert finding.spec_at.endswith("/post/requestBody/content")


def test_a_request_header_parameter_is_checked_and_an_unknown_method_named() -> None:
    disconnect = {
        "description": "disconnect",
        "request": {"method": "PUT", "path": f"/api/v1/partners/{P}/connect"},
        "response": {"status": 200},
    }
    (finding,) = findings(pact(disconnect))
    assert finding.code == "request.method_not_allowed"
    assert finding.pact_at == "/interactions/0/request/method"
    assert finding.spec_at == "openapi.yaml#/paths/~1api~1v1~1partners~1{id}~1connect"


# --- the answer, as a consumer reads it -----------------------------------------------------------


def partner_answer(body: Any, status: int = 200, **response: Any) -> dict[str, Any]:
    return {
        "description": "a partner",
        "request": {"method": "GET", "path": f"/api/v1/partners/{P}"},
        "response": {"status": status, "body": body, **response},
    }


def test_a_consumer_may_read_fewer_fields_than_required() -> None:
    assert findings(pact(partner_answer({"data": {"attributes": {"status": None}}}))) == []


def test_an_extra_field_is_an_error_where_the_schema_lists_its_fields() -> None:
    (finding,) = findings(pact(partner_answer({"data": {"links": {"self": "/x", "edit": "/y"}}})))
    # ResourceLinks lists `self` only (no additionalProperties): a provider that follows it has no `edit`
    assert finding.code == "response.unexpected_field"
    assert finding.pact_at == "/interactions/0/response/body/data/links/edit"
    assert finding.spec_at == "openapi.yaml#/components/schemas/ResourceLinks"


def test_a_oneof_is_met_by_a_subset_that_fits_one_branch_and_a_wrong_value_is_named() -> None:
    included = [{"type": "users", "id": P}, {"type": "partner-integrations", "attributes": {"active": True}}]
    assert findings(pact(partner_answer({"data": {"id": P}, "included": included}))) == []
    (finding,) = findings(pact(partner_answer({"included": [{"type": "users", "attributes": {"email": 5}}]})))
    assert finding.code == "response.invalid_body"
    assert finding.pact_at == "/interactions/0/response/body/included/0/attributes/email"
    assert finding.spec_at.startswith("openapi.yaml#/components/schemas/User/properties/attributes")


def test_the_status_and_media_type_must_be_declared() -> None:
    (undeclared,) = findings(pact(partner_answer({"data": {}}, headers={"Content-Type": "text/html"})))
    assert undeclared.code == "response.media_type_undeclared"
    assert undeclared.pact_at == "/interactions/0/response/headers/Content-Type"
    minimal = {
        "description": "disconnect quietly",
        "request": {
            "method": "DELETE",
            "path": f"/api/v1/partners/{P}/connect",
            "headers": {"Prefer": "return=minimal"},
        },
        "response": {"status": 204, "body": {"data": {}}},
    }
    (body,) = findings(pact(minimal))
    assert body.code == "response.body_undeclared"


def test_the_consumers_reading_of_a_schema() -> None:
    schema = {
        "type": "object",
        "required": ["a"],
        "properties": {"a": {"oneOf": [{"type": "string"}, {"type": "object", "properties": {"b": {}}}]}},
        "allOf": [{"properties": {"c": {}}}],
    }
    assert consumer_subset(schema) == {
        "type": "object",
        "properties": {
            "a": {
                "anyOf": [
                    {"type": "string"},
                    {"type": "object", "properties": {"b": {}}, "additionalProperties": False},
                ]
            }
        },
        "allOf": [{"properties": {"c": {}}}],  # an allOf branch stays open: its object is shared
        "additionalProperties": False,
    }


# --- interactions answered 4xx --------------------------------------------------------------------


def test_a_refusal_that_depends_on_data_needs_a_valid_request_only() -> None:
    unknown = "00000000-0000-4000-8000-000000000000"
    missing = partner_answer(
        {"errors": [{"status": "404", "code": "partner_not_found", "title": "t", "detail": "d"}]}, 404
    )
    missing["request"]["path"] = f"/api/v1/partners/{unknown}"
    assert findings(pact(missing)) == []
    missing["request"]["path"] = "/api/v1/partners/nope"
    (finding,) = findings(pact(missing))
    assert finding.code == "request.invalid_parameter"
    assert "the spec refuses it with 400, not 404" in finding.message
    assert finding.pact_at == "/interactions/0/request/path"


def test_a_415_and_a_422_are_refusals_the_spec_must_make() -> None:
    def click(content_type: str, body: Any, status: int) -> dict[str, Any]:
        return {
            "description": f"a click answered {status}",
            "request": {
                "method": "POST",
                "path": f"/api/v1/partners/{P}/click_event",
                "headers": {"Content-Type": content_type},
                "body": body,
            },
            "response": {"status": status},
        }

    valid = {"data": {"type": "partner_click_events", "attributes": {"event_type": "video"}}}
    assert findings(pact(click("text/plain", "hello", 415))) == []
    assert findings(pact(click("application/json", {"data": {}}, 422))) == []
    (finding,) = findings(pact(click("application/json", valid, 422)))
    assert finding.code == "refusal.request_accepted"
    assert finding.pact_at == "/interactions/0/response/status"


# --- Pact versions --------------------------------------------------------------------------------


def test_v1_and_v2_files_are_read_query_strings_and_provider_state_included() -> None:
    v1 = pact(listing(f"business_uuid={B}&filter[colour]=red"), version="1.0.0")
    v1["interactions"][0]["providerState"] = "partners exist"
    del v1["metadata"]
    document = read_pact(v1, "v1.json")
    assert document.version == "1.0.0"
    assert [state.name for state in document.interactions[0].states] == ["partners exist"]
    (finding,) = findings(v1)
    assert finding.code == "request.unknown_parameter"
    assert finding.pact_at == "/interactions/0/request/query"  # a string: the query as a whole


def test_v4_body_objects_base64_bodies_and_non_http_interactions() -> None:
    good = {"data": {"type": "partner_click_events", "attributes": {"event_type": "video"}}}
    encoded = base64.b64encode(json.dumps(good).encode()).decode()
    interactions: list[dict[str, Any]] = [
        {
            "type": "Synchronous/HTTP",
            "description": "a click, base64",
            "providerStates": [{"name": "a partner exists", "params": {"id": P}}],
            "request": {
                "method": "POST",
                "path": f"/api/v1/partners/{P}/click_event",
                "headers": {"Content-Type": ["application/json"]},
                "body": {"content": encoded, "contentType": "application/json", "encoded": "base64"},
            },
            "response": {
                "status": 201,
                "body": {
                    "content": {"data": {"id": "nope"}},
                    "contentType": "application/json",
                    "encoded": False,
                },
            },
        },
        {"type": "Asynchronous/Messages", "description": "a partner changed", "contents": {}},
    ]
    result = findings(pact(*interactions, version="4.0"))
    assert [(f.code, f.pact_at, f.error) for f in result] == [
        ("response.invalid_body", "/interactions/0/response/body/content/data/id", True),
        ("interaction.not_http", "/interactions/1", False),
    ]


@pytest.mark.parametrize(
    ("document", "reason"),
    [
        ([], "a Pact is a JSON object"),
        ({"interactions": {}}, "/interactions must be a list"),
        (
            {
                "interactions": [
                    {"description": "x", "request": {"method": "GET"}, "response": {"status": 200}}
                ]
            },
            "/interactions/0/request/path",
        ),
        (
            {
                "interactions": [
                    {
                        "description": "x",
                        "request": {"method": "GET", "path": "/"},
                        "response": {"status": 99},
                    }
                ]
            },
            "/interactions/0/response/status",
        ),
        (
            {
                "interactions": [
                    {
                        "description": "x",
                        "request": {
                            "method": "GET",
                            "path": "/",
                            "body": {"content": 5, "contentType": "application/json", "encoded": "base64"},
                        },
                        "response": {"status": 200},
                    }
                ]
            },
            "base64",
        ),
    ],
)
def test_a_file_not_of_the_pact_shape_is_unreadable_with_its_pointer(document: Any, reason: str) -> None:
    with pytest.raises(PactUnreadable, match=reason.replace("[", r"\[")):
        read_pact(document, "x.json")


# --- the command ---------------------------------------------------------------------------------


def run(*args: str) -> Any:
    return CliRunner().invoke(cli, ["pact", "verify", *args])


def test_exit_codes_and_one_line_per_finding(tmp_path: Path) -> None:
    good, bad = CASES_DIR / "known-filter.json", CASES_DIR / "unknown-filter.json"
    assert run(str(good)).exit_code == 0
    result = run(str(good), str(bad))
    assert result.exit_code == 1
    (line,) = [line for line in result.output.splitlines() if "request.unknown_parameter" in line]
    assert line.startswith(f'{bad}: "partners filtered by an unknown filter": request.unknown_parameter at ')
    at = "/interactions/0/request/query/filter[colour]"
    assert f"{at} (spec openapi.yaml#/paths/~1api~1v1~1partners/get/parameters)" in line
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    unreadable = run(str(good), str(broken))
    assert unreadable.exit_code == 2
    assert f"{broken}: unreadable: {broken}: not JSON" in unreadable.output
    assert run(str(tmp_path / "missing.json")).exit_code == 2
    assert run(str(good), "--spec", str(tmp_path / "missing.yaml")).exit_code == 2


def test_json_output_and_junit(tmp_path: Path) -> None:
    junit = tmp_path / "reports" / "pact.xml"
    paths = [str(CASES_DIR / "known-filter.json"), str(CASES_DIR / "wrong-type.json")]
    result = run(*paths, "--format", "json", "--junit", str(junit))
    assert result.exit_code == 1
    report = json.loads(result.output)
    assert report["compatible"] is False and report["exit_code"] == 1
    assert [file["compatible"] for file in report["files"]] == [True, False]
    assert report["files"][1]["findings"] == [
        {
            "code": "response.invalid_body",
            "level": "error",
            "interaction": "a partner whose name is a number",
            "pact": "/interactions/0/response/body/data/attributes/name",
            "spec": "openapi.yaml#/components/schemas/PartnerAttributes/properties/name/type",
            "message": "/data/attributes/name must be a string, got 5",
        }
    ]
    suites = ElementTree.parse(junit).getroot()
    assert [(s.get("tests"), s.get("failures")) for s in suites] == [("1", "0"), ("1", "1")]
    failure = suites.find("testsuite/testcase/failure")
    assert failure is not None and failure.get("type") == "response.invalid_body"


def test_a_pact_file_read_from_disk_keeps_its_path(tmp_path: Path) -> None:
    path = tmp_path / "p.json"
    path.write_text(json.dumps(pact(listing({"business_uuid": [B]}))))
    assert read_pact_file(path).path == str(path)
