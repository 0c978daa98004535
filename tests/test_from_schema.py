"""mockserver.contract.from_schema: every response body of the spec, generated under several seeds, fits
its schema; the same seed gives the same value, another seed another one."""

from __future__ import annotations

from typing import Any

import pytest
from openapi_schema_validator import OAS31Validator
from support import SPEC

from mockserver.contract.from_schema import GenerationError, generate

SEEDS = range(6)


def response_schemas() -> list[tuple[str, Any]]:
    found = []
    for template, item in SPEC.resolved["paths"].items():
        for method, operation in item.items():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            for status, response in operation["responses"].items():
                for mimetype, media in response.get("content", {}).items():
                    if "schema" in media:
                        found.append((f"{method.upper()} {template} {status} {mimetype}", media["schema"]))
    return found


SCHEMAS = response_schemas()


@pytest.mark.parametrize(("name", "schema"), SCHEMAS, ids=[name for name, _ in SCHEMAS])
def test_every_generated_body_fits_its_schema(name: str, schema: Any) -> None:
    validator = OAS31Validator(schema, format_checker=OAS31Validator.FORMAT_CHECKER)
    for seed in SEEDS:
        value = generate(schema, seed)
        problems = [error.message for error in validator.iter_errors(value)]
        assert problems == [], (seed, value)


def test_the_same_seed_gives_the_same_value_and_another_seed_another() -> None:
    _, schema = next((name, s) for name, s in SCHEMAS if " 200 " in name and "/available" in name)
    assert generate(schema, 7) == generate(schema, 7)
    assert generate(schema, 7) != generate(schema, 8)


@pytest.mark.parametrize(
    ("schema", "check"),
    [
        ({"type": "string", "pattern": "^[A-Z]{2}$"}, lambda v: len(v) == 2 and v.isupper()),
        ({"type": "string", "format": "uuid"}, lambda v: len(v) == 36 and v == v.lower()),
        ({"type": ["string", "null"], "enum": ["a", None]}, lambda v: v in ("a", None)),
        ({"type": "integer", "minimum": 5, "maximum": 5}, lambda v: v == 5),
        ({"type": "array", "minItems": 3, "items": {"const": 1}}, lambda v: v == [1, 1, 1]),
        (
            {"type": "object", "minProperties": 2, "additionalProperties": {"type": "boolean"}},
            lambda v: len(v) >= 2,
        ),
    ],
)
def test_keywords(schema: Any, check: Any) -> None:
    for seed in SEEDS:
        assert check(generate(schema, seed))


def test_a_pattern_beyond_the_generator_is_an_error_unless_an_example_stands_in() -> None:
    with pytest.raises(GenerationError):
        generate({"type": "string", "pattern": "^(a|b)+$"}, 1)
    assert generate({"type": "string", "pattern": "^(a|b)+$", "example": "abba"}, 1) == "abba"
