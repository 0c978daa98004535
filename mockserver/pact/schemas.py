"""JSON schemas of Pact files (HTTP interactions) of specification v3 and v4, checked before an export
is written.

Written from the Pact specification's text (pact-foundation/pact-specification, branches version-3
and version-4), as strict as PactFlow's pact-schemas (no property a version does not define, in the
top-level parts) but without their two faults: their method `enum` lacks `PATCH`, which this API uses
(`PATCH …/connect`), and their v4 body requires `contentTypeHint`, which the specification makes
optional and Pact's own tools leave out.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from jsonschema import Draft7Validator

METHODS = ["CONNECT", "DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT", "TRACE"]
STRINGS = {"type": "array", "items": {"type": "string"}}
MATCHERS: dict[str, dict[str, Any]] = {
    "type": {"max": {"type": "integer"}, "min": {"type": "integer"}},
    "regex": {"regex": {"type": "string"}},
    "integer": {},
    "decimal": {},
    "number": {},
    "boolean": {},
    "null": {},
    "equality": {},
    "include": {"value": {"type": "string"}},
    "values": {},
    "date": {"format": {"type": "string"}},
    "time": {"format": {"type": "string"}},
    "datetime": {"format": {"type": "string"}},
    "timestamp": {"format": {"type": "string"}},
    "contentType": {"value": {"type": "string"}},
}
V4_MATCHERS: dict[str, dict[str, Any]] = {
    "notEmpty": {},
    "semver": {},
    "statusCode": {"status": {}},
    "arrayContains": {"variants": {"type": "array"}},
    "eachKey": {"rules": {"type": "array"}, "value": {}},
    "eachValue": {"rules": {"type": "array"}, "value": {}},
}
GENERATORS = ["RandomInt", "RandomDecimal", "RandomHexadecimal", "RandomString", "Regex", "Uuid", "Date",
              "Time", "DateTime", "RandomBoolean", "ProviderState", "MockServerURL"]  # fmt: skip


def _matcher(version: int) -> dict[str, Any]:
    kinds = {**MATCHERS, **(V4_MATCHERS if version == 4 else {})}
    return {
        "oneOf": [
            {
                "type": "object",
                "required": ["match"],
                "properties": {"match": {"const": name}, **properties},
                "additionalProperties": False,
            }
            for name, properties in kinds.items()
        ]
    }


def _rules(version: int) -> dict[str, Any]:
    """A category's rules: JSON path (body) or name (header, query) → {matchers, combine}."""
    return {
        "type": "object",
        "additionalProperties": {
            "type": "object",
            "required": ["matchers"],
            "additionalProperties": False,
            "properties": {
                "matchers": {"type": "array", "items": {"$ref": "#/definitions/matcher"}},
                "combine": {"enum": ["AND", "OR"]},
            },
        },
    }


def _message(version: int, request: bool) -> dict[str, Any]:
    headers = STRINGS if version == 4 else {"type": "string"}
    body: dict[str, Any] = {}
    if version == 4:
        body = {
            "type": "object",
            "required": ["content", "contentType", "encoded"],
            "additionalProperties": False,
            "properties": {
                "content": {},
                "contentType": {"type": "string"},
                "contentTypeHint": {"enum": ["BINARY", "TEXT"]},
                "encoded": {"type": ["boolean", "string"]},
            },
        }
    properties: dict[str, Any] = {
        "headers": {"type": "object", "additionalProperties": headers},
        "body": body,
        "matchingRules": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "body": {"$ref": "#/definitions/rules"},
                "header": {"$ref": "#/definitions/rules"},
                "query": {"$ref": "#/definitions/rules"},
                "path": {"type": "object"},
                "status": {"type": "object"},
            },
        },
        "generators": {
            "type": "object",
            "additionalProperties": {
                "type": "object",
                "additionalProperties": {"type": "object", "properties": {"type": {"enum": GENERATORS}}},
            },
        },
    }
    if request:
        properties["method"] = {"type": "string", "enum": METHODS + [m.lower() for m in METHODS]}
        properties["path"] = {"type": "string"}
        properties["query"] = {"type": "object", "additionalProperties": STRINGS}
        required = ["method", "path"]
    else:
        properties["status"] = {"type": "integer", "minimum": 100, "maximum": 599}
        required = ["status"]
    return {"type": "object", "required": required, "additionalProperties": False, "properties": properties}


def _interaction(version: int) -> dict[str, Any]:
    properties: dict[str, Any] = {
        "description": {"type": "string"},
        "providerStates": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["name"],
                "properties": {"name": {"type": "string"}, "params": {"type": "object"}},
            },
        },
        "request": _message(version, request=True),
        "response": _message(version, request=False),
    }
    required = ["description", "request", "response"]
    if version == 4:
        properties["type"] = {"const": "Synchronous/HTTP"}
        properties["key"] = {"type": "string"}
        properties["pending"] = {"type": "boolean"}
        properties["comments"] = {
            "type": "object",
            "properties": {"testname": {"type": "string"}, "text": STRINGS},
        }
        required.append("type")
    return {"type": "object", "required": required, "additionalProperties": False, "properties": properties}


@cache
def pact_schema(version: int) -> dict[str, Any]:
    """The schema of a Pact file of specification `version` (3 or 4) holding HTTP interactions."""
    participant = {"type": "object", "required": ["name"], "properties": {"name": {"type": "string"}}}
    return {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "title": f"Pact v{version}",
        "type": "object",
        "required": ["consumer", "provider", "interactions", "metadata"],
        "properties": {
            "consumer": participant,
            "provider": participant,
            "interactions": {"type": "array", "items": _interaction(version)},
            "metadata": {
                "type": "object",
                "required": ["pactSpecification"],
                "properties": {
                    "pactSpecification": {
                        "type": "object",
                        "required": ["version"],
                        "properties": {"version": {"type": "string", "pattern": f"^{version}\\."}},
                    }
                },
            },
        },
        "definitions": {"matcher": _matcher(version), "rules": _rules(version)},
    }


def schema_problems(document: Any, version: int) -> list[str]:
    """Where the document breaks the Pact schema of `version`: `pointer: message`, at most 20."""
    validator = Draft7Validator(pact_schema(version))
    problems = []
    for error in validator.iter_errors(document):
        at = "".join(f"/{part}" for part in error.absolute_path)
        problems.append(f"{at or '/'}: {error.message[:300]}")
        if len(problems) == 20:
            break
    return problems
