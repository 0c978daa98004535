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
(and said so), so memory stays bounded.
"""

from __future__ import annotations

import http.client
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

import orjson
from flask import Blueprint, Flask, Response, current_app, g, request

from .errors import (
    ERROR_ENVIRON_KEY,
    PATH_NOT_FOUND,
    UPSTREAM_TIMEOUT,
    UPSTREAM_UNAVAILABLE,
    UPSTREAM_VIOLATION,
    ApiError,
    ErrorItem,
)
from .exceptions import MockServerError
from .recording import Recorder
from .response_check import response_violation
from .sessions import HEADER as SESSION_HEADER
from .spec import Operation, get_spec

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
NOT_FORWARDED = frozenset({SESSION_HEADER.lower(), "accept-encoding"})
"""The mock's own session header; and Accept-Encoding, so that answers come unencoded and can be checked."""
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

    def connection(self) -> http.client.HTTPConnection:
        if self.scheme == "https":
            return http.client.HTTPSConnection(self.host, self.port, timeout=self.timeout)
        return http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)


@dataclass
class Answer:
    """What the upstream answered: status, headers, the body read so far, and the rest to stream."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes
    rest: Iterator[bytes] | None
    """The body past CHECKED_BYTES, streamed unchecked; None when `body` is the whole of it."""


def forward(
    upstream: Upstream, method: str, target: str, headers: list[tuple[str, str]], body: bytes
) -> Answer:
    """Send one request upstream; UPSTREAM_TIMEOUT or UPSTREAM_UNAVAILABLE as ApiErrors."""
    connection = upstream.connection()
    try:
        connection.putrequest(method, upstream.base_path + target, skip_host=True, skip_accept_encoding=True)
        connection.putheader("Host", upstream.netloc)
        for name, value in headers:
            connection.putheader(name, value)
        if body or method in ("POST", "PUT", "PATCH"):
            connection.putheader("Content-Length", str(len(body)))
        connection.endheaders(body or None)
        response = connection.getresponse()
        answer_headers = [(k, v) for k, v in response.getheaders() if k.lower() not in HOP_BY_HOP]
        data = response.read(CHECKED_BYTES) if method != "HEAD" else b""
        more = response.read(1) if len(data) == CHECKED_BYTES else b""
    except TimeoutError:
        connection.close()
        raise ApiError.of(
            UPSTREAM_TIMEOUT, f"The upstream {upstream.netloc} did not answer within {upstream.timeout:g} s"
        ) from None
    except (OSError, http.client.HTTPException) as exc:
        connection.close()
        raise ApiError.of(
            UPSTREAM_UNAVAILABLE, f"The upstream {upstream.netloc} cannot be reached: {_reason(exc)}"
        ) from None
    if not more:
        connection.close()
        return Answer(response.status, answer_headers, data, None)
    return Answer(response.status, answer_headers, data, _stream_rest(connection, response, more))


def _stream_rest(
    connection: http.client.HTTPConnection, response: http.client.HTTPResponse, first: bytes
) -> Iterator[bytes]:
    try:
        yield first
        while chunk := response.read(CHUNK):
            yield chunk
    finally:
        connection.close()


def _reason(exc: BaseException) -> str:
    return (getattr(exc, "strerror", None) or str(exc) or type(exc).__name__)[:200]


def _outgoing_headers() -> list[tuple[str, str]]:
    """The client's headers minus hop-by-hop ones and the mock's own session header, plus X-Forwarded-*."""
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
        response = Response(answer.body, status=answer.status, headers=answer.headers)
        violation = response_violation(response, operation)
    if violation is None:
        return []
    detail = f"{request.method} {request.path} answered {answer.status}: {violation}"
    return [ErrorItem(UPSTREAM_VIOLATION, detail)]


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
        request_error: ApiError | None = g.get("request_error")
        request_items = list(request_error.items) if request_error else []
        if request_error is not None and strict:
            raise request_error
        target = _target()
        answer = forward(upstream, request.method, target, _outgoing_headers(), request.get_data(cache=True))
        response_items = _response_items(answer, _operation())
        if response_items and strict:
            raise ApiError(*response_items)
        if request_items or response_items:
            request.environ[ERROR_ENVIRON_KEY] = ApiError(*request_items, *response_items)
        body = answer.body if answer.rest is None else _chain(answer.body, answer.rest)
        response = Response(body, status=answer.status, headers=answer.headers)
        if not any(name.lower() == "content-type" for name, _ in answer.headers):
            del response.headers["Content-Type"]  # none came: add none
        if answer.rest is None and request.method != "HEAD":
            response.headers["Content-Length"] = str(len(answer.body))
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

    app.register_blueprint(bp)
    app.extensions["mockserver.upstream"] = upstream


def _target() -> str:
    """The request target to send upstream: the path percent-encoded again (Werkzeug decoded it; a
    request line is ASCII), the query string as it came."""
    path = quote(request.path, safe="/:@!$&'()*+,;=~")
    query = request.environ.get("QUERY_STRING", "")
    return f"{path}?{query}" if query else path


def _chain(first: bytes, rest: Iterator[bytes]) -> Iterator[bytes]:
    yield first
    yield from rest


def _json(body: bytes) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        return None


def get_upstream() -> Upstream | None:
    upstream: Upstream | None = current_app.extensions.get("mockserver.upstream")
    return upstream
