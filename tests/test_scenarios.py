"""Tests for mockserver.dataset.scenario: bundled files, schema, error messages with file:line, safety."""

from __future__ import annotations

import dataclasses
import json
import time
import unicodedata
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from jsonschema import Draft202012Validator
from support import ALICE, API, B1, B2, BOB, MIB, P02, SCENARIOS_DIR, SPEC_PATH, make_app, partner_id, send

from mockserver.cli import cli
from mockserver.dataset.faker_data import generate_dataset
from mockserver.dataset.model import CATEGORIES, STATUSES, WHOLESALER_TYPES, DataSet, Partner
from mockserver.dataset.scenario import (
    MAX_BYTES,
    MAX_PROBLEMS,
    SCHEMA_PATH,
    ScenarioError,
    ScenarioProblems,
    list_scenarios,
    load_scenario,
)

BUNDLED = SCENARIOS_DIR
ENUM_STATUSES = '["available", "coming_soon", "unavailable", "discontinued", null]'

BASE = f"""\
businesses:
  - id: {B1}
    name: The Golden Fork
    preferred_partners: [{partner_id(1)}]
users:
  - id: {ALICE}
    first_name: Alice
    last_name: Martin
    email: alice@example.com
    business: {B1}
    token: alice-token
partners:
  - id: {partner_id(1)}
    name: First
    categories: [pos]
  - id: {partner_id(2)}
    name: Second
    categories: [wholesaler]
    wholesaler_types: [wine]
  - id: {partner_id(3)}
    name: Third
    categories: [payroll]
    status: available
integrations:
  - id: e0000000-0000-4000-8000-000000000001
    business: {B1}
    partner: {partner_id(2)}
    active: true
links:
  - {{user: {ALICE}, partner: {partner_id(3)}}}
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


def assert_edit_is_refused_at(tmp_path: Path, old: str, new: str, marker: str, message: str) -> None:
    """BASE with `old` replaced by `new` fails to load, at the line holding `marker`, with `message`."""
    assert old in BASE
    text = BASE.replace(old, new, 1)
    path = write(tmp_path, text)
    assert str(load_error(path)) == f"{path}:{line_of(text, marker)}: {message}"


# Hostile files are also loaded the way the server loads them: by building an app on them.

DEFAULT_YAML = (BUNDLED / "default.yaml").read_text(encoding="utf-8")
TILLTOP_NAME = "    name: TillTop POS"


def creation_error(path: Path | str) -> ScenarioError:
    """Build an app on a scenario that must fail, and return the error."""
    with pytest.raises(ScenarioError) as info:
        make_app(scenario=str(path))
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
    assert [b.id for b in data.businesses] == [B1, B2]
    assert [(u.id, u.token) for u in data.users] == [
        (ALICE, "alice-token"),
        (BOB, "bob-token"),
    ]
    assert data.default_user_id == ALICE
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
    assert data.default_user_id == ALICE
    assert data.businesses[0].preferred_partner_ids == frozenset({partner_id(1)})


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
    ("old", "new", "marker", "problem"),
    [
        (
            "categories: [pos, payments]",
            "categories: [pos, payments",
            "country_code: US",  # where the scanner notices, the line after
            "did not find expected ',' or ']' (while parsing a flow sequence)",
        ),
        (
            TILLTOP_NAME,
            "\tname: TillTop POS",
            "\tname: TillTop POS",
            "found a tab character that violates indentation (while scanning a plain scalar)",
        ),
        (
            "    name: LedgerLeaf",
            "    name: LedgerLeaf: x: y",
            "LedgerLeaf: x: y",
            "mapping values are not allowed in this context",
        ),
    ],
    ids=["unclosed-bracket", "tab", "colons"],
)
def test_invalid_yaml_names_the_line_and_the_problem(
    tmp_path: Path, old: str, new: str, marker: str, problem: str
) -> None:
    assert old in DEFAULT_YAML
    text = DEFAULT_YAML.replace(old, new, 1)
    path = write(tmp_path, text)
    assert str(creation_error(path)) == f"{path}:{line_of(text, marker)}: invalid YAML: {problem}"


def test_unterminated_quote_is_a_scenario_error(tmp_path: Path) -> None:
    text = DEFAULT_YAML.replace("    name: TableTime", "    name: 'TableTime", 1)
    error = creation_error(write(tmp_path, text))
    assert error.message == "invalid YAML: found unexpected end of stream (while scanning a quoted scalar)"


UNSAFE_TAGS = [
    ("root", "!!python/object/apply:os.system", '!!python/object/apply:os.system ["touch {marker}"]\n'),
    (
        "value",
        "!!python/object/apply:os.system",
        '    name: !!python/object/apply:os.system ["touch {marker}"]',
    ),
    (
        "key",
        "!!python/object/apply:os.system",
        '    ? !!python/object/apply:os.system ["touch {marker}"]\n    : x\n' + TILLTOP_NAME,
    ),
    ("new", "!!python/object/new:os.system", '    name: !!python/object/new:os.system ["touch {marker}"]'),
    (
        "subprocess",
        "!!python/object/apply:subprocess.check_output",
        '    name: !!python/object/apply:subprocess.check_output [[touch, "{marker}"]]',
    ),
    ("name", "!!python/name:os.system", "    name: !!python/name:os.system"),
    ("module", "!!python/module:os", "    name: !!python/module:os"),
    (
        "anchor",
        "!!python/object/apply:os.system",
        '    name: &cmd !!python/object/apply:os.system ["touch {marker}"]',
    ),
    ("custom", "!custom", '    name: !custom ["touch {marker}"]'),
]


@pytest.mark.parametrize(("where", "tag", "snippet"), UNSAFE_TAGS, ids=[w for w, _, _ in UNSAFE_TAGS])
def test_unsafe_tags_are_refused_and_nothing_runs(tmp_path: Path, where: str, tag: str, snippet: str) -> None:
    marker = tmp_path / "pwned"
    snippet = snippet.format(marker=marker)
    text = snippet if where == "root" else DEFAULT_YAML.replace(TILLTOP_NAME, snippet, 1)
    if where == "anchor":  # and use it again further down
        text = text.replace("    name: LedgerLeaf", "    name: *cmd", 1)
    path = write(tmp_path, text)
    line = 1 if where == "root" else line_of(text, tag)
    assert str(creation_error(path)) == (
        f"{path}:{line}: the tag {tag} is not allowed: scenario files hold plain YAML data only"
    )
    assert not marker.exists(), "the YAML tag was executed"


def test_check_command_refuses_a_python_tag_without_running_it(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    path = write(tmp_path, f'!!python/object/apply:os.system ["touch {marker}"]\n')
    result = CliRunner().invoke(cli, ["check", str(path)])
    assert result.exit_code == 1
    assert result.output.strip() == (
        f"error: {path}:1: the tag !!python/object/apply:os.system is not allowed: "
        "scenario files hold plain YAML data only"
    )
    assert "Traceback" not in result.output
    assert not marker.exists()


def test_oversize_file_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, BASE + "#" * (MAX_BYTES - len(BASE)) + "\n")
    error = load_error(path)
    assert str(error) == f"{path}: the file is over 5 MB; use Faker data for volume"


@pytest.mark.parametrize("size_mb", [6, 60])
def test_huge_scenario_is_refused_quickly(tmp_path: Path, size_mb: int) -> None:
    """Over 5 MB is refused before parsing: valid data (not just padding) and without reading it all."""
    head, tail = DEFAULT_YAML.split("integrations:", 1)
    partner = (
        "  - id: c1000000-0000-4000-8000-{n:012d}\n    name: Partner {n} {pad}\n"
        "    categories: [pos]\n    description: {pad}\n"
    )
    chunk = "".join(partner.format(n=n, pad="y" * 100) for n in range(1000))
    path = tmp_path / "huge.yaml"
    with path.open("w", encoding="utf-8") as file:
        file.write(head)
        written = 0
        while written < size_mb * MIB:
            written += file.write(chunk)  # ids repeat: the size check must come before any other
        file.write("integrations:" + tail)
    started = time.perf_counter()
    error = creation_error(path)
    elapsed = time.perf_counter() - started
    path.unlink()
    assert str(error) == f"{path}: the file is over 5 MB; use Faker data for volume"
    assert elapsed < 5.0, f"refusing a {size_mb} MB file took {elapsed:.1f}s"


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
    assert error.message == "more than 300000 YAML nodes once aliases are expanded"
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
            partner_id(2),
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
            f"  - id: {partner_id(2)}",
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
            f"partner: {partner_id(3)}}}",
            "partner: ../../etc/passwd}",
            "../../etc/passwd",
            "links[0].partner: '../../etc/passwd' is not a lowercase UUID string such as "
            "3f2a9c1e-0000-4000-8000-000000000001",
        ),
        (
            "    status: available",
            "    phone: 5550142",
            "phone",
            "partners[2].phone: 5550142 is not of type string or null (quote it to keep it a string)",
        ),
    ],
)
def test_schema_errors(tmp_path: Path, old: str, new: str, marker: str, message: str) -> None:
    assert_edit_is_refused_at(tmp_path, old, new, marker, message)


def test_top_level_must_be_a_mapping(tmp_path: Path) -> None:
    path = write(tmp_path, "- just\n- a list\n")
    assert str(load_error(path)) == f"{path}:1: ['just', 'a list'] is not of type object"


def test_several_problems_are_all_reported_in_file_order(tmp_path: Path) -> None:
    text = BASE.replace("name: First", "name: ''").replace("status: available", "status: gone")
    path = write(tmp_path, text)
    error = load_error(path)
    assert error.line == line_of(text, "name: ''")
    assert error.message == "partners[0].name: '' should be non-empty"
    name_line = line_of(text, "name: ''")
    assert str(error).splitlines() == [
        f"{path}:{name_line}: partners[0].name: '' should be non-empty",
        f"{path}:{line_of(text, 'status: gone')}: partners[2].status: 'gone' is not one of {ENUM_STATUSES}",
    ]


def test_past_fifty_problems_the_rest_are_counted(tmp_path: Path) -> None:
    links = "".join(f"  - {{user: {ALICE}, partner: {partner_id(100 + n)}}}\n" for n in range(60))
    path = write(tmp_path, BASE.replace("links:\n", "links:\n" + links))
    shown = str(load_error(path)).splitlines()
    assert len(shown) == MAX_PROBLEMS + 1
    assert all("is not the id of any of the partners" in line for line in shown[:MAX_PROBLEMS])
    assert shown[-1] == f"{path}: and 10 more problems in this file"


# Errors: references and duplicates


@pytest.mark.parametrize(
    ("old", "new", "marker", "message"),
    [
        (
            f"preferred_partners: [{partner_id(1)}]",
            f"preferred_partners: [{partner_id(9)}]",
            "preferred_partners",
            f"businesses[0].preferred_partners[0]: '{partner_id(9)}' is not the id of any of the partners",
        ),
        (
            f"    business: {B1}\n    token",
            "    business: b0000000-0000-4000-8000-000000000009\n    token",
            "b0000000-0000-4000-8000-000000000009",
            "users[0].business: 'b0000000-0000-4000-8000-000000000009' is not the id of any of "
            "the businesses",
        ),
        (
            f"    partner: {partner_id(2)}",
            f"    partner: {partner_id(8)}",
            f"partner: {partner_id(8)}",
            f"integrations[0].partner: '{partner_id(8)}' is not the id of any of the partners",
        ),
        (
            f"{{user: {ALICE}",
            "{user: a11ce000-0000-4000-8000-000000000009",
            "{user:",
            "links[0].user: 'a11ce000-0000-4000-8000-000000000009' is not the id of any of the users",
        ),
        (
            f"partner: {partner_id(3)}}}",
            f"partner: {partner_id(9)}}}",
            "{user:",
            f"links[0].partner: '{partner_id(9)}' is not the id of any of the partners",
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
    assert_edit_is_refused_at(tmp_path, old, new, marker, message)


def test_duplicate_partner_id(tmp_path: Path) -> None:
    text = BASE.replace(f"  - id: {partner_id(3)}", f"  - id: {partner_id(1)}")
    error = load_error(write(tmp_path, text))
    first, second = line_of(text, f"- id: {partner_id(1)}"), line_of(text, f"- id: {partner_id(1)}", 2)
    assert error.line == second
    assert error.message == f"partners[2].id: duplicate id '{partner_id(1)}' (also at line {first})"
    assert (
        isinstance(error, ScenarioProblems) and len(error.problems) == 2
    )  # the link to the third partner now dangles: one more problem


def test_duplicate_token_and_integration(tmp_path: Path) -> None:
    user2 = (
        "  - id: a11ce000-0000-4000-8000-000000000002\n    first_name: Bob\n    last_name: B\n"
        f"    email: bob@example.com\n    business: {B1}\n    token: alice-token\npartners:"
    )
    integration2 = (
        f"  - id: e0000000-0000-4000-8000-000000000002\n    business: {B1}\n    partner: {partner_id(2)}\n"
    )
    text = BASE.replace("\npartners:", "\n" + user2, 1).replace("links:", integration2 + "links:")
    error = load_error(write(tmp_path, text))
    assert error.line == line_of(text, "token: alice-token", 2)
    assert error.message == (
        f"users[1].token: duplicate token 'alice-token' (also at line {line_of(text, 'token: alice-token')})"
    )
    assert isinstance(error, ScenarioProblems) and len(error.problems) == 2
    fixed = text.replace("token: alice-token\npartners", "token: bob-token\npartners")
    error = load_error(write(tmp_path, fixed))
    assert error.line == line_of(fixed, f"partner: {partner_id(2)}", 2)
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


NOT_A_YAML_PATH = "a scenario path must end in .yaml or .yml"
NOT_A_NAME = "not a scenario name (letters, digits, '_', '-') nor a .yaml path"
BAD_NAMES = [
    ("../alpha", NOT_A_YAML_PATH),
    ("../etc/passwd", NOT_A_YAML_PATH),
    ("alpha/../../etc/passwd", NOT_A_YAML_PATH),
    ("....//....//etc/passwd", NOT_A_YAML_PATH),
    ("/etc/passwd", NOT_A_YAML_PATH),
    ("~/.ssh/id_rsa", NOT_A_YAML_PATH),
    ("..\\alpha", NOT_A_YAML_PATH),
    ("", NOT_A_NAME),
    ("al pha", NOT_A_NAME),
    ("alpha\x00", NOT_A_NAME),
    ("..", NOT_A_NAME),
    ("..%2f..%2fetc%2fpasswd", NOT_A_NAME),
    ("$(touch pwned)", NOT_A_NAME),
    ("{{7*7}}", NOT_A_NAME),
]


@pytest.mark.parametrize(("name", "problem"), BAD_NAMES, ids=[repr(n) for n, _ in BAD_NAMES])
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


@pytest.mark.parametrize("name", ["../../etc/passwd", "default/../../etc/passwd", "....//....//etc/passwd"])
def test_create_app_refuses_a_traversing_scenario_listing_valid_names(name: str) -> None:
    error = creation_error(name)
    assert error.message == f"{NOT_A_YAML_PATH}; available scenarios: {', '.join(list_scenarios(BUNDLED))}"
    assert error.line is None


@pytest.mark.parametrize("name", ["../../etc/passwd\x00.yaml", "default\x00.yaml", "\x00.yml"])
def test_scenario_path_with_a_nul_byte_is_a_scenario_error(name: str) -> None:
    """Python's open() raises ValueError ("embedded null byte") on such a path: it must not escape."""
    error = creation_error(name)
    assert error.line is None
    assert "null" in error.message.lower() or "nul" in error.message.lower(), error.message


def test_traversal_to_a_yaml_that_is_not_a_scenario_is_refused_by_the_schema() -> None:
    spec = SPEC_PATH.resolve()
    assert str(creation_error(spec)).startswith(f"{spec}:1: openapi: unknown field 'openapi'; allowed: ")


def test_template_strings_in_a_scenario_are_served_literally(tmp_path: Path) -> None:
    """Data is data on the way out too: a partner named `{{7*7}}` is called `{{7*7}}`."""
    marker = tmp_path / "pwned"
    name = f"{{{{7*7}}}} ${{7*7}} $(touch {marker}) <script>alert(1)</script>"
    assert f"{TILLTOP_NAME}\n" in DEFAULT_YAML
    path = write(tmp_path, DEFAULT_YAML.replace(f"{TILLTOP_NAME}\n", f"    name: {json.dumps(name)}\n"))
    with make_app(scenario=str(path)).test_client() as client:
        response = send(client, "GET", f"{API}/{P02}")
        assert response.status_code == 200
        assert response.get_json()["data"]["attributes"]["name"] == name
        assert "49" not in response.get_data(as_text=True)
        found = send(client, "GET", f"{API}?business_uuid={B1}&search=%7B%7B7%2A7%7D%7D").get_json()["data"]
        assert [p["id"] for p in found] == [P02]
    assert not marker.exists()
