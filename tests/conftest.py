"""Shared fixtures: apps built from explicit settings, a client that checks responses against the spec."""

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
from mockserver.spec import load_spec

ROOT = Path(__file__).resolve().parent.parent
SPEC_PATH = ROOT / "openapi.yaml"
SCENARIOS_DIR = ROOT / "scenarios"

_REFERENCE = OpenAPI.from_file_path(str(SPEC_PATH))
SPEC = load_spec(SPEC_PATH)
"""Loaded and validated once per test process; every app the tests build shares it (it is immutable)."""
_SPEC_PATHS = ("/api/v1/partners",)


class _RequestForResponseCheck(WerkzeugOpenAPIRequest):
    """The request as openapi-core needs it to find a response's operation: HEAD seen as GET, no body."""

    @property
    def method(self) -> str:
        return "get" if self.request.method == "HEAD" else self.request.method.lower()

    @property
    def body(self) -> bytes | None:
        return None


def _is_spec_operation(request: Any, response: Any) -> bool:
    """True when the request reached one of the spec's operations (not an unknown path or method)."""
    if request.method == "OPTIONS" or not request.path.startswith(_SPEC_PATHS):
        return False
    if response.status_code in (404, 405) and response.is_json:
        return response.json["errors"][0]["code"] not in ("not_found", "method_not_allowed")
    return True


class SpecCheckingClient(FlaskClient):
    """A test client that fails the test when a response to a spec operation breaks the spec."""

    def open(self, *args: Any, **kwargs: Any) -> Any:
        response = super().open(*args, **kwargs)
        request = response.request
        if _is_spec_operation(request, response):
            openapi_request = _RequestForResponseCheck(request)
            if request.method == "HEAD":
                assert response.get_data() == b"", "HEAD must answer without a body"
            else:
                result = _REFERENCE.unmarshal_response(openapi_request, WerkzeugOpenAPIResponse(response))
                assert not result.errors, (
                    f"{request.method} {request.full_path} -> {response.status_code} breaks the spec: "
                    f"{[str(err.__cause__ or err) for err in result.errors]}\n"
                    f"{response.get_data(as_text=True)[:2000]}"
                )
        return response


def make_app(**overrides: Any) -> Flask:
    settings = Settings(spec_path=SPEC_PATH, scenarios_dir=SCENARIOS_DIR, **overrides)
    app = create_app(settings, spec=SPEC)
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
