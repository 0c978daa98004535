"""Shared fixtures: apps built from explicit settings, and a client that checks every response against the spec."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient
from openapi_core import OpenAPI
from openapi_core.contrib.werkzeug import WerkzeugOpenAPIRequest, WerkzeugOpenAPIResponse

from mockserver import Settings, create_app

ROOT = Path(__file__).resolve().parent.parent
SPEC_PATH = ROOT / "openapi.yaml"
SCENARIOS_DIR = ROOT / "scenarios"

_REFERENCE = OpenAPI.from_file_path(str(SPEC_PATH))
_SPEC_PATHS = ("/api/v1/partners",)


class _AsGet(WerkzeugOpenAPIRequest):
    @property
    def method(self) -> str:
        return "get"


class SpecCheckingClient(FlaskClient):
    """A test client that fails the test when a response to a spec operation breaks the spec."""

    def open(self, *args: Any, **kwargs: Any) -> Any:
        response = super().open(*args, **kwargs)
        request = response.request
        if request.path.startswith(_SPEC_PATHS) and response.status_code not in (404, 405) or (
            response.status_code == 404 and response.json and response.json["errors"][0]["code"] != "not_found"
        ):
            openapi_request = _AsGet(request) if request.method == "HEAD" else WerkzeugOpenAPIRequest(request)
            if request.method != "HEAD":
                result = _REFERENCE.unmarshal_response(openapi_request, WerkzeugOpenAPIResponse(response))
                assert not result.errors, (
                    f"{request.method} {request.full_path} -> {response.status_code} breaks the spec: "
                    f"{[str(getattr(err, '__cause__', err) or err) for err in result.errors]}\n{response.get_data(as_text=True)[:2000]}"
                )
        return response


def make_app(**overrides: Any) -> Flask:
    settings = Settings(spec_path=SPEC_PATH, scenarios_dir=SCENARIOS_DIR, **overrides)
    app = create_app(settings)
    app.test_client_class = SpecCheckingClient
    app.testing = True
    return app


@pytest.fixture
def app() -> Flask:
    """The default scenario: known partners, businesses and users."""
    return make_app(scenario="default")


@pytest.fixture
def client(app: Flask) -> Iterator[FlaskClient]:
    with app.test_client() as test_client:
        yield test_client


@pytest.fixture
def faker_app() -> Flask:
    """Faker data, as `mockserver serve` starts by default."""
    return make_app(seed=1, partners=100)


@pytest.fixture
def faker_client(faker_app: Flask) -> Iterator[FlaskClient]:
    with faker_app.test_client() as test_client:
        yield test_client


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()
