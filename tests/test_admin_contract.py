"""The admin API is a contract too: schemathesis drives every operation of mockserver/admin/admin-openapi.yaml
against an in-process app, in every phase and mode, with every check (see schemathesis.toml for the
two documented status allowances), and the document is served at /__admin/openapi.yaml."""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
import yaml
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, settings
from schemathesis.core.result import Ok
from support import ROOT, make_app

from mockserver.admin.inspector import STREAM_SECONDS_CONFIG
from mockserver.contract.spec import ADMIN_SPEC_PATH, load_spec
from mockserver.core.channels import BODY_PROBLEM

pytestmark = pytest.mark.system  # a schemathesis campaign

schema = schemathesis.openapi.from_path(
    ADMIN_SPEC_PATH, config=schemathesis.Config.from_path(ROOT / "schemathesis.toml")
)

FAKER_PARTNERS_FUZZED = 50
"""Faker data sets the fuzzer asks for are capped at this size: building 10,000 partners takes seconds,
and the bound itself is tested in test_scenario_switch.py."""

_APP: list[Flask] = []


@schema.hook
def map_body(context: Any, body: Any) -> Any:
    """Keep valid Faker sizes small (a size above the maximum stays, so rejection is still fuzzed)."""
    partners = body.get("partners") if isinstance(body, dict) else None
    if isinstance(partners, int) and FAKER_PARTNERS_FUZZED < partners <= 10_000:
        return {**body, "partners": FAKER_PARTNERS_FUZZED}
    return body


def admin_app() -> Flask:
    """One app for the module, reset to the default scenario before each case. Its event streams end
    after their first message: the checking client reads every answer whole."""
    if not _APP:
        app = make_app(scenario="default")
        app.config[STREAM_SECONDS_CONFIG] = 0
        _APP.append(app)
    app = _APP[0]
    client = app.test_client()
    assert client.put("/__admin/scenario", json={"name": "default"}).status_code == 200
    assert client.post("/__admin/reset").status_code == 204
    return app


@schema.parametrize()
@settings(
    max_examples=30, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True, database=None
)
def test_the_admin_api_honours_its_contract(case: schemathesis.Case[Any]) -> None:
    # A plain WSGI client sends no REMOTE_ADDR; the admin API answers loopback clients only.
    case.call_and_validate(app=admin_app(), environ_base={"REMOTE_ADDR": "127.0.0.1"})


def test_the_admin_document_is_a_valid_openapi_document() -> None:
    """The server loads it without validating it (it is part of the package): this is the check."""
    assert load_spec(ADMIN_SPEC_PATH).paths


def test_every_admin_operation_is_fuzzed() -> None:
    operations = []
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), result
        operations.append(result.ok().definition.raw["operationId"])
    assert len(operations) == 20


def test_the_document_is_served_and_is_the_one_the_requests_are_checked_against(client: FlaskClient) -> None:
    response = client.get("/__admin/openapi.yaml")
    assert response.status_code == 200
    assert response.mimetype == "application/yaml"
    document = yaml.safe_load(response.get_data(as_text=True))
    assert document == yaml.safe_load(ADMIN_SPEC_PATH.read_text(encoding="utf-8"))
    assert "/__admin/requests/find" in document["paths"]


def admin_operations() -> list[tuple[str, str]]:
    """(method, path) of every admin operation, a path parameter filled in."""
    document = yaml.safe_load(ADMIN_SPEC_PATH.read_text(encoding="utf-8"))
    return [
        (method.upper(), path.replace("{id}", "some-rule"))
        for path, item in document["paths"].items()
        for method in item
        if method in ("get", "put", "post", "delete", "patch")
    ]


def test_a_body_that_did_not_arrive_gets_a_declared_408_from_every_operation() -> None:
    """Any request may carry a body, and one that stops arriving is a 408 before anything else: the
    checking client fails the test when an operation does not declare it (with its error schema)."""
    client = make_app(scenario="default").test_client()
    operations = admin_operations()
    assert len(operations) == 20
    for method, path in operations:
        response = client.open(
            path,
            method=method,
            data=b"{}",
            content_type="application/json",
            environ_base={"REMOTE_ADDR": "127.0.0.1", BODY_PROBLEM: "timeout"},
        )
        assert response.status_code == 408, (method, path, response.get_data(as_text=True))
        assert response.get_json()["errors"][0]["code"] == "request_timeout"
