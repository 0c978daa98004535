"""Forcing a response per request: `Prefer: code=404, example=unknownPartner, dynamic=true, delay=300`
(RFC 7240; the names Prism uses where they overlap), or the same as query parameters (`__code=404`,
`__example=…`, `__dynamic=true`, `__delay=300`) for clients that cannot set headers.

The query parameters are taken out of the query string before anything reads it (validation, paging
links), so they never meet the contract; the journal still shows the query as sent. A forced response
still obeys the spec: a status the operation declares, its named example or a body generated from
that response's schema. An impossible preference (an undeclared status, an unknown example) is a 400
that lists the valid choices. The answer says what it applied in `Preference-Applied`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlencode

from flask import Response, after_this_request

from mockserver.contract.spec import Operation, named_examples
from mockserver.contract.validation import valid_request
from mockserver.core.api_errors import INVALID_PREFERENCE, ApiError
from mockserver.core.channels import ANSWERED_BY_KEY, DELAY_KEY, QUERY_PREFERENCES_KEY
from mockserver.core.context import current_globals, current_request
from mockserver.forcing.spec_answers import responses_of, spec_answer, success_status

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

QUERY_NAMES = {"__code": "code", "__example": "example", "__dynamic": "dynamic", "__delay": "delay"}
MAX_DELAY_MS = 60_000
SUPPORTED = ("code", "example", "dynamic", "delay")


@dataclass(frozen=True)
class Preference:
    name: str
    value: str
    source: tuple[str, str]
    """Where it came from, as an error `source`: ("header", "Prefer") or ("parameter", "__code")."""


class ControlParameters:
    """WSGI middleware: takes `__code`-style parameters out of the query string for the app's time.

    Costs one substring test on a query without them.
    """

    def __init__(self, wsgi_app: WSGIApplication) -> None:
        self.wsgi_app = wsgi_app

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        query: str = environ.get("QUERY_STRING", "")
        if "__" not in query:
            return self.wsgi_app(environ, start_response)
        # surrogateescape: the other parameters' bytes go back as they came, valid UTF-8 or not
        pairs = parse_qsl(query, keep_blank_values=True, errors="surrogateescape")
        taken = [(QUERY_NAMES[k], _text(v), k) for k, v in pairs if k in QUERY_NAMES]
        if not taken:
            return self.wsgi_app(environ, start_response)
        environ[QUERY_PREFERENCES_KEY] = taken
        kept = [(k, v) for k, v in pairs if k not in QUERY_NAMES]
        environ["QUERY_STRING"] = urlencode(kept, safe="[],", errors="surrogateescape")
        try:
            return self.wsgi_app(environ, start_response)
        finally:
            environ["QUERY_STRING"] = query  # the journal shows the query as sent


def _text(value: str) -> str:
    """A control parameter's value, its undecodable bytes as U+FFFD (it is refused, and shown)."""
    return value.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _preferences() -> list[Preference]:
    """The request's preferences we know, from the Prefer header(s) and the query; others are ignored
    (RFC 7240: a server ignores preferences it does not support)."""
    request = current_request()
    found: list[Preference] = []
    header = request.headers.get("Prefer", "")
    if not header.isascii():  # it may hide a preference we know: refused, not ignored
        raise ApiError.of(
            INVALID_PREFERENCE, "Prefer must be ASCII text; it carries other bytes", ("header", "Prefer")
        )
    for item in header.split(","):
        token, _, params = item.partition(";")
        name, _, value = token.strip().partition("=")
        if name.strip().lower() in SUPPORTED:
            found.append(Preference(name.strip().lower(), value.strip().strip('"'), ("header", "Prefer")))
    for name, value, parameter in request.environ.get(QUERY_PREFERENCES_KEY, ()):
        found.append(Preference(name, value, ("parameter", parameter)))
    return found


def _milliseconds(value: str) -> int | None:
    """ASCII digits, 0 to MAX_DELAY_MS, else None (`str.isdigit` also takes "²" and "٣", and `int()` of
    5,000 digits raises)."""
    if not (value.isascii() and value.isdigit()) or len(value.lstrip("0")) > len(str(MAX_DELAY_MS)):
        return None
    milliseconds = int(value)
    return milliseconds if milliseconds <= MAX_DELAY_MS else None


def _invalid(preference: Preference, detail: str) -> ApiError:
    return ApiError.of(INVALID_PREFERENCE, detail, preference.source)


@dataclass
class Forced:
    """What the preferences ask for, checked against the operation."""

    status: int | None = None
    example: str | None = None
    dynamic: bool = False
    delay: float = 0.0
    applied: tuple[str, ...] = ()


def _checked(preferences: list[Preference], operation: Operation) -> Forced:
    responses = responses_of(operation)
    declared = sorted(code for code in responses if code.isdigit())
    forced = Forced()
    applied = []
    for preference in preferences:
        if preference.name == "code":
            if preference.value not in declared:
                raise _invalid(
                    preference,
                    f"code={preference.value[:20]} is not a status {operation.operation_id} declares; "
                    f"choose one of {', '.join(declared)}",
                )
            forced.status = int(preference.value)
        elif preference.name == "dynamic":
            if preference.value.lower() not in ("true", "false"):
                raise _invalid(preference, f"dynamic must be true or false, got {preference.value[:20]!r}")
            forced.dynamic = preference.value.lower() == "true"
        elif preference.name == "delay":
            milliseconds = _milliseconds(preference.value)
            if milliseconds is None:
                detail = f"delay must be a whole number of milliseconds, 0 to {MAX_DELAY_MS}"
                raise _invalid(preference, f"{detail}, got {preference.value[:20]!r}")
            forced.delay = milliseconds / 1000
        else:
            forced.example = preference.value
        applied.append(f"{preference.name}={preference.value}")
    if forced.example is not None:
        example_source = next(p for p in preferences if p.name == "example")
        forced.status = _status_of_example(
            forced.example, forced.status, responses, operation, example_source
        )
    forced.applied = tuple(applied)
    return forced


def _status_of_example(
    name: str, status: int | None, responses: dict[str, Any], operation: Operation, source: Preference
) -> int:
    """The status whose response holds the named example (the forced status's, when one is forced)."""
    holders = {int(code): named_examples(response) for code, response in responses.items() if code.isdigit()}
    for code, examples in holders.items():
        if name in examples and status in (None, code):
            return code
    choices = sorted({n for code, examples in holders.items() if status in (None, code) for n in examples})
    where = f"for status {status} of {operation.operation_id}" if status else f"for {operation.operation_id}"
    listed = ", ".join(choices) if choices else "none"
    raise _invalid(source, f"example={name[:60]} is not a named example {where}; choose one of: {listed}")


def forced_response(forced: Forced, operation: Operation) -> Response | None:
    """The response the preferences force, or None when the view should answer (a delay alone, or the
    operation's own success status without an example or dynamic body)."""
    success = success_status(operation)
    status = forced.status if forced.status is not None else success
    if forced.example is None and not forced.dynamic and status == success:
        return None
    return spec_answer(operation, status, forced.example, forced.dynamic)


def apply_preferences() -> Response | None:
    """A before-request hook (after validation and the session): answer, delay, or let the view run."""
    request = current_request()
    g = current_globals()
    if "HTTP_PREFER" not in request.environ and QUERY_PREFERENCES_KEY not in request.environ:
        return None
    if request.path.startswith("/__admin") or "valid_request" not in g:
        return None
    preferences = _preferences()
    if not preferences:
        return None
    operation = valid_request().operation
    forced = _checked(preferences, operation)
    g.preference_applied = ", ".join(forced.applied)
    request.environ[ANSWERED_BY_KEY] = f"prefer {g.preference_applied}"
    after_this_request(_preference_applied)
    if forced.delay:
        request.environ[DELAY_KEY] = forced.delay
    return forced_response(forced, operation)


def _preference_applied(response: Response) -> Response:
    g = current_globals()
    applied = g.get("preference_applied")
    if applied:
        earlier = response.headers.get("Preference-Applied")  # the view's own (return=minimal)
        response.headers["Preference-Applied"] = f"{earlier}, {applied}" if earlier else applied
        response.vary.add("Prefer")
    return response
