"""`mockserver proxy`: forwarding to a real server and checking both sides against the spec.

Upstreams: the mock itself (it keeps the contract: 0 violations), and a drifting server built here
(the mock with its answers altered: a renamed attribute, an undeclared status, a dropped required
attribute), a server that never answers, and a port nobody listens on.
"""

from __future__ import annotations

import contextlib
import http.client
import socket
import socketserver
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient
from raw_http import parse_raw_response, send_raw
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
from tiers import needs
from werkzeug.serving import make_server

from mockserver.cli import cli
from mockserver.dataset.scenario import load_scenario
from mockserver.proxy import forwarding as proxy
from mockserver.serving.offload import Offload
from mockserver.testing.live import LiveServer, Reply, free_port

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
@needs("live")
def drift() -> Iterator[tuple[str, Drift]]:
    middleware = Drift(make_app(scenario="default"))
    with serving(make_server("127.0.0.1", free_port(), middleware, threaded=True)) as server:
        yield f"http://127.0.0.1:{server.port}", middleware


@pytest.fixture(scope="module")
@needs("live")
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


@pytest.mark.live
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


@pytest.mark.live
def test_an_unreachable_upstream_is_a_502() -> None:
    client = lenient_client(f"http://127.0.0.1:{free_port()}")
    response = client.get(f"{API}/{P07}")
    assert response.status_code == 502
    (error,) = response.get_json()["errors"]
    assert error["code"] == "upstream_unavailable" and "cannot be reached" in error["detail"]


@pytest.fixture
@needs("live")
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


# --- a hand-written upstream, over real sockets ---------------------------------------------------


MIB = 1024 * 1024
PIECE = b"x" * (64 * 1024)
DEEP = b"[" * 200_000 + b"]" * 200_000
PARTNER = f"{API}/{P07}"
"""A path of the spec (getPartner), so that the proxy checks what the upstream answers to it."""


class ScriptedUpstream(socketserver.ThreadingTCPServer):
    """An HTTP upstream that answers each request by the `X-Script` header it carries (the proxy
    forwards it): slow, trickling, cut short, huge, deeply nested, with interim answers, a 101, a
    header with a bare CR; `echo` answers the request line and headers it got as JSON."""

    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), ScriptHandler)
        self.released = threading.Event()
        """Set when the test is over: sleeping and trickling scripts stop."""
        self.requests: list[str] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class ScriptHandler(socketserver.StreamRequestHandler):
    server: ScriptedUpstream

    def handle(self) -> None:
        head = b""
        while not head.endswith(b"\r\n\r\n"):
            line = self.rfile.readline(65536)
            if not line:
                return
            head += line
        request_line, *header_lines = head.decode("latin-1").split("\r\n")
        headers = [tuple(h.split(": ", 1)) for h in header_lines if h]
        self.server.requests.append(request_line)
        script = next((v for k, v in headers if k.lower() == "x-script"), "echo")
        with contextlib.suppress(OSError):
            getattr(self, "script_" + script.replace("-", "_"))(request_line, headers)

    def send(self, data: bytes) -> None:
        self.wfile.write(data)
        self.wfile.flush()

    def answer(self, body: bytes, content_type: str = "application/json", extra: bytes = b"") -> None:
        self.send(
            b"HTTP/1.1 200 OK\r\nContent-Type: " + content_type.encode() + b"\r\n" + extra
            + b"Content-Length: " + str(len(body)).encode() + b"\r\nConnection: close\r\n\r\n" + body
        )  # fmt: skip

    def wait(self, seconds: float) -> bool:
        """Sleep; False once the test is over."""
        return not self.server.released.wait(seconds)

    def script_echo(self, request_line: str, headers: list[tuple[str, ...]]) -> None:
        self.answer(orjson.dumps({"request_line": request_line, "headers": headers}))

    def script_sleep(self, request_line: str, headers: list[tuple[str, ...]]) -> None:
        if self.wait(20):
            self.answer(b"{}")

    def script_trickle(self, request_line: str, headers: list[tuple[str, ...]]) -> None:
        """Headers at once, then one byte of the body every 0.3 s."""
        self.send(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n")
        while self.wait(0.3):
            self.send(b" ")

    def script_trickle_head(self, request_line: str, headers: list[tuple[str, ...]]) -> None:
        """The status line and headers one byte every 0.3 s."""
        for byte in b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nX-Padding: " + b"x" * 1000:
            if not self.wait(0.3):
                return
            self.send(bytes([byte]))

    def script_stream_then_trickle(self, request_line: str, headers: list[tuple[str, ...]]) -> None:
        """10 MiB at once (past what the proxy checks), then one byte every 0.3 s."""
        self.send(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
        )
        for _ in range(160):
            self.send(b"%x\r\n%s\r\n" % (len(PIECE), PIECE))
        while self.wait(0.3):
            self.send(b"1\r\n \r\n")

    def script_short(self, request_line: str, headers: list[tuple[str, ...]]) -> None:
        """Announces 1,000 bytes, sends 9, closes."""
        self.send(
            b'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"data":1'
        )

    def script_stream_then_cut(self, request_line: str, headers: list[tuple[str, ...]]) -> None:
        """10 MiB of a chunked body (past what the proxy checks), then the connection ends."""
        self.send(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
        )
        for _ in range(160):
            self.send(b"%x\r\n%s\r\n" % (len(PIECE), PIECE))

    def script_big(self, request_line: str, headers: list[tuple[str, ...]]) -> None:
        """BIG_BYTES made on the fly, with Content-Length (`?chunked`: chunked)."""
        chunked = "chunked" in request_line
        framing = b"Transfer-Encoding: chunked" if chunked else b"Content-Length: %d" % BIG_BYTES
        self.send(b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n" + framing + b"\r\n\r\n")
        for _ in range(BIG_BYTES // len(PIECE)):
            self.wfile.write(b"%x\r\n%s\r\n" % (len(PIECE), PIECE) if chunked else PIECE)
        self.send(b"0\r\n\r\n" if chunked else b"")

    def script_deep(self, request_line: str, headers: list[tuple[str, ...]]) -> None:
        self.answer(DEEP)

    def script_early_hints(self, request_line: str, headers: list[tuple[str, ...]]) -> None:
        self.send(b"HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n")
        self.script_echo(request_line, headers)

    def script_switch(self, request_line: str, headers: list[tuple[str, ...]]) -> None:
        self.send(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
        self.wait(2)

    def script_bare_cr(self, request_line: str, headers: list[tuple[str, ...]]) -> None:
        self.answer(b"{}", extra=b"X-Note: one\rX-Injected: two\r\n")


BIG_BYTES = 256 * MIB


@pytest.fixture(scope="module")
@needs("live")
def scripted() -> Iterator[ScriptedUpstream]:
    upstream = ScriptedUpstream()
    with serving(upstream):
        try:
            yield upstream
        finally:
            upstream.released.set()


@pytest.fixture(scope="module")
@needs("live")
def scripted_proxy(scripted: ScriptedUpstream) -> Iterator[LiveServer]:
    """`mockserver proxy` in front of the scripted upstream's `/base/api`, with a 2 s upstream time-out."""
    server = LiveServer.start(
        "--upstream",
        scripted.url + "/base/api",
        "--upstream-timeout",
        str(UPSTREAM_TIMEOUT),
        subcommand="proxy",
    )
    try:
        yield server
    finally:
        server.stop()


UPSTREAM_TIMEOUT = 2.0


@pytest.fixture(scope="module")
@needs("live")
def patient_proxy(scripted: ScriptedUpstream) -> Iterator[LiveServer]:
    """The same with a 60 s upstream time-out: time for a huge answer on a loaded machine (the time-out
    bounds the whole answer)."""
    server = LiveServer.start("--upstream", scripted.url, "--upstream-timeout", "60", subcommand="proxy")
    try:
        yield server
    finally:
        server.stop()


def scripted_get(proxy_server: LiveServer, script: str, path: str = PARTNER, timeout: float = 15.0) -> Reply:
    return proxy_server.request("GET", path, headers={"X-Script": script}, timeout=timeout)


def journaled(proxy_server: LiveServer, script: str, wait: float = 5.0) -> dict[str, Any]:
    """The newest journal entry of a request that asked for this script. A streamed answer is journaled
    once the server has closed its stream, which may come a moment after the client saw the end."""
    deadline = time.monotonic() + wait
    while True:
        entries = proxy_server.get_json("/__admin/requests")["requests"]
        found: list[dict[str, Any]] = [e for e in entries if e["headers"].get("X-Script") == script]
        if found or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert found, entries[-3:]
    return found[-1]


def tree_rss_kib(pid: int, field: str = "VmRSS") -> int:
    """`field` (VmRSS, or VmHWM: the peak) summed over the process and its descendants, from /proc."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            parent = int(stat.read_text().rpartition(")")[2].split()[1])
            children.setdefault(parent, []).append(int(stat.parent.name))
    total, todo = 0, [pid]
    while todo:
        current = todo.pop()
        todo.extend(children.get(current, []))
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{current}/status").read_text().splitlines():
                if line.startswith(field + ":"):
                    total += int(line.split()[1])
    return total


def test_a_slow_upstream_holds_up_no_other_client(scripted_proxy: LiveServer) -> None:
    """Finding: the upstream call blocked the event loop, so `/__admin/health` waited for it."""
    slow: dict[str, Any] = {}

    def call_slow_upstream() -> None:
        started = time.perf_counter()
        slow["reply"] = scripted_get(scripted_proxy, "sleep")
        slow["seconds"] = time.perf_counter() - started

    thread = threading.Thread(target=call_slow_upstream)
    thread.start()
    time.sleep(0.5)  # the upstream call is under way
    health, proxied = [], []
    for _ in range(5):
        started = time.perf_counter()
        assert scripted_proxy.is_healthy()
        health.append(time.perf_counter() - started)
        started = time.perf_counter()
        assert scripted_get(scripted_proxy, "echo").status == 200  # another proxied client
        proxied.append(time.perf_counter() - started)
    thread.join(UPSTREAM_TIMEOUT + 10)
    assert max(health) < 0.5, health
    assert max(proxied) < 1.0, proxied
    assert slow["reply"].status == 504, slow["reply"].text()
    assert slow["reply"].json()["errors"][0]["code"] == "upstream_timeout"
    assert slow["seconds"] < UPSTREAM_TIMEOUT + 3


@pytest.mark.parametrize("script", ["trickle", "trickle-head"])
def test_a_trickling_upstream_trips_the_timeout(scripted_proxy: LiveServer, script: str) -> None:
    """Finding: the time-out bounded each read, so one byte every few seconds never tripped it."""
    started = time.perf_counter()
    reply = scripted_get(scripted_proxy, script)
    took = time.perf_counter() - started
    assert reply.status == 504, reply.text()
    (error,) = reply.json()["errors"]
    assert error["code"] == "upstream_timeout"
    assert f"did not answer whole within {UPSTREAM_TIMEOUT:g} s" in error["detail"]
    assert took < UPSTREAM_TIMEOUT + 3


def read_streamed(proxy_server: LiveServer, script: str, path: str = PARTNER) -> tuple[int, int, str]:
    """GET a streamed answer: (status, bytes read, "" or how the body ended early)."""
    connection = proxy_server.connection(timeout=20)
    try:
        connection.request("GET", path, headers={"X-Script": script})
        response = connection.getresponse()
        received = 0
        try:
            while chunk := response.read(1024 * 1024):
                received += len(chunk)
        except http.client.IncompleteRead as exc:
            return response.status, received + len(exc.partial), "incomplete"
        return response.status, received, ""
    finally:
        connection.close()


def test_a_trickle_past_the_checked_part_cuts_the_connection_and_is_journaled(
    scripted_proxy: LiveServer,
) -> None:
    started = time.perf_counter()
    status, received, ended = read_streamed(scripted_proxy, "stream-then-trickle")
    assert (status, ended) == (200, "incomplete")
    assert received >= 10 * MIB - 1
    assert time.perf_counter() - started < UPSTREAM_TIMEOUT + 4
    entry = journaled(scripted_proxy, "stream-then-trickle")
    assert [e["code"] for e in entry["errors"]] == ["not_found", "upstream_timeout"] or [
        e["code"] for e in entry["errors"]
    ] == ["upstream_timeout"], entry["errors"]


def test_an_answer_cut_short_is_not_passed_on_as_whole(scripted_proxy: LiveServer) -> None:
    """Finding: an upstream that announced 1,000 bytes and sent 9 became a well-framed 200."""
    reply = scripted_get(scripted_proxy, "short")
    assert reply.status == 502, reply.text()
    (error,) = reply.json()["errors"]
    assert error["code"] == "upstream_violation"
    assert (
        error["detail"]
        == f"GET {PARTNER} answered 200: the body was cut after 9 bytes of the 1000 bytes announced"
    )
    (violation,) = [
        v for v in scripted_proxy.get_json("/__admin/violations")["violations"] if "cut" in str(v)
    ]
    assert violation["errors"][-1]["detail"] == error["detail"]


def test_a_chunked_answer_cut_while_streamed_ends_the_connection_and_is_journaled(
    scripted_proxy: LiveServer,
) -> None:
    status, received, ended = read_streamed(scripted_proxy, "stream-then-cut")
    assert (status, ended) == (200, "incomplete")  # no last chunk: the client sees the cut
    assert 8 * MIB < received <= 10 * MIB  # what was queued for it when the cut came may be lost
    entry = journaled(scripted_proxy, "stream-then-cut")
    assert entry["violation"] is True
    assert "the body was cut after" in entry["errors"][-1]["detail"]


def test_an_unrequested_101_is_a_502(scripted_proxy: LiveServer) -> None:
    reply = scripted_get(scripted_proxy, "switch")
    assert reply.status == 502, reply.text()
    (error,) = reply.json()["errors"]
    assert error["code"] == "upstream_violation" and "101 Switching Protocols" in error["detail"]


def test_a_header_with_a_bare_cr_is_never_split(scripted_proxy: LiveServer) -> None:
    reply = scripted_get(scripted_proxy, "bare-cr")
    assert reply.status == 502, reply.text()
    assert "x-injected" not in reply.headers
    assert "CR, LF or NUL" in reply.json()["errors"][0]["detail"]


def test_interim_answers_are_skipped(scripted_proxy: LiveServer) -> None:
    """Finding: a `103 Early Hints` before the 200 was a 500."""
    reply = scripted_get(scripted_proxy, "early-hints")
    assert reply.status == 200, reply.text()
    assert reply.json()["request_line"].startswith(f"GET /base/api{PARTNER} ")


def test_a_deeply_nested_answer_is_a_response_violation_not_a_500(scripted_proxy: LiveServer) -> None:
    """Finding: 200,000 nested arrays made the schema check recurse into a 500."""
    reply = scripted_get(scripted_proxy, "deep")
    assert reply.status == 200 and reply.body == DEEP
    assert reply.headers["x-contract-violations"].endswith("the body nests too deeply to be parsed)")


def test_the_proxy_sets_x_forwarded_for_itself(scripted_proxy: LiveServer) -> None:
    reply = scripted_proxy.request(
        "GET",
        PARTNER,
        headers={"X-Script": "echo", "X-Forwarded-For": "6.6.6.6", "X-Forwarded-Proto": "https"},
    )
    forwarded = [(k, v) for k, v in reply.json()["headers"] if k.lower().startswith("x-forwarded")]
    assert sorted(forwarded) == [("X-Forwarded-For", "127.0.0.1"), ("X-Forwarded-Proto", "http")]


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/partners/../../../secret",
        "/api/v1/partners/%2e%2e/%2E%2E/%2e%2E/secret",
        "/api/v1/partners/./x",
        "/api/v1/partners/%2e/x",
    ],
)
def test_dot_segments_are_refused_not_forwarded(
    scripted_proxy: LiveServer, scripted: ScriptedUpstream, path: str
) -> None:
    """Finding: `/base/api/../../secret` reached the upstream, outside its base path."""
    before = len(scripted.requests)
    raw = send_raw(
        scripted_proxy, f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Script: echo\r\n\r\n".encode()
    )
    reply = parse_raw_response(raw)
    assert reply.status == 400, raw[:500]
    (error,) = reply.json()["errors"]
    assert error["code"] == "invalid_parameter" and error["source"] == {"parameter": "path"}
    assert len(scripted.requests) == before


class RssPeak:
    """The highest VmRSS of a process tree, sampled every 20 ms while the block runs."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.start = tree_rss_kib(pid)
        self.peak = self.start
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.wait(0.02):
            self.peak = max(self.peak, tree_rss_kib(self.pid))

    def __enter__(self) -> RssPeak:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, tree_rss_kib(self.pid))

    @property
    def growth_mib(self) -> float:
        return (self.peak - self.start) / 1024


RSS_GROWTH_BOUND_MIB = 100
"""What a streamed answer may add to the proxy's processes: its checked part (8 MiB), the window of
bytes sent but not acknowledged (4 MiB), and the allocator's slack, with room to spare. The whole
answer is 256 MiB: buffering it would add at least that much."""


@pytest.mark.parametrize("query", ["", "?chunked"], ids=["content-length", "chunked"])
def test_a_huge_answer_is_streamed_in_bounded_memory(patient_proxy: LiveServer, query: str) -> None:
    """Finding: bodies over 8 MiB were joined in memory (1 GiB upstream: 2 GB RSS)."""
    with RssPeak(patient_proxy.process.pid) as rss:
        status, received, ended = read_streamed(patient_proxy, "big", PARTNER + query)
    assert (status, received, ended) == (200, BIG_BYTES, "")
    assert rss.growth_mib < RSS_GROWTH_BOUND_MIB, f"+{rss.growth_mib:.0f} MiB"


def test_a_client_that_reads_nothing_holds_no_more_than_the_window(patient_proxy: LiveServer) -> None:
    """granian queues a streamed answer without limit: unpaced, a client that stops reading would
    have the whole upstream body held for it."""
    address = (patient_proxy.host, patient_proxy.port)
    with RssPeak(patient_proxy.process.pid) as rss, socket.create_connection(address, timeout=10) as sock:
        sock.sendall(f"GET {PARTNER} HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Script: big\r\n\r\n".encode())
        assert sock.recv(1024).startswith(b"HTTP/1.1 200")
        time.sleep(3)  # the upstream could send all of it meanwhile
    assert rss.growth_mib < RSS_GROWTH_BOUND_MIB, f"+{rss.growth_mib:.0f} MiB"
    assert patient_proxy.is_healthy()


@pytest.mark.parametrize(
    ("method", "path", "proxying", "pool"),
    [
        ("GET", f"{API}", False, None),  # the plain path stays inline
        ("POST", f"{API}/{P07}/click_event", False, None),
        ("GET", "/__admin/health", False, None),
        ("HEAD", "/__admin/requests", True, None),
        ("POST", "/__admin/requests/find", False, "admin"),
        ("POST", "/__admin/requests/count", True, "admin"),
        ("PUT", "/__admin/scenario", False, "admin"),
        ("GET", f"{API}", True, "upstream"),  # every proxied request
        ("DELETE", f"{API}/{P07}/connect", True, "upstream"),
    ],
)
def test_requests_that_may_block_run_on_a_pool(
    method: str, path: str, proxying: bool, pool: str | None
) -> None:
    offload = Offload.create(proxying=proxying)
    try:
        chosen = offload.pool_for({"REQUEST_METHOD": method, "PATH_INFO": path})
        pools = {None: None, "admin": offload.admin_pool, "upstream": offload.upstream_pool}
        assert chosen is pools[pool]
    finally:
        offload.shutdown()
