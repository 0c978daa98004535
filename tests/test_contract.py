"""Contract tests: schemathesis drives every operation of openapi.yaml against an in-process app.

All checks run. `@schema.parametrize()` runs the examples, coverage and fuzzing phases, one test
per operation; `as_state_machine()` runs the stateful phase along the spec's links.

Each test gets a fresh app: the conftest fixtures build one per test, and every call is sent to it
with `case.call_and_validate(app=...)`. (`schemathesis.pytest.from_fixture` would be the natural
tool, but schemathesis 4.32.5 reads `request.node._nodeid`, which pytest 9.2 no longer has.)
"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from conftest import ROOT, SPEC_PATH, make_app
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, settings

from mockserver import documents

schema = schemathesis.openapi.from_path(
    SPEC_PATH, config=schemathesis.Config.from_path(ROOT / "schemathesis.toml")
)
"""Loaded with the repository's schemathesis.toml explicitly, so the run does not depend on the cwd."""

BOUNDED = settings(
    max_examples=50,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
    database=None,
)
"""Fuzzing examples per operation; derandomized so a failure reproduces on every run."""


def test_every_check_phase_and_mode_is_on_but_one_check_for_one_operation() -> None:
    """schemathesis.toml stays narrow: it only turns off `use_after_free` for `connectPartner`."""
    seen = {}
    for result in schema.get_all_operations():
        operation = result.ok()
        checks = schema.config.checks_config_for(operation=operation)
        names = [
            n for n in type(checks).__annotations__ if not n.startswith("_") and n != "max_response_time"
        ]
        phases = schema.config.phases_for(operation=operation)
        operation_id = operation.definition.raw["operationId"]
        seen[operation_id] = [n for n in names if not checks.get_by_name(name=n).enabled]
        assert all(
            phases.get_by_name(name=p).enabled for p in ("examples", "coverage", "fuzzing", "stateful")
        )
        assert {m.value for m in schema.config.generation_for(operation=operation).modes} == {
            "positive",
            "negative",
        }
    assert len(seen) == 7
    assert {k: v for k, v in seen.items() if v} == {"connectPartner": ["use_after_free"]}


@schema.parametrize()
@BOUNDED
def test_default_scenario_honours_the_contract(case: schemathesis.Case, app: Flask) -> None:
    case.call_and_validate(app=app)


@schema.parametrize()
@BOUNDED
def test_faker_data_honours_the_contract(case: schemathesis.Case, faker_app: Flask) -> None:
    case.call_and_validate(app=faker_app)


class DefaultScenarioWorkflow(schema.as_state_machine()):  # type: ignore[misc]
    """Sequences along the links: list -> get/connect/disconnect/click -> get with users, ..."""

    app: Flask

    def build_app(self) -> Flask:
        return make_app(scenario="default")

    def setup(self) -> None:
        """A fresh app per scenario, so no scenario sees the links or clicks of another."""
        self.app = self.build_app()

    def get_call_kwargs(self, case: schemathesis.Case) -> dict[str, Any]:
        return {"app": self.app}


class FakerDataWorkflow(DefaultScenarioWorkflow):
    def build_app(self) -> Flask:
        return make_app(seed=1, partners=100)


STATEFUL = settings(
    max_examples=80,
    stateful_step_count=6,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
    database=None,
)
TestDefaultScenarioWorkflow = DefaultScenarioWorkflow.TestCase
TestDefaultScenarioWorkflow.settings = STATEFUL
TestFakerDataWorkflow = FakerDataWorkflow.TestCase
TestFakerDataWorkflow.settings = STATEFUL


# --- the server's own response check (`validate_responses`) --------------------------------------

PARTNER_ID = "c0000000-0000-4000-8000-000000000001"


@pytest.fixture
def nameless_partners(monkeypatch: pytest.MonkeyPatch) -> None:
    """Break the document builder: every partner resource gets `"name": null`, which the spec forbids."""
    build = documents.Renderer.partner_resource

    def without_name(*args: Any, **kwargs: Any) -> dict[str, Any]:
        resource = dict(build(*args, **kwargs))
        resource["attributes"] = {**resource["attributes"], "name": None}
        return resource

    monkeypatch.setattr(documents.Renderer, "partner_resource", without_name)


@pytest.mark.parametrize(
    ("path", "pointer"),
    [
        (f"/api/v1/partners/{PARTNER_ID}", "/data/attributes/name"),
        ("/api/v1/partners/available?per_page=1", "/data/0/attributes/name"),
    ],
)
@pytest.mark.usefixtures("nameless_partners")
def test_validate_responses_turns_a_broken_response_into_a_500_naming_the_violation(
    path: str, pointer: str
) -> None:
    app = make_app(scenario="default", validate_responses=True)
    response = app.test_client().get(path)

    assert response.status_code == 500
    assert response.mimetype == "application/json"
    (error,) = response.json["errors"]
    detail = error.pop("detail")
    assert error == {
        "status": "500",
        "code": "response_validation_failed",
        "title": "Response breaks the spec",
    }
    assert detail.startswith(f"GET {path.split('?')[0]} answered 200: "), detail
    assert f"{pointer}: None is not of type 'string'" in detail


@pytest.mark.usefixtures("nameless_partners")
def test_without_validate_responses_a_broken_response_passes_through() -> None:
    app = make_app(scenario="default")
    app.test_client_class = FlaskClient  # the conftest client would (rightly) fail on this response
    response = app.test_client().get(f"/api/v1/partners/{PARTNER_ID}")

    assert response.status_code == 200
    assert response.json["data"]["id"] == PARTNER_ID
    assert response.json["data"]["attributes"]["name"] is None


def test_validate_responses_lets_a_conforming_response_through() -> None:
    app = make_app(scenario="default", validate_responses=True)
    response = app.test_client().get(f"/api/v1/partners/{PARTNER_ID}")

    assert response.status_code == 200
    assert response.json["data"]["attributes"]["name"]
