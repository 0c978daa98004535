"""mockserver.edge.admin_access: /__admin answers loopback clients, and other hosts only with `--admin-token`.

In-process requests set `REMOTE_ADDR` through the test client; the live tests check that both servers
(granian behind the RSGI front, and waitress) give the app the real client address, and that the
start-up output says who may reach /__admin without ever printing the token.
"""

from __future__ import annotations

import http.client
import json
import socket
import time
from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient
from raw_http import parse_raw_response, send_raw
from support import ALICE, API, AS_ALICE, P01, assert_errors, item, links, make_app, send
from tiers import needs
from werkzeug.test import TestResponse

from mockserver import Settings
from mockserver.edge.admin_access import is_loopback
from mockserver.serving.run import admin_notice, announce
from mockserver.testing.live import LiveServer, Reply, python_environment

ADMIN_FORBIDDEN = (403, "admin_forbidden", "Admin API not reachable")
TOKEN = "s3cret-admin-token"
REMOTE = "10.1.2.3"
REMOTE_ADDRESSES = [REMOTE, "192.0.2.2", "8.8.8.8", "fd00::2", "fe80::1", "::ffff:10.1.2.3", "0.0.0.0", ""]
LOOPBACK_ADDRESSES = ["127.0.0.1", "127.1.2.3", "127.255.255.254", "::1", "::ffff:127.0.0.1"]

NO_TOKEN_DETAIL = (
    "/__admin answers loopback clients only, not {address}; to open it to other hosts, start the server "
    "with --admin-token (or MOCKSERVER_ADMIN_TOKEN) and send it as a bearer token"
)
MISSING_TOKEN_DETAIL = (
    "/__admin needs `Authorization: Bearer <token>` from other hosts than this one "
    "(the token given to --admin-token or MOCKSERVER_ADMIN_TOKEN)"
)
WRONG_TOKEN_DETAIL = (
    "The bearer token is not the admin token; /__admin takes the token given to --admin-token "
    "(or MOCKSERVER_ADMIN_TOKEN)"
)


@pytest.fixture(scope="module")
def open_app() -> Flask:
    """The default scenario, started without an admin token."""
    return make_app(scenario="default")


@pytest.fixture(scope="module")
def token_app() -> Flask:
    return make_app(scenario="default", admin_token=TOKEN)


def from_address(
    app: Flask, address: str, method: str = "GET", path: str = "/__admin/health", **headers: str
) -> TestResponse:
    return app.test_client().open(path, method=method, headers=headers, environ_base={"REMOTE_ADDR": address})


@pytest.mark.parametrize("address", REMOTE_ADDRESSES)
def test_another_host_gets_a_403_saying_how_to_open_it(open_app: Flask, address: str) -> None:
    response = from_address(open_app, address)
    shown = address or "an unknown address"
    assert_errors(response, 403, item(ADMIN_FORBIDDEN, NO_TOKEN_DETAIL.format(address=shown)))


@pytest.mark.parametrize("address", LOOPBACK_ADDRESSES)
@pytest.mark.parametrize("app_name", ["open_app", "token_app"])
def test_a_loopback_client_passes_with_or_without_a_configured_token(
    request: pytest.FixtureRequest, app_name: str, address: str
) -> None:
    app: Flask = request.getfixturevalue(app_name)
    response = from_address(app, address)
    assert (response.status_code, response.get_json()) == (200, {"status": "ok"})


def test_the_right_bearer_token_opens_it_to_another_host(token_app: Flask) -> None:
    for path in ("/__admin/health", "/__admin/data", "/__admin/click-events"):
        response = from_address(token_app, REMOTE, path=path, Authorization=f"Bearer {TOKEN}")
        assert response.status_code == 200, (path, response.get_data(as_text=True))
    response = from_address(token_app, "fd00::2", Authorization=f"bearer  {TOKEN} ")
    assert response.status_code == 200


def test_without_a_token_another_host_is_told_to_send_one(token_app: Flask) -> None:
    assert_errors(from_address(token_app, REMOTE), 403, item(ADMIN_FORBIDDEN, MISSING_TOKEN_DETAIL))


@pytest.mark.parametrize(
    "authorization",
    [f"Bearer {TOKEN}x", f"Bearer {TOKEN[:-1]}", "Bearer alice-token", f"Basic {TOKEN}", TOKEN, "Bearer "],
)
def test_a_wrong_token_is_a_403_naming_the_header(token_app: Flask, authorization: str) -> None:
    response = from_address(token_app, REMOTE, Authorization=authorization)
    assert_errors(response, 403, item(ADMIN_FORBIDDEN, WRONG_TOKEN_DETAIL, header="Authorization"))


def test_a_token_sent_to_a_server_without_one_is_named_too(open_app: Flask) -> None:
    response = from_address(open_app, REMOTE, Authorization=f"Bearer {TOKEN}")
    detail = NO_TOKEN_DETAIL.format(address=REMOTE)
    assert_errors(response, 403, item(ADMIN_FORBIDDEN, detail, header="Authorization"))


def test_an_empty_token_opens_nothing() -> None:
    app = make_app(scenario="default", admin_token="")
    response = from_address(app, REMOTE, Authorization="Bearer ")
    assert response.status_code == 403
    assert response.get_json()["errors"][0]["detail"] == NO_TOKEN_DETAIL.format(address=REMOTE)


def test_a_refused_reset_changes_nothing(app: Flask, client: FlaskClient) -> None:
    assert send(client, "PATCH", f"{API}/{P01}/connect", headers=AS_ALICE).status_code == 200
    assert (ALICE, P01) in links(client)
    assert from_address(app, REMOTE, "POST", "/__admin/reset").status_code == 403
    assert (ALICE, P01) in links(client)
    assert from_address(app, "127.0.0.1", "POST", "/__admin/reset").status_code == 204
    assert (ALICE, P01) not in links(client)


@pytest.mark.parametrize("address", [REMOTE, "fd00::2"])
def test_the_api_itself_stays_open_to_other_hosts(open_app: Flask, address: str) -> None:
    response = from_address(open_app, address, path=f"{API}/{P01}")
    assert response.status_code == 200
    assert response.get_json()["data"]["id"] == P01


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "localhost", "LOCALHOST", "::1", "[::1]"])
def test_loopback_hosts(host: str) -> None:
    assert is_loopback(host)


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "10.0.0.1", "example.com", "localhost.example", ""])
def test_hosts_that_are_not_loopback(host: str) -> None:
    assert not is_loopback(host)


# --- what the start-up output says ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("host", "token", "notice"),
    [
        ("127.0.0.1", None, []),
        ("localhost", None, []),
        (
            "0.0.0.0",
            None,
            [
                "  /__admin answers 403 to other hosts than this one (0.0.0.0 is not loopback); "
                "set --admin-token to open it"
            ],
        ),
        ("0.0.0.0", TOKEN, ["  /__admin is open to other hosts with the bearer token of --admin-token"]),
    ],
)
def test_the_notice_says_who_may_reach_admin(host: str, token: str | None, notice: list[str]) -> None:
    assert admin_notice(Settings(host=host, admin_token=token)) == notice


def test_the_token_is_never_printed(capsys: pytest.CaptureFixture[str]) -> None:
    app = make_app(scenario="default", host="0.0.0.0", admin_token=TOKEN)
    settings: Settings = app.config["MOCKSERVER_SETTINGS"]
    announce(app, time.perf_counter())
    output = capsys.readouterr()
    assert "/__admin is open to other hosts" in output.err
    assert TOKEN not in output.err + output.out
    assert TOKEN not in repr(settings) and TOKEN not in str(settings)


# --- live: the real client address under both servers ----------------------------------------------


def own_address() -> str | None:
    """A non-loopback IPv4 address of this machine (the one a route out would use), or None."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))  # no packet is sent: only the route is looked up
        except OSError:
            return None
        address: str = probe.getsockname()[0]
    return None if is_loopback(address) or address == "0.0.0.0" else address


def request_via(address: str, port: int, path: str, headers: dict[str, str] | None = None) -> Reply:
    connection = http.client.HTTPConnection(address, port, timeout=10)
    try:
        connection.request("GET", path, headers=headers or {})
        response = connection.getresponse()
        return Reply(response.status, {k.lower(): v for k, v in response.getheaders()}, response.read())
    finally:
        connection.close()


@pytest.fixture(scope="module", params=["granian", "waitress"])
@needs("live")
def public(request: pytest.FixtureRequest) -> Iterator[LiveServer]:
    """A server listening on every interface, without an admin token."""
    server = LiveServer.start("--scenario", "default", "--host", "0.0.0.0", "--server", request.param)
    try:
        yield server
    finally:
        server.stop()


def test_listening_on_every_interface_prints_the_warning(public: LiveServer) -> None:
    assert (
        "/__admin answers 403 to other hosts than this one (0.0.0.0 is not loopback); "
        "set --admin-token to open it"
    ) in public.output()


def test_the_server_sees_the_client_address(public: LiveServer) -> None:
    """Loopback passes (the server became ready through /__admin/health); another address is refused."""
    assert public.request("GET", "/__admin/health").status == 200
    address = own_address()
    if address is None:
        pytest.skip("this machine has no non-loopback IPv4 address")
    reply = request_via(address, public.port, "/__admin/health")
    assert reply.status == 403, reply.text()
    assert json.loads(reply.body)["errors"] == [
        item(ADMIN_FORBIDDEN, NO_TOKEN_DETAIL.format(address=address))
    ]
    assert request_via(address, public.port, f"{API}/{P01}").status == 200


def test_http_1_1_without_host_on_every_interface_is_a_400_naming_it(public: LiveServer) -> None:
    """Bound to 0.0.0.0, Werkzeug took the listening address for the host name: a 403 instead."""
    reply = parse_raw_response(send_raw(public, b"GET /__admin/health HTTP/1.1\r\nConnection: close\r\n\r\n"))
    assert reply.status == 400, reply.text()
    assert reply.json()["errors"] == [
        {
            "status": "400",
            "code": "missing_header",
            "title": "Missing header",
            "detail": "An HTTP/1.1 request must carry a Host header (RFC 9112, section 3.2)",
            "source": {"header": "Host"},
        }
    ]
    old = parse_raw_response(send_raw(public, b"GET /__admin/health HTTP/1.0\r\n\r\n"))
    assert (old.status, old.json()) == (200, {"status": "ok"})


@pytest.mark.live
def test_a_token_from_the_environment_opens_admin_and_is_not_printed() -> None:
    env = python_environment({"MOCKSERVER_ADMIN_TOKEN": TOKEN})
    server = LiveServer.start("--scenario", "default", "--host", "0.0.0.0", env=env)
    try:
        address = own_address()
        if address is not None:
            with_token = request_via(
                address, server.port, "/__admin/health", {"Authorization": f"Bearer {TOKEN}"}
            )
            assert with_token.status == 200, with_token.text()
            assert request_via(address, server.port, "/__admin/health").status == 403
        output = server.output()
    finally:
        server.stop()
    assert "/__admin is open to other hosts with the bearer token of --admin-token" in output
    assert TOKEN not in output


# DNS rebinding: a page on another name that resolves to 127.0.0.1 calls from loopback, as its own origin.

REBINDING_HOSTS = [
    "evil.example",
    "evil.example:4010",
    "127.0.0.1.evil.example:4010",
    "localhost.evil.example",
]
LOOPBACK_HOSTS = ["localhost", "LOCALHOST:4010", "127.0.0.1:4010", "127.9.9.9", "[::1]:4010", "[::1]"]


@pytest.mark.parametrize("host", REBINDING_HOSTS)
def test_a_loopback_request_to_another_host_name_is_refused_and_changes_nothing(
    app: Flask, client: FlaskClient, host: str
) -> None:
    assert send(client, "PATCH", f"{API}/{P01}/connect", headers=AS_ALICE).status_code == 200
    for origin in ({}, {"Origin": f"http://{host}"}):  # same-origin to the browser: still refused
        response = from_address(app, "127.0.0.1", "POST", "/__admin/reset", Host=host, **origin)
        assert response.status_code == 403, response.get_data(as_text=True)
        (error,) = response.get_json()["errors"]
        assert error["code"] == "admin_forbidden" and error["source"] == {"header": "Host"}
    assert (ALICE, P01) in links(client)


UNREADABLE_HOSTS = [
    ":80",
    "@",
    "",
    " ",
    "evil_rebinding.example",
    "127.0.0.1@evil.example",
    "a b",
    "localhost:99999",
]
"""Host values Werkzeug's `request.host` reduces to "" (and "" passed): none names this machine."""


@pytest.mark.parametrize("host", UNREADABLE_HOSTS)
def test_a_host_that_is_not_host_and_port_is_refused(open_app: Flask, host: str) -> None:
    response = from_address(open_app, "127.0.0.1", "POST", "/__admin/reset", Host=host)
    assert response.status_code == 403, response.get_data(as_text=True)
    (error,) = response.get_json()["errors"]
    assert (error["code"], error["source"]) == ("admin_forbidden", {"header": "Host"})


@pytest.mark.parametrize("host", LOOPBACK_HOSTS + [socket.gethostname()])
def test_a_loopback_request_to_a_name_of_this_machine_passes(open_app: Flask, host: str) -> None:
    assert from_address(open_app, "127.0.0.1", Host=host).status_code == 200


def test_the_admin_token_opens_admin_under_any_name(token_app: Flask) -> None:
    authorized = {"Authorization": f"Bearer {TOKEN}"}
    assert from_address(token_app, "127.0.0.1", Host="mock.internal", **authorized).status_code == 200
    assert from_address(token_app, "127.0.0.1", Host="mock.internal").status_code == 403


def test_the_api_answers_any_host_name(open_app: Flask) -> None:
    assert from_address(open_app, "127.0.0.1", path=f"{API}/{P01}", Host="evil.example").status_code == 200
