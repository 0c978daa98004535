"""Tests for mockserver.scenarios: bundled files, schema, error messages with file:line, safety."""

from __future__ import annotations

import dataclasses
import json
import time
import unicodedata
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft202012Validator

from mockserver.fakedata import generate_dataset
from mockserver.model import CATEGORIES, STATUSES, WHOLESALER_TYPES, DataSet, Partner
from mockserver.scenarios import (
    MAX_BYTES,
    SCHEMA_PATH,
    ScenarioError,
    list_scenarios,
    load_scenario,
)

BUNDLED = Path(__file__).resolve().parent.parent / "scenarios"
B1 = "b0000000-0000-4000-8000-000000000001"
U1 = "a11ce000-0000-4000-8000-000000000001"
P = "c0000000-0000-4000-8000-00000000000{}"
ENUM_STATUSES = '["available", "coming_soon", "unavailable", "discontinued", null]'

BASE = f"""\
businesses:
  - id: {B1}
    name: The Golden Fork
    preferred_partners: [{P.format(1)}]
users:
  - id: {U1}
    first_name: Alice
    last_name: Martin
    email: alice@example.com
    business: {B1}
    token: alice-token
partners:
  - id: {P.format(1)}
    name: First
    categories: [pos]
  - id: {P.format(2)}
    name: Second
    categories: [wholesaler]
    wholesaler_types: [wine]
  - id: {P.format(3)}
    name: Third
    categories: [payroll]
    status: available
integrations:
  - id: e0000000-0000-4000-8000-000000000001
    business: {B1}
    partner: {P.format(2)}
    active: true
links:
  - {{user: {U1}, partner: {P.format(3)}}}
"""


@pytest.fixture
def scenarios_dir(tmp_path: Path) -> Path:
    """A scenarios directory holding `alpha.yaml` and `beta.yaml` (valid) plus files to ignore."""
    directory = tmp_path / "scenarios"
    directory.mkdir()
    (directory / "alpha.yaml").write_text(BASE, encoding="utf-8")
    (directory / "beta.yaml").write_text(BASE, encoding="utf-8")
    (directory / "notes.txt").write_text("not a scenario", encoding="utf-8")
    (directory / "bad name.yaml").write_text(BASE, encoding="utf-8")
    return directory


def write(tmp_path: Path, text: str, name: str = "case.yaml") -> Path:
    """Write a scenario file into tmp_path and return its path."""
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def line_of(text: str, fragment: str, occurrence: int = 1) -> int:
    """The 1-based line holding the n-th occurrence of a fragment."""
    hits = [n for n, line in enumerate(text.splitlines(), 1) if fragment in line]
    return hits[occurrence - 1]


def load_error(path: Path, scenarios_dir: Path | None = None) -> ScenarioError:
    """Load a file that must fail, and return the error."""
    with pytest.raises(ScenarioError) as info:
        load_scenario(path, scenarios_dir or path.parent)
    return info.value


# Bundled scenarios


def test_bundled_scenarios_are_listed() -> None:
    assert {"default", "edge-cases", "empty"} <= set(list_scenarios(BUNDLED))


@pytest.mark.parametrize("name", list_scenarios(BUNDLED))
def test_every_bundled_scenario_loads(name: str) -> None:
    data = load_scenario(name, BUNDLED)
    assert data.businesses and data.users
    assert data.default_user_id in {u.id for u in data.users}


def test_default_scenario_contents() -> None:
    data = load_scenario("default", BUNDLED)
    assert [b.id for b in data.businesses] == [B1, "b0000000-0000-4000-8000-000000000002"]
    assert [(u.id, u.token) for u in data.users] == [
        (U1, "alice-token"),
        ("b0b00000-0000-4000-8000-000000000002", "bob-token"),
    ]
    assert data.default_user_id == U1
    assert len(data.partners) >= 12
    assert {c for p in data.partners for c in p.categories} >= {
        "wholesaler", "pos", "accounting", "reservations", "payroll", "delivery",
    }  # fmt: skip
    assert len({p.country_code for p in data.partners}) >= 8
    coke_like = data.partners[0]
    assert coke_like.wholesaler_types == ("soft_drinks",) and coke_like.status is None
    assert coke_like.email is None and coke_like.description is None
    assert len(data.integrations) >= 3 and len(data.user_partner_links) >= 2
    assert all(b.preferred_partner_ids for b in data.businesses)


def test_empty_scenario_has_no_partners() -> None:
    data = load_scenario("empty", BUNDLED)
    assert (len(data.businesses), len(data.users), data.partners) == (1, 1, ())


def test_edge_cases_scenario_covers_the_edges() -> None:
    data = load_scenario("edge-cases", BUNDLED)
    names = [p.name for p in data.partners]
    assert len(data.partners) >= 30
    assert max(len(n) for n in names) >= 200
    assert {p.status for p in data.partners} == {*STATUSES, None}
    assert any(not p.active for p in data.partners)
    assert len({n.lower() for n in names}) < len(names)  # names differing only by case
    text = "".join(names)
    assert any(ord(c) > 0xFFFF for c in text)  # emoji outside the BMP
    assert any(unicodedata.bidirectional(c) in ("R", "AL") for c in text)  # Hebrew, Arabic
    assert any(unicodedata.combining(c) for c in text)
    assert any("\u4e00" <= c <= "\u9fff" for c in text)  # CJK
    all_null = next(p for p in data.partners if p.name == "All Nulls Ltd")
    bare = next(p for p in data.partners if p.name == "Bare Minimum")
    for partner in (all_null, bare):
        assert partner.logo_url is partner.status is partner.country_code is None
        assert partner.wholesaler_types == () and partner.active is True


# Schema


def test_schema_is_valid_draft_2020_12_and_matches_the_model() -> None:
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(schema)
    partner = schema["$defs"]["partner"]["properties"]
    assert tuple(partner["categories"]["items"]["enum"]) == CATEGORIES
    assert tuple(partner["wholesaler_types"]["items"]["enum"]) == WHOLESALER_TYPES
    assert tuple(partner["status"]["enum"]) == (*STATUSES, None)
    fields = {f.name for f in dataclasses.fields(Partner)}
    assert set(partner) == fields


def test_loader_defaults_are_the_schema_defaults(tmp_path: Path) -> None:
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))

    def default(prop: dict[str, Any]) -> Any:
        if "$ref" in prop:
            prop = schema["$defs"][prop["$ref"].rsplit("/", 1)[1]]
        return prop["default"]

    props = schema["$defs"]["partner"]["properties"]
    bare = load_scenario(write(tmp_path, BASE), tmp_path).partners[0]
    for name, prop in props.items():
        if name not in ("id", "name", "categories"):
            value = getattr(bare, name)
            assert (list(value) if isinstance(value, tuple) else value) == default(prop), name


def to_yaml(data: DataSet) -> str:
    """A data set written as a scenario file."""

    def partner(p: Partner) -> dict[str, Any]:
        fields = dataclasses.asdict(p)
        return {**fields, "categories": list(p.categories), "wholesaler_types": list(p.wholesaler_types)}

    document = {
        "default_user": data.default_user_id,
        "businesses": [
            {"id": b.id, "name": b.name, "preferred_partners": sorted(b.preferred_partner_ids)}
            for b in data.businesses
        ],
        "users": [
            {
                "id": u.id,
                "first_name": u.first_name,
                "last_name": u.last_name,
                "email": u.email,
                "business": u.business_id,
                "token": u.token,
            }
            for u in data.users
        ],  # fmt: skip
        "partners": [partner(p) for p in data.partners],
        "integrations": [
            {
                "id": i.id,
                "business": i.business_id,
                "partner": i.partner_id,
                "active": i.active,
                "requested": i.requested,
                "integration_login": i.integration_login,
            }
            for i in data.integrations
        ],  # fmt: skip
        "links": [{"user": u, "partner": p} for u, p in sorted(data.user_partner_links)],
    }
    return yaml.safe_dump(document, allow_unicode=True, sort_keys=False)


def test_faker_data_round_trips_through_a_scenario_file(tmp_path: Path) -> None:
    generated = generate_dataset(5, 80)
    assert load_scenario(write(tmp_path, to_yaml(generated)), tmp_path) == generated


def test_optional_sections_and_default_user(tmp_path: Path) -> None:
    text = BASE.split("integrations:")[0]
    data = load_scenario(write(tmp_path, text, "plain.yml"), tmp_path)
    assert data.integrations == () and data.user_partner_links == frozenset()
    assert data.default_user_id == U1
    assert data.businesses[0].preferred_partner_ids == frozenset({P.format(1)})


# Errors: YAML, tags, size, encoding


def test_error_string_format() -> None:
    assert str(ScenarioError("x.yaml", 3, "boom")) == "x.yaml:3: boom"
    assert str(ScenarioError("x.yaml", None, "boom")) == "x.yaml: boom"
    error = ScenarioError(Path("x.yaml"), 3, "boom")
    assert (error.path, error.line, error.message) == (Path("x.yaml"), 3, "boom")


def test_invalid_yaml_reports_the_line(tmp_path: Path) -> None:
    text = BASE.replace("    name: First", "   name: First")
    path = write(tmp_path, text)
    error = load_error(path)
    assert error.line == line_of(text, "   name: First")
    assert str(error).startswith(f"{path}:{error.line}: invalid YAML: ")


@pytest.mark.parametrize(
    "tag",
    ["!!python/object/apply:os.system", "!!python/object/apply:subprocess.call", "!custom"],
)
def test_unsafe_tags_are_refused_and_nothing_runs(tmp_path: Path, tag: str) -> None:
    marker = tmp_path / "pwned"
    text = BASE.replace("    name: Second", f'    name: {tag} ["touch {marker}"]')
    path = write(tmp_path, text)
    error = load_error(path)
    assert str(error) == (
        f"{path}:{line_of(text, 'touch')}: the tag {tag} is not allowed: "
        "scenario files hold plain YAML data only"
    )
    assert not marker.exists()


def test_oversize_file_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, BASE + "#" * (MAX_BYTES - len(BASE)) + "\n")
    error = load_error(path)
    assert str(error) == f"{path}: the file is over 5 MB; use Faker data for volume"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "the file is empty; see scenario.schema.json"),
        (b"# only a comment\n", "the file is empty; see scenario.schema.json"),
        (b"businesses: \xff\n", "not UTF-8 (bad byte at offset 12)"),
    ],
)
def test_empty_and_undecodable_files(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "case.yaml"
    path.write_bytes(content)
    assert str(load_error(path)) == f"{path}: {message}"


def test_alias_bomb_fails_fast(tmp_path: Path) -> None:
    lines = ["a: &a [" + ", ".join(["x"] * 10) + "]"]
    lines += [
        f"{c}: &{c} [" + ", ".join([f"*{p}"] * 10) + "]" for p, c in zip("abcdefgh", "bcdefghi", strict=True)
    ]
    started = time.perf_counter()
    error = load_error(write(tmp_path, "\n".join(lines) + "\n"))
    assert "more than 1000000 YAML nodes" in error.message
    assert time.perf_counter() - started < 20


def test_duplicate_yaml_key(tmp_path: Path) -> None:
    text = BASE.replace("    name: Third\n", "    name: Third\n    name: Third again\n")
    error = load_error(write(tmp_path, text))
    first = line_of(text, "name: Third")
    assert (error.line, error.message) == (first + 1, f"duplicate key 'name' (first at line {first})")


# Errors: schema, with file:line and field path


def test_schema_error_names_file_line_and_field(tmp_path: Path) -> None:
    text = BASE.replace("    status: available", "    status: sold_out")
    path = write(tmp_path, text)
    expected = f"partners[2].status: 'sold_out' is not one of {ENUM_STATUSES}"
    assert str(load_error(path)) == f"{path}:{line_of(text, 'sold_out')}: {expected}"


@pytest.mark.parametrize(
    ("old", "new", "marker", "message"),
    [
        (
            "    name: Second",
            "    nmae: Second",
            "nmae",
            "partners[1].nmae: unknown field 'nmae'; did you mean 'name'?",
        ),
        (
            "    name: Second\n",
            "",
            P.format(2),
            "partners[1]: 'name' is a required property",
        ),
        (
            "    status: available",
            "    country_code: NO",
            "country_code",
            "partners[2].country_code: False is not of type string or null (YAML reads unquoted "
            "yes/no/on/off/true/false as booleans: quote it)",
        ),
        (
            f"  - id: {P.format(2)}",
            "  - id: C0000000-0000-4000-8000-000000000002",
            "C0000000",
            "partners[1].id: 'C0000000-0000-4000-8000-000000000002' is not a lowercase UUID "
            "string such as 3f2a9c1e-0000-4000-8000-000000000001",
        ),
        (
            "    categories: [pos]",
            "    categories: [pos, sushi]",
            "sushi",
            'partners[0].categories[1]: \'sushi\' is not one of ["accounting", "delivery", '
            '"inventory", "marketing", "payments", "payroll", "pos", "reservations", '
            '"scheduling", "wholesaler"]',
        ),
        (
            "    active: true",
            "    active: yes please",
            "yes please",
            "integrations[0].active: 'yes please' is not of type boolean",
        ),
        ("links:", "linx:", "linx", "linx: unknown field 'linx'; did you mean 'links'?"),
        (
            "    status: available",
            "    phone: 5550142",
            "phone",
            "partners[2].phone: 5550142 is not of type string or null (quote it to keep it a string)",
        ),
    ],
)
def test_schema_errors(tmp_path: Path, old: str, new: str, marker: str, message: str) -> None:
    assert old in BASE
    text = BASE.replace(old, new, 1)
    path = write(tmp_path, text)
    assert str(load_error(path)) == f"{path}:{line_of(text, marker)}: {message}"


def test_top_level_must_be_a_mapping(tmp_path: Path) -> None:
    path = write(tmp_path, "- just\n- a list\n")
    assert str(load_error(path)) == f"{path}:1: ['just', 'a list'] is not of type object"


def test_several_problems_report_the_first_and_count_the_rest(tmp_path: Path) -> None:
    text = BASE.replace("name: First", "name: ''").replace("status: available", "status: gone")
    error = load_error(write(tmp_path, text))
    assert error.line == line_of(text, "name: ''")
    assert error.message == "partners[0].name: '' should be non-empty (and 1 more problem in this file)"


# Errors: references and duplicates


@pytest.mark.parametrize(
    ("old", "new", "marker", "message"),
    [
        (
            f"preferred_partners: [{P.format(1)}]",
            f"preferred_partners: [{P.format(9)}]",
            "preferred_partners",
            f"businesses[0].preferred_partners[0]: '{P.format(9)}' is not the id of any of the partners",
        ),
        (
            f"    business: {B1}\n    token",
            "    business: b0000000-0000-4000-8000-000000000009\n    token",
            "b0000000-0000-4000-8000-000000000009",
            "users[0].business: 'b0000000-0000-4000-8000-000000000009' is not the id of any of "
            "the businesses",
        ),
        (
            f"    partner: {P.format(2)}",
            f"    partner: {P.format(8)}",
            f"partner: {P.format(8)}",
            f"integrations[0].partner: '{P.format(8)}' is not the id of any of the partners",
        ),
        (
            f"{{user: {U1}",
            "{user: a11ce000-0000-4000-8000-000000000009",
            "{user:",
            "links[0].user: 'a11ce000-0000-4000-8000-000000000009' is not the id of any of the users",
        ),
        (
            "businesses:",
            "default_user: a11ce000-0000-4000-8000-000000000007\nbusinesses:",
            "default_user",
            "default_user: 'a11ce000-0000-4000-8000-000000000007' is not the id of any user",
        ),
    ],
)
def test_unknown_references(tmp_path: Path, old: str, new: str, marker: str, message: str) -> None:
    assert old in BASE
    text = BASE.replace(old, new, 1)
    path = write(tmp_path, text)
    assert str(load_error(path)) == f"{path}:{line_of(text, marker)}: {message}"


def test_duplicate_partner_id(tmp_path: Path) -> None:
    text = BASE.replace(f"  - id: {P.format(3)}", f"  - id: {P.format(1)}")
    error = load_error(write(tmp_path, text))
    first, second = line_of(text, f"- id: {P.format(1)}"), line_of(text, f"- id: {P.format(1)}", 2)
    assert error.line == second
    assert error.message == (  # the link to the third partner now dangles: one more problem
        f"partners[2].id: duplicate id '{P.format(1)}' (also at line {first})"
        " (and 1 more problem in this file)"
    )


def test_duplicate_token_and_integration(tmp_path: Path) -> None:
    user2 = (
        "  - id: a11ce000-0000-4000-8000-000000000002\n    first_name: Bob\n    last_name: B\n"
        f"    email: bob@example.com\n    business: {B1}\n    token: alice-token\npartners:"
    )
    integration2 = (
        f"  - id: e0000000-0000-4000-8000-000000000002\n    business: {B1}\n    partner: {P.format(2)}\n"
    )
    text = BASE.replace("\npartners:", "\n" + user2, 1).replace("links:", integration2 + "links:")
    error = load_error(write(tmp_path, text))
    assert error.line == line_of(text, "token: alice-token", 2)
    assert error.message == (
        f"users[1].token: duplicate token 'alice-token' (also at line {line_of(text, 'token: alice-token')})"
        " (and 1 more problem in this file)"
    )
    fixed = text.replace("token: alice-token\npartners", "token: bob-token\npartners")
    error = load_error(write(tmp_path, fixed))
    assert error.line == line_of(fixed, f"partner: {P.format(2)}", 2)
    assert error.message.startswith("integrations[1].partner: duplicate business and partner (also at line")


# Names and paths


def test_list_scenarios_ignores_other_files(scenarios_dir: Path, tmp_path: Path) -> None:
    assert list_scenarios(scenarios_dir) == ["alpha", "beta"]
    assert list_scenarios(tmp_path / "missing") == []


def test_names_and_paths_resolve(scenarios_dir: Path) -> None:
    by_name = load_scenario("alpha", scenarios_dir)
    assert load_scenario(scenarios_dir / "beta.yaml", scenarios_dir) == by_name
    assert load_scenario(str(scenarios_dir / "beta.yaml"), scenarios_dir) == by_name


def test_unknown_name_lists_the_available_scenarios(scenarios_dir: Path) -> None:
    with pytest.raises(ScenarioError) as info:
        load_scenario("gamma", scenarios_dir)
    assert str(info.value) == (
        f"{scenarios_dir / 'gamma.yaml'}: unknown scenario 'gamma'; available scenarios: alpha, beta"
    )


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("../alpha", "a scenario path must end in .yaml or .yml"),
        ("../etc/passwd", "a scenario path must end in .yaml or .yml"),
        ("/etc/passwd", "a scenario path must end in .yaml or .yml"),
        ("..\\alpha", "a scenario path must end in .yaml or .yml"),
        ("", "not a scenario name (letters, digits, '_', '-') nor a .yaml path"),
        ("al pha", "not a scenario name (letters, digits, '_', '-') nor a .yaml path"),
        ("alpha\x00", "not a scenario name (letters, digits, '_', '-') nor a .yaml path"),
    ],
)
def test_bad_names_are_refused(scenarios_dir: Path, name: str, problem: str) -> None:
    with pytest.raises(ScenarioError) as info:
        load_scenario(name, scenarios_dir)
    assert info.value.message == f"{problem}; available scenarios: alpha, beta"
    assert info.value.line is None


def test_names_only_mode_refuses_paths(scenarios_dir: Path, tmp_path: Path) -> None:
    outside = write(tmp_path, BASE, "outside.yaml")
    assert load_scenario("alpha", scenarios_dir, allow_paths=False).partners
    for value in (str(outside), "../outside.yaml", outside):
        with pytest.raises(ScenarioError) as info:
            load_scenario(value, scenarios_dir, allow_paths=False)
        assert info.value.message == (
            "only a scenario name (letters, digits, '_', '-') is accepted here; "
            "available scenarios: alpha, beta"
        )


def test_missing_path(tmp_path: Path) -> None:
    path = tmp_path / "nope.yaml"
    assert str(load_error(path)) == f"{path}: no such file"
