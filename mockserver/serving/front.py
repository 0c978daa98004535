"""The RSGI front that granian runs: a request reaches the WSGI app only once it has fully arrived.

Under granian's WSGI interface the app's thread reads the body from the socket, so one client that
stalls mid-body blocks every other request. Here the body is read on granian's event loop, under a
deadline, while other requests are served; the Flask app then runs with the whole body in memory.
A body that stops arriving becomes a 408, one that ends before its `Content-Length` (or its final
chunk) a 400, and neither reaches a view. Headers are read by granian itself, under the same time-out.
A chunked body is read chunk by chunk and never held past the size limit. Forced delays are bounded
in number, and a stop (SIGTERM, SIGINT) ends the ones in flight at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import signal
import sys
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import quote

from granian._granian import RSGIProtocolClosed, RSGIProtocolError

from mockserver.contract.message_checks import DelayCounts
from mockserver.core.channels import (
    BODY_PROBLEM,
    DELAY_KEY,
    FAULT_KEY,
    FRONT_DELAYS_KEY,
    FRONT_FAULTS_KEY,
    MEMO_TICKET_KEY,
    WHOLE_BODY_KEY,
)

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIApplication, WSGIEnvironment
    from granian._granian import RSGIHTTPProtocol as HTTPProtocol
    from granian.rsgi import Scope

PROTOCOL_ERRORS = (RSGIProtocolClosed, RSGIProtocolError)
OVERSIZE = "oversize"
"""`_read_body`'s problem for a body over the limit (declared so, or chunked and past it): the app
answers (413 where the operation takes a body), then the connection is closed, the rest unread."""
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)
BODILESS_STATUSES = frozenset({204, 304})

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
_PROTOCOLS = {"1.1": "HTTP/1.1", "1": "HTTP/1.0", "1.0": "HTTP/1.0", "2": "HTTP/2"}
"""granian's `http_version` as SERVER_PROTOCOL (it says "1" for HTTP/1.0)."""
_QUERY_SAFE = "".join(chr(c) for c in range(0x21, 0x7F))
"""Every visible ASCII character stays as it came: only the non-ASCII ones are percent-encoded."""
UNREADABLE_VALUE = "\ufffd".encode().decode("latin-1")
"""A header value granian could not read: U+FFFD (the replacement character) as PEP 3333 has it, the
latin-1 characters of its UTF-8 bytes."""


class Memo(Protocol):
    """Kept answers (`answer_memo.AnswerMemo`): asked first about a GET without a body."""

    def find(self, scope: Scope, header_items: list[tuple[str, str]]) -> Any:
        """A kept answer (`served`, with status, headers and body; journaled already), a ticket to keep
        the app's answer under (not `served`), or None."""

    def keep(
        self, ticket: Any, environ: WSGIEnvironment, status: int, headers: list[tuple[str, str]], body: bytes
    ) -> None: ...


class ReadDeadlines:
    """The body reads in flight, each cancelled once `timeout` seconds have passed since it began: one
    timer for them all. `asyncio.timeout` costs about 6 µs a use on uvloop, an entry here under 1 µs.

    Every read gets the same time, so the order reads began in is the order their deadlines fall in:
    the timer looks at the oldest only, and is set again for the next one when it fires.
    """

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self.reading: dict[asyncio.Task[Any], tuple[float, int]] = {}
        """Each read's task, its deadline (the loop's clock) and how many cancellations its task had
        pending when the read began; oldest first."""
        self.expired: dict[asyncio.Task[Any], int] = {}
        """Reads cancelled for their deadline, with their tasks' pending cancellations before it."""
        self.timer: asyncio.TimerHandle | None = None

    def begin(self) -> asyncio.Task[Any]:
        task = asyncio.current_task()
        assert task is not None  # granian runs each request as a task
        loop = task.get_loop()
        deadline = loop.time() + self.timeout
        self.reading[task] = (deadline, task.cancelling())
        if self.timer is None:
            self.timer = loop.call_at(deadline, self._expire, loop)
        return task

    def end(self, task: asyncio.Task[Any]) -> bool:
        """Forget a read; True when its time ran out and nothing else cancelled its task: the
        deadline's cancellation is taken back, so that the request goes on to its 408. When another
        cancellation came too (a stop), False: the caller lets the CancelledError through."""
        self.reading.pop(task, None)
        before = self.expired.pop(task, None)
        if before is None:
            return False
        return task.uncancel() <= before

    def bound(self) -> BoundedRead:
        """`with deadlines.bound() as read:` around a read; `read.timed_out` after it."""
        return BoundedRead(self)

    def _expire(self, loop: asyncio.AbstractEventLoop) -> None:
        self.timer = None
        now = loop.time()
        due = []
        for task, (deadline, before) in self.reading.items():
            if deadline > now:
                self.timer = loop.call_at(deadline, self._expire, loop)
                break
            due.append((task, before))
        for task, before in due:
            del self.reading[task]
            self.expired[task] = before
            task.cancel()


class BoundedRead:
    """One body read under its deadline (`ReadDeadlines.bound`). When the time ran out, the
    cancellation it made is swallowed and `timed_out` is set: the request goes on to its 408. Any
    other cancellation goes through."""

    __slots__ = ("deadlines", "task", "timed_out")

    def __init__(self, deadlines: ReadDeadlines) -> None:
        self.deadlines = deadlines
        self.task = deadlines.begin()
        self.timed_out = False

    def __enter__(self) -> BoundedRead:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: object, traceback: object) -> bool:
        self.timed_out = self.deadlines.end(self.task)
        return self.timed_out and kind is not None and issubclass(kind, asyncio.CancelledError)


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
        max_delayed: int = 4096,
        memo: Memo | None = None,
    ) -> None:
        self.wsgi_app = wsgi_app
        self.memo = memo
        """Answers kept for repeated GETs; None: every request runs the app."""
        self.read_timeout = read_timeout
        self.read_deadlines = ReadDeadlines(read_timeout)
        self.max_body_bytes = max_body_bytes
        self.on_close = on_close
        """Called once granian's worker has stopped serving (`serve --watch` stops its watcher)."""
        self.delays = DelayCounts(limit=max_delayed)
        """Forced delays waiting now, their bound, and how many were cut short (`/__admin/delays`)."""
        self.stopping = asyncio.Event()
        """Set when the worker is told to stop: delays in flight end, new ones are not waited."""

    def __rsgi_init__(self, loop: asyncio.AbstractEventLoop) -> None:
        """Chain a handler to granian's on the stop signals: granian finishes the requests in flight
        before its worker exits, and a forced delay (up to a minute) would hold the stop that long."""
        for signum in STOP_SIGNALS:
            _chain_signal(signum, lambda: loop.call_soon_threadsafe(self.stopping.set))

    def __rsgi_del__(self, loop: asyncio.AbstractEventLoop) -> None:
        if self.on_close is not None:
            self.on_close()

    async def __rsgi__(self, scope: Scope, protocol: HTTPProtocol) -> None:
        if scope.proto != "http":  # no websockets here
            protocol.close(None)  # type: ignore[attr-defined]
            return
        headers = scope.headers
        header_items = headers.items()
        has_body = "content-length" in headers or "transfer-encoding" in headers
        ticket = None
        if self.memo is not None and scope.method == "GET" and not has_body:
            ticket = self.memo.find(scope, header_items)
            if ticket is not None and ticket.served:  # a repeat in the same state: the kept answer
                with contextlib.suppress(*PROTOCOL_ERRORS):
                    protocol.response_bytes(ticket.status, ticket.headers, ticket.body)
                return
        environ = _environ(scope, header_items)
        environ[FRONT_DELAYS_KEY] = self.delays
        if ticket is not None:
            environ[MEMO_TICKET_KEY] = ticket
        close = False
        if has_body:
            body, problem = await self._read_body(protocol, headers)
            environ["wsgi.input"] = io.BytesIO(body)
            if not problem:
                environ[WHOLE_BODY_KEY] = body
            else:
                close = True  # the connection is in an unknown state, or the body unread: do not reuse it
                if problem != OVERSIZE:
                    environ[BODY_PROBLEM] = problem
        await self._answer(scope, protocol, environ, close)

    async def _answer(
        self, scope: Scope, protocol: HTTPProtocol, environ: WSGIEnvironment, close: bool
    ) -> None:
        """Call the app with the whole request and send its answer (a subclass may do it elsewhere)."""
        status, response_headers, content = _call(self.wsgi_app, environ)
        ticket = environ.get(MEMO_TICKET_KEY)
        if ticket is not None and self.memo is not None:
            self.memo.keep(ticket, environ, status, response_headers, content)
        delay = environ.get(DELAY_KEY)
        if delay and not await self._wait(delay):  # a forced delay holds a coroutine, not the loop
            response_headers = _without_applied_delay(response_headers)
        fault = environ.get(FAULT_KEY)
        if fault is not None:
            await _fault(protocol, fault, status, response_headers, content, self.read_timeout)
            return
        if close:
            response_headers.append(("connection", "close"))
        with contextlib.suppress(*PROTOCOL_ERRORS):  # the client left: nothing to tell it
            protocol.response_bytes(status, response_headers, content)

    async def _read_body(self, protocol: HTTPProtocol, headers: Any) -> tuple[bytes, str]:
        """The body, and "" when it is whole, "timeout" or "incomplete" when it is not, OVERSIZE
        when it is over the limit.

        A declared length over the limit is not read at all (the app answers 413 from the header,
        and the connection is closed). Otherwise a body framed by its length, at most the limit,
        is read in one call, which raises when it ends early.
        """
        declared = None if "transfer-encoding" in headers else _declared_length(headers)
        if declared is None:
            return await self._read_chunked(protocol)
        if declared > self.max_body_bytes:
            return b"", OVERSIZE
        try:
            with self.read_deadlines.bound() as read:
                body: bytes = await protocol()
        except PROTOCOL_ERRORS:
            return b"", "incomplete"
        if read.timed_out:
            return b"", "timeout"
        if len(body) != declared:
            return body, "incomplete"
        return body, ""

    async def _read_chunked(self, protocol: HTTPProtocol) -> tuple[bytes, str]:
        """A chunked body read chunk by chunk, and "" when it is whole, "timeout", "incomplete", or
        OVERSIZE once it is past the limit (the app gets one byte more than the limit, which it
        measures for its 413; the rest is never read).

        granian's iteration yields the data chunks, then one empty chunk where the body ended. A
        body cut short yields an empty chunk for the error before that one, and so does a trailer
        section: the two cannot be told apart, so both are "incomplete" (a trailer is refused
        rather than a cut body acted on). `await protocol()` would tell them apart, but only after
        holding the whole body, whatever its size.
        """
        limit = self.max_body_bytes
        chunks: list[bytes] = []
        size = ends = 0
        try:
            with self.read_deadlines.bound() as read:
                async for chunk in protocol:
                    if not chunk:
                        ends += 1
                        continue
                    chunks.append(chunk)
                    size += len(chunk)
                    if size > limit:
                        return b"".join(chunks)[: limit + 1], OVERSIZE
        except PROTOCOL_ERRORS:
            return b"", "incomplete"
        if read.timed_out:
            return b"", "timeout"
        return b"".join(chunks), "" if ends == 1 else "incomplete"

    async def _wait(self, seconds: float) -> bool:
        """A forced delay, on a coroutine; False when it was cut short. At most `delays.limit` wait
        at once (past it the answer goes out at once), and a stop ends them all."""
        delays = self.delays
        if delays.waiting >= delays.limit or self.stopping.is_set():
            delays.cut += 1
            return False
        delays.waiting += 1
        try:
            async with asyncio.timeout(seconds):
                await self.stopping.wait()
        except TimeoutError:
            return True
        finally:
            delays.waiting -= 1
        delays.cut += 1  # the stop came first
        return False


async def _fault(
    protocol: HTTPProtocol,
    fault: str,
    status: int,
    headers: list[tuple[str, str]],
    content: bytes,
    hold: float,
) -> None:
    """ "truncate": the status line and headers (with the full length), half the body, and the end of
    the connection (after the headers alone for a status without a body: hyper writes none and would
    keep the connection); "close": the connection ends before any byte of an answer.

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
    headers = [(k, v) for k, v in headers if k.lower() not in ("content-length", "connection")]
    if status not in BODILESS_STATUSES:  # which must not announce a length (RFC 9110 §8.6)
        headers.append(("content-length", str(max(len(content), 1))))
    headers.append(("connection", "close"))  # an answer without a body ends the connection too
    with contextlib.suppress(*PROTOCOL_ERRORS):
        transport = protocol.response_stream(status, headers)
        await transport.send_bytes(content[: len(content) // 2])


def _without_applied_delay(headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The answer's headers without `delay=…` in `Preference-Applied`: the delay was cut short."""
    kept = []
    for name, value in headers:
        if name.lower() == "preference-applied":
            value = ", ".join(p for p in value.split(", ") if not p.startswith("delay="))
            if not value:
                continue
        kept.append((name, value))
    return kept


def _chain_signal(signum: int, action: Callable[[], object]) -> None:
    """Run `action` on a signal, then whatever handled it before (asyncio's loop still hears it
    through its wake-up file descriptor, which the C-level handler writes whatever Python's is)."""
    previous = signal.getsignal(signum)

    def handler(number: int, frame: Any) -> None:
        action()
        if callable(previous):
            previous(number, frame)

    signal.signal(signum, handler)
    signal.siginterrupt(signum, False)


def _declared_length(headers: Any) -> int | None:
    raw = headers.get("content-length")
    if raw is None:
        return None
    try:
        return int(raw)
    except ValueError:
        return None  # granian refuses such a request before it gets here


def _environ(scope: Scope, header_items: Sequence[tuple[str, str]]) -> WSGIEnvironment:
    """A PEP 3333 environ; the path as latin-1 characters of its percent-decoded bytes.

    granian hands the query string decoded as UTF-8 (it refuses one that is not): its non-ASCII
    characters are percent-encoded again, as a browser sends them, so that every reader of the
    environ (Werkzeug, the control parameters, the journal, the proxy's request line) sees the same
    ASCII query. A header whose value is not visible ASCII is left out of granian's items, although
    its name is listed: it gets a stand-in value rather than vanishing (see `_restore_dropped`).
    """
    environ: dict[str, Any] = dict(_BASE_ENVIRON)
    server_host, _, server_port = scope.server.rpartition(":")
    path = scope.path
    query = scope.query_string
    environ["REQUEST_METHOD"] = scope.method
    environ["PATH_INFO"] = (
        path if path.isascii() else path.encode("utf-8", "surrogateescape").decode("latin-1")
    )
    environ["QUERY_STRING"] = query if query.isascii() else quote(query, safe=_QUERY_SAFE)
    environ["SERVER_PROTOCOL"] = _PROTOCOLS.get(scope.http_version) or f"HTTP/{scope.http_version}"
    environ["SERVER_NAME"] = server_host.strip("[]")
    environ["SERVER_PORT"] = server_port
    environ["REMOTE_ADDR"] = scope.client.rpartition(":")[0].strip("[]")
    environ["wsgi.url_scheme"] = scope.scheme
    environ["wsgi.input"] = io.BytesIO(b"")
    without_headers = len(environ)
    for name, value in header_items:
        if name == "content-type":
            environ["CONTENT_TYPE"] = value
        elif name == "content-length":
            environ["CONTENT_LENGTH"] = value
        else:
            key = "HTTP_" + name.upper().replace("-", "_")
            environ[key] = f"{environ[key]},{value}" if key in environ else value
    headers = scope.headers
    names = len(headers)  # type: ignore[arg-type]  # it has __len__ (distinct names); the stub omits it
    if len(environ) - without_headers != names:  # a name without a value, or a repeated one
        _restore_dropped(environ, header_items, headers.keys())
    return environ


def _environ_key(name: str) -> str:
    if name == "content-type":
        return "CONTENT_TYPE"
    if name == "content-length":
        return "CONTENT_LENGTH"
    return "HTTP_" + name.upper().replace("-", "_")


def _restore_dropped(
    environ: dict[str, Any], header_items: Sequence[tuple[str, str]], names: Iterable[str]
) -> None:
    """Give each header granian listed without a value (bytes outside visible ASCII) a stand-in.

    Left out, `Authorization: Bearer tökén` would read as no credentials at all (the default user) and
    `X-Mock-Session: tëst` as the default session; with a non-ASCII stand-in every check refuses it as
    it refuses any other malformed value, and as it does under waitress (which passes such bytes on
    as latin-1 characters). A repeated header of which one value is readable keeps that value only:
    granian does not say that another was dropped.
    """
    sent = {name for name, _ in header_items}
    for name in names:
        if name not in sent:
            key = _environ_key(name)
            environ[key] = f"{environ[key]},{UNREADABLE_VALUE}" if key in environ else UNREADABLE_VALUE


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
