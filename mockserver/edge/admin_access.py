"""Who may call `/__admin`: loopback clients, and other hosts only with the admin bearer token.

The admin API resets state and switches data sets without any credentials, so a server started with
`--host 0.0.0.0` must not hand it to the whole network. A loopback client is the developer or the test
suite on this machine and passes as before; any other address needs `--admin-token`.
"""

from __future__ import annotations

import hmac
import ipaddress
import re
import socket
from collections.abc import Callable
from functools import lru_cache

from mockserver.core.api_errors import ADMIN_FORBIDDEN, ApiError
from mockserver.core.context import current_request
from mockserver.core.settings import Settings

ADMIN_PREFIX = "/__admin"
TOKEN_HINT = "start the server with --admin-token (or MOCKSERVER_ADMIN_TOKEN)"


def is_loopback(address: str) -> bool:
    """127.0.0.0/8, ::1 and ::ffff:127.x (IPv4-mapped); `localhost` too, as a host name to listen on."""
    if address.strip().lower() == "localhost":
        return True
    try:
        ip = ipaddress.ip_address(address.strip().strip("[]"))
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped.is_loopback
    return ip.is_loopback


def _bearer(authorization: str) -> str | None:
    scheme, _, credentials = authorization.strip().partition(" ")
    return credentials.strip() if scheme.lower() == "bearer" else None


def check_admin_access(token: str | None) -> None:
    """Raise a 403 for an admin request from another host without the right token."""
    request = current_request()
    if not request.path.startswith(ADMIN_PREFIX):
        return
    address = request.environ.get("REMOTE_ADDR", "")
    if is_loopback(address):
        _check_host(token)
        return
    authorization = request.headers.get("Authorization")
    named = ("header", "Authorization") if authorization is not None else None
    if token is None:
        raise ApiError.of(
            ADMIN_FORBIDDEN,
            f"{ADMIN_PREFIX} answers loopback clients only, not {address[:60] or 'an unknown address'}; "
            f"to open it to other hosts, {TOKEN_HINT} and send it as a bearer token",
            named,
        )
    if authorization is None:
        raise ApiError.of(
            ADMIN_FORBIDDEN,
            f"{ADMIN_PREFIX} needs `Authorization: Bearer <token>` from other hosts than this one "
            "(the token given to --admin-token or MOCKSERVER_ADMIN_TOKEN)",
        )
    sent = _bearer(authorization)
    if sent is None or not hmac.compare_digest(sent.encode(), token.encode()):
        raise ApiError.of(
            ADMIN_FORBIDDEN,
            f"The bearer token is not the admin token; {ADMIN_PREFIX} takes the token given to "
            "--admin-token (or MOCKSERVER_ADMIN_TOKEN)",
            named,
        )


def _check_host(token: str | None) -> None:
    """A loopback request must name a loopback host, unless it carries the admin token.

    DNS rebinding: a web page on `http://evil.example:4010`, once that name resolves to 127.0.0.1,
    sends its requests from loopback with `Host: evil.example:4010`, and the browser treats the mock as
    that page's own origin. Refusing every other host name closes that door. The header is read as
    sent: Werkzeug's `request.host` is empty for a value it finds invalid (`:80`, `@`, `a_b`), and an
    empty host must not pass. An HTTP/1.0 request may come without Host (HTTP/1.1 has been refused by
    then, see `contract.message_checks.check_host`): no browser sends one, so there is no name to check.
    """
    request = current_request()
    sent: str | None = request.environ.get("HTTP_HOST")
    if sent is None:
        return
    host = _host_name(sent)
    if host is not None and (is_loopback(host) or host in _own_names()):
        return
    if token and _bearer_is(token):
        return
    raise ApiError.of(
        ADMIN_FORBIDDEN,
        f"{ADMIN_PREFIX} answers requests to this machine's names only (localhost, 127.0.0.1, [::1]), "
        f"not {sent[:60]!r}; to reach it under another name, {TOKEN_HINT} and send it "
        "as a bearer token",
        ("header", "Host"),
    )


_HOST = re.compile(r"(\[[0-9a-f:.]+\]|[a-z0-9._~-]+)(?::([0-9]{1,5}))?", re.IGNORECASE | re.ASCII)
"""`host[:port]` as a browser sends it: a name, an IPv4 address or a bracketed IPv6 one."""


def _host_name(host_header: str) -> str | None:
    """The host name of a Host header, lower case, without port or brackets; None when it is not one
    (empty, a user part, several values, characters no host name has)."""
    matched = _HOST.fullmatch(host_header.strip())
    if matched is None or int(matched.group(2) or 0) > 65535:
        return None
    return matched.group(1).strip("[]").lower()


@lru_cache(maxsize=1)
def _own_names() -> frozenset[str]:
    """This machine's own names (a page elsewhere cannot make a browser send them as its Host)."""
    return frozenset(name.lower() for name in (socket.gethostname(), socket.getfqdn()) if name)


def _bearer_is(token: str) -> bool:
    request = current_request()
    sent = _bearer(request.headers.get("Authorization", ""))
    return sent is not None and hmac.compare_digest(sent.encode(), token.encode())


def admin_access_hook(settings: Settings) -> Callable[[], None]:
    """The before-request hook that refuses `/__admin` to other hosts without the token (an empty
    token counts as none)."""
    token = settings.admin_token or None

    def admin_access() -> None:
        check_admin_access(token)

    return admin_access
