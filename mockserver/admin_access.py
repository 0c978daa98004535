"""Who may call `/__admin`: loopback clients, and other hosts only with the admin bearer token.

The admin API resets state and switches data sets without any credentials, so a server started with
`--host 0.0.0.0` must not hand it to the whole network. A loopback client is the developer or the test
suite on this machine and passes as before; any other address needs `--admin-token`.
"""

from __future__ import annotations

import hmac
import ipaddress

from flask import Flask, request

from .errors import ADMIN_FORBIDDEN, ApiError
from .settings import Settings

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
    if not request.path.startswith(ADMIN_PREFIX):
        return
    address = request.environ.get("REMOTE_ADDR", "")
    if is_loopback(address):
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


def init_app(app: Flask, settings: Settings) -> None:
    """Check admin requests ahead of the hooks registered so far (call it after `cors.init_app`: another
    host gets this 403, not a CORS answer). An empty token counts as none."""
    token = settings.admin_token or None

    def admin_access() -> None:
        check_admin_access(token)

    app.before_request_funcs.setdefault(None, []).insert(0, admin_access)
