"""The front for requests that may block: the WSGI app runs on a thread pool, and answers are streamed.

`WholeRequestFront` calls the app inline on the event loop: on the plain path that is the cheapest
(the app is CPU-bound under the GIL either way). A request that may wait, though, would hold the loop
and with it every other client. `OffloadingFront` asks one predicate per request, `Offload.pool_for`,
a few string comparisons on the environ:

- every request of `mockserver proxy` (it waits on the upstream) runs on the upstream pool;
- an `/__admin` request other than GET or HEAD (a reset, a scenario switch, a journal search with
  `POST /__admin/requests/find` or `count`) runs on the admin pool;
- `GET /__admin/events` (the inspector's event stream, open for a minute) runs on the events pool, one
  thread per stream (`admin.inspector` bounds how many); a stop signal ends the streams at once;
- everything else runs inline, as before.

An offloaded answer's body is taken from the app chunk by chunk, each `next()` on the pool. A body of
one chunk is sent whole. A longer one (the proxy's past its checked part) is streamed with granian's
`response_stream`, paced to the client: granian queues what it is given without limit, so the front
waits while more than STREAM_WINDOW bytes are sent but not yet acknowledged by the client's TCP stack
(read from the connection's `TCP_INFO`). A client that acknowledges nothing for the read time-out is
cut off. A body that fails on the way (the upstream cut it, or its deadline passed) ends the client's
connection without a clean end: a `Content-Length` answer falls short, and a chunked one, which
granian would end cleanly, is cut by shutting its socket down.

The connection's socket is found with psutil and `TCP_INFO` is Linux's; elsewhere a streamed answer
is sent unpaced and a chunked one that fails on the way ends cleanly.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import os
import socket
import struct
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mockserver.admin.inspector import EVENTS_PATH, MAX_STREAMS, stop_streams
from mockserver.core.channels import DELAY_KEY, FAULT_KEY
from mockserver.serving.front import (
    PROTOCOL_ERRORS,
    STOP_SIGNALS,
    Memo,
    WholeRequestFront,
    _chain_signal,
    _fault,
    _without_applied_delay,
)

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIApplication, WSGIEnvironment
    from granian._granian import RSGIHTTPProtocol as HTTPProtocol
    from granian._granian import RSGIHTTPStreamTransport as StreamTransport
    from granian.rsgi import Scope

UPSTREAM_THREADS = 32
"""Proxied requests served at once; more wait for a thread (holding a coroutine, not the loop)."""
ADMIN_THREADS = 2
"""Admin changes and searches at once: CPU-bound under the GIL, so more would not finish sooner."""
STREAM_WINDOW = 4 * 1024 * 1024
"""Bytes of a streamed answer sent on but not yet acknowledged by the client; past them the stream
waits. A streamed answer holds at most its first chunk (the proxy's checked part, CHECKED_BYTES) and
this window in memory."""
EVENTS_THREADS = MAX_STREAMS + 1
"""Event streams at once, and one thread more to refuse the next quickly (the inspector's bound)."""
SAFE_ADMIN_METHODS = frozenset({"GET", "HEAD"})
_BYTES_ACKED = struct.Struct("=Q")
_BYTES_ACKED_OFFSET = 120
"""Where Linux's `struct tcp_info` holds `tcpi_bytes_acked` (since Linux 4.1)."""
_TCP_INFO_SIZE = 232


@dataclass(frozen=True)
class Offload:
    """Which requests run on which pool; None for those run inline."""

    admin_pool: Executor
    upstream_pool: Executor | None
    """Set for `mockserver proxy`: every request but the admin ones goes upstream."""
    events_pool: Executor

    @classmethod
    def create(cls, proxying: bool) -> Offload:
        admin = ThreadPoolExecutor(ADMIN_THREADS, thread_name_prefix="mockserver-admin")
        upstream = (
            ThreadPoolExecutor(UPSTREAM_THREADS, thread_name_prefix="mockserver-upstream")
            if proxying
            else None
        )
        events = ThreadPoolExecutor(EVENTS_THREADS, thread_name_prefix="mockserver-events")
        return cls(admin, upstream, events)

    def pool_for(self, environ: WSGIEnvironment) -> Executor | None:
        if environ["PATH_INFO"].startswith("/__admin"):
            if environ["REQUEST_METHOD"] not in SAFE_ADMIN_METHODS:
                return self.admin_pool
            return self.events_pool if environ["PATH_INFO"] == EVENTS_PATH else None
        return self.upstream_pool

    def shutdown(self) -> None:
        self.admin_pool.shutdown(wait=False, cancel_futures=True)
        self.events_pool.shutdown(wait=False, cancel_futures=True)
        if self.upstream_pool is not None:
            self.upstream_pool.shutdown(wait=False, cancel_futures=True)


class OffloadingFront(WholeRequestFront):
    """The whole-request front, with the requests `offload` names run on its pools."""

    def __init__(
        self,
        wsgi_app: WSGIApplication,
        read_timeout: float,
        max_body_bytes: int,
        offload: Offload,
        on_close: Callable[[], None] | None = None,
        max_delayed: int = 4096,
        memo: Memo | None = None,
    ) -> None:
        super().__init__(wsgi_app, read_timeout, max_body_bytes, on_close, max_delayed, memo)
        self.offload = offload

    def __rsgi_init__(self, loop: asyncio.AbstractEventLoop) -> None:
        """A stop ends the event streams too: granian waits for the answers in flight, and a stream
        would hold the stop for its whole lifetime."""
        super().__rsgi_init__(loop)
        for signum in STOP_SIGNALS:
            _chain_signal(signum, stop_streams)

    def __rsgi_del__(self, loop: asyncio.AbstractEventLoop) -> None:
        super().__rsgi_del__(loop)
        self.offload.shutdown()

    async def _answer(
        self, scope: Scope, protocol: HTTPProtocol, environ: WSGIEnvironment, close: bool
    ) -> None:
        pool = self.offload.pool_for(environ)
        if pool is None:
            await super()._answer(scope, protocol, environ, close)
            return
        call = PooledCall(pool, asyncio.get_running_loop())
        environ["wsgi.multithread"] = True
        started: list[Any] = []

        def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            started[:] = [status, headers]
            return _no_write

        result = await call(self.wsgi_app, environ, start_response)
        chunks = iter(result)
        try:
            await self._send(scope, protocol, environ, close, call, started, chunks)
        finally:
            closing = getattr(result, "close", None)
            if closing is not None:
                await call(closing)  # the proxy's upstream connection; a streamed answer's journal entry

    async def _send(
        self,
        scope: Scope,
        protocol: HTTPProtocol,
        environ: WSGIEnvironment,
        close: bool,
        call: PooledCall,
        started: list[Any],
        chunks: Iterator[bytes],
    ) -> None:
        try:
            first = await call(next, chunks, None)
            second = None if first is None else await call(next, chunks, None)
        except Exception:  # nothing sent yet: the connection ends without an answer
            await _fault(protocol, "close", 500, [], b"", self.read_timeout)
            return
        status, headers = int(started[0][:3]), list(started[1])
        delay = environ.get(DELAY_KEY)
        if delay and not await self._wait(delay):  # bounded and cut short on a stop, as inline
            headers = _without_applied_delay(headers)
        fault = environ.get(FAULT_KEY)
        if fault is not None:
            rest = await call(b"".join, chunks)
            await _fault(
                protocol, fault, status, headers, (first or b"") + (second or b"") + rest, self.read_timeout
            )
            return
        if close:
            headers.append(("connection", "close"))
        if second is None:
            with contextlib.suppress(*PROTOCOL_ERRORS):
                protocol.response_bytes(status, headers, first or b"")
            return
        await self._stream(scope, protocol, status, headers, call, [first or b"", second], chunks)

    async def _stream(
        self,
        scope: Scope,
        protocol: HTTPProtocol,
        status: int,
        headers: list[tuple[str, str]],
        call: PooledCall,
        ready: list[bytes],
        chunks: Iterator[bytes],
    ) -> None:
        """Send chunk after chunk, paced to the client; a failure on the way cuts the connection."""
        client = ClientSocket.find(scope)
        try:
            transport: StreamTransport = protocol.response_stream(status, headers)
            pace = Pacer(client, self.read_timeout)
            while ready:
                data = ready.pop(0)
                await transport.send_bytes(data)
                await pace.sent(len(data))
            while (data := await call(next, chunks, None)) is not None:
                await transport.send_bytes(data)
                await pace.sent(len(data))
        except Exception:
            if client is not None:
                client.abort()  # before the stream ends: granian would end a chunked answer cleanly
        finally:
            if client is not None:
                client.close()


class PooledCall:
    """Runs a function on the pool and awaits it."""

    def __init__(self, pool: Executor, loop: asyncio.AbstractEventLoop) -> None:
        self.pool = pool
        self.loop = loop

    async def __call__(self, function: Callable[..., Any], *args: Any) -> Any:
        return await self.loop.run_in_executor(self.pool, function, *args)


class StalledClient(Exception):
    """The client took none of a streamed answer for the read time-out."""


class Pacer:
    """Waits while more than STREAM_WINDOW bytes are sent but not acknowledged by the client."""

    def __init__(self, client: ClientSocket | None, stall_timeout: float) -> None:
        self.client = client
        self.stall_timeout = stall_timeout
        self.start = client.acknowledged() if client is not None else 0
        self.sent_bytes = 0

    async def sent(self, count: int) -> None:
        self.sent_bytes += count
        if self.client is None:
            return
        loop = asyncio.get_running_loop()
        acknowledged = self.client.acknowledged() - self.start
        last_progress = loop.time()
        pause = 0.001
        while self.sent_bytes - acknowledged > STREAM_WINDOW:
            await asyncio.sleep(pause)
            pause = min(pause * 2, 0.05)
            now_acknowledged = self.client.acknowledged() - self.start
            if now_acknowledged > acknowledged:
                acknowledged, last_progress, pause = now_acknowledged, loop.time(), 0.001
            elif loop.time() - last_progress > self.stall_timeout:
                raise StalledClient


class ClientSocket:
    """A duplicate of the client connection's socket: to read how much the client acknowledged, and
    to cut the connection. Closing it closes the duplicate only."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock

    @classmethod
    def find(cls, scope: Scope) -> ClientSocket | None:
        """The socket of this request's connection among the process's own, or None."""
        if not hasattr(socket, "TCP_INFO"):
            return None
        try:
            import psutil

            local, remote = _address(scope.server), _address(scope.client)
            for connection in psutil.Process().net_connections(kind="tcp"):
                if connection.fd < 0 or not connection.raddr:
                    continue
                if _address_of(connection.laddr) == local and _address_of(connection.raddr) == remote:
                    return cls(socket.socket(fileno=os.dup(connection.fd)))
        except (OSError, ValueError, ImportError):
            return None
        return None

    def acknowledged(self) -> int:
        """Bytes of this connection the client's TCP stack acknowledged (0 when it cannot be read)."""
        try:
            info = self.sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, _TCP_INFO_SIZE)
        except OSError:
            return 0
        if len(info) < _BYTES_ACKED_OFFSET + _BYTES_ACKED.size:
            return 0
        acked: int = _BYTES_ACKED.unpack_from(info, _BYTES_ACKED_OFFSET)[0]
        return acked

    def abort(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        self.sock.close()


Address = tuple[ipaddress.IPv4Address | ipaddress.IPv6Address, int]


def _address(text: str) -> Address:
    """ "127.0.0.1:4010" or "[::1]:4010" as (address, port); an IPv4-mapped IPv6 address as IPv4."""
    host, _, port = text.rpartition(":")
    return _normalised(host.strip("[]")), int(port)


def _address_of(pair: Any) -> Address:
    return _normalised(pair[0]), int(pair[1])


def _normalised(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    address = ipaddress.ip_address(host.partition("%")[0])
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _no_write(data: bytes) -> None:
    """The `write` callable of start_response; the app never uses it."""
