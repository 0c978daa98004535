"""A server as a child process on a free port: started, polled until ready, stopped, its output kept.

`ServerProcess` runs any command (the mock, or a peer the benchmark compares it with); `LiveServer`
is `python -m mockserver serve` with an HTTP client for it; `MockEndpoint.from_url` is the same client
for a mock that is already running. Tests, the benchmark, the fuzz campaign and consumers' pytest
suites (`mockserver.pytest_plugin`, through `client`) share them. Nothing here imports Flask.
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
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

READY_TIMEOUT = 20.0
STOP_TIMEOUT = 10.0
LOCALHOST = "127.0.0.1"


def free_port(host: str = LOCALHOST) -> int:
    """A port nobody listens on right now (another process may still take it before we do)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def python_environment(extra: dict[str, str] | None = None) -> dict[str, str]:
    """This process's environment, unbuffered, with the package importable however it was installed."""
    env = dict(os.environ)
    package_root = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [package_root, env.get("PYTHONPATH")]))
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra or {})
    return env


class ServerNotReady(RuntimeError):
    """The process exited, or did not become ready in time; the message ends with its output."""


@dataclass(frozen=True)
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


class Endpoint:
    """An HTTP server at host:port, and a client for it (http.client, a connection per request)."""

    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.port = port

    @property
    def base(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host  # an IPv6 address
        return f"http://{host}:{self.port}"

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
            headers_read = {k.lower(): v for k, v in response.getheaders()}
            return Reply(response.status, headers_read, data, response.version)
        finally:
            if connection is None:
                conn.close()


class MockEndpoint(Endpoint):
    """The mock at host:port: its health check and admin reads on top of the plain client."""

    admin_token: str | None = None
    """Sent as a bearer token on `/__admin` requests: a mock on another host asks for its
    `--admin-token` (loopback clients need none)."""

    @classmethod
    def from_url(cls, url: str, admin_token: str | None = None) -> MockEndpoint:
        """A mock already running at `http://host:port` (no path); ValueError for anything else."""
        parts = urlsplit(url.strip())
        if parts.scheme != "http" or not parts.hostname or parts.path not in ("", "/"):
            raise ValueError(f"expected a URL like http://127.0.0.1:4010, got {url!r}")
        if parts.query or parts.fragment or parts.username:
            raise ValueError(f"expected a URL like http://127.0.0.1:4010, got {url!r}")
        endpoint = cls(parts.hostname, parts.port or 80)
        endpoint.admin_token = admin_token or None
        return endpoint

    def admin(
        self,
        method: str,
        path: str,
        body: bytes | str | None = None,
        headers: dict[str, str] | None = None,
        timeout: float = 10.0,
    ) -> Reply:
        """One `/__admin` request, with the admin token when there is one."""
        sent = dict(headers or {})
        if self.admin_token:
            sent["Authorization"] = f"Bearer {self.admin_token}"
        return self.request(method, path, body, sent, timeout)

    def is_healthy(self) -> bool:
        reply = self.admin("GET", "/__admin/health", timeout=2.0)
        return reply.status == 200 and reply.json() == {"status": "ok"}

    def get_json(self, path: str, timeout: float = 10.0) -> Any:
        reply = self.admin("GET", path, timeout=timeout)
        if reply.status != 200:
            raise RuntimeError(f"GET {path} answered {reply.status}: {reply.text()}")
        return reply.json()


class ServerProcess(Endpoint):
    """A command running in its own session, with its output in a log file.

    Only that session is ever signalled: SIGTERM to the process, then SIGKILL to whatever of its
    process group outlives the timeout (granian runs the app in a worker process).
    """

    def __init__(
        self,
        argv: Sequence[str],
        port: int,
        log: Path | None = None,
        *,
        cwd: Path | None = None,
        env: dict[str, str] | None = None,
        host: str = LOCALHOST,
    ) -> None:
        super().__init__(host, port)
        self.argv = list(argv)
        self._log_dir: tempfile.TemporaryDirectory[str] | None = None
        if log is None:
            self._log_dir = tempfile.TemporaryDirectory(prefix="mockserver-live-")
            log = Path(self._log_dir.name) / "server.log"
        self.log = log
        self._output_at_stop = ""
        self.started_at = time.perf_counter()
        with log.open("ab") as sink:
            self.process = subprocess.Popen(
                self.argv,
                cwd=cwd,
                env=env if env is not None else python_environment(),
                stdin=subprocess.DEVNULL,
                stdout=sink,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def wait_ready(self, is_ready: Callable[[], bool], timeout: float = READY_TIMEOUT) -> float:
        """Poll `is_ready` until it returns True; the seconds since spawn. Raises ServerNotReady."""
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                raise ServerNotReady(
                    f"{self.argv[0]} exited with code {self.process.returncode} before it was ready:\n"
                    + self.tail()
                )
            try:
                if is_ready():
                    return time.perf_counter() - self.started_at
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise ServerNotReady(f"not ready within {timeout:g} s: {' '.join(self.argv)}\n{self.tail()}")
            time.sleep(0.05)

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self, timeout: float = STOP_TIMEOUT) -> int | None:
        """SIGTERM, wait, SIGKILL the group as a last resort; the exit code (None if it was killed)."""
        code = self.process.poll()
        if code is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                code = self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                code = None
        with contextlib.suppress(ProcessLookupError, PermissionError):  # stragglers of its session
            os.killpg(self.process.pid, signal.SIGKILL)
        if self.process.poll() is None:
            self.process.wait(timeout=timeout)
        if self._log_dir is not None:
            self._output_at_stop = self.output()
            self._log_dir.cleanup()
            self._log_dir = None
        return code

    def output(self) -> str:
        if not self.log.exists():
            return self._output_at_stop
        return self.log.read_text(encoding="utf-8", errors="replace")

    def tail(self, lines: int = 30) -> str:
        return "\n".join(self.output().splitlines()[-lines:])


class LiveServer(ServerProcess, MockEndpoint):
    """`python -m mockserver serve --port <free> --quiet <args>`, ready once `/__admin/health` answers."""

    @classmethod
    def start(
        cls,
        *args: str,
        ready_timeout: float = READY_TIMEOUT,
        log: Path | None = None,
        cwd: Path | None = None,
        env: dict[str, str] | None = None,
        command: Sequence[str] | None = None,
        subcommand: str = "serve",
    ) -> LiveServer:
        """Start, wait until it answers; `command` replaces `python -m mockserver` (an installed script),
        `subcommand` replaces `serve` (`proxy`)."""
        port = free_port()
        base_command = list(command) if command else [sys.executable, "-m", "mockserver"]
        argv = [*base_command, subcommand, "--port", str(port), "--quiet", *args]
        server = cls(argv, port, log, cwd=cwd, env=env)
        try:
            server.wait_ready(server.is_healthy, ready_timeout)
        except BaseException:
            server.stop()
            raise
        return server
