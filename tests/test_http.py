"""A live `python -m mockserver serve`: what only a real HTTP server sees.

Raw request lines, oversize headers, HTTP/1.0, NUL bytes on the wire, 50 MB and chunked bodies,
keep-alive after a rejected request. The server runs once per WSGI server the CLI offers (the
conftest `live` fixture, shared by this module's tests); each case checks the whole answer, that the
server keeps serving, and that the data set is unchanged.

Where the HTTP server itself refuses a request before the app sees it (an oversize request line, too
many headers), any 4xx that is not HTML is acceptable. Observed:
  waitress: request line or headers over 256 kB -> 431 text/plain; NUL in a header -> 400 text/plain;
            everything smaller (100 kB line, 100 kB header, 10,000 headers) reaches the app.
  granian:  request line of 100 kB -> 414 (no body); over 100 headers -> 431 (no body); a raw NUL
            in the path or a header -> 400 (no body); a 300 kB header reaches the app.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from raw_http import parse_raw_response, send_raw
from support import (
    API,
    INITIAL_STATE,
    INVALID_PARAMETER,
    JSON,
    MALFORMED_BODY,
    METHOD_NOT_ALLOWED,
    MIB,
    NOT_FOUND,
    P01,
    PAYLOAD_TOO_LARGE,
    UNKNOWN_TOKEN,
    Getter,
    assert_live_errors,
    assert_still_serving,
    item,
    padded_click,
    state_of,
    unchanged,
)

from mockserver.testing.live import LiveServer, Reply

pytestmark = pytest.mark.live


def live_getter(live: LiveServer) -> Getter:
    def get(path: str) -> tuple[int, Any]:
        reply = live.request("GET", path)
        return reply.status, reply.json()

    return get


@contextmanager
def live_unchanged(live: LiveServer) -> Iterator[None]:
    """`support.unchanged` on the live server, which must also still be running afterwards. Compared
    with the state before, not the initial one, so a failure does not cascade into the next cases."""
    with unchanged(live_getter(live)):
        yield
        assert live.alive(), live.output()


def _http11(target: bytes, *extra: bytes, method: bytes = b"GET") -> bytes:
    return b"".join(
        [method, b" ", target, b" HTTP/1.1\r\nHost: 127.0.0.1\r\n", *extra, b"Connection: close\r\n\r\n"]
    )


def _post(target: str, body: bytes, *extra: bytes) -> bytes:
    head = (
        f"POST {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: {JSON}\r\n"
        f"Content-Length: {len(body)}\r\n"
    ).encode()
    return head + b"".join(extra) + b"Connection: close\r\n\r\n" + body


def _post_chunked(target: str, body: bytes) -> bytes:
    head = (
        f"POST {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: {JSON}\r\n"
        "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    ).encode()
    chunks = [b"%x\r\n%s\r\n" % (len(body[i : i + MIB]), body[i : i + MIB]) for i in range(0, len(body), MIB)]
    return head + b"".join(chunks) + b"0\r\n\r\n"


def _raw_reply(live: LiveServer, payload: bytes, timeout: float = 10.0) -> Reply:
    raw = send_raw(live, payload, timeout=timeout)
    assert raw, "the server closed the connection without answering"
    reply = parse_raw_response(raw)
    length = reply.headers.get("content-length")
    if length is not None:
        assert len(reply.body) == int(length), (len(reply.body), length)
    return reply


def assert_app_answer_or_server_refusal(reply: Reply, status: int, *items: dict[str, Any]) -> None:
    """The app's exact answer (a JSON error document, or the partner P01 for a 200), or else the HTTP
    server's own refusal: a 4xx, never HTML, never a 5xx."""
    if reply.mimetype == JSON:
        if status == 200:
            assert reply.status == 200, reply.text()
            assert reply.json()["data"]["id"] == P01
        else:
            assert_live_errors(reply, status, *items)
        return
    assert 400 <= reply.status < 500, (reply.status, reply.content_type, reply.text())
    assert "html" not in reply.content_type, reply.content_type


def test_live_http_1_0_request(live: LiveServer) -> None:
    with live_unchanged(live):
        reply = _raw_reply(live, f"GET {API}/{P01} HTTP/1.0\r\n\r\n".encode())
        assert reply.version in (10, 11)
        assert reply.status == 200
        assert reply.mimetype == JSON
        assert reply.json()["data"]["id"] == P01
        assert_live_errors(
            _raw_reply(live, f"GET {API}/nope/connect HTTP/1.0\r\n\r\n".encode()),
            405,
            item(
                METHOD_NOT_ALLOWED,
                "GET is not allowed on /api/v1/partners/{id}/connect; allowed: DELETE, PATCH, OPTIONS",
            ),
        )


def _many_headers(count: int) -> bytes:
    return b"".join(b"X-H%d: v\r\n" % i for i in range(count))


BAD_ID = item(INVALID_PARAMETER, f"id must be a valid uuid, got '{'a' * 60}…'", parameter="id")
WRONG_TOKEN = item(
    UNKNOWN_TOKEN, "The bearer token does not belong to any user of the data set", header="Authorization"
)


def _long_search(size: int) -> dict[str, Any]:
    return item(
        INVALID_PARAMETER, f"search must be at most 256 characters long, got {size}", parameter="search"
    )


BIG_HEADS = [
    # (id, raw request, status the app answers, its error items)
    ("line-8kB-id", _http11(f"{API}/{'a' * 8 * 1024}".encode()), 400, [BAD_ID]),
    ("line-8kB-search", _http11(f"{API}/available?search={'a' * 8192}".encode()), 400, [_long_search(8192)]),
    ("line-100kB-id", _http11(f"{API}/{'a' * 100 * 1024}".encode()), 400, [BAD_ID]),
    (
        "line-100kB-search",
        _http11(f"{API}/available?search={'a' * 102400}".encode()),
        400,
        [_long_search(102400)],
    ),
    ("line-300kB-id", _http11(f"{API}/{'a' * 300 * 1024}".encode()), 400, [BAD_ID]),
    ("header-100kB", _http11(f"{API}/{P01}".encode(), b"X-Big: " + b"a" * 102400 + b"\r\n"), 200, []),
    (
        "auth-header-100kB",
        _http11(f"{API}/{P01}".encode(), b"Authorization: Bearer " + b"a" * 102400 + b"\r\n"),
        401,
        [WRONG_TOKEN],
    ),
    ("header-300kB", _http11(f"{API}/{P01}".encode(), b"X-Big: " + b"a" * 307200 + b"\r\n"), 200, []),
    ("headers-100", _http11(f"{API}/{P01}".encode(), _many_headers(100)), 200, []),
    ("headers-1000", _http11(f"{API}/{P01}".encode(), _many_headers(1000)), 200, []),
    ("headers-10000", _http11(f"{API}/{P01}".encode(), _many_headers(10000)), 200, []),
    ("headers-30000", _http11(f"{API}/{P01}".encode(), _many_headers(30000)), 200, []),
]


@pytest.mark.parametrize(
    ("payload", "status", "items"), [c[1:] for c in BIG_HEADS], ids=[c[0] for c in BIG_HEADS]
)
def test_live_long_request_lines_and_big_headers(
    live: LiveServer, payload: bytes, status: int, items: list[dict[str, Any]]
) -> None:
    with live_unchanged(live):
        assert_app_answer_or_server_refusal(_raw_reply(live, payload), status, *items)


def test_live_nul_byte_in_path(live: LiveServer) -> None:
    with live_unchanged(live):
        nul_id = item(INVALID_PARAMETER, "id must be a valid uuid, got '\\x00'", parameter="id")
        # Percent-encoded, it is the app's to answer.
        assert_live_errors(_raw_reply(live, _http11(f"{API}/%00".encode())), 400, nul_id)
        assert_live_errors(
            _raw_reply(live, _http11(f"{API}/{P01}%00/connect".encode(), method=b"PATCH")),
            400,
            item(INVALID_PARAMETER, f"id must be a valid uuid, got '{P01}\\x00'", parameter="id"),
        )
        # Raw, the HTTP server may refuse the request line itself.
        assert_app_answer_or_server_refusal(
            _raw_reply(live, _http11(f"{API}/".encode() + b"\x00")), 400, nul_id
        )
        assert_app_answer_or_server_refusal(
            _raw_reply(live, _http11(f"{API}/{P01}".encode() + b"\x00/connect", method=b"PATCH")),
            400,
            item(INVALID_PARAMETER, f"id must be a valid uuid, got '{P01}\\x00'", parameter="id"),
        )
        assert_app_answer_or_server_refusal(
            _raw_reply(live, _http11(b"/api/v1/\x00partners")),
            404,
            item(NOT_FOUND, "No operation is served at /api/v1/\x00partners"),
        )


def test_live_raw_utf8_in_the_query_is_read_not_a_500(live: LiveServer) -> None:
    """`curl '…?business_uuid=…'` sends the ellipsis as raw UTF-8 bytes (curl does not encode them):
    the app reads them as UTF-8, or the HTTP server refuses the request line (waitress: "Bad URI")."""
    not_a_uuid = item(
        INVALID_PARAMETER, "business_uuid must be a valid uuid, got '…'", parameter="business_uuid"
    )
    with live_unchanged(live):
        target = f"{API}?business_uuid=".encode()
        assert_live_errors(_raw_reply(live, _http11(target + b"%E2%80%A6")), 400, not_a_uuid)
        assert_app_answer_or_server_refusal(_raw_reply(live, _http11(target + "…".encode())), 400, not_a_uuid)
        assert_app_answer_or_server_refusal(_raw_reply(live, _http11(target + b"\xff")), 400)
        reply = _raw_reply(live, _http11(f"{API}/available?search=".encode() + "café".encode()))
        assert reply.status == 200 or (reply.status == 400 and reply.mimetype != JSON), reply.text()


def test_live_nul_byte_in_a_header_is_a_4xx(live: LiveServer) -> None:
    with live_unchanged(live):
        reply = _raw_reply(
            live, _http11(f"{API}/{P01}".encode(), b"Authorization: Bearer alice-token\x00\r\n")
        )
        assert_app_answer_or_server_refusal(reply, 401, WRONG_TOKEN)


def test_live_path_traversal(live: LiveServer) -> None:
    with live_unchanged(live):
        for target in (
            f"{API}/../../etc/passwd",
            f"{API}/..%2f..%2fetc%2fpasswd",
            f"{API}/%2e%2e/%2e%2e/etc/passwd",
        ):
            reply = _raw_reply(live, _http11(target.encode()))
            assert_live_errors(
                reply, 404, item(NOT_FOUND, f"No operation is served at {API}/../../etc/passwd")
            )


@pytest.mark.parametrize("shape", ["arrays", "objects"])
def test_live_deeply_nested_json(live: LiveServer, shape: str) -> None:
    depth = 10_000
    body = ("[" * depth + "]" * depth) if shape == "arrays" else ('{"a":' * depth + "1" + "}" * depth)
    with live_unchanged(live):
        reply = _raw_reply(live, _post(f"{API}/{P01}/click_event", body.encode()))
        assert_live_errors(reply, 400, item(MALFORMED_BODY, "The body is nested too deeply", pointer=""))


def _too_large(size: int) -> dict[str, Any]:
    return item(
        PAYLOAD_TOO_LARGE,
        f"The body is {size} bytes; at most {MIB} bytes are accepted",
        header="Content-Length",
    )


@pytest.mark.parametrize("size", [MIB + 1, 50 * 1000 * 1000], ids=["1MiB+1", "50MB"])
def test_live_oversize_body(live: LiveServer, size: int) -> None:
    """Raw sockets: a server may answer 413 before reading the whole body (http.client then fails
    with a broken pipe before it reads the answer); the answer must be there."""
    with live_unchanged(live):
        reply = _raw_reply(live, _post(f"{API}/{P01}/click_event", padded_click(size)), timeout=60)
        assert_live_errors(reply, 413, _too_large(size))


@pytest.mark.parametrize(
    "size", [MIB + 1, 2 * MIB, 50 * 1000 * 1000], ids=["1MiB+1-chunked", "2MiB-chunked", "50MB-chunked"]
)
def test_live_oversize_chunked_body_is_413(live: LiveServer, size: int) -> None:
    """Transfer-Encoding: chunked, no Content-Length: the limit holds all the same.

    The body is a valid click padded with whitespace and ending in garbage: reading only the first
    1 MiB of it and storing a click would mean the limit silently truncates instead of refusing.
    """
    body = padded_click(size - 7) + b"garbage"
    with live_unchanged(live):
        reply = _raw_reply(live, _post_chunked(f"{API}/{P01}/click_event", body), timeout=60)
        assert reply.status == 413, (reply.status, reply.text(300))
        assert reply.mimetype == JSON
        [error] = reply.json()["errors"]
        assert (error["status"], error["code"], error["title"]) == (
            "413",
            "payload_too_large",
            "Request body too large",
        )
        assert str(MIB) in error["detail"], error["detail"]


def test_live_hostile_request_then_a_normal_one_on_the_same_connection(live: LiveServer) -> None:
    """Keep-alive survives a rejected request: the next request on the socket is answered."""
    nested = b"[" * 10_000 + b"]" * 10_000
    first = (
        f"POST {API}/{P01}/click_event HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: {JSON}\r\n"
        f"Content-Length: {len(nested)}\r\n\r\n"
    ).encode() + nested
    second = _http11(f"{API}/{P01}".encode())
    with live_unchanged(live):
        raw = send_raw(live, first + second, responses=2)
        one = parse_raw_response(raw)
        length = int(one.headers["content-length"])
        rest = raw.partition(b"\r\n\r\n")[2]
        assert_live_errors(
            Reply(one.status, one.headers, rest[:length]),
            400,
            item(MALFORMED_BODY, "The body is nested too deeply", pointer=""),
        )
        two = parse_raw_response(rest[length:])
        assert (two.status, two.mimetype) == (200, JSON)
        assert json.loads(two.body)["data"]["id"] == P01


# --- bytes outside ASCII, and the Host header -------------------------------------------------------

INVALID_SESSION = (400, "invalid_session", "Invalid session id")
INVALID_PREFERENCE = (400, "invalid_preference", "Invalid preference")
MISSING_HEADER = (400, "missing_header", "Missing header")
ADMIN_FORBIDDEN = (403, "admin_forbidden", "Admin API not reachable")
CATEGORIES = (
    "'accounting', 'delivery', 'inventory', 'marketing', 'payments', 'payroll', 'pos', 'reservations', "
    "'scheduling', 'wholesaler'"
)
NOT_ASCII_TOKEN = "Authorization must be 'Bearer <token>' in ASCII; it carries other bytes"
HOST_REQUIRED = "An HTTP/1.1 request must carry a Host header (RFC 9112, section 3.2)"


@pytest.fixture
def on_waitress(request: pytest.FixtureRequest) -> bool:
    return bool(request.node.callspec.params.get("live") == "waitress")


def test_live_raw_utf8_in_a_query_is_read_as_utf8(live: LiveServer, on_waitress: bool) -> None:
    """`?x=é` sent unencoded was a 500 under granian (it hands the query on decoded). Now it reads as
    the percent-encoded form a browser sends; waitress refuses such a request line itself."""
    with live_unchanged(live):
        replies = [
            _raw_reply(live, _http11(f"{API}/available?filter[categories]=é".encode())),
            _raw_reply(live, _http11("/__admin/requests?path=/é".encode())),
            _raw_reply(live, _http11(f"{API}/{P01}?x=é".encode())),
        ]
        if on_waitress:
            for reply in replies:
                assert (reply.status, reply.mimetype) == (400, "text/plain"), reply.text()
            return
        invalid, journal, unknown = replies
        assert_live_errors(
            invalid,
            400,
            item(
                INVALID_PARAMETER,
                f"filter[categories] item 1 must be one of {CATEGORIES}, got 'é'",
                parameter="filter[categories]",
            ),
        )
        assert (journal.status, journal.mimetype) == (200, JSON), journal.text()
        assert (unknown.status, unknown.json()["data"]["id"]) == (200, P01)
        queries = [entry["query"] for entry in live.get_json("/__admin/requests")["requests"]]
        assert "x=%C3%A9" in queries, queries


def test_live_a_percent_escape_that_is_not_utf8_is_a_400_naming_the_parameter(live: LiveServer) -> None:
    """Werkzeug keeps such an escape as typed: `path=/%E9` searched the journal for "/%E9"."""
    with live_unchanged(live):
        assert_live_errors(
            _raw_reply(live, _http11(b"/__admin/requests?path=/%E9")),
            400,
            item(
                INVALID_PARAMETER,
                "path is not UTF-8 text once its percent-escapes are decoded",
                parameter="path",
            ),
        )
        assert_live_errors(
            _raw_reply(live, _http11(f"{API}/available?__code=200&filter[categories]=%C3".encode())),
            400,
            item(
                INVALID_PARAMETER,
                "filter[categories] is not UTF-8 text once its percent-escapes are decoded",
                parameter="filter[categories]",
            ),
        )


@pytest.mark.parametrize(
    ("query", "header", "shown"),
    [
        ("__delay=%C2%B2", "", "²"),  # SUPERSCRIPT TWO: str.isdigit() says yes, int() says no
        ("__delay=%D9%A1%D9%A0", "", "١٠"),  # ARABIC-INDIC ten: int() takes it
        ("__delay=" + "1" * 5000, "", "1" * 20),  # int() refuses over 4,300 digits
        ("__delay=60001", "", "60001"),
        ("", "Prefer: delay=" + "1" * 5000, "1" * 20),
        ("", "Prefer: delay=%C2%B2", "%C2%B2"),
    ],
)
def test_live_a_delay_is_ascii_digits_up_to_60000(
    live: LiveServer, query: str, header: str, shown: str
) -> None:
    extra = [f"{header}\r\n".encode()] if header else []
    source = {"header": "Prefer"} if header else {"parameter": "__delay"}
    with live_unchanged(live):
        assert_live_errors(
            _raw_reply(live, _http11(f"{API}/{P01}?{query}".encode(), *extra)),
            400,
            item(
                INVALID_PREFERENCE,
                f"delay must be a whole number of milliseconds, 0 to 60000, got {shown!r}",
                **source,
            ),
        )


def test_live_a_prefer_header_outside_ascii_is_refused_not_ignored(live: LiveServer) -> None:
    """granian dropped it, and the view answered (and acted) as if nothing had been asked."""
    prefer = "Prefer: code=404, example=ünknown\r\n".encode()
    with live_unchanged(live):
        assert_live_errors(
            _raw_reply(live, _http11(f"{API}/{P01}/connect".encode(), prefer, method=b"PATCH")),
            400,
            item(INVALID_PREFERENCE, "Prefer must be ASCII text; it carries other bytes", header="Prefer"),
        )


REPEATED = b"X-Repeated: 1\r\nX-Repeated: 2\r\n"
"""A header sent twice: granian lists its name once, so a count of names alone would miss a dropped one."""


@pytest.mark.parametrize("token", ["tökén".encode(), b"t\xf6k\xe9n"], ids=["utf-8", "latin-1"])
@pytest.mark.parametrize("extra", [b"", REPEATED], ids=["alone", "beside-a-repeated-header"])
def test_live_a_bearer_token_outside_ascii_is_a_401_and_links_nothing(
    live: LiveServer, token: bytes, extra: bytes
) -> None:
    """granian dropped the header, and the request linked the default user (200)."""
    authorization = b"Authorization: Bearer " + token + b"\r\n"
    with live_unchanged(live):
        reply = _raw_reply(
            live, _http11(f"{API}/{P01}/connect".encode(), extra, authorization, method=b"PATCH")
        )
        assert_live_errors(reply, 401, item(UNKNOWN_TOKEN, NOT_ASCII_TOKEN, header="Authorization"))
        assert reply.headers["www-authenticate"] == 'Bearer realm="mockserver"'


@pytest.mark.parametrize("session", ["tëst".encode(), b"t\xebst"], ids=["utf-8", "latin-1"])
def test_live_a_session_id_outside_ascii_is_a_400_and_changes_no_session(
    live: LiveServer, session: bytes
) -> None:
    """granian dropped the header, and the request wrote into the shared default session."""
    header = b"X-Mock-Session: " + session + b"\r\n"
    with live_unchanged(live):
        assert_live_errors(
            _raw_reply(live, _http11(f"{API}/{P01}/connect".encode(), header, method=b"PATCH")),
            400,
            item(
                INVALID_SESSION,
                "X-Mock-Session must be 1 to 64 letters, digits or . _ ~ -, got bytes outside ASCII",
                header="X-Mock-Session",
            ),
        )


UNREADABLE_HOSTS = [
    b":80",
    b"@",
    b"",
    b"evil_rebinding.example",
    b"127.0.0.1@evil.example",
    b"localhost:99999",
]


@pytest.mark.parametrize("hosts", [[h] for h in UNREADABLE_HOSTS] + [[b"127.0.0.1", b"evil.example"]])
def test_live_a_host_werkzeug_reads_as_empty_does_not_open_admin(
    live: LiveServer, hosts: list[bytes]
) -> None:
    """Werkzeug's `request.host` is "" for a Host it finds invalid, and "" passed the admin host check."""
    assert live.request("PATCH", f"{API}/{P01}/connect").status == 200
    try:
        head = b"".join(b"Host: " + host + b"\r\n" for host in hosts)
        reply = _raw_reply(
            live,
            b"POST /__admin/reset HTTP/1.1\r\n" + head + b"Content-Length: 0\r\nConnection: close\r\n\r\n",
        )
        assert reply.status == 403, reply.text()
        (error,) = reply.json()["errors"]
        assert (error["code"], error["source"]) == ("admin_forbidden", {"header": "Host"})
        assert P01 in state_of(live_getter(live))["alice-linked"]
    finally:
        assert live.request("POST", "/__admin/reset").status == 204


def test_live_http_1_1_without_host_is_a_400_naming_it(live: LiveServer) -> None:
    with live_unchanged(live):
        for target in (b"/__admin/health", f"{API}/{P01}".encode()):
            assert_live_errors(
                _raw_reply(live, b"GET " + target + b" HTTP/1.1\r\nConnection: close\r\n\r\n"),
                400,
                item(MISSING_HEADER, HOST_REQUIRED, header="Host"),
            )


def test_live_http_1_0_without_host_reaches_admin_from_loopback(live: LiveServer) -> None:
    """HTTP/1.0 has no Host to require; no browser sends a request without one (no rebinding)."""
    reply = _raw_reply(live, b"GET /__admin/health HTTP/1.0\r\n\r\n")
    assert (reply.status, reply.json()) == (200, {"status": "ok"})


def test_live_server_kept_its_data_and_logged_no_unhandled_error(live: LiveServer) -> None:
    """Last for each server: after all of the above, the data set is as loaded and nothing reached
    the 500 handler."""
    get = live_getter(live)
    assert_still_serving(get)
    assert state_of(get) == INITIAL_STATE
    output = live.output()
    assert "Traceback" not in output, output[-3000:]
    assert "unhandled error" not in output, output[-3000:]
