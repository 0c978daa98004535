"""A live `python -m mockserver serve` process on a free port, for tests that need real HTTP.

Used by module-scoped fixtures: start once, poll `/__admin/health` until ready, stop at teardown
(SIGTERM, then SIGKILL if it outlives the timeout). Only the process started here is ever signalled.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
READY_TIMEOUT = 20.0
STOP_TIMEOUT = 10.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def server_choices() -> list[str | None]:
    """The WSGI servers `mockserver serve --server` offers, default first; [None] without the option."""
    from mockserver.cli import serve_command

    for param in serve_command.params:
        if param.name == "server":
            choices = [str(c) for c in getattr(param.type, "choices", ())]
            default = str(param.default) if param.default in choices else None
            ordered = ([default] if default else []) + [c for c in choices if c != default]
            return list(ordered) or [None]
    return [None]


def server_args(server: str | None) -> list[str]:
    return [] if server is None else ["--server", server]


def _environment() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env["PYTHONUNBUFFERED"] = "1"
    return env


@dataclass
class Reply:
    """One HTTP response, read completely."""

    status: int
    headers: dict[str, str]
    body: bytes
    version: int = 11

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "")

    @property
    def mimetype(self) -> str:
        return self.content_type.split(";")[0].strip().lower()

    def json(self) -> Any:
        return json.loads(self.body)

    def text(self, limit: int = 500) -> str:
        return self.body[:limit].decode("utf-8", errors="replace")


@dataclass
class LiveServer:
    """A running server process, its port and the file its output goes to."""

    process: subprocess.Popen[bytes]
    port: int
    log: Path
    _log_dir: tempfile.TemporaryDirectory[str] | None = field(default=None, repr=False)
    _output_at_stop: str = field(default="", repr=False)

    host = "127.0.0.1"

    @property
    def base(self) -> str:
        return f"http://{self.host}:{self.port}"

    @classmethod
    def start(cls, *args: str, ready_timeout: float = READY_TIMEOUT) -> LiveServer:
        """Start `mockserver serve --port <free> --quiet <args>` and wait until it answers."""
        log_dir = tempfile.TemporaryDirectory(prefix="mockserver-live-")
        log = Path(log_dir.name) / "serve.log"
        port = free_port()
        with log.open("wb") as sink:
            process = subprocess.Popen(
                [sys.executable, "-m", "mockserver", "serve", "--port", str(port), "--quiet", *args],
                cwd=ROOT,
                env=_environment(),
                stdin=subprocess.DEVNULL,
                stdout=sink,
                stderr=subprocess.STDOUT,
            )
        server = cls(process, port, log, log_dir)
        try:
            server.wait_ready(ready_timeout)
        except BaseException:
            server.stop()
            raise
        return server

    def wait_ready(self, timeout: float = READY_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the server exited early ({self.process.returncode}):\n{self.output()}")
            try:
                reply = self.request("GET", "/__admin/health", timeout=2.0)
            except OSError:
                time.sleep(0.1)
                continue
            if reply.status == 200 and reply.json() == {"status": "ok"}:
                return
            time.sleep(0.1)
        raise RuntimeError(f"the server was not ready within {timeout}s:\n{self.output()}")

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self) -> int | None:
        """SIGTERM, wait, SIGKILL as a last resort; the exit code (None if it had to be killed)."""
        code: int | None = self.process.poll()
        if code is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                code = self.process.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=STOP_TIMEOUT)
                code = None
        if self._log_dir is not None:
            self._output_at_stop = self.output()
            self._log_dir.cleanup()
            self._log_dir = None
        return code

    def output(self) -> str:
        if self._log_dir is None:
            return self._output_at_stop
        try:
            return self.log.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""

    # --- clients -----------------------------------------------------------------------------

    def connection(self, timeout: float = 10.0) -> http.client.HTTPConnection:
        return http.client.HTTPConnection(self.host, self.port, timeout=timeout)

    def request(
        self,
        method: str,
        path: str,
        body: bytes | str | Iterable[bytes] | None = None,
        headers: dict[str, str] | None = None,
        timeout: float = 10.0,
        connection: http.client.HTTPConnection | None = None,
        encode_chunked: bool = False,
    ) -> Reply:
        """One request over http.client (a new connection unless one is given)."""
        conn = connection or self.connection(timeout)
        try:
            conn.request(method, path, body=body, headers=headers or {}, encode_chunked=encode_chunked)
            response = conn.getresponse()
            data = response.read()
            return Reply(
                response.status,
                {k.lower(): v for k, v in response.getheaders()},
                data,
                response.version,
            )
        finally:
            if connection is None:
                conn.close()

    def raw(
        self, payload: bytes, responses: int = 1, timeout: float = 10.0, max_bytes: int = 8 * 1024 * 1024
    ) -> bytes:
        """Send raw bytes on a fresh socket; what the server answers, once `responses` full responses
        have arrived or the server closed the connection (bounded by `timeout` and `max_bytes`).

        The socket is not half-closed: some servers (hyper, under granian) drop a request whose
        client shut down its sending side.
        """
        with socket.create_connection((self.host, self.port), timeout=timeout) as sock:
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                sock.sendall(payload)  # the server may answer and close before reading everything
            received = bytearray()
            deadline = time.monotonic() + timeout
            while len(received) < max_bytes and time.monotonic() < deadline:
                if complete_responses(bytes(received)) >= responses:
                    break
                try:
                    chunk = sock.recv(65536)
                except (ConnectionResetError, TimeoutError):
                    break
                if not chunk:
                    break
                received += chunk
            return bytes(received)


def complete_responses(raw: bytes) -> int:
    """How many complete HTTP/1.x responses `raw` holds (bodies delimited by Content-Length)."""
    count = 0
    while raw:
        head, sep, rest = raw.partition(b"\r\n\r\n")
        if not sep:
            return count
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value.strip())
            elif name.strip().lower() == b"transfer-encoding":
                return count  # not needed by these tests: read until the server closes
        if len(rest) < length:
            return count
        count += 1
        raw = rest[length:]
    return count


def parse_raw_response(raw: bytes) -> Reply:
    """Split one raw HTTP/1.x response into status, headers and body (body as received)."""
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    version_text, status_text = lines[0].split(" ", 2)[:2]
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    version = {"HTTP/1.0": 10, "HTTP/1.1": 11}.get(version_text, 0)
    return Reply(int(status_text), headers, body, version)
