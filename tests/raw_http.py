"""HTTP/1.x over a bare socket, for the tests that send what http.client will not (a broken request
line, two requests in one write, a body that stops) and read the answer byte for byte."""

from __future__ import annotations

import contextlib
import socket
import time

from mockserver.testing.live import Endpoint, Reply


def send_raw(
    endpoint: Endpoint,
    payload: bytes,
    responses: int = 1,
    timeout: float = 10.0,
    max_bytes: int = 8 * 1024 * 1024,
) -> bytes:
    """Send raw bytes on a fresh socket; what the server answers, once `responses` full responses
    have arrived or the server closed the connection (bounded by `timeout` and `max_bytes`)."""
    with socket.create_connection((endpoint.host, endpoint.port), timeout=timeout) as sock:
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            sock.sendall(payload)  # the server may answer and close before reading everything
        return read_responses(sock, responses, timeout, max_bytes)


def read_responses(sock: socket.socket, responses: int, timeout: float, max_bytes: int) -> bytes:
    """Bytes from `sock` until `responses` complete responses arrived, the peer closed, or time ran out."""
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
                return count  # read until the server closes
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
