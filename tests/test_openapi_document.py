"""openapi.yaml itself: a valid OpenAPI 3.1 document that says what the project decided.

The decisions come from the Partners API notes: seven operations, filters in the query string with
the names listed there, UUID ids, and errors, schemas and named examples for every response.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import yaml
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate
from referencing import Registry
from referencing.jsonschema import DRAFT202012
from support import SPEC_OPERATIONS, SPEC_PATH

DOCUMENT: dict[str, Any] = yaml.safe_load(SPEC_PATH.read_text(encoding="utf-8"))
BASE_URI = "urn:partners-api:openapi"
"""Under this URI the whole document is a JSON Schema resource, so `#/components/...` refs resolve."""

HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
ERROR_STATUSES = ("400", "401", "500")
OPERATIONS = set(SPEC_OPERATIONS)
"""(method, path, operationId, success status) of the seven operations of the notes."""
SUCCESS_STATUS = {operation_id: status for _, _, operation_id, status in OPERATIONS}
MINIMAL_STATUS = {"disconnectPartner": ("204",)}
"""A second success status, answered for `Prefer: return=minimal` (RFC 7240) instead of the partner."""

ARRAY_FILTERS = {
    "listPartners": {"categories", "excluded_categories", "wholesaler_categories", "country_codes"},
    "listAvailablePartners": {"categories", "status"},
}
BOOLEAN_FILTERS = {"listPartners": {"preferred", "active"}}
"""Filters per operation, as the notes list them; an operation not named here has none."""


def escape(token: str) -> str:
    """A JSON pointer token (RFC 6901)."""
    return token.replace("~", "~0").replace("/", "~1")


def resolve(node: dict[str, Any], pointer: str) -> tuple[dict[str, Any], str]:
    """Follow `$ref`s from a node at `pointer`; return the target and its own pointer."""
    while "$ref" in node:
        ref = node["$ref"]
        assert ref.startswith("#/"), f"{pointer}: only local refs are expected, got {ref}"
        pointer = ref[1:]
        node = DOCUMENT
        for token in pointer.lstrip("/").split("/"):
            node = node[token.replace("~1", "/").replace("~0", "~")]
    return node, pointer


def operations() -> Iterator[tuple[str, str, dict[str, Any], str]]:
    """(method, path, operation, pointer) for every operation of the document."""
    for path, item in DOCUMENT["paths"].items():
        for method in HTTP_METHODS:
            if method in item:
                yield method.upper(), path, item[method], f"/paths/{escape(path)}/{method}"


def operation_by_id(operation_id: str) -> tuple[str, dict[str, Any], str]:
    for _, path, operation, pointer in operations():
        if operation["operationId"] == operation_id:
            return path, operation, pointer
    raise LookupError(operation_id)


def parameters(operation_id: str) -> list[dict[str, Any]]:
    """Path-level and operation-level parameters of an operation, refs resolved."""
    path, operation, pointer = operation_by_id(operation_id)
    path_pointer = f"/paths/{escape(path)}"
    shared = DOCUMENT["paths"][path].get("parameters", [])
    found = [resolve(p, f"{path_pointer}/parameters/{i}")[0] for i, p in enumerate(shared)]
    own = operation.get("parameters", [])
    found += [resolve(p, f"{pointer}/parameters/{i}")[0] for i, p in enumerate(own)]
    return found


def responses() -> Iterator[tuple[str, str, dict[str, Any], str]]:
    """(operationId, status, response, pointer of the response object) for every response."""
    for _, _, operation, pointer in operations():
        for status, response in operation["responses"].items():
            target, target_pointer = resolve(response, f"{pointer}/responses/{status}")
            yield operation["operationId"], status, target, target_pointer


def media_types() -> Iterator[tuple[str, str, dict[str, Any], str]]:
    """(label, media type, media type object, its pointer) for every response and request body."""
    for operation_id, status, response, pointer in responses():
        for media_type, media in response.get("content", {}).items():
            yield f"{operation_id} {status}", media_type, media, f"{pointer}/content/{escape(media_type)}"
    for _, _, operation, pointer in operations():
        if "requestBody" in operation:
            body, body_pointer = resolve(operation["requestBody"], f"{pointer}/requestBody")
            for media_type, media in body["content"].items():
                label = f"{operation['operationId']} request body"
                yield label, media_type, media, f"{body_pointer}/content/{escape(media_type)}"


def validator_for(schema_pointer: str) -> Draft202012Validator:
    """A 2020-12 validator, with format checks, for the schema at a pointer of the document."""
    registry: Registry[Any] = Registry().with_resource(BASE_URI, DRAFT202012.create_resource(DOCUMENT))
    schema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$ref": f"{BASE_URI}#{schema_pointer}",
    }
    return Draft202012Validator(schema, registry=registry, format_checker=Draft202012Validator.FORMAT_CHECKER)


def test_the_document_is_valid_openapi() -> None:
    validate(DOCUMENT)


def test_the_document_is_openapi_3_1() -> None:
    assert DOCUMENT["openapi"].startswith("3.1.")


def test_it_has_exactly_the_seven_operations() -> None:
    found = {
        (method, path, operation["operationId"], SUCCESS_STATUS.get(operation["operationId"], "?"))
        for method, path, operation, _ in operations()
    }
    assert found == OPERATIONS


@pytest.mark.parametrize("operation_id", sorted(SUCCESS_STATUS))
def test_every_operation_documents_its_success_and_the_common_errors(operation_id: str) -> None:
    _, operation, _ = operation_by_id(operation_id)
    statuses = set(operation["responses"])
    assert {SUCCESS_STATUS[operation_id], *ERROR_STATUSES} <= statuses
    successes = {s for s in statuses if s.startswith("2")}
    assert successes == {SUCCESS_STATUS[operation_id], *MINIMAL_STATUS.get(operation_id, ())}, (
        "one success status per operation (and a minimal one where `Prefer` may ask for it)"
    )


def test_disconnect_answers_the_partner_or_nothing_for_prefer_return_minimal() -> None:
    """README decision: DELETE …/connect answers the partner, as PATCH does (the docs' sample reads
    it with `res.json()`); `Prefer: return=minimal` gets a 204 without a body."""
    _, operation, pointer = operation_by_id("disconnectPartner")
    (prefer,) = [p for p in parameters("disconnectPartner") if p["in"] == "header"]
    assert prefer["name"] == "Prefer" and not prefer.get("required", False)
    assert prefer["schema"] == {"type": "string"}
    assert {e["value"] for e in prefer["examples"].values()} == {"return=minimal", "return=representation"}
    partner, _ = resolve(operation["responses"]["200"], f"{pointer}/responses/200")
    schema = partner["content"]["application/json"]["schema"]
    assert schema == {"$ref": "#/components/schemas/PartnerDocument"}
    minimal, _ = resolve(operation["responses"]["204"], f"{pointer}/responses/204")
    assert "content" not in minimal
    for response in (partner, minimal):
        assert set(response["headers"]) == {"Preference-Applied"}
        assert {"GetPartnerAfterDisconnect", "ReconnectPartner"} <= set(response["links"])


def test_responses_with_a_body_have_a_json_schema_and_named_examples() -> None:
    for operation_id, status, response, pointer in responses():
        where = f"{operation_id} {status} ({pointer})"
        if status == "204":
            assert "content" not in response, f"{where}: a 204 has no body"
            continue
        assert set(response.get("content", {})) == {"application/json"}, where
        media = response["content"]["application/json"]
        assert "schema" in media, f"{where}: no schema"
        assert media.get("examples"), f"{where}: no named example"
        for name, example in media["examples"].items():
            assert example.get("$ref", "").startswith("#/components/examples/"), (
                f"{where}: example {name} is not a components/examples ref"
            )


def test_error_responses_use_the_json_api_error_document() -> None:
    for operation_id, status, response, _ in responses():
        if status[0] in "45":
            schema = response["content"]["application/json"]["schema"]
            assert schema == {"$ref": "#/components/schemas/ErrorDocument"}, f"{operation_id} {status}"


def test_every_example_validates_against_its_schema() -> None:
    checked = 0
    for label, media_type, media, pointer in media_types():
        validator = validator_for(f"{pointer}/schema")
        for name, example in media.get("examples", {}).items():
            value, _ = resolve(example, f"{pointer}/examples/{name}")
            assert "value" in value, f"{label} {media_type} {name}: no value"
            errors = [
                f"{'/'.join(map(str, e.absolute_path)) or '/'}: {e.message}"
                for e in validator.iter_errors(value["value"])
            ]
            assert not errors, f"{label} {media_type} example {name} breaks its schema: {errors}"
            checked += 1
    assert checked >= len(OPERATIONS)


def test_every_components_example_is_used() -> None:
    text = SPEC_PATH.read_text(encoding="utf-8")
    unused = [
        name for name in DOCUMENT["components"]["examples"] if f'#/components/examples/{name}"' not in text
    ]
    assert not unused


def test_the_example_validator_rejects_a_broken_example() -> None:
    """The check above has teeth: refs resolve against the whole document, and formats are checked."""
    _, _, _, pointer = next(r for r in responses() if r[0] == "getPartner" and r[1] == "200")
    validator = validator_for(f"{pointer}/content/application~1json/schema")
    example = DOCUMENT["components"]["examples"]["PartnerSingle"]["value"]
    assert validator.is_valid(example)
    assert not validator.is_valid({**example, "data": {**example["data"], "id": "not-a-uuid"}})
    attributes = {**example["data"]["attributes"], "name": None}
    assert not validator.is_valid({**example, "data": {**example["data"], "attributes": attributes}})


@pytest.mark.parametrize("operation_id", sorted(SUCCESS_STATUS))
def test_filter_parameters_are_the_ones_the_notes_list(operation_id: str) -> None:
    """Arrays in both Rails/qs forms (`filter[x][]=a&filter[x][]=b` and `filter[x]=a,b`); booleans once."""
    arrays = ARRAY_FILTERS.get(operation_id, set())
    booleans = BOOLEAN_FILTERS.get(operation_id, set())
    expected = {f"filter[{n}][]" for n in arrays} | {f"filter[{n}]" for n in arrays | booleans}
    found = {p["name"]: p for p in parameters(operation_id) if p["name"].startswith("filter")}
    assert set(found) == expected
    for name, parameter in found.items():
        assert parameter["in"] == "query", name
        schema, _ = resolve(parameter["schema"], name)
        key = name.removeprefix("filter[").split("]")[0]
        if key in booleans:
            assert schema["type"] == "boolean", name
        else:
            assert schema["type"] == "array" and schema.get("minItems") == 1, name
            assert parameter.get("style", "form") == "form", name
            assert parameter["explode"] is name.endswith("[]"), name


CANONICAL_UUID = {
    "description": "A UUID in its canonical 8-4-4-4-12 form of ASCII hexadecimal digits.",
    "type": "string",
    "format": "uuid",
    "pattern": "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$",
}
"""README decision 31: `format: uuid` alone lets a non-ASCII digit through; the pattern does not."""


@pytest.mark.parametrize("operation_id", sorted(SUCCESS_STATUS))
def test_ids_in_paths_are_uuids(operation_id: str) -> None:
    """README decision: ids are UUID strings (the API docs say integer); a non-UUID id is a 400."""
    path, _, _ = operation_by_id(operation_id)
    path_parameters = [p for p in parameters(operation_id) if p["in"] == "path"]
    expected = {"id"} if "{id}" in path else set()
    assert {p["name"] for p in path_parameters} == expected
    for parameter in path_parameters:
        schema, _ = resolve(parameter["schema"], parameter["name"])
        assert parameter["required"] is True
        assert parameter["schema"] == {"$ref": "#/components/schemas/Uuid"}
        assert schema == CANONICAL_UUID


def test_business_uuid_is_a_required_uuid_query_parameter_of_list_partners() -> None:
    """The docs print it as an integer path parameter; the path has no slot for it."""
    (business,) = [p for p in parameters("listPartners") if p["name"] == "business_uuid"]
    assert business["in"] == "query" and business["required"] is True
    assert business["schema"] == {"$ref": "#/components/schemas/Uuid"}


def test_resource_ids_in_responses_are_uuids() -> None:
    schemas = DOCUMENT["components"]["schemas"]
    assert schemas["Uuid"] == CANONICAL_UUID
    for name in ("Partner", "User", "PartnerIntegration", "ResourceIdentifier"):
        assert schemas[name]["properties"]["id"] == {"$ref": "#/components/schemas/Uuid"}, name
    click_event = schemas["ClickEventDocument"]["properties"]["data"]["properties"]["id"]
    assert click_event == {"$ref": "#/components/schemas/Uuid"}


def test_the_server_reads_the_documents_as_the_pure_python_loader_does() -> None:
    """The spec and the admin spec are read with libyaml's loader at start-up: the same data."""
    from pathlib import Path

    import mockserver.admin
    from mockserver.contract.spec import read_spec_document

    admin = Path(mockserver.admin.__file__).parent / "admin-openapi.yaml"
    assert read_spec_document(SPEC_PATH) == DOCUMENT
    assert read_spec_document(admin) == yaml.safe_load(admin.read_text(encoding="utf-8"))
