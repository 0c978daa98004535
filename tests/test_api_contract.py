"""Contract tests: schemathesis drives every operation of openapi.yaml against an in-process app.

All checks run. `@schema.parametrize()` runs the examples, coverage and fuzzing phases, one test
per operation; `as_state_machine()` runs the stateful phase along the spec's links.

Each test gets a fresh app: the conftest fixtures build one per test, and every call is sent to it
with `case.call_and_validate(app=...)`. (`schemathesis.pytest.from_fixture` would be the natural
tool, but schemathesis 4.32.5 reads `request.node._nodeid`, which pytest 9.2 no longer has.) Each
stateful scenario starts from its workflow's one app, reset to the data set as loaded.
"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, settings
from schemathesis.core.result import Ok
from support import ROOT, SPEC_PATH, make_app, plain_client

pytestmark = pytest.mark.system  # a schemathesis campaign

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
        assert isinstance(result, Ok), result
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
def test_default_scenario_honours_the_contract(case: schemathesis.Case[Any], app: Flask) -> None:
    case.call_and_validate(app=app)


@schema.parametrize()
@BOUNDED
def test_faker_data_honours_the_contract(case: schemathesis.Case[Any], faker_app: Flask) -> None:
    case.call_and_validate(app=faker_app)


_WORKFLOW_APPS: dict[type, Flask] = {}


class DefaultScenarioWorkflow(schema.as_state_machine()):  # type: ignore[misc]
    """Sequences along the links: list -> get/connect/disconnect/click -> get with users, ..."""

    app: Flask

    def build_app(self) -> Flask:
        return make_app(scenario="default")

    def setup(self) -> None:
        """Each scenario starts from the data set as loaded, so none sees the links or clicks of another.

        One app per workflow, reset before each scenario (`POST /__admin/reset` restores the initial
        links and drops click events and the journal; test_writes.py checks it does): building a fresh
        app per scenario cost most of this test's time, Faker data for 100 partners each time.
        """
        app = _WORKFLOW_APPS.get(type(self))
        if app is None:
            app = _WORKFLOW_APPS[type(self)] = self.build_app()
        assert plain_client(app).post("/__admin/reset").status_code == 204
        self.app = app

    def get_call_kwargs(self, case: schemathesis.Case[Any]) -> dict[str, Any]:
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
