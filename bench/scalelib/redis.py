"""A real `redis-server` for the Redis configurations: Debian's package, a free loopback port, no
persistence, its own temporary directory; stopped (and the directory removed) on every exit."""

from __future__ import annotations

import os
import socket
import tempfile
import time
from pathlib import Path

from benchlib import running
from benchlib.common import BenchError
from benchlib.machine import cmd_output
from benchlib.tools import ensure_apt_tool

from mockserver.testing.live import ServerProcess, free_port

READY_TIMEOUT = 10.0


def ensure_redis(skip_install: bool) -> str:
    """redis-server from Debian's packages, installed with apt-get when it is not on PATH."""
    return ensure_apt_tool("redis-server", "redis-server", skip_install)


def redis_version(binary: str) -> str:
    """`Redis server v=7.0.15 sha=…` → `7.0.15`."""
    line = cmd_output([binary, "--version"])
    for part in line.split():
        if part.startswith("v="):
            return part[2:]
    return line


def ping(port: int, timeout: float = 1.0) -> bool:
    """True when the server at 127.0.0.1:port answers PING with +PONG (the inline command form)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(b"PING\r\n")
        return sock.recv(64).startswith(b"+PONG")


class RedisServer:
    """`redis-server` on a free loopback port; `url(db)` names one of its databases."""

    def __init__(self, binary: str, log: Path) -> None:
        self.binary = binary
        self.log = log
        self.port = 0
        self.proc: ServerProcess | None = None
        self._dir: tempfile.TemporaryDirectory[str] | None = None

    @property
    def argv(self) -> list[str]:
        return self.proc.argv if self.proc else []

    def start(self) -> None:
        self._dir = tempfile.TemporaryDirectory(prefix="bench-redis-")
        self.port = free_port()
        argv = [
            self.binary,
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            self._dir.name,
        ]
        self.proc = ServerProcess(argv, self.port, self.log, cwd=Path(self._dir.name), env=dict(os.environ))
        running.started(self)
        deadline = time.monotonic() + READY_TIMEOUT
        while True:
            if not self.proc.alive():
                tail = self.proc.tail()
                self.stop()
                raise BenchError(f"redis-server exited before answering PING; its log ({self.log}):\n{tail}")
            try:
                if ping(self.port):
                    return
            except OSError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise BenchError(f"redis-server did not answer PING within {READY_TIMEOUT:g} s")
            time.sleep(0.05)

    def url(self, db: int) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def stop(self) -> None:
        running.forget(self)
        proc, self.proc = self.proc, None
        if proc is not None:
            proc.stop(timeout=5.0)
        directory, self._dir = self._dir, None
        if directory is not None:
            directory.cleanup()
