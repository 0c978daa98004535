"""A JSON value generated from a JSON Schema (OpenAPI 3.1), deterministically from a seed: the bodies of
`Prefer: dynamic=true` and of forced statuses that have no named example.

It covers what openapi.yaml uses (types, nullable types, enum, const, formats uuid / uri / date-time /
email, patterns made of character classes, literals and counted repeats, required and optional
properties, additionalProperties, min/max properties and items, oneOf/anyOf/allOf, numeric bounds);
a schema it cannot satisfy raises GenerationError, and the tests generate every response of the spec
under several seeds and validate each against the spec.
"""

from __future__ import annotations

import random
import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from mockserver.core.startup_errors import MockServerError

MAX_DEPTH = 12
WORDS = ("alpha", "bravo", "cedar", "delta", "ember", "fjord", "grove", "harbor", "indigo", "juniper")
_REPEAT = re.compile(r"\{(\d+)(?:,(\d*))?\}|[*+?]")


class GenerationError(MockServerError):
    """A schema the generator cannot satisfy."""


def generate(schema: Any, seed: int | str) -> Any:
    """A value valid against `schema` (every `$ref` already resolved), the same for the same seed."""
    return _value(schema, random.Random(str(seed)), 0)


def _value(schema: Any, rng: random.Random, depth: int) -> Any:
    if not isinstance(schema, dict) or depth > MAX_DEPTH:
        return None
    if "const" in schema:
        return schema["const"]
    if "enum" in schema:
        return rng.choice(schema["enum"])
    if "example" in schema and "pattern" in schema and not _pattern_supported(schema["pattern"]):
        return schema["example"]  # a value the author vouches for
    for keyword in ("oneOf", "anyOf"):
        if keyword in schema:
            return _value({**_without(schema, keyword), **rng.choice(schema[keyword])}, rng, depth + 1)
    if "allOf" in schema:
        merged = _without(schema, "allOf")
        for part in schema["allOf"]:
            merged = _merge(merged, part)
        return _value(merged, rng, depth + 1)
    kind = schema.get("type")
    if isinstance(kind, list):
        kinds = [k for k in kind if k != "null"] or ["null"]
        kind = rng.choice(kinds)
    if kind is None:
        kind = "object" if "properties" in schema else "string"
    return _by_type(kind, schema, rng, depth)


def _by_type(kind: str, schema: dict[str, Any], rng: random.Random, depth: int) -> Any:
    if kind == "null":
        return None
    if kind == "boolean":
        return rng.random() < 0.5
    if kind in ("integer", "number"):
        low = schema.get("minimum", 0)
        high = schema.get("maximum", max(low, 0) + 100)
        value = rng.randint(int(low), int(high))
        return value if kind == "integer" else float(value)
    if kind == "string":
        return _string(schema, rng)
    if kind == "array":
        count = max(schema.get("minItems", 0), min(schema.get("maxItems", 2), 2))
        return [_value(schema.get("items", {}), rng, depth + 1) for _ in range(count)]
    if kind == "object":
        return _object(schema, rng, depth)
    raise GenerationError(f"unknown type {kind!r}")


def _object(schema: dict[str, Any], rng: random.Random, depth: int) -> dict[str, Any]:
    properties: dict[str, Any] = schema.get("properties", {})
    required = set(schema.get("required", []))
    wanted = schema.get("minProperties", 0)
    result: dict[str, Any] = {}
    for name, subschema in properties.items():
        if name in required or depth < 3 or len(result) < wanted:
            result[name] = _value(subschema, rng, depth + 1)
    extra = schema.get("additionalProperties")
    while len(result) < wanted and isinstance(extra, dict):
        result[f"{rng.choice(WORDS)}-{len(result)}"] = _value(extra, rng, depth + 1)
    if len(result) < wanted:
        raise GenerationError(f"cannot give an object {wanted} properties")
    maximum = schema.get("maxProperties")
    if maximum is not None and len(result) > maximum:
        for name in [n for n in result if n not in required][: len(result) - maximum]:
            del result[name]
    return result


def _string(schema: dict[str, Any], rng: random.Random) -> str:
    fmt = schema.get("format")
    if fmt == "uuid":
        return str(uuid.UUID(int=rng.getrandbits(128), version=4))
    if fmt == "date-time":
        moment = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(seconds=rng.randrange(365 * 86400))
        return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
    if fmt in ("uri", "url"):
        return f"https://{rng.choice(WORDS)}.example.com/{rng.choice(WORDS)}"
    if fmt == "email":
        return f"{rng.choice(WORDS)}@{rng.choice(WORDS)}.example.com"
    if "pattern" in schema:
        return _from_pattern(schema["pattern"], rng)
    low: int = schema.get("minLength", 1)
    text = f"{rng.choice(WORDS).title()} {rng.choice(WORDS)}"
    text = (text * (low // len(text) + 1))[: max(low, len(text))]
    maximum: int = schema.get("maxLength", len(text))
    return text[:maximum]


def _pattern_supported(pattern: str) -> bool:
    try:
        _tokens(pattern)
    except GenerationError:
        return False
    return True


def _from_pattern(pattern: str, rng: random.Random) -> str:
    return "".join(rng.choice(choices) for choices, count in _tokens(pattern) for _ in range(count))


def _tokens(pattern: str) -> list[tuple[str, int]]:
    """An anchored pattern of character classes and literals, each repeated a fixed number of times,
    as (characters to choose from, count) pairs."""
    body = pattern.removeprefix("^").removesuffix("$")
    tokens: list[tuple[str, int]] = []
    i = 0
    while i < len(body):
        if body[i] == "[":
            end = body.index("]", i)
            choices = _expand_class(body[i + 1 : end])
            i = end + 1
        elif body[i] == "\\" and i + 1 < len(body):
            choices = {"d": "0123456789"}.get(body[i + 1], body[i + 1])
            i += 2
        elif body[i] in "()|.*+?{":
            raise GenerationError(f"pattern {pattern!r} is beyond the generator")
        else:
            choices = body[i]
            i += 1
        repeat = _REPEAT.match(body, i)
        count = 1
        if repeat:
            if repeat.group(0) in "*+?" or repeat.group(2) is not None:
                raise GenerationError(f"pattern {pattern!r} is beyond the generator")
            count = int(repeat.group(1))
            i = repeat.end()
        tokens.append((choices, count))
    return tokens


def _expand_class(spec: str) -> str:
    if spec.startswith("^"):
        raise GenerationError(f"negated class [{spec}] is beyond the generator")
    chars = []
    i = 0
    while i < len(spec):
        if i + 2 < len(spec) and spec[i + 1] == "-":
            chars += [chr(c) for c in range(ord(spec[i]), ord(spec[i + 2]) + 1)]
            i += 3
        else:
            chars.append(spec[i])
            i += 1
    return "".join(chars)


def _without(schema: dict[str, Any], keyword: str) -> dict[str, Any]:
    return {k: v for k, v in schema.items() if k != keyword}


def _merge(left: dict[str, Any], right: dict[str, Any]) -> dict[str, Any]:
    merged = {**left, **right}
    if "properties" in left and "properties" in right:
        merged["properties"] = {**left["properties"], **right["properties"]}
    if "required" in left and "required" in right:
        merged["required"] = sorted(set(left["required"]) | set(right["required"]))
    return merged
