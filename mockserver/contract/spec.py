"""The OpenAPI document, read once: an openapi-core `OpenAPI` plus an index of its operations."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import yaml

from mockserver.core.channels import SPEC_EXTENSION
from mockserver.core.context import current_flask_app
from mockserver.core.startup_errors import MockServerError

if TYPE_CHECKING:
    from openapi_core import OpenAPI

HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
T = TypeVar("T")

DOCS_PAGE = "/docs"
DOCS_ASSETS = "/docs/assets/"
DOCS_SPEC = "/docs/openapi.json"
"""The spec as the page renders it: examples that name the served data set (docs_page)."""
DOCS_PATHS = (DOCS_PAGE, DOCS_SPEC, "/openapi.yaml", "/openapi.json")
DOCS_METHODS = ("GET", "HEAD", "OPTIONS")


def is_docs_path(path: str) -> bool:
    """The documentation (`docs_page`): the spec as served and the page rendering it, which are not
    operations of the spec, so requests for them with DOCS_METHODS are not validated against it."""
    return path.removesuffix("/") in DOCS_PATHS or path.startswith(DOCS_ASSETS)


class SpecError(MockServerError):
    """The spec file is missing, unreadable, or not a valid OpenAPI document."""


@dataclass(frozen=True)
class Operation:
    operation_id: str
    method: str
    """Upper case, as in HTTP."""
    path_template: str
    query_parameters: frozenset[str]
    array_parameters: frozenset[str]
    """Query parameters that may legitimately repeat."""
    has_body: bool
    integer_bounds: dict[str, tuple[int | None, int | None]]
    """Integer query parameters and their (minimum, maximum)."""


@dataclass(frozen=True)
class PathEntry:
    template: str
    pattern: re.Pattern[str]
    """Matches a URL path; one group per templated segment, in `parameter_names` order."""
    parameter_names: tuple[str, ...]
    literal_segments: int
    operations: dict[str, Operation]

    def path_values(self, url_path: str) -> dict[str, str]:
        match = self.pattern.fullmatch(url_path)
        return dict(zip(self.parameter_names, match.groups(), strict=True)) if match else {}

    @property
    def allowed_methods(self) -> list[str]:
        """Declared methods, plus HEAD (answered as GET) and OPTIONS (CORS preflight)."""
        implicit = ["HEAD", "OPTIONS"] if "GET" in self.operations else ["OPTIONS"]
        return [*sorted(self.operations), *implicit]


@dataclass(frozen=True, eq=False)
class Spec:
    """The loaded spec: openapi-core's validator and our own path index (for 404/405 and Allow).

    Immutable, so one instance serves every app built from the same file (tests build many).
    """

    path: Path
    openapi: OpenAPI
    document: dict[str, Any]
    resolved: dict[str, Any]
    """The document with every local `$ref` inlined, resolved once at load."""
    paths: tuple[PathEntry, ...]
    _derived: dict[str, Any] = field(default_factory=dict, repr=False)
    _derived_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def derived(self, key: str, build: Callable[[Spec], T]) -> T:
        """Something computed from the spec (compiled validators), built once per spec."""
        with self._derived_lock:
            if key not in self._derived:
                self._derived[key] = build(self)
            value: T = self._derived[key]
            return value

    def match_path(self, url_path: str) -> PathEntry | None:
        """The path entry for a URL path; literal segments win over templated ones."""
        for entry in self.paths:
            if entry.pattern.fullmatch(url_path):
                return entry
        return None


def _template_pattern(template: str) -> re.Pattern[str]:
    parts = re.split(r"(\{[^}/]+\})", template)
    regex = "".join("([^/]+)" if p.startswith("{") else re.escape(p) for p in parts)
    return re.compile(regex)


_MAX_REF_DEPTH = 64


def resolve_refs(document: dict[str, Any], node: Any, depth: int = 0) -> Any:
    """A copy of `node` with every local `$ref` inlined (the spec has no recursive schemas)."""
    if depth > _MAX_REF_DEPTH:
        raise ValueError("schema nests $ref too deeply (recursive?)")
    if isinstance(node, dict):
        if "$ref" in node:
            target: Any = document
            for part in node["$ref"].removeprefix("#/").split("/"):
                target = target[part.replace("~1", "/").replace("~0", "~")]
            return resolve_refs(document, target, depth + 1)
        return {key: resolve_refs(document, value, depth + 1) for key, value in node.items()}
    if isinstance(node, list):
        return [resolve_refs(document, item, depth + 1) for item in node]
    return node


def _index_operations(resolved: dict[str, Any]) -> tuple[PathEntry, ...]:
    entries = []
    for template, item in resolved.get("paths", {}).items():
        shared = list(item.get("parameters", []))
        operations = {}
        for method in HTTP_METHODS:
            op = item.get(method)
            if op is None:
                continue
            params = shared + list(op.get("parameters", []))
            query = [p for p in params if p.get("in") == "query"]
            arrays = {
                p["name"]
                for p in query
                if p.get("schema", {}).get("type") == "array"
                and p.get("explode", p.get("style", "form") == "form")
            }
            operations[method.upper()] = Operation(
                operation_id=op.get("operationId", f"{method} {template}"),
                method=method.upper(),
                path_template=template,
                query_parameters=frozenset(p["name"] for p in query),
                array_parameters=frozenset(arrays),
                has_body="requestBody" in op,
                integer_bounds={
                    p["name"]: (schema.get("minimum"), schema.get("maximum"))
                    for p in query
                    if (schema := p.get("schema", {})).get("type") == "integer"
                },
            )
        literal = sum(1 for seg in template.split("/") if seg and not seg.startswith("{"))
        names = tuple(re.findall(r"\{([^}/]+)\}", template))
        entries.append(PathEntry(template, _template_pattern(template), names, literal, operations))
    entries.sort(key=lambda e: -e.literal_segments)
    return tuple(entries)


SPEC_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
"""libyaml's safe loader where PyYAML was built with it (its wheels are): the spec and the admin spec
are read in a fifth to a tenth of the pure-Python loader's time (0.17 s less start-up here). The
documents are the same; only the wording of a syntax error's position may differ."""


def read_spec_document(path: Path) -> dict[str, Any]:
    """The spec as data; SpecError when it is missing, not YAML, or has no paths."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SpecError(f"cannot read spec {path}: {exc.strerror}") from None
    try:
        document = yaml.load(text, Loader=SPEC_LOADER)
    except yaml.YAMLError as exc:
        raise SpecError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(document, dict) or "paths" not in document:
        raise SpecError(f"{path}: not an OpenAPI document (no 'paths')")
    return document


def load_spec(path: Path, validate: bool = True) -> Spec:
    """Read, validate (openapi-spec-validator, through openapi-core) and index the spec; SpecError.

    `validate=False` skips the validation (half a second) for a document the test suite validates.
    """
    from jsonschema.exceptions import ValidationError
    from openapi_core import Config, OpenAPI

    document = read_spec_document(path)
    # openapi-core documents spec_validator_cls=None as the way to skip validation; its hint omits None.
    config = None if validate else Config(spec_validator_cls=None)  # type: ignore[arg-type]
    try:
        openapi = OpenAPI.from_dict(document, base_uri=path.resolve().as_uri(), config=config)
    except ValidationError as exc:
        where = "/".join(str(part) for part in exc.absolute_path) or "the top level"
        reason = str(exc.message).split("\n", 1)[0][:300]  # the rest repeats the whole document
        raise SpecError(f"{path}: not a valid OpenAPI document: {reason} (at {where})") from None
    try:
        resolved = resolve_refs(document, document)
    except (KeyError, TypeError, ValueError) as exc:
        raise SpecError(f"{path}: a $ref cannot be resolved: {exc}") from None
    return Spec(
        path=path, openapi=openapi, document=document, resolved=resolved, paths=_index_operations(resolved)
    )


ADMIN_SPEC_PATH = Path(__file__).resolve().parent.parent / "admin" / "admin-openapi.yaml"


@lru_cache(maxsize=1)
def admin_spec() -> Spec:
    """The admin API's own document (packaged with the code), loaded once per process; not validated
    at start-up (tests/test_admin_contract.py validates it)."""
    return load_spec(ADMIN_SPEC_PATH, validate=False)


def get_spec() -> Spec:
    """The current app's spec."""
    app = current_flask_app()
    spec: Spec = app.extensions[SPEC_EXTENSION]
    return spec


def responses_in(spec: Spec, operation: Operation) -> dict[str, Any]:
    """The operation's declared responses, `$ref`s resolved, by status."""
    item = spec.resolved["paths"][operation.path_template]
    responses: dict[str, Any] = item[operation.method.lower()]["responses"]
    return responses


def named_examples(response: dict[str, Any]) -> dict[str, Any]:
    """A response's named examples (of its JSON content), by name."""
    media = response.get("content", {}).get("application/json", {})
    return {name: example.get("value") for name, example in media.get("examples", {}).items()}
