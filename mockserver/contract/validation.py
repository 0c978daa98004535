"""Request validation against the spec, before any view runs: the before-request hook, the reading of
the query and the JSON body, and one mapping of both validators' failures to JSON:API errors. (The
optional check of responses is `response_check`.)"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote_plus, unquote_to_bytes

from flask import Flask, Request
from jsonschema.exceptions import ValidationError as SchemaError
from openapi_core.casting.schemas.exceptions import CastError
from openapi_core.contrib.werkzeug import WerkzeugOpenAPIRequest
from openapi_core.deserializing.media_types.exceptions import MediaTypeDeserializeError
from openapi_core.deserializing.styles.exceptions import EmptyQueryParameterValue
from openapi_core.templating.media_types.exceptions import MediaTypeNotFound
from openapi_core.validation.request.exceptions import (
    MissingRequestBodyError,
    MissingRequiredParameter,
    ParameterValidationError,
    RequestBodyValidationError,
)
from openapi_core.validation.schemas.exceptions import InvalidSchemaValue

from mockserver.contract.compiled import UNPARSED, CompiledOperation, Unmarshalled, compile_spec
from mockserver.contract.message_checks import body_of_request
from mockserver.contract.query_arrays import (
    ListParameters,
    join_repeated_lists,
    list_parameters,
    read_indexed_arrays,
)
from mockserver.contract.spec import DOCS_METHODS, Operation, PathEntry, Spec, get_spec, is_docs_path
from mockserver.contract.strict_json import DuplicateKeyError, loads_strict
from mockserver.contract.wording import (
    cast_message,
    describe_schema_error,
    json_pointer,
    missing_keys,
    show,
    unexpected_keys,
)
from mockserver.core.api_errors import (
    DUPLICATE_PARAMETER,
    INVALID_BODY,
    INVALID_PARAMETER,
    MALFORMED_BODY,
    METHOD_NOT_ALLOWED,
    MISSING_BODY,
    MISSING_PARAMETER,
    PATH_NOT_FOUND,
    UNKNOWN_PARAMETER,
    UNSUPPORTED_MEDIA_TYPE,
    ApiError,
    ErrorItem,
)
from mockserver.core.channels import (
    BODY_ENVIRON_KEY,
    COMPILED_EXTENSION,
    OPERATION_ENVIRON_KEY,
    SPEC_EXTENSION,
)
from mockserver.core.context import current_flask_app, current_globals, current_request

JSON_MEDIA_TYPES = ("application/json", "application/vnd.api+json")
FILTER_PREFIX = "filter["


@dataclass(frozen=True)
class ValidRequest:
    """What a view receives: the operation and the parameters and body, already typed."""

    operation: Operation
    path: dict[str, Any]
    query: dict[str, Any]
    body: Any


class RequestAsMethod(WerkzeugOpenAPIRequest):
    """A request seen by openapi-core under another method (HEAD is validated as GET)."""

    def __init__(self, req: Any, method: str) -> None:
        super().__init__(req)
        self._method = method

    @property
    def method(self) -> str:
        return self._method


def valid_request() -> ValidRequest:
    """The validated request of the current view."""
    g = current_globals()
    result: ValidRequest = g.valid_request
    return result


def _query_checks(spec: Spec, operation: Operation, repeated_lists: list[str]) -> Iterator[ErrorItem]:
    """What openapi-core lets through: unknown filter keys and repeated single-valued parameters. A
    comma-form list given several times (qs's `arrayFormat: 'repeat'`) goes to `repeated_lists`."""
    request = current_request()
    for name in request.args:
        if (name == "filter" or name.startswith(FILTER_PREFIX)) and name not in operation.query_parameters:
            known = sorted(p for p in operation.query_parameters if p.startswith(FILTER_PREFIX))
            hint = f"; known filters: {', '.join(known)}" if known else "; this operation has no filters"
            yield ErrorItem(UNKNOWN_PARAMETER, f"Unknown filter {name}{hint}", ("parameter", name))
        elif name in operation.query_parameters and name not in operation.array_parameters:
            values = request.args.getlist(name)
            if len(values) > 1:
                lists = list_parameters(spec, operation)  # a rare path; worked out once per spec
                if name in lists.comma:
                    repeated_lists.append(name)
                else:
                    yield ErrorItem(
                        DUPLICATE_PARAMETER, _given_twice(name, len(values), lists), ("parameter", name)
                    )
            elif name in operation.integer_bounds:
                yield from _integer_check(name, values[0], operation.integer_bounds[name])


def _check_percent_escapes() -> None:
    """A parameter whose percent-escapes do not decode as UTF-8 (`name=%E9`) is a 400: Werkzeug would
    keep the escapes as typed, so the value would silently be another one. Only a query with a `%` is
    read again, and piece by piece only when it has such an escape."""
    request = current_request()
    query: str = request.environ.get("QUERY_STRING", "")
    if "%" in query and not _is_utf8(query):
        raise ApiError(*_undecodable_parameters(query))


def _undecodable_parameters(query: str) -> Iterator[ErrorItem]:
    for pair in query.split("&"):
        if not _is_utf8(pair):
            name = unquote_plus(pair.partition("=")[0])
            yield ErrorItem(
                INVALID_PARAMETER,
                f"{name} is not UTF-8 text once its percent-escapes are decoded",
                ("parameter", name),
            )


def _is_utf8(escaped: str) -> bool:
    try:
        unquote_to_bytes(escaped).decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _given_twice(name: str, count: int, lists: ListParameters) -> str:
    """Why a single-valued parameter may not repeat, and the forms in which lists may be sent."""
    detail = f"{name} must be given once, got {count} values"
    names = lists.names()
    if not names:
        return f"{detail}; this operation takes no lists"
    exploded = sorted(lists.exploded)
    x = exploded[0][:-2] if exploded else names[0]
    forms = f"{x}[]=a&{x}[]=b, {x}[0]=a&{x}[1]=b, " if exploded else ""
    return f"{detail}; only lists repeat ({', '.join(names)}), as {forms}{x}=a,b or {x}=a&{x}=b"


_DECIMAL = re.compile(r"-?[0-9]+")
_LONGEST_CHECKED = 18


def _integer_check(name: str, raw: str, bounds: tuple[int | None, int | None]) -> Iterator[ErrorItem]:
    """ASCII decimal digits only (Python's int() also takes "1_0" and "٣"); huge numbers never parsed."""
    source = ("parameter", name)
    if not _DECIMAL.fullmatch(raw):
        yield ErrorItem(INVALID_PARAMETER, f"{name} must be an integer, got {show(raw)}", source)
    elif len(raw.lstrip("-")) > _LONGEST_CHECKED:
        minimum, maximum = bounds
        shown = raw if len(raw) <= 40 else raw[:40] + "…"
        if raw.startswith("-") and minimum is not None:
            yield ErrorItem(INVALID_PARAMETER, f"{name} must be at least {minimum}, got {shown}", source)
        elif not raw.startswith("-") and maximum is not None:
            yield ErrorItem(INVALID_PARAMETER, f"{name} must be at most {maximum}, got {shown}", source)


def _parameter_items(error: ParameterValidationError) -> Iterator[ErrorItem]:
    source = ("header", error.name) if error.location == "header" else ("parameter", error.name)
    if isinstance(error, MissingRequiredParameter):
        yield ErrorItem(MISSING_PARAMETER, f"{error.name} is required", source)
        return
    cause = error.__cause__
    if isinstance(cause, InvalidSchemaValue):
        for schema_error in schema_errors(cause):
            where = list(getattr(schema_error, "absolute_path", []))
            subject = error.name + "".join(f" item {int(i) + 1}" for i in where)
            yield ErrorItem(INVALID_PARAMETER, f"{subject} {describe_schema_error(schema_error)}", source)
        return
    if isinstance(cause, EmptyQueryParameterValue):
        yield ErrorItem(INVALID_PARAMETER, f"{error.name} must not be empty", source)
        return
    if isinstance(cause, CastError):
        yield ErrorItem(INVALID_PARAMETER, cast_message(error.name, cause.type, cause.value), source)
        return
    yield ErrorItem(INVALID_PARAMETER, f"{error.name} is invalid", source)


def schema_errors(cause: InvalidSchemaValue) -> list[SchemaError]:
    return [err for err in cause.schema_errors if isinstance(err, SchemaError)]


def _body_items(cause: InvalidSchemaValue) -> Iterator[ErrorItem]:
    for schema_error in schema_errors(cause):
        parts = list(getattr(schema_error, "absolute_path", []))
        if schema_error.validator == "required":
            for key in missing_keys(schema_error):
                pointer = json_pointer([*parts, key])
                yield ErrorItem(INVALID_BODY, f"{pointer} is required", ("pointer", pointer))
        elif schema_error.validator == "additionalProperties":
            for key in unexpected_keys(schema_error):
                pointer = json_pointer([*parts, key])
                yield ErrorItem(INVALID_BODY, f"{pointer} is not allowed here", ("pointer", pointer))
        else:
            pointer = json_pointer(parts)
            subject = pointer or "The body"
            yield ErrorItem(
                INVALID_BODY, f"{subject} {describe_schema_error(schema_error)}", ("pointer", pointer)
            )


def _parse_json_body() -> Any:
    """The JSON body, or UNPARSED when there is none; a precise 400 for JSON that does not decode.

    Done before openapi-core, whose own messages crash on bad UTF-8.
    """
    request = current_request()
    raw = body_of_request()
    if not raw or request.mimetype not in JSON_MEDIA_TYPES:
        return UNPARSED
    try:
        return loads_strict(raw.decode("utf-8"))
    except DuplicateKeyError as exc:
        raise ApiError.of(
            MALFORMED_BODY, f"The body is not valid JSON: {exc}", ("pointer", exc.pointer)
        ) from None
    except UnicodeDecodeError as exc:
        raise ApiError.of(
            MALFORMED_BODY, f"The body is not valid UTF-8 (byte {exc.start})", ("pointer", "")
        ) from None
    except RecursionError:
        raise ApiError.of(MALFORMED_BODY, "The body is nested too deeply", ("pointer", "")) from None
    except ValueError as exc:
        raise ApiError.of(MALFORMED_BODY, f"The body is not valid JSON: {exc}", ("pointer", "")) from None


def _body_error(error: RequestBodyValidationError) -> ApiError:
    request = current_request()
    cause = error.__cause__
    if isinstance(cause, MediaTypeNotFound):
        accepted = " or ".join(cause.availableMimetypes)
        got = request.mimetype or "no Content-Type header"
        return ApiError.of(
            UNSUPPORTED_MEDIA_TYPE,
            f"Content-Type must be {accepted}, got {got}",
            ("header", "Content-Type"),
        )
    if isinstance(error, MissingRequestBodyError):
        return ApiError.of(MISSING_BODY, "A JSON request body is required", ("pointer", ""))
    if isinstance(cause, MediaTypeDeserializeError):
        return ApiError.of(MALFORMED_BODY, "The body is not valid JSON", ("pointer", ""))
    if isinstance(cause, InvalidSchemaValue):
        # jsonschema reports `required` and `additionalProperties` once per key, each naming all keys.
        return ApiError(*dict.fromkeys(_body_items(cause)))
    return ApiError.of(INVALID_BODY, "The body is invalid", ("pointer", ""))


def _body_read(request: Request) -> bytes:
    """The body `body_of_request` read (Werkzeug's cache when something else read it)."""
    raw: bytes | None = request.environ.get(BODY_ENVIRON_KEY)
    return raw if raw is not None else request.get_data(cache=True)


def unmarshal(
    entry: PathEntry,
    operation: Operation,
    parsed_body: Any = UNPARSED,
    spec: Spec | None = None,
    compiled: dict[tuple[str, str], CompiledOperation] | None = None,
) -> Unmarshalled:
    """Parameters and body of the current request, typed, with openapi-core's errors.

    The compiled validators answer when the app has them; openapi-core itself otherwise. `spec` and
    `compiled` default to the app's.
    """
    request = current_request()
    app = current_flask_app()
    if spec is None:
        spec, compiled = get_spec(), compiled_operations(app)
    if compiled is not None:
        return compiled[(entry.template, operation.method)].unmarshal(
            entry.path_values(request.path),
            request.args,
            _body_read(request) if operation.has_body else b"",
            request.content_type,
            parsed_body,
        )
    result = spec.openapi.unmarshal_request(RequestAsMethod(request, operation.method.lower()))
    return Unmarshalled(
        errors=list(result.errors),
        path=dict(result.parameters.path),
        query=dict(result.parameters.query),
        body=result.body,
    )


def request_error(errors: list[Exception]) -> ApiError | None:
    """The JSON:API error for unmarshalling errors: every parameter problem, or else the body's."""
    parameter_items: list[ErrorItem] = []
    for error in errors:
        if isinstance(error, ParameterValidationError):
            parameter_items.extend(_parameter_items(error))
        elif isinstance(error, RequestBodyValidationError):
            if not parameter_items:
                return _body_error(error)
        else:
            parameter_items.append(ErrorItem(INVALID_PARAMETER, str(error)))
    # A value can break two keywords with one message (a UUID's format and its pattern): list it once.
    return ApiError(*dict.fromkeys(parameter_items)) if parameter_items else None


def validate_current_request(spec: Spec | None = None) -> ValidRequest:
    """Match the route, then check parameters and body against the spec; raise ApiError on any problem.

    `spec` is another document than the app's (the admin API's), checked with compiled validators.
    """
    request = current_request()
    compiled = None if spec is None else spec.derived("compiled", compile_spec)
    spec = spec or get_spec()
    entry = spec.match_path(request.path)
    if entry is None:
        raise ApiError.of(PATH_NOT_FOUND, f"No operation is served at {request.path}")
    method = "GET" if request.method == "HEAD" else request.method
    operation = entry.operations.get(method)
    if operation is not None:
        request.environ[OPERATION_ENVIRON_KEY] = operation.operation_id  # for the journal
    else:
        allowed = ", ".join(entry.allowed_methods)
        raise ApiError.of(
            METHOD_NOT_ALLOWED,
            f"{request.method} is not allowed on {entry.template}; allowed: {allowed}",
            headers={"Allow": allowed},
        )
    _check_percent_escapes()
    repeated_lists: list[str] = []
    problems = [*read_indexed_arrays(operation), *_query_checks(spec, operation, repeated_lists)]
    if problems:
        raise ApiError(*problems)
    if repeated_lists:
        join_repeated_lists(repeated_lists)
    parsed_body = _parse_json_body() if operation.has_body else UNPARSED
    result = (
        unmarshal(entry, operation, parsed_body)
        if compiled is None
        else unmarshal(entry, operation, parsed_body, spec, compiled)
    )
    error = request_error(result.errors)
    if error is not None:
        raise error
    return ValidRequest(operation=operation, path=result.path, query=result.query, body=result.body)


def compiled_operations(app: Flask) -> dict[tuple[str, str], CompiledOperation] | None:
    """The app's compiled validators, or None when it validates with openapi-core itself."""
    compiled: dict[tuple[str, str], CompiledOperation] | None = app.extensions.get(COMPILED_EXTENSION)
    return compiled


def init_app(
    app: Flask, spec: Spec, validator: str, admin_spec: Spec, forward_invalid: bool = False
) -> Callable[[], None]:
    """Keep the spec and its compiled validators on the app; the before-request hook that validates
    every request: the public API's against `spec`, /__admin's against `admin_spec`, none of the
    documentation's (`spec.is_docs_path`). With `forward_invalid` (the proxy),
    an API request's error is kept on `g` as `request_error` for the view, which forwards the request
    all the same."""
    app.extensions[SPEC_EXTENSION] = spec
    if validator == "compiled":
        app.extensions[COMPILED_EXTENSION] = spec.derived("compiled", compile_spec)
    elif validator != "openapi-core":
        raise ValueError(f"validator must be 'compiled' or 'openapi-core', got {validator!r}")

    def validate() -> None:
        request = current_request()
        g = current_globals()
        if request.path.startswith("/__admin"):
            g.valid_request = validate_current_request(admin_spec)
            return
        if is_docs_path(request.path) and request.method in DOCS_METHODS:
            return  # the documentation (docs_page), outside the spec
        if forward_invalid:
            try:
                g.valid_request = validate_current_request()
            except ApiError as error:
                g.request_error = error
            return
        g.valid_request = validate_current_request()

    return validate
