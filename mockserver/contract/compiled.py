"""Per-operation request validators built once from the spec: the fast path that mirrors openapi-core.

openapi-core re-walks the spec on every call (3–15 ms a request here). This module does that walk once
at start-up: each operation gets its parameters' casters and compiled JSON Schema validators (the same
`OAS31Validator` openapi-core uses) and its body's media types and validator. It raises the same
openapi-core exception types, so `validation` words both paths' errors with the same code, and
`tests/test_validators.py` proves both paths accept and reject the same requests the same way.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import jsonschema_rs
import orjson
from jsonschema.exceptions import ValidationError as SchemaError
from openapi_core.casting.schemas.exceptions import CastError
from openapi_core.deserializing.media_types.exceptions import MediaTypeDeserializeError
from openapi_core.deserializing.styles.exceptions import EmptyQueryParameterValue
from openapi_core.templating.media_types.exceptions import MediaTypeNotFound
from openapi_core.util import BOOLEAN_FALSE_VALUES, BOOLEAN_TRUE_VALUES, forcebool
from openapi_core.validation.request.exceptions import (
    InvalidParameter,
    InvalidRequestBody,
    MissingRequiredParameter,
    MissingRequiredRequestBody,
    ParameterValidationError,
    RequestBodyValidationError,
)
from openapi_core.validation.schemas.exceptions import InvalidSchemaValue
from openapi_schema_validator import OAS31Validator
from werkzeug.datastructures import MultiDict

from mockserver.contract.spec import Operation, Spec

_MISSING = object()
UNPARSED: Any = object()
"""Marks a body nobody parsed yet."""


def _primary_type(schema: dict[str, Any]) -> str | None:
    kind = schema.get("type")
    if isinstance(kind, list):
        kinds = [k for k in kind if k != "null"]
        return kinds[0] if kinds else None
    return kind if isinstance(kind, str) else None


def _cast_boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if value.lower() not in BOOLEAN_TRUE_VALUES + BOOLEAN_FALSE_VALUES:
        raise ValueError("not a boolean format")
    return bool(forcebool(value))


def _caster(schema: dict[str, Any]) -> Callable[[Any], Any]:
    """The cast openapi-core applies to a raw string before validating it."""
    kind = _primary_type(schema)
    if kind == "integer":
        return int
    if kind == "number":
        return float
    if kind == "boolean":
        return _cast_boolean
    if kind == "array":
        item = _caster(schema.get("items", {}))

        def cast_items(values: Any) -> list[Any]:
            if isinstance(values, (str, bytes)):
                raise ValueError("not an array format")
            return [item(v) for v in values]

        return cast_items
    return lambda value: value


def _unmarshaller(schema: dict[str, Any]) -> Callable[[Any], Any]:
    """What openapi-core turns a valid value into; only `format: uuid` matters in this spec."""
    if schema.get("format") == "uuid":
        return lambda value: uuid.UUID(value) if isinstance(value, str) else value
    if _primary_type(schema) == "array" and schema.get("items", {}).get("format") == "uuid":
        return lambda values: [uuid.UUID(v) for v in values]
    return lambda value: value


@dataclass(frozen=True)
class CompiledParameter:
    name: str
    location: str
    required: bool
    split: str
    """How the raw value is read: "first" value, "all" values (exploded array) or "comma" (joined)."""
    schema_type: str | None
    cast: Callable[[Any], Any]
    validator: SchemaCheck
    unmarshal: Callable[[Any], Any]
    default: Any = _MISSING

    def read(self, source: MultiDict[str, str] | dict[str, str]) -> Any:
        """The parameter's value, typed; raises openapi-core's parameter errors."""
        if self.name not in source:
            if self.default is not _MISSING:
                return self.default
            if self.required:
                raise MissingRequiredParameter(self.name, self.location)
            return _MISSING
        if self.split == "all":
            raw: Any = source.getlist(self.name) if isinstance(source, MultiDict) else [source[self.name]]
        elif self.split == "comma":
            raw = source[self.name].split(",")
        else:
            raw = source[self.name]
        try:
            value = self.cast(raw)
        except (ValueError, TypeError, AttributeError):
            error = ParameterValidationError(self.name, self.location)
            raise error from CastError(raw, self.schema_type)
        if self.location == "query" and value == "":
            error = ParameterValidationError(self.name, self.location)
            raise error from EmptyQueryParameterValue(self.name)
        problems = self.validator.problems(value)
        if problems:
            error = InvalidParameter(self.name, self.location)
            raise error from InvalidSchemaValue(value, self.schema_type or "any", schema_errors=problems)
        return self.unmarshal(value)


@dataclass(frozen=True)
class CompiledBody:
    required: bool
    media_types: dict[str, SchemaCheck]

    def read(self, raw: bytes, content_type: str | None, parsed: Any = UNPARSED) -> Any:
        """The body, parsed (unless the caller did) and valid; raises openapi-core's body errors."""
        if not raw:
            if self.required:
                raise MissingRequiredRequestBody()
            return None
        mimetype = (content_type or "application/octet-stream").split(";")[0].lower().rstrip()
        validator = self.media_types.get(mimetype)
        if validator is None:
            error = RequestBodyValidationError()
            raise error from MediaTypeNotFound(content_type or "", list(self.media_types))
        value = parsed
        if value is UNPARSED:
            try:
                value = json.loads(raw) if mimetype.endswith("json") else raw.decode("utf-8")
            except ValueError:
                error = RequestBodyValidationError()
                raise error from MediaTypeDeserializeError(mimetype, raw)
        problems = validator.problems(value)
        if problems:
            body_error = InvalidRequestBody()
            raise body_error from InvalidSchemaValue(value, validator.schema.get("type", "any"), problems)
        return value


@dataclass
class Unmarshalled:
    """The shape of openapi-core's `RequestUnmarshalResult` that `validation` reads."""

    errors: list[Exception] = field(default_factory=list)
    path: dict[str, Any] = field(default_factory=dict)
    query: dict[str, Any] = field(default_factory=dict)
    body: Any = None


@dataclass(frozen=True)
class CompiledResponses:
    """The documented responses of an operation: status → media type → schema check."""

    by_status: dict[str, dict[str, SchemaCheck]]

    def surely_conforms(
        self, status: int, mimetype: str | None, body: bytes, document: Any = UNPARSED
    ) -> bool:
        """True when the response certainly matches the spec; False means "ask openapi-core".

        The headers this spec declares for responses are optional strings, so only the status, the
        media type and the body can break it.
        """
        code = str(status)
        media = self.by_status.get(code, self.by_status.get(f"{code[0]}XX", self.by_status.get("default")))
        if media is None:
            return False
        if not media:
            return not body
        check = media.get(mimetype or "")
        if check is None:
            return False
        value = document
        if value is UNPARSED:
            try:
                value = orjson.loads(body)
            except orjson.JSONDecodeError:
                return False
        try:
            return bool(check.fast.is_valid(value))
        except (ValueError, TypeError, OverflowError):
            return False


@dataclass(frozen=True)
class CompiledOperation:
    parameters: tuple[CompiledParameter, ...]
    body: CompiledBody | None
    responses: CompiledResponses

    def unmarshal(
        self,
        path_values: dict[str, str],
        query: MultiDict[str, str],
        raw_body: bytes,
        content_type: str | None,
        parsed_body: Any = UNPARSED,
    ) -> Unmarshalled:
        result = Unmarshalled()
        for parameter in self.parameters:
            source: Any = path_values if parameter.location == "path" else query
            try:
                value = parameter.read(source)
            except ParameterValidationError as error:
                result.errors.append(error)
                continue
            if value is not _MISSING:
                target = result.path if parameter.location == "path" else result.query
                target[parameter.name] = value
        if self.body is not None:
            try:
                result.body = self.body.read(raw_body, content_type, parsed_body)
            except RequestBodyValidationError as error:
                result.errors.append(error)
        return result


@dataclass(frozen=True)
class SchemaCheck:
    """A schema's validators: a compiled (Rust) one answers "valid?" in well under a microsecond;
    openapi-core's own `OAS31Validator` decides, and words the errors, whenever that answer is no."""

    fast: Any
    full: OAS31Validator

    @property
    def schema(self) -> Any:
        return self.full.schema

    def problems(self, value: Any) -> list[SchemaError]:
        try:
            if self.fast.is_valid(value):
                return []
        except (ValueError, TypeError, OverflowError):
            pass
        return list(self.full.iter_errors(value))


def _validator(schema: dict[str, Any]) -> SchemaCheck:
    return SchemaCheck(
        fast=jsonschema_rs.validator_for(schema, validate_formats=True),
        full=OAS31Validator(schema, format_checker=OAS31Validator.FORMAT_CHECKER),
    )


def _compile_parameter(parameter: dict[str, Any]) -> CompiledParameter:
    location = parameter["in"]
    schema = parameter.get("schema", {})
    style = parameter.get("style", "form" if location == "query" else "simple")
    explode = parameter.get("explode", style == "form")
    schema_type = _primary_type(schema)
    split = "first"
    if schema_type == "array":
        split = "all" if style == "form" and explode else "comma"
    compiled = CompiledParameter(
        name=parameter["name"],
        location=location,
        required=bool(parameter.get("required", False)),
        split=split,
        schema_type=schema_type,
        cast=_caster(schema),
        validator=_validator(schema),
        unmarshal=_unmarshaller(schema),
    )
    if "default" in schema:
        default = schema["default"]
        problems = compiled.validator.problems(default)
        if problems:
            raise ValueError(f"default of parameter {compiled.name} breaks its schema: {problems[0].message}")
        compiled = CompiledParameter(**{**compiled.__dict__, "default": compiled.unmarshal(default)})
    return compiled


def compile_operation(resolved: dict[str, Any], operation: Operation) -> CompiledOperation:
    """Mirror openapi-core's order: operation parameters, then path-item parameters not overridden.

    `resolved` is the spec with its `$ref`s inlined (`Spec.resolved`).
    """
    item = resolved["paths"][operation.path_template]
    op = item[operation.method.lower()]
    seen: set[tuple[str, str]] = set()
    parameters = []
    for parameter in [*op.get("parameters", []), *item.get("parameters", [])]:
        key = (parameter["name"], parameter["in"])
        if key in seen:
            continue
        seen.add(key)
        if parameter["in"] in ("path", "query"):
            parameters.append(_compile_parameter(parameter))
    body = None
    if "requestBody" in op:
        request_body = op["requestBody"]
        body = CompiledBody(
            required=bool(request_body.get("required", False)),
            media_types={
                mimetype: _validator(media.get("schema", {}))
                for mimetype, media in request_body.get("content", {}).items()
            },
        )
    responses = CompiledResponses(
        by_status={
            str(status): {
                mimetype: _validator(media.get("schema", {}))
                for mimetype, media in response.get("content", {}).items()
            }
            for status, response in op.get("responses", {}).items()
        }
    )
    return CompiledOperation(parameters=tuple(parameters), body=body, responses=responses)


def compile_spec(spec: Spec) -> dict[tuple[str, str], CompiledOperation]:
    """A compiled operation per (path template, method)."""
    return {
        (entry.template, method): compile_operation(spec.resolved, operation)
        for entry in spec.paths
        for method, operation in entry.operations.items()
    }
