"""Hostile clients over real sockets against `mockserver serve`: stalled, trickling and truncated
requests, lenient parsing the contract does not allow, unbounded output and memory.

Every test talks to a real server process (the default granian front, and waitress where the
behaviour belongs to the server), so what is checked is what a client on the network sees.
"""

from __future__ import annotations

import contextlib
import json
import resource
import signal
import socket
import statistics
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from raw_http import parse_raw_response, read_responses, send_raw
from support import API, MIB, P01, VALID_CLICK

from mockserver.contract.spec import ADMIN_SPEC_PATH
from mockserver.testing.live import LiveServer, Reply

pytestmark = pytest.mark.live

READ_TIMEOUT = 1.0
MAX_CLICK_EVENTS = 40
CLICK = json.dumps(VALID_CLICK).encode()
LIST = f"{API}/available?per_page=25"


def server_args(server: str) -> list[str]:
    return [
        "--scenario",
        "default",
        "--server",
        server,
        "--read-timeout",
        str(READ_TIMEOUT),
        "--max-click-events",
        str(MAX_CLICK_EVENTS),
    ]


@pytest.fixture(scope="module", params=["granian", "waitress"])
def live(request: pytest.FixtureRequest) -> Iterator[LiveServer]:
    server = LiveServer.start(*server_args(request.param))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def granian() -> Iterator[LiveServer]:
    server = LiveServer.start(*server_args("granian"))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(autouse=True)
def fresh_state(request: pytest.FixtureRequest) -> None:
    for name in ("live", "granian"):
        if name in request.fixturenames:
            server: LiveServer = request.getfixturevalue(name)
            assert server.request("POST", "/__admin/reset").status == 204


def stored_events(server: LiveServer) -> dict[str, Any]:
    document: dict[str, Any] = server.get_json("/__admin/click-events")
    return document


def raw_request(
    server: LiveServer, payload: bytes, *, shut_write: bool = False, timeout: float = 10
) -> bytes:
    """Send bytes; optionally close the sending side (the client is done); what the server answers."""
    with socket.create_connection((server.host, server.port), timeout=timeout) as sock:
        sock.sendall(payload)
        if shut_write:
            sock.shutdown(socket.SHUT_WR)
        return read_responses(sock, 1, timeout, 1 << 20)


def click_head(length: int | str, extra: str = "") -> bytes:
    length_header = f"Content-Length: {length}\r\n" if isinstance(length, int) else length
    return (
        f"POST {API}/{P01}/click_event HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        f"{length_header}{extra}\r\n"
    ).encode()


def error_codes(reply: Reply) -> list[str]:
    return [error["code"] for error in reply.json()["errors"]]


# --- availability under stalled and trickling clients ------------------------------------------


def open_stalled(server: LiveServer, mid_body: int, mid_headers: int) -> list[socket.socket]:
    sockets = []
    for _ in range(mid_body):
        sock = socket.create_connection((server.host, server.port), timeout=5)
        sock.sendall(click_head(200) + CLICK[:8])
        sockets.append(sock)
    for _ in range(mid_headers):
        sock = socket.create_connection((server.host, server.port), timeout=5)
        sock.sendall(f"GET {LIST} HTTP/1.1\r\nHost: x\r\nX-Slow: ".encode())
        sockets.append(sock)
    return sockets


def timed_gets(server: LiveServer, count: int) -> list[float]:
    latencies = []
    connection = server.connection(timeout=5)
    try:
        for _ in range(count):
            started = time.perf_counter()
            reply = server.request("GET", LIST, connection=connection, timeout=5)
            latencies.append((time.perf_counter() - started) * 1000)
            assert reply.status == 200
    finally:
        connection.close()
    return latencies


def p99(latencies: list[float]) -> float:
    return statistics.quantiles(latencies, n=100)[98]


def test_64_clients_stalled_mid_body_and_64_mid_headers_do_not_delay_others(live: LiveServer) -> None:
    stalled = open_stalled(live, mid_body=64, mid_headers=64)
    try:
        time.sleep(0.2)
        latencies = timed_gets(live, 200)
    finally:
        for sock in stalled:
            sock.close()
    assert p99(latencies) <= 50, f"p99 {p99(latencies):.1f} ms with 128 stalled clients"


def test_a_trickling_body_does_not_delay_others(granian: LiveServer) -> None:
    """200 bytes over 6 s used to delay every other client by seconds."""
    done = threading.Event()

    def trickle() -> None:
        with socket.create_connection((granian.host, granian.port), timeout=10) as sock:
            sock.sendall(click_head(200))
            while not done.wait(0.1):
                try:
                    sock.sendall(b" ")
                except OSError:
                    return

    thread = threading.Thread(target=trickle)
    thread.start()
    try:
        time.sleep(0.2)
        latencies = timed_gets(granian, 100)
    finally:
        done.set()
        thread.join()
    assert max(latencies) < 500, f"slowest GET {max(latencies):.0f} ms beside a trickling client"


def test_a_body_that_stops_arriving_gets_a_408_and_is_not_acted_on(granian: LiveServer) -> None:
    with socket.create_connection((granian.host, granian.port), timeout=10) as sock:
        sock.sendall(click_head(len(CLICK) + 50) + CLICK)
        started = time.monotonic()
        answer = read_responses(sock, 1, 10, 1 << 20)
        waited = time.monotonic() - started
    reply = parse_raw_response(answer)
    assert reply.status == 408
    assert reply.json()["errors"][0]["detail"] == (
        f"The request body did not arrive within {READ_TIMEOUT:g} s ({len(CLICK) + 50} bytes announced)"
    )
    assert reply.headers.get("connection") == "close"
    assert READ_TIMEOUT * 0.8 <= waited < READ_TIMEOUT + 3
    assert stored_events(granian)["meta"]["stored"] == 0


def test_a_stalled_admin_body_gets_the_408_the_admin_contract_declares(granian: LiveServer) -> None:
    head = (
        b"PUT /__admin/scenario HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        b"Content-Length: 100\r\n\r\n"
    )
    with socket.create_connection((granian.host, granian.port), timeout=10) as sock:
        sock.sendall(head + b'{"name": ')
        reply = parse_raw_response(read_responses(sock, 1, 10, 1 << 20))
    assert (reply.status, error_codes(reply)) == (408, ["request_timeout"]), reply.text()
    declared = yaml.safe_load(ADMIN_SPEC_PATH.read_text(encoding="utf-8"))["paths"]["/__admin/scenario"][
        "put"
    ]
    assert declared["responses"]["408"] == {"$ref": "#/components/responses/RequestTimeout"}


def test_a_204_carries_neither_body_nor_content_type(live: LiveServer) -> None:
    rule = {"id": "short-lived", "match": {"operation_id": "getPartner"}, "respond": {"status": 404}}
    assert (
        live.request("POST", "/__admin/rules", json.dumps(rule), {"Content-Type": "application/json"}).status
        == 201
    )
    replies = {  # the rule first: a reset drops it
        "rule removed": live.request("DELETE", "/__admin/rules/short-lived"),
        "reset": live.request("POST", "/__admin/reset"),
        "return=minimal": live.request(
            "DELETE", f"{API}/{P01}/connect", headers={"Prefer": "return=minimal"}
        ),
    }
    for name, reply in replies.items():
        assert (reply.status, reply.body) == (204, b""), name
        assert "content-type" not in reply.headers, (name, reply.headers)


def test_raw_utf8_in_a_query_passes_the_proxy_percent_encoded() -> None:
    """The proxy failed like the mock (500): its upstream now gets the query as a browser sends it."""
    upstream = LiveServer.start("--scenario", "default")
    try:
        proxy = LiveServer.start("--upstream", upstream.base, subcommand="proxy")
        try:
            raw = send_raw(
                proxy,
                f"GET {API}/{P01}?x=é HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode(),
            )
            reply = parse_raw_response(raw)
        finally:
            proxy.stop()
        assert (reply.status, reply.json()["data"]["id"]) == (200, P01), reply.text()
        assert upstream.get_json("/__admin/requests")["requests"][-1]["query"] == "x=%C3%A9"
    finally:
        upstream.stop()


# --- never act on an incomplete request ---------------------------------------------------------


def test_a_body_shorter_than_its_content_length_is_a_400_and_nothing_is_stored(live: LiveServer) -> None:
    answer = raw_request(live, click_head(len(CLICK) + 300) + CLICK, shut_write=True)
    if answer:  # waitress closes without answering; granian answers 400
        reply = parse_raw_response(answer)
        assert reply.status == 400
        assert error_codes(reply) == ["incomplete_body"]
    assert stored_events(live)["meta"]["stored"] == 0
    assert live.alive()


def test_a_chunked_body_without_its_last_chunk_is_not_acted_on(live: LiveServer) -> None:
    chunk = f"{len(CLICK):x}\r\n".encode() + CLICK + b"\r\n"
    answer = raw_request(live, click_head("Transfer-Encoding: chunked\r\n") + chunk, shut_write=True)
    if answer:
        assert parse_raw_response(answer).status == 400
    assert stored_events(live)["meta"]["stored"] == 0


def test_a_chunked_body_with_a_trailer(live: LiveServer) -> None:
    """A trailer after the last chunk is valid HTTP/1.1. waitress stores the body; granian's RSGI
    front reads a chunked body chunk by chunk (to stop at the size limit), and there a trailer
    section looks exactly like a body cut short: it is refused, never acted on."""
    chunk = f"{len(CLICK):x}\r\n".encode() + CLICK + b"\r\n0\r\nX-Checksum: 1\r\n\r\n"
    reply = parse_raw_response(raw_request(live, click_head("Transfer-Encoding: chunked\r\n") + chunk))
    if "waitress" in live.argv:
        assert reply.status == 201, reply.text()
        assert stored_events(live)["meta"]["stored"] == 1
        return
    assert reply.status == 400, reply.text()
    assert reply.json()["errors"][0]["detail"] == (
        "The chunked body ended before its last chunk, or carried trailers (not accepted)"
    )
    assert reply.json()["errors"][0]["source"] == {"header": "Transfer-Encoding"}
    assert stored_events(live)["meta"]["stored"] == 0


def test_a_complete_chunked_body_is_stored(live: LiveServer) -> None:
    """The control for the two tests above: the same bytes, finished, are acted on."""
    chunk = f"{len(CLICK):x}\r\n".encode() + CLICK + b"\r\n0\r\n\r\n"
    reply = parse_raw_response(raw_request(live, click_head("Transfer-Encoding: chunked\r\n") + chunk))
    assert reply.status == 201
    assert stored_events(live)["meta"]["stored"] == 1


# --- strict parsing ---------------------------------------------------------------------------------

NON_CANONICAL_IDS = [
    P01[:-1] + "\u0664",  # ARABIC-INDIC DIGIT FOUR
    P01[:-1] + "\uff14",  # FULLWIDTH DIGIT FOUR
    P01[:9] + "0_00" + P01[13:],
    P01[:9] + "+000" + P01[13:],
    "{" + P01 + "}",
    P01.replace("-", ""),
]


@pytest.mark.parametrize("partner_id", NON_CANONICAL_IDS)
@pytest.mark.parametrize(("method", "suffix"), [("GET", ""), ("PATCH", "/connect"), ("DELETE", "/connect")])
def test_only_canonical_uuids_are_ids(granian: LiveServer, partner_id: str, method: str, suffix: str) -> None:
    from urllib.parse import quote

    reply = granian.request(method, f"{API}/{quote(partner_id)}{suffix}")
    assert reply.status == 400, reply.text()
    assert reply.json()["errors"] == [
        {
            "status": "400",
            "code": "invalid_parameter",
            "title": "Invalid parameter",
            "detail": f"id must be a valid uuid, got {partner_id!r}",
            "source": {"parameter": "id"},
        }
    ]


def test_a_non_canonical_uuid_in_the_body_is_a_422(granian: LiveServer) -> None:
    body = {
        "data": {**VALID_CLICK["data"], "relationships": {"partner": {"data": {"id": P01[:-1] + "\uff14"}}}}
    }
    reply = granian.request(
        "POST", f"{API}/{P01}/click_event", json.dumps(body), {"Content-Type": "application/json"}
    )
    assert reply.status == 422
    assert reply.json()["errors"][0]["source"] == {"pointer": "/data/relationships/partner/data/id"}


def test_a_non_canonical_business_uuid_is_a_400(granian: LiveServer) -> None:
    business = "b0000000-0000-4000-8000-00000000000\u0661"
    from urllib.parse import quote

    reply = granian.request("GET", f"{API}?business_uuid={quote(business)}")
    assert reply.status == 400
    assert reply.json()["errors"][0]["source"] == {"parameter": "business_uuid"}


@pytest.mark.parametrize("method", ["post", "Post", "get"])
def test_methods_are_case_sensitive(live: LiveServer, method: str) -> None:
    answer = raw_request(live, click_head(len(CLICK)).replace(b"POST", method.encode(), 1) + CLICK)
    reply = parse_raw_response(answer)
    assert reply.status in (400, 405, 501), reply.text()
    assert reply.mimetype == "application/json" or reply.status == 400
    assert stored_events(live)["meta"]["stored"] == 0


@pytest.mark.parametrize(
    ("header", "source"),
    [
        ("Content-Encoding: gzip\r\n", "Content-Encoding"),
        ("Content-Encoding: br\r\n", "Content-Encoding"),
    ],
)
def test_an_encoded_body_is_a_415_and_is_not_stored(live: LiveServer, header: str, source: str) -> None:
    reply = parse_raw_response(raw_request(live, click_head(len(CLICK), header) + CLICK))
    assert reply.status == 415
    assert reply.json()["errors"][0]["source"] == {"header": source}
    assert stored_events(live)["meta"]["stored"] == 0


def test_a_transfer_coding_other_than_chunked_is_refused(live: LiveServer) -> None:
    chunk = f"{len(CLICK):x}\r\n".encode() + CLICK + b"\r\n0\r\n\r\n"
    answer = raw_request(live, click_head("Transfer-Encoding: gzip, chunked\r\n") + chunk)
    if answer:
        reply = parse_raw_response(answer)
        assert reply.status in (400, 415, 501), reply.text()
    assert stored_events(live)["meta"]["stored"] == 0


def test_duplicate_json_keys_are_a_400_naming_the_key(granian: LiveServer) -> None:
    attributes = b'{"event_type": "website", "event_type": "video"}'
    body = b'{"data": {"type": "partner_click_events", "attributes": ' + attributes + b"}}"
    reply = granian.request("POST", f"{API}/{P01}/click_event", body, {"Content-Type": "application/json"})
    assert reply.status == 400
    (error,) = reply.json()["errors"]
    assert error["code"] == "malformed_body"
    assert error["source"] == {"pointer": "/data/attributes/event_type"}
    assert stored_events(granian)["meta"]["stored"] == 0


@pytest.mark.parametrize("query", ["filter=pos", "filter=", "filter"])
def test_a_bare_filter_is_a_400_like_other_unknown_filters(granian: LiveServer, query: str) -> None:
    reply = granian.request("GET", f"{API}/available?{query}")
    assert reply.status == 400
    assert reply.json()["errors"][0]["code"] == "unknown_parameter"
    assert reply.json()["errors"][0]["source"] == {"parameter": "filter"}


def test_top_level_meta_and_jsonapi_are_accepted(granian: LiveServer) -> None:
    body = {**VALID_CLICK, "meta": {"client": "web"}, "jsonapi": {"version": "1.1"}}
    reply = granian.request(
        "POST", f"{API}/{P01}/click_event", json.dumps(body), {"Content-Type": "application/vnd.api+json"}
    )
    assert reply.status == 201, reply.text()
    assert stored_events(granian)["meta"]["stored"] == 1


def test_a_client_generated_id_is_a_403(granian: LiveServer) -> None:
    body = {"data": {**VALID_CLICK["data"], "id": "3f2a9d7e-1c4b-4e8a-9f6d-2b7c8e1a0d55"}}
    reply = granian.request(
        "POST", f"{API}/{P01}/click_event", json.dumps(body), {"Content-Type": "application/json"}
    )
    assert reply.status == 403
    assert reply.json()["errors"][0]["source"] == {"pointer": "/data/id"}
    assert stored_events(granian)["meta"]["stored"] == 0


@pytest.mark.parametrize(
    "path", ["/__admin//health", "//__admin/health", "/api/v1//partners/available", f"{API}/available/"]
)
def test_every_answer_is_json_slashes_included(live: LiveServer, path: str) -> None:
    reply = live.request("GET", path)
    assert reply.mimetype == "application/json", (reply.status, reply.text())
    assert reply.status in (200, 404)


# --- bounded output and memory ---------------------------------------------------------------------

MAX_RESPONSE = 256 * 1024


def test_a_56_kb_query_gets_a_bounded_error_document(granian: LiveServer) -> None:
    query = "filter[categories]=" + ",".join(["x"] * 28_000)
    reply = granian.request("GET", f"{API}/available?{query}")
    assert reply.status == 400
    assert len(reply.body) <= MAX_RESPONSE
    errors = reply.json()["errors"]
    assert len(errors) == 21
    assert errors[-1]["code"] == "more_errors"
    assert errors[-1]["detail"].startswith("27980 more error(s)")


def test_a_body_of_60000_unknown_keys_gets_a_bounded_error_document(granian: LiveServer) -> None:
    data = {f"k{i}": 1 for i in range(60_000)}
    body = json.dumps({"data": {**VALID_CLICK["data"], **data}})
    reply = granian.request("POST", f"{API}/{P01}/click_event", body, {"Content-Type": "application/json"})
    assert reply.status == 422
    assert len(reply.body) <= MAX_RESPONSE
    assert len(reply.json()["errors"]) == 21


def test_stored_click_events_are_capped_and_the_dropped_ones_counted(granian: LiveServer) -> None:
    connection = granian.connection()
    ids = []
    try:
        for _ in range(MAX_CLICK_EVENTS + 7):
            reply = granian.request(
                "POST",
                f"{API}/{P01}/click_event",
                CLICK,
                {"Content-Type": "application/json"},
                connection=connection,
            )
            assert reply.status == 201
            ids.append(reply.json()["data"]["id"])
    finally:
        connection.close()
    document = stored_events(granian)
    assert document["meta"] == {"stored": MAX_CLICK_EVENTS, "dropped": 7, "limit": MAX_CLICK_EVENTS}
    assert [event["id"] for event in document["data"]] == ids[7:]


# --- floods: bodies, idle connections, delayed requests -------------------------------------------

FLOOD_MIB = 200
RSS_GROWTH_BOUND_MIB = 64
"""A chunked body is never held past the size limit (1 MiB): the server's processes grow by less
than this while a client sends 200 MiB as fast as loopback allows (the whole body took 2x its size)."""
CONNECTIONS = 1_100
"""More than granian's default backpressure (1,024 connections per worker)."""
PROBE_BOUND = 2.0
"""Seconds a probe may take beside the floods (the default backpressure made it wait 10 s, the
header time-out, or for as long as the delays lasted)."""


def session_pids(server: LiveServer) -> list[int]:
    """The server's processes: its session (the CLI's process and granian's worker)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, ValueError, IndexError):
                stat = (entry / "stat").read_text()
                if int(stat.rsplit(")", 1)[1].split()[3]) == server.process.pid:
                    pids.append(int(entry.name))
    return pids


def rss_mib(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
    return total / 1024


class PeakRss:
    """The largest RSS of the server's processes while the block runs, sampled every 10 ms."""

    def __init__(self, server: LiveServer) -> None:
        self.pids = session_pids(server)
        self.start = rss_mib(self.pids)
        self.peak = self.start
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._sample)

    def _sample(self) -> None:
        while not self._done.wait(0.01):
            self.peak = max(self.peak, rss_mib(self.pids))

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._done.set()
        self._thread.join()
        self.peak = max(self.peak, rss_mib(self.pids))


def chunked_flood(server: LiveServer, method: str, path: str) -> bytes:
    """Headers, then 1 MiB chunks as fast as they go, up to FLOOD_MIB or until the server closes;
    what it answered."""
    chunk = b"%x\r\n%s\r\n" % (MIB, b" " * MIB)
    with socket.create_connection((server.host, server.port), timeout=30) as sock:
        sock.sendall(
            f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            "Transfer-Encoding: chunked\r\n\r\n".encode()
        )
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            for _ in range(FLOOD_MIB):
                sock.sendall(chunk)
            sock.sendall(b"0\r\n\r\n")
        return read_responses(sock, 1, 10, 1 << 20)


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("POST", f"{API}/{P01}/click_event", 413),
        ("GET", f"{API}/{P01}", 200),  # a route that takes no body
        ("POST", LIST, 405),  # a method the path does not serve
    ],
    ids=["click-event", "get-route", "wrong-method"],
)
def test_a_fast_chunked_flood_is_cut_at_the_size_limit(
    granian: LiveServer, method: str, path: str, status: int
) -> None:
    """The limit applies while the body is read: 200 MiB sent as fast as loopback allows used to be
    held whole (the RSS grew by twice the body: a pyo3 panic at 2,000 MiB) before the 413 or 405."""
    started = time.monotonic()
    with PeakRss(granian) as rss:
        answer = chunked_flood(granian, method, path)
    took = time.monotonic() - started
    growth = rss.peak - rss.start
    assert growth <= RSS_GROWTH_BOUND_MIB, f"RSS grew by {growth:.0f} MiB ({rss.start:.0f} at the start)"
    assert took < 10, f"the flood took {took:.1f} s to be answered"
    if answer:  # else the connection was closed before the answer could be read
        reply = parse_raw_response(answer)
        assert (reply.status, reply.headers.get("connection")) == (status, "close"), reply.text()
    assert granian.request("GET", LIST).status == 200
    assert stored_events(granian)["meta"]["stored"] == 0


def raise_own_file_limit(needed: int) -> None:
    """This process opens more sockets than a shell's default limit of 1,024 allows."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < needed:
        if hard != resource.RLIM_INFINITY and hard < needed:
            pytest.fail(f"the hard limit on open files is {hard}: {needed} are needed")
        resource.setrlimit(resource.RLIMIT_NOFILE, (needed, hard))


@pytest.fixture(scope="module")
def crowded() -> Iterator[LiveServer]:
    """A server with the default read time-out (10 s): idle connections are not closed early."""
    raise_own_file_limit(CONNECTIONS + 200)
    server = LiveServer.start("--scenario", "default")
    try:
        yield server
    finally:
        server.stop()


@contextlib.contextmanager
def open_connections(server: LiveServer, count: int, request: bytes = b"") -> Iterator[list[socket.socket]]:
    sockets: list[socket.socket] = []
    try:
        for _ in range(count):
            sock = socket.create_connection((server.host, server.port), timeout=10)
            sockets.append(sock)
            if request:
                sock.sendall(request)
        yield sockets
    finally:
        for sock in sockets:
            sock.close()


def timed_probe(server: LiveServer) -> float:
    started = time.monotonic()
    reply = server.request("GET", LIST, timeout=30)
    assert reply.status == 200
    return time.monotonic() - started


def test_1100_idle_connections_do_not_keep_a_new_client_waiting(crowded: LiveServer) -> None:
    with open_connections(crowded, CONNECTIONS):
        time.sleep(0.5)  # the server accepts them
        waited = timed_probe(crowded)
    assert waited < PROBE_BOUND, f"a GET waited {waited:.1f} s beside {CONNECTIONS} idle connections"


def wait_for_delays(server: LiveServer, waiting: int) -> dict[str, Any]:
    """/__admin/delays once `waiting` delays wait (within 30 s)."""
    deadline = time.monotonic() + 30
    while True:
        delays: dict[str, Any] = server.get_json("/__admin/delays", timeout=30)
        if delays["waiting"] >= waiting or time.monotonic() > deadline:
            return delays
        time.sleep(0.1)


def delayed_get(path: str, delay_ms: int = 60_000) -> bytes:
    return f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nPrefer: delay={delay_ms}\r\n\r\n".encode()


def test_1100_delayed_requests_do_not_keep_a_new_client_waiting(crowded: LiveServer) -> None:
    """1,100 requests in a 60 s forced delay used to hold every connection granian allowed."""
    with open_connections(crowded, CONNECTIONS, delayed_get(f"{API}/{P01}")):
        delays = wait_for_delays(crowded, CONNECTIONS)
        assert delays["waiting"] == CONNECTIONS, delays
        waited = timed_probe(crowded)
    assert waited < PROBE_BOUND, f"a GET waited {waited:.1f} s beside {CONNECTIONS} delayed requests"


def test_delays_past_the_bound_are_answered_at_once_and_counted() -> None:
    server = LiveServer.start("--scenario", "default", "--max-delayed", "3")
    try:
        with open_connections(server, 5, delayed_get(f"{API}/{P01}")) as sockets:
            deadline = time.monotonic() + 10
            while (delays := server.get_json("/__admin/delays"))["cut"] < 2 and time.monotonic() < deadline:
                time.sleep(0.05)
            assert delays == {"waiting": 3, "limit": 3, "cut": 2}
            for sock in sockets:
                sock.settimeout(0.5)
            answers = [read_responses(sock, 1, 0.5, 1 << 20) for sock in sockets]
    finally:
        server.stop()
    cut = [parse_raw_response(answer) for answer in answers if answer]
    assert [reply.status for reply in cut] == [200, 200]  # the three others still wait
    assert all("delay=" not in reply.headers.get("preference-applied", "") for reply in cut)


def test_a_stop_cuts_a_forced_delay_short_and_exits_0() -> None:
    """A stop used to wait for the delay (up to a minute), so a container's stop ended in SIGKILL."""
    server = LiveServer.start("--scenario", "default")
    try:
        with open_connections(server, 1, delayed_get(f"{API}/{P01}")) as (sock,):
            time.sleep(1)  # the request is in its delay
            stopped = time.monotonic()
            server.process.send_signal(signal.SIGTERM)
            try:
                code = server.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                code = None
            took = time.monotonic() - stopped
            answer = read_responses(sock, 1, 1, 1 << 20)
    finally:
        server.stop()
    assert (code, took < 5) == (0, True), f"exit code {code} after {took:.1f} s"
    reply = parse_raw_response(answer)
    assert reply.status == 200
    assert "delay=" not in reply.headers.get("preference-applied", "")


def test_a_stop_does_not_wait_for_a_client_stalled_mid_body() -> None:
    """A stop used to wait for the read time-out of a client that stopped sending its body."""
    server = LiveServer.start("--scenario", "default", "--read-timeout", "60")
    try:
        with open_connections(server, 1, click_head(200) + CLICK[:8]):
            time.sleep(0.5)
            stopped = time.monotonic()
            server.process.send_signal(signal.SIGTERM)
            try:
                code = server.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                code = None
            took = time.monotonic() - stopped
    finally:
        server.stop()
    assert (code, took < 10) == (0, True), f"exit code {code} after {took:.1f} s"


def test_a_truncated_204_ends_its_connection(granian: LiveServer) -> None:
    """A 204 has no body to cut: it used to go out whole on a connection kept open, so the next
    request on it was answered. A truncated answer ends its connection whatever its status."""
    rule = {"match": {"operation_id": "disconnectPartner"}, "respond": {"status": 204, "fault": "truncate"}}
    reply = granian.request("POST", "/__admin/rules", json.dumps(rule), {"Content-Type": "application/json"})
    assert reply.status == 201, reply.text()
    pipelined = f"DELETE {API}/{P01}/connect HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n" + (
        f"GET {LIST} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
    )
    with socket.create_connection((granian.host, granian.port), timeout=10) as sock:
        sock.sendall(pipelined.encode())
        received = b""
        with contextlib.suppress(ConnectionResetError):
            while chunk := sock.recv(65536):
                received += chunk
    assert received.startswith(b"HTTP/1.1 204 ")
    assert received.count(b"HTTP/1.1 ") == 1, received[:300]
    assert b"content-length" not in received.lower()  # a 204 announces no length (RFC 9110)
