"""The container's health check (`python3 -m mockserver.serving.healthcheck`): healthy only when the
mock answers `/__admin/health` and can be reached from outside the container.

A check over loopback alone says "healthy" for a `serve` command that listens on 127.0.0.1, which
nothing outside the container can reach. So the listening sockets of the port are read from the
kernel's table (`/proc/net/tcp`, `tcp6`: the container's own network namespace), and one of them must
listen on an address other than loopback (0.0.0.0, ::, or the container's). The standard library only:
it runs every 30 s.
"""

from __future__ import annotations

import ipaddress
import os
import sys
import urllib.request
from pathlib import Path

PORT_VARIABLE = "MOCKSERVER_PORT"
DEFAULT_PORT = 4010
TABLES = (Path("/proc/net/tcp"), Path("/proc/net/tcp6"))
LISTEN = "0A"
"""The state column of a listening socket in /proc/net/tcp."""


def listening_addresses(port: int, tables: tuple[Path, ...] = TABLES) -> list[str] | None:
    """The addresses sockets listen on at `port`, or None when the kernel's tables cannot be read."""
    found = []
    read_any = False
    for table in tables:
        try:
            lines = table.read_text(encoding="ascii").splitlines()[1:]
        except OSError:
            continue
        read_any = True
        for line in lines:
            fields = line.split()
            address, _, hex_port = fields[1].partition(":")
            if fields[3] == LISTEN and int(hex_port, 16) == port:
                found.append(_address(address))
    return found if read_any else None


def _address(hex_address: str) -> str:
    """An address as /proc/net/tcp{,6} writes it: 32-bit words, each in the host's byte order."""
    raw = bytes.fromhex(hex_address)
    if sys.byteorder == "little":
        raw = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
    return str(ipaddress.ip_address(raw))


def problem(port: int) -> str | None:
    """Why the mock is not healthy, or None."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/__admin/health", timeout=4) as answer:
            if answer.status != 200:
                return f"/__admin/health answered {answer.status}"
    except OSError as error:
        return f"no answer on port {port}: {error}"
    addresses = listening_addresses(port)
    if addresses is not None and all(ipaddress.ip_address(a).is_loopback for a in addresses):
        return (
            f"the server listens on {', '.join(sorted(set(addresses)))} only: nothing outside the container "
            f"can reach it (serve --host 0.0.0.0, or set MOCKSERVER_HOST=0.0.0.0)"
        )
    return None


def main() -> int:
    port = int(os.environ.get(PORT_VARIABLE, DEFAULT_PORT))
    found = problem(port)
    if found is not None:
        print(f"unhealthy: {found}", file=sys.stderr)
        return 1
    print(f"healthy: port {port}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
