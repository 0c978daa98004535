"""Checks on the HTTP message itself, before the spec is consulted: the method's spelling, the Host
header HTTP/1.1 requires, and the body; and the 204 answer, which has neither body nor Content-Type.

The body is checked here and only here, whichever server runs the app: the server front (granian)
reads it within the size limit and marks one that did not arrive whole (`BODY_PROBLEM`), waitress
reads it whole before calling the app, and `body_of_request` reads it once, for every stage after it
(encodings, size, a body shorter than announced). `contract.validation` only parses what it returns.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import Request, Response

from mockserver.contract.spec import DOCS_METHODS, get_spec, is_docs_path
from mockserver.core.api_errors import (
    INCOMPLETE_BODY,
    METHOD_NOT_ALLOWED,
    MISSING_HEADER,
    PAYLOAD_TOO_LARGE,
    REQUEST_TIMEOUT,
    UNSUPPORTED_MEDIA_TYPE,
    ApiError,
)
from mockserver.core.channels import BODY_ENVIRON_KEY, BODY_PROBLEM, WHOLE_BODY_KEY
from mockserver.core.context import current_flask_app, current_request

IDENTITY = ("", "identity")


@dataclass
class DelayCounts:
    """Forced delays a front waits itself: how many wait now, how many may, how many were cut short
    (answered at once because `limit` were waiting, or because the server was stopping)."""

    limit: int
    waiting: int = 0
    cut: int = 0


def allowed_methods(path: str) -> list[str]:
    """Methods served at a path: the spec's for the API, Flask's routes for /__admin, GET for the docs."""
    if is_docs_path(path):
        return list(DOCS_METHODS)
    if path.startswith("/__admin"):
        adapter = current_flask_app().url_map.bind("localhost")
        return sorted(adapter.allowed_methods(path))
    entry = get_spec().match_path(path)
    return entry.allowed_methods if entry else []


def check_body_arrived() -> None:
    """The front (`serving.front`) stopped reading a body that did not arrive whole: answer, never act
    on it."""
    request = current_request()
    problem = request.environ.get(BODY_PROBLEM)
    if not problem:
        return
    declared = request.content_length
    source = ("header", "Content-Length") if declared is not None else ("header", "Transfer-Encoding")
    framing = f"{declared} bytes announced" if declared is not None else "chunked"
    if problem == "timeout":
        timeout = current_flask_app().config["MOCKSERVER_SETTINGS"].read_timeout
        raise ApiError.of(
            REQUEST_TIMEOUT, f"The request body did not arrive within {timeout:g} s ({framing})", source
        )
    if declared is None:  # the front cannot tell a cut chunked body from one with trailers
        raise ApiError.of(
            INCOMPLETE_BODY,
            "The chunked body ended before its last chunk, or carried trailers (not accepted)",
            source,
        )
    raise ApiError.of(
        INCOMPLETE_BODY, f"The connection ended before the whole body arrived ({framing})", source
    )


def check_host() -> None:
    """An HTTP/1.1 request without Host is a 400 (RFC 9112, section 3.2); HTTP/1.0 had no Host to send.

    One dictionary look-up on every request: which host names /__admin answers is `admin_access`'s.
    """
    request = current_request()
    environ = request.environ
    if "HTTP_HOST" not in environ and environ.get("SERVER_PROTOCOL") == "HTTP/1.1":
        raise ApiError.of(
            MISSING_HEADER,
            "An HTTP/1.1 request must carry a Host header (RFC 9112, section 3.2)",
            ("header", "Host"),
        )


def check_method() -> None:
    """Methods are case-sensitive (RFC 9110): `post` is not POST, although Werkzeug upper-cases it."""
    request = current_request()
    sent = request.environ.get("REQUEST_METHOD", "")
    if sent == request.method:
        return
    allowed = ", ".join(allowed_methods(request.path))
    raise ApiError.of(
        METHOD_NOT_ALLOWED,
        f"Methods are case-sensitive: {sent[:20]!r} is not {sent[:20].upper()!r}; allowed: {allowed}",
        headers={"Allow": allowed},
    )


def check_body_encoding() -> None:
    """A body the mock would have to decode first (gzip, deflate…) is refused, never read as is."""
    request = current_request()
    environ = request.environ  # not `headers.get`, which raises and catches a KeyError for each absent one
    content_encoding = environ.get("HTTP_CONTENT_ENCODING", "").strip().lower()
    if content_encoding not in IDENTITY:
        raise ApiError.of(
            UNSUPPORTED_MEDIA_TYPE,
            f"Content-Encoding {content_encoding[:40]!r} is not supported; send the body unencoded",
            ("header", "Content-Encoding"),
        )
    codings = [c.strip().lower() for c in environ.get("HTTP_TRANSFER_ENCODING", "").split(",")]
    unsupported = [c for c in codings if c not in ("", "chunked")]
    if unsupported:
        raise ApiError.of(
            UNSUPPORTED_MEDIA_TYPE,
            f"Transfer-Encoding {', '.join(unsupported)[:40]!r} is not supported; only chunked is",
            ("header", "Transfer-Encoding"),
        )


def body_of_request() -> bytes:
    """The whole body, read once: 415 for an encoding the mock would have to undo, 413 over the limit,
    400 when fewer bytes came than Content-Length announced."""
    check_body_encoding()
    request = current_request()
    environ = request.environ
    raw: bytes | None = environ.get(WHOLE_BODY_KEY)
    if raw is not None:  # the front read it, whole and within the limit
        environ[BODY_ENVIRON_KEY] = raw  # for the journal
        return raw
    return _read_body(request)


def _read_body(request: Request) -> bytes:
    """The body from `wsgi.input`, through Werkzeug's stream (waitress, the test client)."""
    app = current_flask_app()
    limit = app.config["MAX_CONTENT_LENGTH"]
    size = request.content_length
    if limit is not None and size is not None and size > limit:
        raise ApiError.of(
            PAYLOAD_TOO_LARGE,
            f"The body is {size} bytes; at most {limit} bytes are accepted",
            ("header", "Content-Length"),
        )
    raw = request.get_data(cache=True)
    request.environ[BODY_ENVIRON_KEY] = raw  # for the journal
    if size is not None and len(raw) < size:
        raise ApiError.of(
            INCOMPLETE_BODY,
            f"The body ended after {len(raw)} of the {size} bytes Content-Length announced",
            ("header", "Content-Length"),
        )
    # Werkzeug stops a chunked body at the limit without a word: look for one byte more.
    if limit is not None and size is None and len(raw) >= limit and request.environ["wsgi.input"].read(1):
        raise ApiError.of(
            PAYLOAD_TOO_LARGE,
            f"The body is over {limit} bytes; at most {limit} bytes are accepted",
            ("header", "Transfer-Encoding"),
        )
    return raw


def check_message() -> None:
    """Checks every request gets first, /__admin included."""
    check_body_arrived()
    check_host()
    check_method()


def no_content(headers: dict[str, str] | None = None) -> Response:
    """A 204: no body, so no Content-Type either (Flask would send text/html)."""
    response = Response(status=204, headers=headers)
    del response.headers["Content-Type"]
    return response
