"""mockserver.docs_page: the served spec (/openapi.yaml, /openapi.json) and the Swagger UI page (/docs).

They are outside the spec: not validated against it, never journaled, never response-checked, served
by the mock itself under `mockserver proxy` too. Swagger UI's assets have versioned URLs cached for a
year; the page and the spec are revalidated by ETag. test_browser.py renders the page in Chromium.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml
from flask.testing import FlaskClient
from support import API, NOT_FOUND, SPEC_PATH, assert_errors, item, make_app, plain_client

from mockserver.docs_page import swagger_ui_dist
from mockserver.live import free_port

VERSION = swagger_ui_dist()[1]
ASSETS = f"/docs/assets/{VERSION}"
DOCS_PATHS = ["/docs", "/docs/", "/openapi.yaml", "/openapi.json", f"{ASSETS}/swagger-ui.css"]


def client_of(**settings: Any) -> FlaskClient:
    return plain_client(make_app(scenario="default", **settings))


@pytest.fixture(scope="module")
def docs() -> FlaskClient:
    return client_of()


def status_of(client: FlaskClient, path: str) -> int:
    """GET a path; the response is closed (an asset is an open file until then)."""
    with client.get(path) as response:
        return response.status_code


def journaled(client: FlaskClient) -> list[str]:
    entries = client.get("/__admin/requests").get_json()["requests"]
    return [f"{entry['method']} {entry['path']}" for entry in entries]


def test_the_yaml_is_the_spec_file_byte_for_byte(docs: FlaskClient) -> None:
    response = docs.get("/openapi.yaml")
    assert response.status_code == 200
    assert response.mimetype == "application/yaml"
    assert response.get_data() == SPEC_PATH.read_bytes()


def test_the_json_is_the_same_document(docs: FlaskClient) -> None:
    response = docs.get("/openapi.json")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert response.get_json() == json.loads(json.dumps(yaml.safe_load(SPEC_PATH.read_text("utf-8"))))


def test_the_page_loads_swagger_ui_from_this_server_only(docs: FlaskClient) -> None:
    response = docs.get("/docs")
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    page = response.get_data(as_text=True)
    assert "<title>Partners API (mock) (mockserver)</title>" in page
    assert f'src="{ASSETS}/swagger-ui-bundle.js"' in page
    assert f'href="{ASSETS}/swagger-ui.css"' in page
    assert 'fetch("/openapi.json")' in page
    assert "url: window.location.origin" in page  # "Try it out" calls this server
    assert "validatorUrl: null" in page  # no badge from the validator's site
    assert "https://" not in page and "http://" not in page


@pytest.mark.parametrize("path", ["/docs", "/openapi.yaml", "/openapi.json"])
def test_the_page_and_the_spec_are_revalidated(docs: FlaskClient, path: str) -> None:
    response = docs.get(path)
    assert response.headers["Cache-Control"] == "no-cache"
    etag = response.headers["ETag"]
    again = docs.get(path, headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.get_data() == b""
    assert docs.head(path).status_code == 200


@pytest.mark.parametrize(
    ("name", "mimetype"),
    [
        ("swagger-ui-bundle.js", "text/javascript"),
        ("swagger-ui.css", "text/css"),
        ("favicon-32x32.png", "image/png"),
    ],
)
def test_assets_are_cached_for_a_year(docs: FlaskClient, name: str, mimetype: str) -> None:
    response = docs.get(f"{ASSETS}/{name}")
    assert response.status_code == 200
    assert response.mimetype == mimetype
    assert response.cache_control.max_age == 365 * 24 * 3600
    assert response.cache_control.public and response.cache_control.immutable
    assert response.get_data() == (swagger_ui_dist()[0] / name).read_bytes()
    response.close()


@pytest.mark.parametrize(
    "path",
    [
        "/docs/assets/0.0.1/swagger-ui.css",  # another version than the one installed
        f"{ASSETS}/no-such-file.js",
        f"{ASSETS}/../../__init__.py",
        f"{ASSETS}/%2e%2e/%2e%2e/__init__.py",
    ],
)
def test_anything_else_under_assets_is_a_json_404(docs: FlaskClient, path: str) -> None:
    with docs.get(path) as response:
        assert response.status_code == 404 and response.mimetype == "application/json"


def test_other_methods_and_paths_are_not_the_documentation() -> None:
    client = client_of()
    assert_errors(client.post("/docs"), 404, item(NOT_FOUND, "No operation is served at /docs"))
    assert_errors(client.get("/docs/other"), 404, item(NOT_FOUND, "No operation is served at /docs/other"))
    assert journaled(client) == ["POST /docs", "GET /docs/other"]


def test_documentation_requests_are_not_journaled_but_the_api_calls_are() -> None:
    client = client_of()
    for path in DOCS_PATHS:
        assert status_of(client, path) == 200, path
    assert status_of(client, f"{ASSETS}/missing.js") == 404
    assert client.get(f"{API}/available").status_code == 200
    assert journaled(client) == [f"GET {API}/available"]


def test_a_preflight_for_the_spec_is_answered() -> None:
    client = client_of()
    origin = "http://localhost:3000"
    response = client.options(
        "/openapi.json",
        headers={"Origin": origin, "Access-Control-Request-Method": "GET"},
    )
    assert response.status_code == 204
    assert response.headers["Allow"] == "GET, HEAD, OPTIONS"
    assert response.headers["Access-Control-Allow-Origin"] == origin
    fetched = client.get("/openapi.json", headers={"Origin": origin})
    assert fetched.headers["Access-Control-Allow-Origin"] == origin
    elsewhere = client.get("/openapi.json", headers={"Origin": "http://evil.example"})
    assert "Access-Control-Allow-Origin" not in elsewhere.headers


@pytest.mark.parametrize("validator", ["compiled", "openapi-core"])
def test_the_response_check_leaves_the_documentation_alone(validator: str) -> None:
    client = client_of(validate_responses=True, validator=validator)
    for path in DOCS_PATHS:
        assert status_of(client, path) == 200, path


def test_the_proxy_serves_the_documentation_itself() -> None:
    """No upstream listens: anything forwarded would be a 502."""
    client = client_of(upstream=f"http://127.0.0.1:{free_port()}")
    for path in DOCS_PATHS:
        assert status_of(client, path) == 200, path
    assert status_of(client, f"{ASSETS}/missing.js") == 404
    assert client.get(f"{API}/available").status_code == 502
    assert journaled(client) == [f"GET {API}/available"]
