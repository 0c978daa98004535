"""`mockserver proxy --upstream URL`: forward every API request to a real server and check both sides of
the traffic against the spec, with the validators the mock itself uses.

A request the spec does not allow is forwarded all the same (the upstream decides), and recorded as a
violation on the request side; the upstream's answer is checked (status declared, media type, body
schema) and a mismatch is recorded on the response side. Both land in the journal, so
`/__admin/violations` lists them, and the answer says so in `X-Contract-Violations`. With `--strict`, a
request violation is answered by the mock's own 4xx (never forwarded) and a response violation by a
502 naming it, instead of passing an off-contract response through.

Bodies: a request body is read whole, within `--max-body-bytes`, like the mock's; a response body is
read into memory up to CHECKED_BYTES to be checked, and a longer one is streamed through unchecked
(and said so), chunk by chunk, so memory stays bounded (the front paces it to the client: `offload`).

`--upstream-timeout` is one deadline for the whole answer (connecting, headers, body), not a bound on
each read: an upstream that trickles trips it too. Past it, nothing sent yet is a 504; a body being
streamed is cut, and the cut journaled. An answer cut short by the upstream is never passed on as a
whole one, and neither is one that cannot be forwarded (a `101`, a header line with a bare CR).
"""

from __future__ import annotations

import contextlib
import http.client
import re
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

import orjson
from flask import Blueprint, Flask, Response, g, request

from mockserver.contract.response_check import response_violation
from mockserver.contract.spec import Operation, get_spec
from mockserver.core.api_errors import (
    INVALID_PARAMETER,
    PATH_NOT_FOUND,
    UPSTREAM_TIMEOUT,
    UPSTREAM_UNAVAILABLE,
    UPSTREAM_VIOLATION,
    ApiError,
    ErrorItem,
)
from mockserver.core.channels import ERROR_ENVIRON_KEY, JOURNAL_AT_CLOSE_KEY
from mockserver.core.deadlines import DEADLINES
from mockserver.core.startup_errors import MockServerError
from mockserver.proxy.recording import Recorder
from mockserver.state.sessions import HEADER as SESSION_HEADER

CHECKED_BYTES = 8 * 1024 * 1024
"""Response bytes read into memory to be checked; past them the rest is streamed through unchecked."""
CHUNK = 64 * 1024
VIOLATIONS_HEADER = "X-Contract-Violations"
MAX_HEADER_TEXT = 500
HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "trailers",
        "transfer-encoding",
        "upgrade",
        "host",
        "content-length",
    }
)
"""Headers of one connection (RFC 9110 §7.6.1), not forwarded; Host and Content-Length are set anew."""
NOT_FORWARDED = frozenset({SESSION_HEADER.lower(), "accept-encoding", "x-forwarded-for", "x-forwarded-proto"})
"""The mock's own session header; Accept-Encoding, so that answers come unencoded and can be checked;
a client's X-Forwarded-For and -Proto, which the proxy sets itself."""
MAX_INTERIM = 16
"""Informational answers (`103 Early Hints`…) skipped before the final one; past them a 502."""
UNSAFE_VALUE = re.compile(r"[\r\n\x00]")
METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"]


class UpstreamError(MockServerError):
    """An upstream URL that cannot be used."""


@dataclass(frozen=True)
class Upstream:
    scheme: str
    host: str
    port: int
    base_path: str
    """Path prefix of the upstream (`https://staging.example.com/v` → `/v`), without a final slash."""
    timeout: float
    """Seconds for the whole answer: connecting, the headers and the body."""

    @classmethod
    def parse(cls, url: str, timeout: float) -> Upstream:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise UpstreamError(f"--upstream must be an http:// or https:// URL, got {url!r}")
        if parts.query or parts.fragment:
            raise UpstreamError(f"--upstream takes no query or fragment, got {url!r}")
        try:
            port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError:
            raise UpstreamError(f"--upstream has an invalid port: {url!r}") from None
        return cls(parts.scheme, parts.hostname, port, parts.path.rstrip("/"), timeout)

    @property
    def netloc(self) -> str:
        default = 443 if self.scheme == "https" else 80
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == default else f"{host}:{self.port}"

    def connection(self, timeout: float) -> http.client.HTTPConnection:
        connection = (
            http.client.HTTPSConnection(self.host, self.port, timeout=timeout)
            if self.scheme == "https"
            else http.client.HTTPConnection(self.host, self.port, timeout=timeout)
        )
        connection.response_class = FinalResponse
        return connection


class FinalResponse(http.client.HTTPResponse):
    """http.client's response, past any informational answer (`103 Early Hints`…) to the final one;
    the raw header lines are kept so that a bare CR or a NUL in them can be seen (the header parser
    would split a line at a bare CR into two headers)."""

    def __init__(self, sock: socket.socket, *args: Any, **kwargs: Any) -> None:
        super().__init__(sock, *args, **kwargs)
        self.fp = _LineChecker(self.fp)  # type: ignore[assignment]
        self.interim = 0
        self.bare_cr_or_nul = False

    def begin(self) -> None:
        checker = self.fp
        try:
            super().begin()
        finally:
            if isinstance(checker, _LineChecker) and self.fp is checker:
                self.fp = checker.fp  # the body is read from the file itself
        self.bare_cr_or_nul = isinstance(checker, _LineChecker) and checker.unsafe

    def _read_status(self) -> tuple[str, int, str]:
        while True:
            version, status, reason = super()._read_status()  # type: ignore[misc]
            if not (100 < status < 200) or status == 101:  # 100 Continue: http.client skips it itself
                return version, status, reason
            self.interim += 1
            if self.interim > MAX_INTERIM:
                raise http.client.HTTPException(f"more than {MAX_INTERIM} informational answers")
            http.client.parse_headers(self.fp)

    @property
    def has_unsafe_header(self) -> bool:
        """A header line with a CR inside it or a NUL, or a value holding CR, LF or NUL after parsing
        (a folded line): forwarding it could split or smuggle a header."""
        return self.bare_cr_or_nul or any(UNSAFE_VALUE.search(value) for _, value in self.getheaders())


class _LineChecker:
    """The response's file, checking the lines read through it (the status and header lines) for a
    CR inside a line or a NUL."""

    def __init__(self, fp: Any) -> None:
        self.fp = fp
        self.unsafe = False

    def readline(self, limit: int = -1) -> bytes:
        line: bytes = self.fp.readline(limit)
        if b"\r" in line.rstrip(b"\r\n") or b"\0" in line:
            self.unsafe = True
        return line

    def __getattr__(self, name: str) -> Any:
        return getattr(self.fp, name)


@dataclass
class Answer:
    """What the upstream answered: status, headers, the body read so far, and the rest to stream."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes
    rest: UpstreamBody | None
    """The body past CHECKED_BYTES, streamed unchecked; None when `body` is the whole of it."""
    length: int | None = None
    """The length the upstream announced (Content-Length), when it did."""


class UpstreamCall:
    """One request upstream under one deadline for the whole answer: at the deadline the socket is
    shut down, which ends any read waiting on it."""

    def __init__(self, upstream: Upstream) -> None:
        self.upstream = upstream
        self.connection = upstream.connection(upstream.timeout)
        self.timer = DEADLINES.call_later(upstream.timeout, self._cut)
        self.response: FinalResponse | None = None
        self.received = 0
        self.request_line = request_line()

    def _cut(self) -> None:
        sock = self.connection.sock
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def send(self, method: str, target: str, headers: list[tuple[str, str]], body: bytes) -> FinalResponse:
        connection = self.connection
        try:
            connection.connect()
            if self.timer.fired:
                raise TimeoutError
            connection.putrequest(
                method, self.upstream.base_path + target, skip_host=True, skip_accept_encoding=True
            )
            connection.putheader("Host", self.upstream.netloc)
            for name, value in headers:
                connection.putheader(name, value)
            if body or method in ("POST", "PUT", "PATCH"):
                connection.putheader("Content-Length", str(len(body)))
            connection.endheaders(body or None)
            response = connection.getresponse()
        except (OSError, http.client.HTTPException) as exc:
            raise self.failure(exc) from None
        assert isinstance(response, FinalResponse)
        self.response = response
        return response

    def read(self, amount: int) -> bytes:
        """Up to `amount` bytes of the body; b"" once it has ended whole. A body cut short (before
        its length, or its last chunk) or past the deadline raises the ApiError that says so."""
        response = self.response
        assert response is not None
        try:
            data = response.read(amount)
        except http.client.IncompleteRead as exc:
            self.received += len(exc.partial)
            raise self.cut() from None
        except Exception as exc:  # OSError, HTTPException, or an SSL object shut down by the deadline
            raise self.failure(exc) from None
        self.received += len(data)
        if not data and amount:
            if self.timer.fired:
                raise self.failure(TimeoutError())
            if response.length:  # http.client ends a short read quietly: the rest never came
                raise self.cut()
        return data

    def failure(self, exc: BaseException) -> ApiError:
        netloc = self.upstream.netloc
        if self.timer.fired or isinstance(exc, TimeoutError):
            return ApiError.of(
                UPSTREAM_TIMEOUT,
                f"The upstream {netloc} did not answer whole within {self.upstream.timeout:g} s",
            )
        return ApiError.of(UPSTREAM_UNAVAILABLE, f"The upstream {netloc} cannot be reached: {_reason(exc)}")

    def cut(self) -> ApiError:
        if self.timer.fired:
            return self.failure(TimeoutError())
        response = self.response
        announced = response.getheader("Content-Length") if response is not None else None
        expected = f"of the {announced} bytes announced" if announced else "and no last chunk"
        status = response.status if response is not None else 0
        return ApiError.of(
            UPSTREAM_VIOLATION,
            f"{self.request_line} answered {status}: the body was cut after {self.received} bytes {expected}",
        )

    def close(self) -> None:
        self.timer.cancel()
        self.connection.close()


class UpstreamBody:
    """The body past CHECKED_BYTES, chunk by chunk; the upstream connection is closed at its end.

    A cut (the upstream closed early, or the deadline passed) is recorded as the request's error,
    for the journal, and raised: the server then ends the client's connection without a clean end.
    """

    def __init__(self, call: UpstreamCall, pending: list[bytes], environ: dict[str, Any]) -> None:
        self.call = call
        self.pending = pending
        """Bytes already read (the checked part), handed out first."""
        self.environ = environ

    def __iter__(self) -> Iterator[bytes]:
        return self

    def __next__(self) -> bytes:
        if self.pending:
            return self.pending.pop(0)
        try:
            chunk = self.call.read(CHUNK)
        except ApiError as error:
            self._record(error)
            self.close()
            raise UpstreamCut(error.items[0].detail) from None
        if not chunk:
            self.close()
            raise StopIteration
        return chunk

    def _record(self, error: ApiError) -> None:
        known: ApiError | None = self.environ.get(ERROR_ENVIRON_KEY)
        items = (*known.items, *error.items) if known is not None else error.items
        self.environ[ERROR_ENVIRON_KEY] = ApiError(*items)

    def close(self) -> None:
        self.call.close()


class UpstreamCut(Exception):
    """The upstream's answer ended early while it was being streamed to the client."""


def forward(
    upstream: Upstream, method: str, target: str, headers: list[tuple[str, str]], body: bytes
) -> Answer:
    """Send one request upstream; the answer's first CHECKED_BYTES are read, the rest left to
    stream. UPSTREAM_TIMEOUT, UPSTREAM_UNAVAILABLE or UPSTREAM_VIOLATION (an answer that cannot be
    passed on) as ApiErrors."""
    call = UpstreamCall(upstream)
    try:
        response = call.send(method, target, headers, body)
        _refuse_unforwardable(response)
        answer_headers = [(k, v) for k, v in response.getheaders() if k.lower() not in HOP_BY_HOP]
        data = call.read(CHECKED_BYTES) if method != "HEAD" else b""
        more = call.read(1) if method != "HEAD" else b""
    except BaseException:
        call.close()
        raise
    length = _announced_length(response, method)
    if not more:
        call.close()
        return Answer(response.status, answer_headers, data, None, length)
    rest = UpstreamBody(call, [data, more], request.environ)
    return Answer(response.status, answer_headers, data, rest, length)


def _refuse_unforwardable(response: FinalResponse) -> None:
    """An answer that cannot be passed on: a `101 Switching Protocols` (the proxy never forwards
    Upgrade, so no client asked for it), or a header line that could split into two headers."""
    if response.status == 101:
        raise ApiError.of(
            UPSTREAM_VIOLATION,
            f"{request_line()} answered 101 Switching Protocols, which the request did not ask for",
        )
    if response.has_unsafe_header:
        raise ApiError.of(
            UPSTREAM_VIOLATION,
            f"{request_line()} answered {response.status} with a header holding a CR, LF or NUL "
            "character, which could be read as two headers",
        )


def _announced_length(response: FinalResponse, method: str) -> int | None:
    if method == "HEAD" or response.chunked:
        return None
    raw = response.getheader("Content-Length")
    return int(raw) if raw is not None and raw.strip().isdigit() else None


def request_line() -> str:
    return f"{request.method} {request.path}"


def _reason(exc: BaseException) -> str:
    return (getattr(exc, "strerror", None) or str(exc) or type(exc).__name__)[:200]


def _outgoing_headers() -> list[tuple[str, str]]:
    """The client's headers minus hop-by-hop ones and the mock's own session header, with
    X-Forwarded-For and X-Forwarded-Proto replaced by what this proxy saw (a client's own would claim
    any address)."""
    headers = [
        (name, value)
        for name, value in request.headers.items()
        if name.lower() not in HOP_BY_HOP and name.lower() not in NOT_FORWARDED
    ]
    client = request.environ.get("REMOTE_ADDR")
    if client:
        headers.append(("X-Forwarded-For", client))
    headers.append(("X-Forwarded-Proto", request.scheme))
    return headers


def _refuse_dot_segments() -> None:
    """A `.` or `..` segment (sent as such or percent-encoded: the path is decoded by now) could
    reach outside the upstream's base path; it is refused, not resolved."""
    segments = request.path.split("/")
    if "." in segments or ".." in segments:
        raise ApiError.of(
            INVALID_PARAMETER,
            f"The path {request.path!r} holds a '.' or '..' segment; the proxy forwards no such path "
            "(it could reach outside the upstream's base path)",
            ("parameter", "path"),
        )


def _operation() -> Operation | None:
    """The spec's operation for this path and method, whether or not the request itself is valid."""
    entry = get_spec().match_path(request.path)
    if entry is None:
        return None
    return entry.operations.get("GET" if request.method == "HEAD" else request.method)


def _response_items(answer: Answer, operation: Operation | None) -> list[ErrorItem]:
    """The response side's violations (none when the request matched no operation: nothing to hold
    the answer to, and the request side already says so)."""
    if operation is None or not _checkable(answer):
        return []  # unchecked: said in the header, not claimed as a violation
    if request.method == "HEAD":  # no body to check: the status must be declared, that is all
        violation = None if _declared(answer.status, operation) else f"status {answer.status} is not declared"
    else:
        violation = _body_violation(answer, operation)
    if violation is None:
        return []
    detail = f"{request.method} {request.path} answered {answer.status}: {violation}"
    return [ErrorItem(UPSTREAM_VIOLATION, detail)]


def _body_violation(answer: Answer, operation: Operation) -> str | None:
    """How the answer breaks the spec. A body nested deeper than Python's recursion limit (200,000
    arrays in arrays) cannot be parsed by the schema checks, and fits no schema of the API: that is
    a violation too, not a failure of the proxy."""
    response = Response(answer.body, status=answer.status, headers=answer.headers)
    try:
        return response_violation(response, operation)
    except RecursionError:
        return "the body nests too deeply to be parsed"


def _declared(status: int, operation: Operation) -> bool:
    responses = get_spec().resolved["paths"][operation.path_template][operation.method.lower()]["responses"]
    code = str(status)
    return code in responses or f"{code[0]}XX" in responses or "default" in responses


def _checkable(answer: Answer) -> bool:
    """Whole (not past CHECKED_BYTES) and not encoded (an upstream may gzip despite being asked not to)."""
    encoding = next((v for k, v in answer.headers if k.lower() == "content-encoding"), "identity")
    return answer.rest is None and encoding.strip().lower() in ("", "identity")


def _summary(request_items: list[ErrorItem], response_items: list[ErrorItem], unchecked: str) -> str | None:
    parts = []
    if request_items:
        parts.append(f"request: {len(request_items)} ({request_items[0].detail})")
    if response_items:
        parts.append(f"response: {len(response_items)} ({response_items[0].detail})")
    if unchecked:
        parts.append(f"response: not checked ({unchecked})")
    if not parts:
        return None
    text = "; ".join(parts).encode("ascii", "replace").decode("ascii").replace("\r", " ").replace("\n", " ")
    return text if len(text) <= MAX_HEADER_TEXT else text[: MAX_HEADER_TEXT - 1] + "~"


def init_app(app: Flask, upstream: Upstream, strict: bool, recorder: Recorder | None) -> None:
    """Serve every non-admin path by forwarding it upstream."""
    bp = Blueprint("proxy", __name__)

    @bp.route("/", defaults={"path": ""}, methods=METHODS)
    @bp.route("/<path:path>", methods=METHODS)
    def proxied(path: str) -> Response:
        if request.path.startswith("/__admin"):
            raise ApiError.of(PATH_NOT_FOUND, f"No operation is served at {request.path}")
        _refuse_dot_segments()
        request_error: ApiError | None = g.get("request_error")
        request_items = list(request_error.items) if request_error else []
        if request_error is not None and strict:
            raise request_error
        target = _target()
        answer = forward(upstream, request.method, target, _outgoing_headers(), request.get_data(cache=True))
        try:
            return _answer(answer, request_items, strict, recorder)
        except BaseException:
            if answer.rest is not None:
                answer.rest.close()
            raise

    app.register_blueprint(bp)


def _answer(
    answer: Answer, request_items: list[ErrorItem], strict: bool, recorder: Recorder | None
) -> Response:
    """The upstream's answer as it came (or, under `strict`, the 502 of its violation), with the
    violations in X-Contract-Violations; a body past CHECKED_BYTES streamed, and journaled once sent."""
    response_items = _response_items(answer, _operation())
    if response_items and strict:
        raise ApiError(*response_items)
    if request_items or response_items:
        request.environ[ERROR_ENVIRON_KEY] = ApiError(*request_items, *response_items)
    body: bytes | UpstreamBody = answer.body
    if answer.rest is not None:
        body = answer.rest
        request.environ[JOURNAL_AT_CLOSE_KEY] = True  # a cut on the way is known only at its end
    response = Response(body, status=answer.status, headers=answer.headers)
    if not any(name.lower() == "content-type" for name, _ in answer.headers):
        del response.headers["Content-Type"]  # none came: add none
    if answer.rest is None and request.method != "HEAD":
        response.headers["Content-Length"] = str(len(answer.body))
    elif answer.rest is not None and answer.length is not None:
        response.headers["Content-Length"] = str(answer.length)  # so that a cut shows as one
    unchecked = ""
    if answer.rest is not None:
        unchecked = f"body over {CHECKED_BYTES} bytes"
    elif not _checkable(answer):
        unchecked = "body encoded"
    summary = _summary(request_items, response_items, unchecked if _operation() else "")
    if summary is not None:
        response.headers[VIOLATIONS_HEADER] = summary
    if recorder is not None and answer.rest is None and 200 <= answer.status < 300 and answer.body:
        recorder.observe(request.path, request.args, _json(answer.body))
    return response


def _target() -> str:
    """The request target to send upstream: the path percent-encoded again (Werkzeug decoded it; a
    request line is ASCII), the query string as it came."""
    path = quote(request.path, safe="/:@!$&'()*+,;=~")
    query = request.environ.get("QUERY_STRING", "")
    return f"{path}?{query}" if query else path


def _json(body: bytes) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
