"""The RSGI front that granian runs: a request reaches the WSGI app only once it has fully arrived.

Under granian's WSGI interface the app's thread reads the body from the socket, so one client that
stalls mid-body blocks every other request. Here the body is read on granian's event loop, under a
deadline, while other requests are served; the Flask app then runs with the whole body in memory.
A body that stops arriving becomes a 408, one that ends before its `Content-Length` (or its final
chunk) a 400, and neither reaches a view. Headers are read by granian itself, under the same time-out.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import sys
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from granian._granian import RSGIProtocolClosed, RSGIProtocolError

from .framing import BODY_PROBLEM, DELAY_KEY, FAULT_KEY, FRONT_DELAYS_KEY, FRONT_FAULTS_KEY

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIApplication, WSGIEnvironment
    from granian._granian import RSGIHTTPProtocol as HTTPProtocol
    from granian.rsgi import Scope

PROTOCOL_ERRORS = (RSGIProtocolClosed, RSGIProtocolError)

_BASE_ENVIRON: dict[str, Any] = {
    "SCRIPT_NAME": "",
    "GATEWAY_INTERFACE": "CGI/1.1",
    "SERVER_SOFTWARE": "mockserver (granian RSGI)",
    "wsgi.version": (1, 0),
    "wsgi.errors": sys.stderr,
    "wsgi.multithread": False,
    "wsgi.multiprocess": False,
    "wsgi.run_once": False,
    "wsgi.input_terminated": True,
    FRONT_DELAYS_KEY: True,
    FRONT_FAULTS_KEY: True,
}


class WholeRequestFront:
    """An RSGI application around a WSGI one; the WSGI app runs on the event loop's thread.

    Running it inline costs less than a hand-off to a thread (the app is CPU-bound under the GIL
    either way), and waiting clients only ever hold a coroutine.
    """

    def __init__(
        self,
        wsgi_app: WSGIApplication,
        read_timeout: float,
        max_body_bytes: int,
        on_close: Callable[[], None] | None = None,
    ) -> None:
        self.wsgi_app = wsgi_app
        self.read_timeout = read_timeout
        self.max_body_bytes = max_body_bytes
        self.on_close = on_close
        """Called once granian's worker has stopped serving (`serve --watch` stops its watcher)."""

    def __rsgi_del__(self, loop: asyncio.AbstractEventLoop) -> None:
        if self.on_close is not None:
            self.on_close()

    async def __rsgi__(self, scope: Scope, protocol: HTTPProtocol) -> None:
        if scope.proto != "http":  # no websockets here
            protocol.close(None)  # type: ignore[attr-defined]
            return
        headers = scope.headers
        environ = _environ(scope, headers.items())
        close = False
        if "content-length" in headers or "transfer-encoding" in headers:
            body, problem = await self._read_body(protocol, _declared_length(headers))
            environ["wsgi.input"] = io.BytesIO(body)
            if problem:
                environ[BODY_PROBLEM] = problem
                close = True  # the connection is in an unknown state: do not reuse it
        status, response_headers, content = _call(self.wsgi_app, environ)
        delay = environ.get(DELAY_KEY)
        if delay:  # a forced delay holds a coroutine, not the event loop
            await asyncio.sleep(delay)
        fault = environ.get(FAULT_KEY)
        if fault is not None:
            await _fault(protocol, fault, status, response_headers, content, self.read_timeout)
            return
        if close:
            response_headers.append(("connection", "close"))
        with contextlib.suppress(*PROTOCOL_ERRORS):  # the client left: nothing to tell it
            protocol.response_bytes(status, response_headers, content)

    async def _read_body(self, protocol: HTTPProtocol, declared: int | None) -> tuple[bytes, str]:
        """The body, and "" when it is whole, "timeout" or "incomplete" when it is not.

        A declared length over the limit is not read at all (the app answers 413 from the header).
        Otherwise the body is read in one call, which raises when it ends early, whether framed by
        its length or chunked (trailers included); iterating over the protocol would hide a cut
        chunked body. A chunked body is therefore held whole before its size is known: bounded by
        what a client can send within the read time-out. The app gets one byte past the limit at
        most, which it measures for its 413.
        """
        if declared is not None and declared > self.max_body_bytes:
            return b"", ""
        try:
            async with asyncio.timeout(self.read_timeout):
                body: bytes = await protocol()
        except TimeoutError:
            return b"", "timeout"
        except PROTOCOL_ERRORS:
            return b"", "incomplete"
        if declared is not None and len(body) != declared:
            return body, "incomplete"
        return body[: self.max_body_bytes + 1], ""


async def _fault(
    protocol: HTTPProtocol,
    fault: str,
    status: int,
    headers: list[tuple[str, str]],
    content: bytes,
    hold: float,
) -> None:
    """ "truncate": the status line and headers (with the full length), half the body, and the end of
    the connection; "close": the connection ends before any byte of an answer.

    For "close", granian's HTTP/1 layer (hyper) is handed a streamed answer whose `Content-Length` is
    not a number: a streamed body has no length of its own, so hyper takes the header's, cannot parse
    it, and refuses the answer before writing any of it, which ends the connection. That holds only
    while the stream is open: one whose sender is already gone can count as an empty body, which
    hyper answers with a whole 200 of length 0. So the stream is held until the connection has ended
    (at most `hold` seconds). A stream with a valid length that ends early (as "truncate" does) would
    not do for "close": its headers go out whenever hyper polls the body before the stream has ended.
    """
    if fault == "close":
        with contextlib.suppress(*PROTOCOL_ERRORS, TimeoutError):
            stream = protocol.response_stream(status, [("content-length", "none")])
            try:
                async with asyncio.timeout(hold):
                    await protocol.client_disconnect()
            finally:
                del stream  # the stream's end, only now
        return
    headers = [(k, v) for k, v in headers if k.lower() != "content-length"]
    headers.append(("content-length", str(max(len(content), 1))))
    with contextlib.suppress(*PROTOCOL_ERRORS):
        transport = protocol.response_stream(status, headers)
        await transport.send_bytes(content[: len(content) // 2])


def _declared_length(headers: Any) -> int | None:
    raw = headers.get("content-length")
    if raw is None:
        return None
    try:
        return int(raw)
    except ValueError:
        return None  # granian refuses such a request before it gets here


def _environ(scope: Scope, header_items: Iterable[tuple[str, str]]) -> WSGIEnvironment:
    """A PEP 3333 environ; the path as latin-1 characters of its percent-decoded bytes, the query
    string as latin-1 characters of its bytes as sent."""
    environ: dict[str, Any] = dict(_BASE_ENVIRON)
    server_host, _, server_port = scope.server.rpartition(":")
    environ["REQUEST_METHOD"] = scope.method
    environ["PATH_INFO"] = scope.path.encode("utf-8", "surrogateescape").decode("latin-1")
    # As PEP 3333 wants it: latin-1 characters of the raw bytes (a raw `…` would break werkzeug).
    environ["QUERY_STRING"] = scope.query_string.encode("utf-8", "surrogateescape").decode("latin-1")
    environ["SERVER_PROTOCOL"] = f"HTTP/{scope.http_version}"
    environ["SERVER_NAME"] = server_host.strip("[]")
    environ["SERVER_PORT"] = server_port
    environ["REMOTE_ADDR"] = scope.client.rpartition(":")[0].strip("[]")
    environ["wsgi.url_scheme"] = scope.scheme
    environ["wsgi.input"] = io.BytesIO(b"")
    for name, value in header_items:
        if name == "content-type":
            environ["CONTENT_TYPE"] = value
        elif name == "content-length":
            environ["CONTENT_LENGTH"] = value
        else:
            key = "HTTP_" + name.upper().replace("-", "_")
            environ[key] = f"{environ[key]},{value}" if key in environ else value
    return environ


def _call(app: WSGIApplication, environ: WSGIEnvironment) -> tuple[int, list[tuple[str, str]], bytes]:
    started: list[Any] = []

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        started[:] = [status, headers]
        return lambda data: None

    result = app(environ, start_response)
    try:
        content = b"".join(result)
    finally:
        close = getattr(result, "close", None)
        if close is not None:
            close()
    status, headers = started
    return int(status[:3]), list(headers), content
