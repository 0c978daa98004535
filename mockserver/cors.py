"""CORS, so a frontend on another origin (a dev server on :3000) can call the mock from a browser."""

from __future__ import annotations

from flask import Flask, Response, request

from .errors import (
    PATH_NOT_FOUND,
    ApiError,
)
from .framing import allowed_methods


def _preflight() -> Response | None:
    if request.environ.get("REQUEST_METHOD") != "OPTIONS":  # `options` is refused by validation
        return None
    allowed = allowed_methods(request.path)
    if not allowed:
        raise ApiError.of(PATH_NOT_FOUND, f"No operation is served at {request.path}")
    methods = ", ".join(allowed)
    response = Response(status=204)
    del response.headers["Content-Type"]
    response.headers["Allow"] = methods
    response.headers["Access-Control-Allow-Methods"] = methods
    response.headers["Access-Control-Allow-Headers"] = request.headers.get(
        "Access-Control-Request-Headers", "Authorization, Content-Type"
    )
    response.headers["Access-Control-Max-Age"] = "600"
    return response


def _allow_origin(response: Response) -> Response:
    response.headers["Access-Control-Allow-Origin"] = request.headers.get("Origin", "*")
    response.headers["Vary"] = "Origin"
    return response


def init_app(app: Flask) -> None:
    """Answer preflights before validation runs, and allow the caller's origin on every response."""
    app.before_request_funcs.setdefault(None, []).insert(0, _preflight)
    app.after_request(_allow_origin)
