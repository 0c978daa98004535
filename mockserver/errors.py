"""JSON:API errors: one exception type, fixed error kinds, one renderer."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson
from flask import Flask, Response, current_app, request
from werkzeug.exceptions import HTTPException


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
UNKNOWN_TOKEN = ErrorKind(401, "unknown_token", "Unknown bearer token")
PATH_NOT_FOUND = ErrorKind(404, "not_found", "Not found")
PARTNER_NOT_FOUND = ErrorKind(404, "partner_not_found", "Partner not found")
BUSINESS_NOT_FOUND = ErrorKind(404, "business_not_found", "Business not found")
METHOD_NOT_ALLOWED = ErrorKind(405, "method_not_allowed", "Method not allowed")
PARTNER_MISMATCH = ErrorKind(409, "partner_mismatch", "Partner does not match the path")
PAYLOAD_TOO_LARGE = ErrorKind(413, "payload_too_large", "Request body too large")
UNSUPPORTED_MEDIA_TYPE = ErrorKind(415, "unsupported_media_type", "Unsupported media type")
MISSING_BODY = ErrorKind(422, "missing_body", "Missing request body")
INVALID_BODY = ErrorKind(422, "invalid_body", "Invalid request body")
INTERNAL_ERROR = ErrorKind(500, "internal_error", "Internal server error")
RESPONSE_VALIDATION_FAILED = ErrorKind(500, "response_validation_failed", "Response breaks the spec")

_SOURCE_KEYS = ("pointer", "parameter", "header")


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
            "detail": self.detail,
        }
        if self.source is not None:
            key, value = self.source
            assert key in _SOURCE_KEYS, key
            item["source"] = {key: value}
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
    body = orjson.dumps({"errors": [item.to_json() for item in error.items]})
    response = Response(body, status=error.status, mimetype="application/json")
    for name, value in error.headers.items():
        response.headers[name] = value
    return response


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
