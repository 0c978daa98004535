"""mockserver.edge.docs_page: the served spec (/openapi.yaml, /openapi.json) and the Swagger UI page (/docs).

They are outside the spec: not validated against it, never journaled, never response-checked, served
by the mock itself under `mockserver proxy` too. Swagger UI's assets have versioned URLs cached for a
year; the page and the spec are revalidated by ETag. test_browser.py renders the page in Chromium.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from flask.testing import FlaskClient
from support import (
    API,
    B1,
    NOT_FOUND,
    P02,
    SCENARIOS_DIR,
    SPEC_PATH,
    assert_errors,
    item,
    make_app,
    plain_client,
)

from mockserver import Settings, create_app
from mockserver.edge.docs_page import swagger_ui_dist
from mockserver.testing.live import free_port

VERSION = swagger_ui_dist()[1]
ASSETS = f"/docs/assets/{VERSION}"
DOCS_PATHS = [
    "/docs",
    "/docs/",
    "/docs/openapi.json",
    "/openapi.yaml",
    "/openapi.json",
    f"{ASSETS}/swagger-ui.css",
]


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
    assert "<title>Partners API (mock)</title>" in page  # the title says "mock" once
    assert "<h1>Partners API (mock)</h1>" in page  # shown before the script has run
    assert "Loading the operations from" in page
    assert f'src="{ASSETS}/swagger-ui-bundle.js"' in page
    assert f'href="{ASSETS}/swagger-ui.css"' in page
    assert 'fetch("/docs/openapi.json")' in page
    assert "url: window.location.origin" in page  # "Try it out" calls this server
    assert "validatorUrl: null" in page  # no badge from the validator's site
    assert "https://" not in page and "http://" not in page


def test_a_title_without_mock_in_it_is_marked_as_the_mocks(tmp_path: Path) -> None:
    document = yaml.safe_load(SPEC_PATH.read_text("utf-8"))
    document["info"]["title"] = "Partners API"
    spec_path = tmp_path / "openapi.yaml"
    spec_path.write_text(yaml.safe_dump(document), "utf-8")
    app = create_app(Settings(spec_path=spec_path, scenario="default", scenarios_dir=SCENARIOS_DIR))
    page = plain_client(app).get("/docs").get_data(as_text=True)
    assert "<title>Partners API (mockserver)</title>" in page


def page_examples(client: FlaskClient, headers: dict[str, str] | None = None) -> dict[str, Any]:
    """What the page fills in: the parameters' examples, the click body's partner, the token."""
    document = client.get("/docs/openapi.json", headers=headers).get_json()
    components = document["components"]
    click = components["examples"]["ClickEventRequestWebsite"]["value"]["data"]
    return {
        "business_uuid": components["parameters"]["business_uuid"]["example"],
        "id": components["parameters"]["partner_id"]["example"],
        "click_partner": click["relationships"]["partner"]["data"]["id"],
        "token": components["securitySchemes"]["bearerAuth"].get("x-mockserver-token"),
    }


def test_the_page_document_names_the_served_data_set() -> None:
    """The default user's business; a partner with linked users and that business's integration (P02:
    Alice linked, The Golden Fork's live integration); the default user's token. The spec as written
    is left alone."""
    client = client_of()
    assert page_examples(client) == {
        "business_uuid": B1,
        "id": P02,
        "click_partner": P02,
        "token": "alice-token",
    }
    written = yaml.safe_load(SPEC_PATH.read_text("utf-8"))
    assert client.get("/openapi.json").get_json() == json.loads(json.dumps(written))
    assert written["components"]["parameters"]["partner_id"]["example"] != P02


def test_the_page_document_follows_a_switch_of_the_data_set() -> None:
    client = client_of()
    before = client.get("/docs/openapi.json").headers["ETag"]
    switched = client.put("/__admin/scenario", json={"seed": 7, "partners": 30})
    assert switched.status_code == 200
    data = client.get("/__admin/data").get_json()
    examples = page_examples(client)
    assert examples["business_uuid"] == data["businesses"][0]["id"]
    assert examples["token"] == next(u["token"] for u in data["users"] if u["default"])
    assert client.get(f"{API}/{examples['id']}").status_code == 200
    assert client.get(f"{API}?business_uuid={examples['business_uuid']}").status_code == 200
    assert client.get("/docs/openapi.json").headers["ETag"] != before
    # A session's own data set shows in its page document (the page sends no session header).
    session = {"X-Mock-Session": "docs"}
    assert client.put("/__admin/scenario", json={"name": "default"}, headers=session).status_code == 200
    assert page_examples(client, session)["business_uuid"] == B1


def test_without_partners_the_page_document_keeps_the_written_partner_example() -> None:
    written = yaml.safe_load(SPEC_PATH.read_text("utf-8"))["components"]["parameters"]
    examples = page_examples(plain_client(make_app(scenario="empty")))
    assert examples["business_uuid"] == B1
    assert examples["id"] == written["partner_id"]["example"]


def test_a_proxys_page_document_is_the_spec_as_written() -> None:
    client = client_of(upstream=f"http://127.0.0.1:{free_port()}")
    assert client.get("/docs/openapi.json").get_data() == client.get("/openapi.json").get_data()


@pytest.mark.parametrize("path", ["/docs", "/docs/openapi.json", "/openapi.yaml", "/openapi.json"])
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


@pytest.mark.live
def test_the_proxy_serves_the_documentation_itself() -> None:
    """No upstream listens: anything forwarded would be a 502."""
    client = client_of(upstream=f"http://127.0.0.1:{free_port()}")
    for path in DOCS_PATHS:
        assert status_of(client, path) == 200, path
    assert status_of(client, f"{ASSETS}/missing.js") == 404
    assert client.get(f"{API}/available").status_code == 502
    assert journaled(client) == [f"GET {API}/available"]
