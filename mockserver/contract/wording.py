"""Turn openapi-core and jsonschema failures into sentences a person can act on."""

from __future__ import annotations

import re
from typing import Any

JsonPath = tuple[str | int, ...]
"""Where a value sits in a JSON document: keys and indexes from the root."""

_MAX_SHOWN = 60
_UNEXPECTED = re.compile(r"\('(.+)' (?:was|were) unexpected\)")


def show(value: Any) -> str:
    """A short, unambiguous rendering of a received value."""
    if isinstance(value, str):
        text = value if len(value) <= _MAX_SHOWN else value[:_MAX_SHOWN] + "…"
        return repr(text)
    if isinstance(value, bool) or value is None:
        return {True: "true", False: "false", None: "null"}[value]
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "an array"
    return str(value)


_JSON_TYPES = {
    "object": "an object",
    "array": "an array",
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "a boolean (true or false)",
    "null": "null",
}


def _type_name(expected: Any) -> str:
    if isinstance(expected, list):
        return " or ".join(_JSON_TYPES.get(str(t), str(t)) for t in expected)
    return _JSON_TYPES.get(expected, str(expected))


def describe_schema_error(error: Any) -> str:
    """The predicate part of a message ("must be at most 100, got 1000") for one jsonschema error."""
    keyword = error.validator
    expected = error.validator_value
    got = error.instance
    if keyword == "maximum":
        return f"must be at most {expected}, got {show(got)}"
    if keyword == "minimum":
        return f"must be at least {expected}, got {show(got)}"
    if keyword == "enum":
        return f"must be one of {', '.join(repr(v) for v in expected)}, got {show(got)}"
    if keyword == "const":
        return f"must be {expected!r}, got {show(got)}"
    if keyword == "type":
        return f"must be {_type_name(expected)}, got {show(got)}"
    if keyword == "format":
        return f"must be a valid {expected}, got {show(got)}"
    if keyword == "pattern" and isinstance(error.schema, dict) and error.schema.get("format") == "uuid":
        return f"must be a valid uuid, got {show(got)}"  # the pattern only adds "ASCII hex digits"
    if keyword == "pattern":
        return f"must match the pattern {expected}, got {show(got)}"
    if keyword == "maxLength":
        return f"must be at most {expected} characters long, got {len(got)}"
    if keyword == "minLength":
        return f"must be at least {expected} characters long, got {len(got)}"
    if keyword == "minItems":
        return f"must have at least {expected} item(s), got {len(got)}"
    if keyword == "maxItems":
        return f"must have at most {expected} item(s), got {len(got)}"
    if keyword == "oneOf" and _alternative_keys(expected):
        keys = _alternative_keys(expected)
        present = [key for key in keys if isinstance(got, dict) and key in got]
        return f"must have exactly one of {', '.join(keys)}, got {', '.join(present) or 'none'}"
    if keyword == "dependentRequired":
        needs = {key: value for key, value in expected.items() if isinstance(got, dict) and key in got}
        return "; ".join(f"must have {', '.join(value)} with {key}" for key, value in needs.items())
    return str(error.message)


def _alternative_keys(alternatives: Any) -> list[str]:
    """The keys of a `oneOf` whose every branch only requires one key (exactly one of these keys)."""
    keys = []
    for branch in alternatives if isinstance(alternatives, list) else []:
        if not (isinstance(branch, dict) and set(branch) == {"required"} and len(branch["required"]) == 1):
            return []
        keys.append(branch["required"][0])
    return keys


def missing_keys(error: Any) -> list[str]:
    """For a `required` error: the keys that are missing."""
    instance = error.instance if isinstance(error.instance, dict) else {}
    return [key for key in error.validator_value if key not in instance]


def unexpected_keys(error: Any) -> list[str]:
    """For an `additionalProperties: false` error: the keys that are not allowed."""
    schema = error.schema if isinstance(error.schema, dict) else {}
    allowed = schema.get("properties")
    if isinstance(allowed, dict) and isinstance(error.instance, dict):
        return [key for key in error.instance if key not in allowed]
    match = _UNEXPECTED.search(str(error.message))
    return [k.strip("' ") for k in match.group(1).split(",")] if match else []


def json_pointer(parts: Any) -> str:
    """RFC 6901 pointer for a sequence of keys and indexes."""
    escaped = (str(p).replace("~", "~0").replace("/", "~1") for p in parts)
    return "".join("/" + p for p in escaped)


def cast_message(name: str, expected_type: str | None, value: Any) -> str:
    kind = _type_name(expected_type) if expected_type else "of the declared type"
    return f"{name} must be {kind}, got {show(value)}"
