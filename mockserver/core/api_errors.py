"""JSON:API errors: one exception type, fixed error kinds, one renderer."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson
from flask import Flask, Response, current_app, has_request_context, request
from werkzeug.exceptions import HTTPException

from mockserver.core.channels import ERROR_ENVIRON_KEY


@dataclass(frozen=True)
class ErrorKind:
    status: int
    code: str
    title: str


INVALID_PARAMETER = ErrorKind(400, "invalid_parameter", "Invalid parameter")
MISSING_PARAMETER = ErrorKind(400, "missing_parameter", "Missing parameter")
UNKNOWN_PARAMETER = ErrorKind(400, "unknown_parameter", "Unknown parameter")
DUPLICATE_PARAMETER = ErrorKind(400, "duplicate_parameter", "Parameter given more than once")
MALFORMED_BODY = ErrorKind(400, "malformed_body", "Malformed request body")
INCOMPLETE_BODY = ErrorKind(400, "incomplete_body", "Incomplete request body")
INVALID_SESSION = ErrorKind(400, "invalid_session", "Invalid session id")
MISSING_HEADER = ErrorKind(400, "missing_header", "Missing header")
UNKNOWN_TOKEN = ErrorKind(401, "unknown_token", "Unknown bearer token")
CLIENT_GENERATED_ID = ErrorKind(403, "client_generated_id", "Client-generated id not supported")
ADMIN_FORBIDDEN = ErrorKind(403, "admin_forbidden", "Admin API not reachable")
ORIGIN_NOT_ALLOWED = ErrorKind(403, "origin_not_allowed", "Origin not allowed")
PATH_NOT_FOUND = ErrorKind(404, "not_found", "Not found")
PARTNER_NOT_FOUND = ErrorKind(404, "partner_not_found", "Partner not found")
RULE_NOT_FOUND = ErrorKind(404, "rule_not_found", "Rule not found")
BUSINESS_NOT_FOUND = ErrorKind(404, "business_not_found", "Business not found")
METHOD_NOT_ALLOWED = ErrorKind(405, "method_not_allowed", "Method not allowed")
REQUEST_TIMEOUT = ErrorKind(408, "request_timeout", "Request timed out")
PARTNER_MISMATCH = ErrorKind(409, "partner_mismatch", "Partner does not match the path")
TOO_MANY_RULES = ErrorKind(409, "too_many_rules", "Too many rules")
PAYLOAD_TOO_LARGE = ErrorKind(413, "payload_too_large", "Request body too large")
UNSUPPORTED_MEDIA_TYPE = ErrorKind(415, "unsupported_media_type", "Unsupported media type")
MISSING_BODY = ErrorKind(422, "missing_body", "Missing request body")
INVALID_BODY = ErrorKind(422, "invalid_body", "Invalid request body")
INTERNAL_ERROR = ErrorKind(500, "internal_error", "Internal server error")
RESPONSE_VALIDATION_FAILED = ErrorKind(500, "response_validation_failed", "Response breaks the spec")
INVALID_SCENARIO = ErrorKind(400, "invalid_scenario", "Invalid scenario")
INVALID_PREFERENCE = ErrorKind(400, "invalid_preference", "Invalid preference")
UPSTREAM_UNAVAILABLE = ErrorKind(502, "upstream_unavailable", "Upstream unavailable")
UPSTREAM_VIOLATION = ErrorKind(502, "upstream_violation", "Upstream response breaks the spec")
UPSTREAM_TIMEOUT = ErrorKind(504, "upstream_timeout", "Upstream timed out")
STORE_UNAVAILABLE = ErrorKind(503, "store_unavailable", "State store unavailable")
TOO_MANY_STREAMS = ErrorKind(503, "too_many_streams", "Too many event streams")

CONTRACT_KINDS = frozenset(
    {
        INVALID_PARAMETER,
        MISSING_PARAMETER,
        UNKNOWN_PARAMETER,
        DUPLICATE_PARAMETER,
        MALFORMED_BODY,
        PATH_NOT_FOUND,
        METHOD_NOT_ALLOWED,
        UNSUPPORTED_MEDIA_TYPE,
        MISSING_BODY,
        INVALID_BODY,
        UPSTREAM_VIOLATION,
    }
)
"""Errors that mean the request breaks the contract (the spec), as opposed to asking for data the set
lacks (a 404 of an unknown id, a 401 of an unknown token) or failing in transit (408, 413, incomplete
body): the journal lists these requests as violations. Under `mockserver proxy`, UPSTREAM_VIOLATION
marks the other side: the upstream's answer broke the spec."""

_SOURCE_KEYS = ("pointer", "parameter", "header")
MAX_ITEMS = 20
"""Error objects rendered per document; the rest are counted in one last item."""
MAX_TEXT = 1000
"""Characters kept of a detail or a source value (a client can send huge keys and names)."""


def _bounded(text: str) -> str:
    return text if len(text) <= MAX_TEXT else text[:MAX_TEXT] + f"… ({len(text)} characters)"


@dataclass(frozen=True)
class ErrorItem:
    """One JSON:API error object; `source` is a (kind, value) pair like ("parameter", "page")."""

    kind: ErrorKind
    detail: str
    source: tuple[str, str] | None = None

    def to_json(self) -> dict[str, Any]:
        item: dict[str, Any] = {
            "status": str(self.kind.status),
            "code": self.kind.code,
            "title": self.kind.title,
            "detail": _bounded(self.detail),
        }
        if self.source is not None:
            key, value = self.source
            assert key in _SOURCE_KEYS, key
            item["source"] = {key: _bounded(value)}
        return item


class ApiError(Exception):
    """Raised anywhere in a request; rendered as a JSON:API error document with one or more items."""

    def __init__(self, *items: ErrorItem, headers: dict[str, str] | None = None) -> None:
        super().__init__(items[0].detail if items else "error")
        self.items = items
        self.headers = headers or {}

    @classmethod
    def of(
        cls,
        kind: ErrorKind,
        detail: str,
        source: tuple[str, str] | None = None,
        headers: dict[str, str] | None = None,
    ) -> ApiError:
        return cls(ErrorItem(kind, detail, source), headers=headers)

    @property
    def status(self) -> int:
        """The first item's status: items of one error share a class of problem."""
        return self.items[0].kind.status


def render_error(error: ApiError) -> Response:
    """The single place an error becomes an HTTP response."""
    if has_request_context():
        request.environ[ERROR_ENVIRON_KEY] = error
    response = Response(error_document(error), status=error.status, mimetype="application/json")
    for name, value in error.headers.items():
        response.headers[name] = value
    return response


def error_document(error: ApiError) -> bytes:
    """The JSON:API document of an error, with at most MAX_ITEMS + 1 error objects."""
    items = [item.to_json() for item in error.items[:MAX_ITEMS]]
    if len(error.items) > MAX_ITEMS:
        more = len(error.items) - MAX_ITEMS
        first = error.items[0].kind
        items.append(
            {
                "status": str(first.status),
                "code": "more_errors",
                "title": "More errors",
                "detail": f"{more} more error(s) in this request are not listed",
            }
        )
    return orjson.dumps({"errors": items})


def _http_exception_to_api_error(exc: HTTPException) -> ApiError:
    status = exc.code or 500
    kinds = {
        404: PATH_NOT_FOUND,
        405: METHOD_NOT_ALLOWED,
        413: PAYLOAD_TOO_LARGE,
        415: UNSUPPORTED_MEDIA_TYPE,
    }
    kind = kinds.get(status, ErrorKind(status, "http_error", exc.name))
    headers = {}
    detail = exc.description or exc.name
    if status == 404:
        detail = f"No operation is served at {request.path}"
    if status == 413:
        limit = current_app.config.get("MAX_CONTENT_LENGTH")
        detail = f"The body is larger than the {limit} bytes accepted"
    if status == 405:
        valid = getattr(exc, "valid_methods", None) or []
        headers["Allow"] = ", ".join(sorted(valid))
    return ApiError.of(kind, detail, headers=headers)


def init_app(app: Flask) -> None:
    """Register handlers so every error, Flask's own included, is a JSON:API document."""

    @app.errorhandler(ApiError)
    def handle_api_error(error: ApiError) -> Response:
        return render_error(error)

    @app.errorhandler(HTTPException)
    def handle_http_exception(exc: HTTPException) -> Response:
        return render_error(_http_exception_to_api_error(exc))

    @app.errorhandler(Exception)
    def handle_unexpected(exc: Exception) -> Response:
        app.logger.exception("unhandled error")
        return render_error(ApiError.of(INTERNAL_ERROR, f"The mock server failed: {type(exc).__name__}"))
