"""`--validate-responses` (mockserver.contract.response_check): an answer that breaks the spec becomes a
500 naming the violation; a conforming one passes, and without the option a broken one passes through."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient
from support import P01, make_app

from mockserver.state import documents


@pytest.fixture
def nameless_partners(monkeypatch: pytest.MonkeyPatch) -> None:
    """Break the document builder: every partner resource gets `"name": null`, which the spec forbids."""
    build = documents.Renderer._render_partner

    def without_name(*args: Any, **kwargs: Any) -> dict[str, Any]:
        resource = dict(build(*args, **kwargs))
        resource["attributes"] = {**resource["attributes"], "name": None}
        return resource

    monkeypatch.setattr(documents.Renderer, "_render_partner", without_name)


@pytest.mark.parametrize(
    ("path", "pointer"),
    [
        (f"/api/v1/partners/{P01}", "/data/attributes/name"),
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
    document = response.get_json()
    (error,) = document["errors"]
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
    response = app.test_client().get(f"/api/v1/partners/{P01}")

    assert response.status_code == 200
    data = response.get_json()["data"]
    assert data["id"] == P01
    assert data["attributes"]["name"] is None


def test_validate_responses_lets_a_conforming_response_through() -> None:
    app = make_app(scenario="default", validate_responses=True)
    response = app.test_client().get(f"/api/v1/partners/{P01}")

    assert response.status_code == 200
    assert response.get_json()["data"]["attributes"]["name"]
