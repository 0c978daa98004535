"""`mockserver proxy`: forwarding to a real server and checking both sides against the spec.

Upstreams: the mock itself (it keeps the contract: 0 violations), and a drifting server built here
(the mock with its answers altered: a renamed attribute, an undeclared status, a dropped required
attribute), a server that never answers, and a port nobody listens on.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient
from support import (
    API,
    AS_BOB,
    B1,
    BOB,
    P01,
    P07,
    P08,
    PARTNERS,
    VALID_CLICK,
    make_app,
    plain_client,
    post_click,
    send,
    serving,
)
from werkzeug.serving import make_server

from mockserver import proxy
from mockserver.cli import cli
from mockserver.live import LiveServer, free_port
from mockserver.scenarios import load_scenario

DRIFTED = "drifted"


class Drift:
    """WSGI middleware around the mock that breaks the contract on chosen paths, counting requests."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self.hits = 0
        self.seen_headers: list[dict[str, str]] = []

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        self.hits += 1
        self.seen_headers.append({k: v for k, v in environ.items() if k.startswith("HTTP_")})
        path = environ["PATH_INFO"]
        if path == f"{API}/wholesalers":
            start_response(
                "418 I'm a teapot", [("Content-Type", "application/json"), ("X-Upstream", DRIFTED)]
            )
            return [b'{"teapot": true}']
        captured: dict[str, Any] = {}

        def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            captured["status"], captured["headers"] = status, headers
            return lambda data: None

        body = b"".join(self.app(environ, capture))
        headers = [(k, v) for k, v in captured["headers"] if k.lower() != "content-length"]
        if path == f"{API}/{P01}" and body:
            document = orjson.loads(body)
            attributes = document["data"]["attributes"]
            attributes["title"] = attributes.pop("name")  # a renamed field
            body = orjson.dumps(document)
        elif path == f"{API}/available" and body:
            document = orjson.loads(body)
            for partner in document["data"]:
                del partner["attributes"]["categories"]  # a dropped required attribute
            body = orjson.dumps(document)
        headers += [("Content-Length", str(len(body))), ("Keep-Alive", "timeout=5"), ("X-Upstream", DRIFTED)]
        start_response(captured["status"], headers)
        return [body]


@pytest.fixture(scope="module")
def drift() -> Iterator[tuple[str, Drift]]:
    middleware = Drift(make_app(scenario="default"))
    with serving(make_server("127.0.0.1", free_port(), middleware, threaded=True)) as server:
        yield f"http://127.0.0.1:{server.port}", middleware


@pytest.fixture(scope="module")
def mock_upstream() -> Iterator[LiveServer]:
    server = LiveServer.start("--scenario", "default")
    try:
        yield server
    finally:
        server.stop()


def proxy_client(upstream: str, **settings: Any) -> FlaskClient:
    """A client of a proxy that checks each answer against the spec: for upstreams that keep it."""
    return make_app(upstream=upstream, **settings).test_client()


def lenient_client(upstream: str, **settings: Any) -> FlaskClient:
    """A client that takes answers as they come: for upstreams that drift."""
    return plain_client(make_app(upstream=upstream, **settings))


def violations(client: FlaskClient) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = client.get("/__admin/violations").get_json()["violations"]
    return found


# --- the mock itself as upstream: it keeps the contract ------------------------------------------------


def test_the_mock_as_upstream_breaks_nothing(mock_upstream: LiveServer) -> None:
    client = proxy_client(mock_upstream.base)
    assert client.post("/__admin/reset").status_code == 204
    calls = [
        client.get(f"{API}?business_uuid={B1}&include=users,partner_integrations"),
        client.get(f"{API}/available?filter[categories][]=pos&page=1&per_page=5"),
        client.get(f"{API}/wholesalers"),
        client.get(f"{API}/{P07}?include=users"),
        client.head(f"{API}/{P07}"),
        post_click(client, partner_id=P07),
        send(client, "PATCH", f"{API}/{P08}/connect", headers=AS_BOB),
        send(client, "DELETE", f"{API}/{P08}/connect", headers=AS_BOB),
        client.get(f"{API}/00000000-0000-4000-8000-000000000000"),  # a 404 the spec declares
    ]
    assert [c.status_code for c in calls] == [200, 200, 200, 200, 200, 201, 200, 200, 404]
    assert all("X-Contract-Violations" not in c.headers for c in calls)
    assert violations(client) == []
    journal = client.get("/__admin/requests").get_json()["requests"]
    assert [e["operation_id"] for e in journal][:4] == [
        "listPartners",
        "listAvailablePartners",
        "listWholesalers",
        "getPartner",
    ]
    # The upstream really did the work: its own journal holds the writes, and the session header and
    # hop-by-hop headers stayed on this side.
    upstream = mock_upstream.get_json("/__admin/requests")["requests"]
    assert [e["method"] for e in upstream[-4:]] == ["POST", "PATCH", "DELETE", "GET"]
    assert "X-Forwarded-For" in upstream[-1]["headers"]
    mock_upstream.request("POST", "/__admin/reset")


def test_the_upstream_answer_is_passed_through_as_it_came(mock_upstream: LiveServer) -> None:
    client = proxy_client(mock_upstream.base)
    direct = mock_upstream.request("GET", f"{API}/{P07}?include=users")
    proxied = client.get(f"{API}/{P07}?include=users")
    assert proxied.status_code == direct.status
    assert proxied.get_data() == direct.body
    assert proxied.headers["Content-Type"] == direct.headers["content-type"]
    assert proxied.headers["Content-Length"] == str(len(direct.body))


def test_an_off_contract_request_is_forwarded_and_recorded_on_the_request_side(
    mock_upstream: LiveServer,
) -> None:
    client = proxy_client(mock_upstream.base)
    response = client.get(f"{API}/available?per_page=abc", headers={"X-Mock-Session": "p1"})
    assert response.status_code == 400  # the upstream's own answer
    assert response.headers["X-Contract-Violations"].startswith("request: 1 (per_page must be an integer")
    (entry,) = violations(client)
    assert [e["code"] for e in entry["errors"]] == ["invalid_parameter"]
    assert entry["session"] == "p1"
    assert mock_upstream.get_json("/__admin/requests")["requests"][-1]["query"] == "per_page=abc"
    # The mock's session header is its own: the upstream never sees it.
    assert "X-Mock-Session" not in mock_upstream.get_json("/__admin/requests")["requests"][-1]["headers"]


# --- a drifting upstream ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "status", "detail"),
    [
        (f"{API}/{P01}", 200, "'title' was unexpected"),
        (f"{API}/available", 200, "'categories' is a required property"),
        (f"{API}/wholesalers", 418, "418"),
    ],
    ids=["renamed-field", "dropped-required", "undeclared-status"],
)
def test_a_drifting_answer_is_passed_through_and_recorded_on_the_response_side(
    drift: tuple[str, Drift], path: str, status: int, detail: str
) -> None:
    url, _ = drift
    client = lenient_client(url)
    response = client.get(path)
    assert response.status_code == status
    assert response.headers["X-Upstream"] == DRIFTED
    assert "Keep-Alive" not in response.headers  # hop-by-hop: this connection's, not the upstream's
    assert response.headers["X-Contract-Violations"].startswith("response: 1 (GET ")
    (entry,) = violations(client)
    (error,) = entry["errors"]
    assert error["code"] == "upstream_violation" and error["status"] == "502"
    assert detail in error["detail"], error["detail"]


def test_strict_answers_502_naming_the_violation(drift: tuple[str, Drift]) -> None:
    url, _ = drift
    client = lenient_client(url, strict=True)
    response = client.get(f"{API}/{P01}")
    assert response.status_code == 502
    (error,) = response.get_json()["errors"]
    assert error["code"] == "upstream_violation"
    assert f"GET {API}/{P01} answered 200" in error["detail"] and "'title' was unexpected" in error["detail"]
    assert client.get(f"{API}/{P07}").status_code == 200  # what keeps the contract passes


def test_strict_refuses_an_off_contract_request_without_forwarding_it(drift: tuple[str, Drift]) -> None:
    url, middleware = drift
    client = lenient_client(url, strict=True)
    before = middleware.hits
    response = client.get(f"{API}/available?per_page=abc")
    assert response.status_code == 400
    assert response.get_json()["errors"][0]["source"] == {"parameter": "per_page"}
    assert middleware.hits == before
    assert len(violations(client)) == 1


# --- an upstream that fails ---------------------------------------------------------------------


def test_an_unreachable_upstream_is_a_502() -> None:
    client = lenient_client(f"http://127.0.0.1:{free_port()}")
    response = client.get(f"{API}/{P07}")
    assert response.status_code == 502
    (error,) = response.get_json()["errors"]
    assert error["code"] == "upstream_unavailable" and "cannot be reached" in error["detail"]


@pytest.fixture
def silent_upstream() -> Iterator[str]:
    """A server that accepts connections and reads, but never answers."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stop.set()
        thread.join(timeout=5)
        for connection in accepted:
            connection.close()
        listener.close()


def test_a_hanging_upstream_is_a_504_after_the_timeout(silent_upstream: str) -> None:
    client = lenient_client(silent_upstream, upstream_timeout=0.5)
    response = client.get(f"{API}/{P07}")
    assert response.status_code == 504
    (error,) = response.get_json()["errors"]
    assert error["code"] == "upstream_timeout" and "within 0.5 s" in error["detail"]


@pytest.mark.parametrize("url", ["ftp://example.com", "http://", "http://h:99999", "http://h/x?y=1"])
def test_a_bad_upstream_url_is_refused_at_start(url: str) -> None:
    with pytest.raises(proxy.UpstreamError):
        make_app(upstream=url)


def test_a_body_past_the_checked_size_is_streamed_through_unchecked(
    mock_upstream: LiveServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(proxy, "CHECKED_BYTES", 100)
    client = lenient_client(mock_upstream.base)
    direct = mock_upstream.request("GET", f"{API}?business_uuid={B1}&per_page=100")
    response = client.get(f"{API}?business_uuid={B1}&per_page=100")
    assert response.get_data() == direct.body and len(direct.body) > 1000
    assert response.headers["Content-Length"] == str(len(direct.body))  # the upstream's, so a cut shows
    assert response.headers["X-Contract-Violations"] == "response: not checked (body over 100 bytes)"
    assert violations(client) == []


def test_admin_paths_are_never_forwarded(drift: tuple[str, Drift]) -> None:
    url, middleware = drift
    client = lenient_client(url)
    before = middleware.hits
    assert client.get("/__admin/nothing-here").status_code == 404
    assert client.get("/__admin/health").status_code == 200
    assert middleware.hits == before


# --- recording ----------------------------------------------------------------------------------


def test_record_writes_what_the_answers_reveal_as_a_scenario_the_mock_accepts(
    mock_upstream: LiveServer, tmp_path: Path
) -> None:
    target = tmp_path / "recorded.yaml"
    client = proxy_client(mock_upstream.base, record=str(target))
    assert send(client, "PATCH", f"{API}/{P08}/connect", headers=AS_BOB).status_code == 200
    listed = client.get(f"{API}?business_uuid={B1}&per_page=100&include=users,partner_integrations")
    assert listed.status_code == 200
    assert client.get(f"{API}/{P08}?include=users", headers=AS_BOB).status_code == 200
    dataset = load_scenario(target, tmp_path)
    assert {p.id for p in dataset.partners} == set(PARTNERS)
    assert (BOB, P08) in dataset.user_partner_links
    names = {p["id"]: p["attributes"]["name"] for p in listed.get_json()["data"]}
    assert {p.id: p.name for p in dataset.partners} == names
    preferred = {p["id"] for p in listed.get_json()["data"] if p["attributes"]["preferred"]}
    (business,) = [b for b in dataset.businesses if b.id == B1]
    assert business.preferred_partner_ids == preferred
    # Served as a scenario, it lists the same partners the upstream did.
    served = make_app(scenario=str(target)).test_client()
    again = served.get(f"{API}?business_uuid={B1}&per_page=100").get_json()["data"]
    assert [p["id"] for p in again] == [p["id"] for p in listed.get_json()["data"]]
    mock_upstream.request("POST", "/__admin/reset")


# --- the command --------------------------------------------------------------------------------


def test_the_proxy_command_serves_and_checks(mock_upstream: LiveServer) -> None:
    proxied = LiveServer.start("--upstream", mock_upstream.base, subcommand="proxy")
    try:
        reply = proxied.request("GET", f"{API}/{P07}")
        assert reply.status == 200 and reply.json()["data"]["id"] == P07
        assert proxied.get_json("/__admin/violations") == {"violations": []}
        assert f"proxying to {mock_upstream.base}" in proxied.output()
    finally:
        proxied.stop()


def test_the_proxy_command_refuses_a_bad_upstream(runner: CliRunner) -> None:
    result = runner.invoke(cli, ["proxy", "--upstream", "ftp://nowhere"])
    assert result.exit_code == 1
    assert "error: --upstream must be an http:// or https:// URL, got 'ftp://nowhere'" in result.output


def test_post_bodies_reach_the_upstream_whole(mock_upstream: LiveServer) -> None:
    client = proxy_client(mock_upstream.base)
    response = post_click(client, VALID_CLICK, partner_id=P07)
    assert response.status_code == 201
    upstream = mock_upstream.get_json("/__admin/requests")["requests"][-1]
    assert orjson.loads(upstream["body"]) == VALID_CLICK
    mock_upstream.request("POST", "/__admin/reset")


@pytest.mark.parametrize("raw_id", ["%C2%84", "%13", "caf%C3%A9%20x", "a%2Fb"])
def test_a_path_the_spec_refuses_reaches_the_upstream_encoded(mock_upstream: LiveServer, raw_id: str) -> None:
    """Found by fuzzing the proxy: a non-ASCII or control character in the path is sent on
    percent-encoded (a request line is ASCII), and the upstream's own answer comes back, not a 500."""
    client = lenient_client(mock_upstream.base)
    direct = mock_upstream.request("GET", f"{API}/{raw_id}")
    response = client.get(f"{API}/{raw_id}")
    assert response.status_code == direct.status != 500
    assert response.get_json() == direct.json()
