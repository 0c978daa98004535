"""CORS: pages on allowed origins may call the API from a browser; /__admin answers no other page.

By default the allowed origins are the loopback ones (http or https, any port): a frontend's dev server
on this machine works out of the box, while a page on the web the developer happens to open cannot read
the mock's data. `--cors-origin` replaces that list (`*` for any origin). A disallowed origin is still
served (without `Access-Control-Allow-Origin`, so the browser withholds the answer); its preflight is
a 403. `/__admin` is stricter: a request from another origin is refused before it runs, because a page
could otherwise reset the state blind; only origins configured explicitly open it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from flask import Response

from mockserver.contract.message_checks import allowed_methods
from mockserver.core.api_errors import (
    ORIGIN_NOT_ALLOWED,
    PATH_NOT_FOUND,
    ApiError,
)
from mockserver.core.context import current_request
from mockserver.core.settings import Settings

ADMIN_PREFIX = "/__admin"
LOOPBACK_ORIGINS = tuple(
    f"{scheme}://{host}:*" for host in ("localhost", "127.0.0.1", "[::1]") for scheme in ("http", "https")
)
"""The origins allowed unless `--cors-origin` is given: loopback hosts, any port."""


def origin_matches(origin: str, pattern: str) -> bool:
    """`*` matches any origin, `scheme://host:*` that host on any port (or none), else exact equality."""
    origin, pattern = origin.lower(), pattern.lower()
    if pattern == "*" or origin == pattern:
        return True
    if not pattern.endswith(":*"):
        return False
    base = pattern[:-2]
    if origin == base:
        return True
    port = origin.removeprefix(base + ":")
    return port != origin and port.isascii() and port.isdigit()


@dataclass(frozen=True)
class OriginPolicy:
    """Which origins get an answer; `explicit` when they were configured, which alone opens /__admin."""

    patterns: tuple[str, ...]
    explicit: bool

    @classmethod
    def of(cls, settings: Settings) -> OriginPolicy:
        if settings.cors_origins:
            return cls(settings.cors_origins, explicit=True)
        return cls(LOOPBACK_ORIGINS, explicit=False)

    def allows(self, origin: str, host: str, admin: bool) -> bool:
        """Same-origin always; otherwise an origin of the list (for /__admin, of an explicit list only)."""
        if origin.lower() in (f"http://{host}", f"https://{host}"):
            return True
        if admin and not self.explicit:
            return False
        return any(origin_matches(origin, pattern) for pattern in self.patterns)


def _refusal(policy: OriginPolicy, origin: str, admin: bool) -> ApiError:
    shown = repr(origin[:200])
    if admin and not policy.explicit:
        detail = (
            f"{ADMIN_PREFIX} answers no cross-origin request (Origin {shown}), so that no web page can "
            "change the mock's state; name the origin with --cors-origin to open it"
        )
    else:
        detail = (
            f"Origin {shown} may not call this server from a browser; allowed: "
            f"{', '.join(policy.patterns)}; add it with --cors-origin (repeatable, * for any)"
        )
    return ApiError.of(ORIGIN_NOT_ALLOWED, detail, ("header", "Origin"))


def _check(policy: OriginPolicy) -> Response | None:
    """Refuse an admin request from another origin; answer a preflight (403 for a disallowed origin)."""
    request = current_request()
    environ = request.environ
    origin = environ.get("HTTP_ORIGIN")
    preflight = environ.get("REQUEST_METHOD") == "OPTIONS"  # `options` is refused by validation
    if origin is None and not preflight:
        return None  # the plain path: no browser asking
    admin = request.path.startswith(ADMIN_PREFIX)
    if (admin or preflight) and origin is not None and not policy.allows(origin, request.host.lower(), admin):
        raise _refusal(policy, origin, admin)
    if not preflight:
        return None
    methods = allowed_methods(request.path)
    if not methods:
        raise ApiError.of(PATH_NOT_FOUND, f"No operation is served at {request.path}")
    allow = ", ".join(methods)
    response = Response(status=204)
    del response.headers["Content-Type"]
    response.headers["Allow"] = allow
    response.headers["Access-Control-Allow-Methods"] = allow
    response.headers["Access-Control-Allow-Headers"] = request.headers.get(
        "Access-Control-Request-Headers", "Authorization, Content-Type"
    )
    response.headers["Access-Control-Max-Age"] = "600"
    return response


def _allow_origin(policy: OriginPolicy, response: Response) -> Response:
    """Name an allowed caller's origin (never `*`: a listed origin, or any when `*` is configured)."""
    request = current_request()
    origin = request.environ.get("HTTP_ORIGIN")
    if origin is not None and policy.allows(
        origin, request.host.lower(), request.path.startswith(ADMIN_PREFIX)
    ):
        response.headers["Access-Control-Allow-Origin"] = origin
    # getlist, not get: Werkzeug's `get` of a missing header raises and catches a KeyError, and
    # `response.vary` parses and rewrites
    vary = ", ".join(response.headers.getlist("Vary"))
    if not vary:
        response.headers["Vary"] = "Origin"
    elif "origin" not in vary.lower():
        response.headers["Vary"] = f"{vary}, Origin"
    return response


def origin_hooks(settings: Settings) -> tuple[Callable[[], Response | None], Callable[[Response], Response]]:
    """The before-request hook that refuses origins not allowed and answers preflights, and the
    after-request hook that names an allowed origin on every answer (`settings.cors_origins`)."""
    policy = OriginPolicy.of(settings)

    def check_origin() -> Response | None:
        return _check(policy)

    def allow_origin(response: Response) -> Response:
        return _allow_origin(policy, response)

    return check_origin, allow_origin
