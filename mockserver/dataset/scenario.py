"""Scenario files: safe YAML (`yaml_reader`) -> JSON Schema -> reference checks -> frozen model objects."""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

import jsonschema_rs
from jsonschema import Draft202012Validator, ValidationError

from mockserver.contract.spec import Spec
from mockserver.contract.wording import JsonPath
from mockserver.dataset.model import Business, DataSet, Partner, PartnerIntegration, User
from mockserver.dataset.yaml_reader import MAX_BYTES as MAX_BYTES
from mockserver.dataset.yaml_reader import Lines, parse_yaml, read_text
from mockserver.dataset.yaml_reader import ScenarioError as ScenarioError
from mockserver.rules.book import rule_problems

SCHEMA_PATH = Path(__file__).with_name("scenario.schema.json")
NAME_PATTERN = re.compile(r"[A-Za-z0-9_-]+")
SUFFIXES = (".yaml", ".yml")
MAX_PROBLEMS = 50
"""Problems of one file shown at most; the others are counted."""

PARTNER_DEFAULTS: dict[str, Any] = {
    **dict.fromkeys(("wholesaler_category", "country_code", "status", "logo_url", "website_url")),
    **dict.fromkeys(("video_url", "description", "email", "phone", "book_meeting")),
    "wholesaler_types": [],
    "active": True,
    "website_supports_iframe": False,
    "display_credentials_prompt": False,
}
"""Values of the optional partner fields when a file leaves them out (the schema's defaults)."""

UNIQUE_FIELDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("businesses", ("id",)),
    ("users", ("id",)),
    ("users", ("token",)),
    ("partners", ("id",)),
    ("integrations", ("id",)),
    ("integrations", ("business", "partner")),
)
"""(collection, fields whose values together must not repeat within it)."""
REFERENCES: tuple[tuple[str, str, str], ...] = (
    ("businesses", "preferred_partners", "partners"),
    ("users", "business", "businesses"),
    ("integrations", "business", "businesses"),
    ("integrations", "partner", "partners"),
    ("links", "user", "users"),
    ("links", "partner", "partners"),
)
"""(collection, field, collection whose ids the field must name)."""


def list_scenarios(scenarios_dir: Path) -> list[str]:
    """Names of the scenarios in a directory (`<name>.yaml` files), sorted."""
    if not Path(scenarios_dir).is_dir():
        return []
    files = Path(scenarios_dir).glob("*.yaml")
    return sorted(f.stem for f in files if NAME_PATTERN.fullmatch(f.stem) and f.is_file())


def resolve_scenario(name_or_path: str | Path, scenarios_dir: Path, *, allow_paths: bool = True) -> Path:
    """Turn a bare name into `<scenarios_dir>/<name>.yaml`; accept a `.yaml`/`.yml` path as is."""
    scenarios_dir = Path(scenarios_dir)
    text = str(name_or_path)
    if not isinstance(name_or_path, Path) and NAME_PATTERN.fullmatch(text):
        candidate = scenarios_dir / f"{text}.yaml"
        if candidate.is_file():
            return candidate
        # Over the admin API (no paths), the server's own directory is not the client's business.
        shown = candidate if allow_paths else Path(candidate.name)
        available = _available(scenarios_dir, show_dir=allow_paths)
        raise ScenarioError(shown, None, f"unknown scenario {text!r}; {available}")
    if allow_paths and text.endswith(SUFFIXES):
        return Path(text)
    is_path = isinstance(name_or_path, Path) or "/" in text or "\\" in text
    if not allow_paths:
        problem = "only a scenario name (letters, digits, '_', '-') is accepted here"
    elif is_path:
        problem = "a scenario path must end in .yaml or .yml"
    else:
        problem = "not a scenario name (letters, digits, '_', '-') nor a .yaml path"
    raise ScenarioError(text, None, f"{problem}; {_available(scenarios_dir, show_dir=allow_paths)}")


def load_scenario(
    name_or_path: str | Path, scenarios_dir: Path, *, allow_paths: bool = True, spec: Spec | None = None
) -> DataSet:
    """Load, validate and build a scenario; `allow_paths=False` accepts bare names only. With `spec`,
    its rules are checked against the spec too (operations, statuses, bodies)."""
    path = resolve_scenario(name_or_path, scenarios_dir, allow_paths=allow_paths)
    data, lines = parse_yaml(read_text(path), path)
    _raise_first(path, lines, _problems(data, lines, spec))
    return _build(data)


def _problems(data: Any, lines: Lines, spec: Spec | None) -> list[tuple[JsonPath, str]]:
    """The schema's problems, else the references', else the rules' (without a spec, those that need
    none: patterns, headers, how many)."""
    problems = _schema_problems(data) or _reference_problems(data, lines)
    if not problems and data.get("rules"):
        problems = rule_problems(data["rules"], spec)
    return problems


def load_scenario_text(
    text: str, label: str = "<inline>", max_partners: int | None = None, spec: Spec | None = None
) -> DataSet:
    """Load a scenario sent as text (YAML, or JSON, which YAML reads too), checked exactly like a file;
    errors name `label` as the file. `max_partners` bounds what a client may make the server build."""
    path = Path(label)
    if len(text.encode("utf-8")) > MAX_BYTES:
        limit = MAX_BYTES // 2**20
        raise ScenarioError(path, None, f"the scenario is over {limit} MB; use Faker data for volume")
    data, lines = parse_yaml(text, path)
    partners = data.get("partners") if isinstance(data, dict) else None
    if max_partners is not None and isinstance(partners, list) and len(partners) > max_partners:
        message = f"partners: {len(partners)} given, at most {max_partners} accepted here; use Faker data"
        raise ScenarioError(path, lines.get(("partners",)), message)
    _raise_first(path, lines, _problems(data, lines, spec))
    return _build(data)


def _available(scenarios_dir: Path, show_dir: bool = True) -> str:
    """The "available scenarios: ..." tail of a name error."""
    names = list_scenarios(scenarios_dir)
    if names:
        return f"available scenarios: {', '.join(names)}"
    return f"no scenarios in {scenarios_dir}" if show_dir else "no scenarios are installed"


@lru_cache(maxsize=1)
def _fast_validator() -> Any:
    """jsonschema-rs: answers "valid?" for a large file in milliseconds; jsonschema words the errors."""
    return jsonschema_rs.validator_for(json.loads(SCHEMA_PATH.read_text(encoding="utf-8")))


@lru_cache(maxsize=1)
def _validator() -> Draft202012Validator:
    """The scenario schema's validator, read once."""
    return Draft202012Validator(json.loads(SCHEMA_PATH.read_text(encoding="utf-8")))


def _schema_problems(data: Any) -> list[tuple[JsonPath, str]]:
    """Every schema violation as (path, message), the path pointing at the offending field."""
    problems: list[tuple[JsonPath, str]] = []
    typos: set[tuple[JsonPath, str]] = set()
    if _fast_validator().is_valid(data):
        return problems
    for error in _validator().iter_errors(data):
        at: JsonPath = tuple(error.absolute_path)
        schema = error.schema if isinstance(error.schema, Mapping) else {}
        if error.validator == "additionalProperties":
            known = list(schema.get("properties", {}))
            for extra in (key for key in error.instance if key not in known):
                hint = difflib.get_close_matches(str(extra), known, n=1)
                tail = f"did you mean {hint[0]!r}?" if hint else f"allowed: {', '.join(known)}"
                problems.append(((*at, extra), f"unknown field {extra!r}; {tail}"))
                typos.update((at, f"{key!r} is a required property") for key in hint)
        else:
            problems.append((at, _describe(error, schema.get("description"))))
    return [problem for problem in problems if problem not in typos]  # "nmae" explains "name"


def _describe(error: ValidationError, description: str | None) -> str:
    """A validator message that speaks the scenario author's language."""
    shown = _show(error.instance)
    if error.validator == "enum":
        return f"{shown} is not one of {json.dumps(error.validator_value)}"
    if error.validator == "pattern" and description:
        return f"{shown} is not {description}"
    if error.validator == "type":
        expected = error.validator_value
        expected = expected if isinstance(expected, list) else [expected]
        message = f"{shown} is not of type {' or '.join(expected)}"
        if isinstance(error.instance, bool) and "string" in expected:
            message += " (YAML reads unquoted yes/no/on/off/true/false as booleans: quote it)"
        elif isinstance(error.instance, int | float) and "string" in expected:
            message += " (quote it to keep it a string)"
        return message
    return error.message


def _show(value: Any) -> str:
    """A short repr for messages."""
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _reference_problems(data: dict[str, Any], lines: Lines) -> list[tuple[JsonPath, str]]:
    """Repeated ids, tokens and integrations, and references to ids the file does not define."""
    problems: list[tuple[JsonPath, str]] = []
    seen: dict[tuple[str, tuple[str, ...]], dict[Any, JsonPath]] = {}
    for kind, fields in UNIQUE_FIELDS:
        first = seen.setdefault((kind, fields), {})
        for i, item in enumerate(data.get(kind, [])):
            at, value = (kind, i, fields[-1]), tuple(item[f] for f in fields)
            if value in first:
                shown = f" {value[0]!r}" if len(fields) == 1 else ""
                also = f"(also at line {_line(lines, first[value])})"
                problems.append((at, f"duplicate {' and '.join(fields)}{shown} {also}"))
            first.setdefault(value, at)
    for kind, field, target in REFERENCES:
        ids = seen[(target, ("id",))]
        for i, item in enumerate(data.get(kind, [])):
            value = item.get(field, [])
            found: list[tuple[JsonPath, Any]] = (
                [((kind, i, field, j), v) for j, v in enumerate(value)]
                if isinstance(value, list)
                else [((kind, i, field), value)]
            )
            problems += [
                (at, f"{v!r} is not the id of any of the {target}") for at, v in found if (v,) not in ids
            ]
    if "default_user" in data and (data["default_user"],) not in seen[("users", ("id",))]:
        problems.append((("default_user",), f"{data['default_user']!r} is not the id of any user"))
    return problems


def _raise_first(path: Path, lines: Lines, problems: list[tuple[JsonPath, str]]) -> None:
    """Raise every problem, in file order (the first MAX_PROBLEMS of them, counting the rest)."""
    if not problems:
        return
    ordered = sorted(range(len(problems)), key=lambda n: (_line(lines, problems[n][0]), n))
    found = tuple(
        (_line(lines, at), f"{_dotted(at)}: {message}" if at else message)
        for at, message in (problems[n] for n in ordered)
    )
    raise ScenarioProblems(path, found)


class ScenarioProblems(ScenarioError):
    """Several problems of one file; `line` and `message` are the first one's, `str()` lists them all,
    one `file:line: problem` a line, up to MAX_PROBLEMS."""

    def __init__(self, path: Path, problems: tuple[tuple[int, str], ...]) -> None:
        line, message = problems[0]
        super().__init__(path, line, message)
        self.problems = problems

    def lines(self) -> list[str]:
        """Each problem shown as `file:line: problem`; past MAX_PROBLEMS, one line counting the rest."""
        shown = [f"{self.path}:{line}: {message}" for line, message in self.problems[:MAX_PROBLEMS]]
        left = len(self.problems) - MAX_PROBLEMS
        if left > 0:
            shown.append(f"{self.path}: and {left} more problem{'s' if left > 1 else ''} in this file")
        return shown

    def __str__(self) -> str:
        return "\n".join(self.lines())


def _line(lines: Lines, at: JsonPath) -> int:
    """The line of a path, or of its nearest ancestor the node index knows."""
    while at not in lines:
        at = at[:-1]
    return lines[at]


def _dotted(at: JsonPath) -> str:
    """A JSON path as the author would write it: partners[2].status."""
    text = ""
    for part in at:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _build(data: dict[str, Any]) -> DataSet:
    """Frozen model objects from validated data, filling the schema's defaults."""
    users = tuple(
        User(u["id"], u["first_name"], u["last_name"], u["email"], u["business"], u["token"])
        for u in data["users"]
    )
    businesses = tuple(
        Business(b["id"], b["name"], frozenset(b.get("preferred_partners", []))) for b in data["businesses"]
    )
    integrations = tuple(
        PartnerIntegration(
            i["id"],
            i["business"],
            i["partner"],
            i.get("active", False),
            i.get("requested", False),
            i.get("integration_login"),
        )
        for i in data.get("integrations", [])
    )
    return DataSet(
        businesses=businesses,
        users=users,
        partners=tuple(_partner(p) for p in data["partners"]),
        integrations=integrations,
        user_partner_links=frozenset((k["user"], k["partner"]) for k in data.get("links", [])),
        default_user_id=data.get("default_user", users[0].id),
        rules=tuple(data.get("rules", [])),
    )


def _partner(fields: dict[str, Any]) -> Partner:
    """One partner, PARTNER_DEFAULTS filling the optional attributes."""
    values = {**PARTNER_DEFAULTS, **fields}
    values["categories"] = tuple(values["categories"])
    values["wholesaler_types"] = tuple(values["wholesaler_types"])
    return Partner(**values)
