"""`mockserver pact verify`: each HTTP interaction of a Pact checked against the spec with the mock's
own request validation, and its answer against the spec with a consumer's reading of it.

The request is checked exactly as the mock checks one (a Flask test request through
`validation.validate_current_request`: every query form the mock reads, unknown filters refused,
headers, media type, strict JSON body). The answer's status must be declared; its body must fit the
schema as a consumer reads it: fields may be left out (`required` does not bind a consumer), a field
the schema does not have is an error (wherever the object schema lists its properties, whatever its
`type`), and a `oneOf` is met when the consumer's subset fits one branch. An interaction answered
4xx must have a request the spec refuses, with that status, for the reason the answer names.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flask import Flask
from jsonschema.exceptions import ValidationError as SchemaError
from openapi_schema_validator import OAS31Validator

from mockserver.contract.spec import Operation, PathEntry, Spec, admin_spec
from mockserver.contract.validation import init_app as init_validation
from mockserver.contract.validation import validate_current_request
from mockserver.contract.wording import describe_schema_error, json_pointer, unexpected_keys
from mockserver.core.api_errors import ApiError, ErrorItem
from mockserver.core.settings import Settings

from .model import NO_BODY, Interaction, Pact, escape, pointer
from .states import state_problems

REFUSALS = frozenset({400, 405, 415, 422})
"""Statuses the mock answers only when the spec refuses the request (the others depend on data: 404
of an unknown id, 401 of an unknown token, 403, 409; or on the server: 408, 413)."""


@dataclass(frozen=True)
class Finding:
    code: str
    """Stable: `request.<the mock's error code>`, `response.<what>`, `refusal.<what>`, `state.<what>`,
    `interaction.not_http` (a skipped interaction, not an error)."""
    message: str
    interaction: str
    """The interaction's description."""
    pact_at: str
    """JSON pointer in the Pact file."""
    spec_at: str
    """`<spec file>#<JSON pointer>`, following the spec's `$ref`s to where the rule is written."""
    error: bool = True

    def to_json(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "level": "error" if self.error else "skipped",
            "interaction": self.interaction,
            "pact": self.pact_at,
            "spec": self.spec_at,
            "message": self.message,
        }


@dataclass
class PactResult:
    path: str
    findings: list[Finding] = field(default_factory=list)
    interactions: list[Interaction] = field(default_factory=list)
    unreadable: str | None = None

    @property
    def compatible(self) -> bool:
        return self.unreadable is None and not any(f.error for f in self.findings)


class Verifier:
    """Checks interactions against one spec; built once, used for every Pact file."""

    def __init__(self, spec: Spec) -> None:
        self.spec = spec
        self.spec_name = spec.path.name
        self.app = _validating_app(spec)
        self._subsets: dict[int, OAS31Validator] = {}

    def verify(self, pact: Pact) -> PactResult:
        result = PactResult(pact.path, interactions=list(pact.interactions))
        for interaction in pact.interactions:
            # a value can break two keywords with one message (a UUID's format and pattern): once
            seen: set[tuple[str, str, str]] = set()
            for finding in self.check(interaction):
                if (key := (finding.code, finding.pact_at, finding.message)) not in seen:
                    seen.add(key)
                    result.findings.append(finding)
        for skipped in pact.skipped:
            message = f"not an HTTP interaction ({skipped.kind}): not checked"
            result.findings.append(
                Finding("interaction.not_http", message, skipped.description, skipped.at, "", error=False)
            )
        return result

    def check(self, interaction: Interaction) -> Iterator[Finding]:
        """Every finding on one interaction: its states, its request, its answer."""
        yield from self._states(interaction)
        request = interaction.request
        entry = self.spec.match_path(request.path.split("?", 1)[0])
        operation = entry.operations.get(request.method) if entry else None
        refusal = self._refusal(interaction)
        status = interaction.response.status
        if 400 <= status < 500:
            yield from self._refused(interaction, refusal, entry, operation)
        elif refusal:
            yield from (self._request_finding(interaction, item, entry, operation) for item in refusal)
        if entry is not None and operation is not None:
            yield from self._answer(interaction, entry, operation)

    # --- states -----------------------------------------------------------------------------------

    def _states(self, interaction: Interaction) -> Iterator[Finding]:
        for problem in state_problems(interaction.states):
            at = f"{interaction.at}/providerStates/{problem.number}"
            if problem.param:
                at += f"/params/{escape(problem.param)}"
            yield Finding("state.invalid_params", problem.message, interaction.description, at, "")

    # --- the request ------------------------------------------------------------------------------

    def _refusal(self, interaction: Interaction) -> tuple[ErrorItem, ...]:
        """What the mock answers the request with before any view runs: no items when it accepts it."""
        request = interaction.request
        headers = [(name, value) for name, values in request.headers.items() for value in values]
        data = request.body.raw if request.body is not None else b""
        path, _, inline_query = request.path.partition("?")
        query = "&".join(part for part in (inline_query, request.query) if part)
        with self.app.test_request_context(
            path or "/", method=request.method, query_string=query, headers=headers, data=data
        ):
            try:
                validate_current_request()
            except ApiError as error:
                return error.items
        return ()

    def _refused(
        self,
        interaction: Interaction,
        refusal: tuple[ErrorItem, ...],
        entry: PathEntry | None,
        operation: Operation | None,
    ) -> Iterator[Finding]:
        """An interaction answered 4xx: the spec must refuse its request with that status, for the
        reason the answer names (its `errors[].source`); or the refusal must depend on data."""
        status = interaction.response.status
        response = interaction.response
        if not refusal:
            if status in REFUSALS:
                message = (
                    f"answered {status}, but the spec accepts this request: a provider that follows it "
                    f"does not refuse it with {status}"
                )
                yield Finding(
                    "refusal.request_accepted",
                    message,
                    interaction.description,
                    f"{response.at}/status",
                    self._operation_at(entry, operation),
                )
            return
        statuses = sorted({item.kind.status for item in refusal})
        if status not in statuses:
            for item in refusal:
                finding = self._request_finding(interaction, item, entry, operation)
                shown = "/".join(map(str, statuses))
                yield _replace_message(
                    finding, f"{finding.message} (the spec refuses it with {shown}, not {status})"
                )
            return
        given = _expected_sources(response.body.value if response.body else NO_BODY)
        actual = {_source_key(item.source) for item in refusal if item.source}
        for number, source in given:
            if _source_key(source) not in actual:
                kind, value = source
                refused = "; ".join(item.detail for item in refusal)
                yield Finding(
                    "refusal.other_reason",
                    f"the answer names {kind} {value!r}, but the spec refuses the request for another "
                    f"reason: {refused}",
                    interaction.description,
                    f"{_body_at(response.body)}/errors/{number}/source/{escape(kind)}",
                    self._operation_at(entry, operation),
                )

    def _request_finding(
        self, interaction: Interaction, item: ErrorItem, entry: PathEntry | None, operation: Operation | None
    ) -> Finding:
        request = interaction.request
        pact_at, spec_at = f"{request.at}/path", self._at("paths")
        kind, value = item.source or ("", "")
        if entry is not None and operation is None:
            pact_at, spec_at = f"{request.at}/method", self._at("paths", entry.template)
        elif entry is not None and operation is not None:
            spec_at = self._operation_at(entry, operation)
            if kind == "parameter" and value in entry.parameter_names:
                spec_at = self._parameter_at(entry, operation, value)
            elif kind == "parameter":
                sent = _sent_name(value, request.query_keys)
                pact_at = f"{request.query_at}/{escape(sent)}" if sent else request.query_at
                spec_at = self._parameter_at(entry, operation, value)
            elif kind == "header":
                pact_at = request.header_at(value)
                if value.lower() == "content-type":
                    spec_at = self._at(
                        "paths", entry.template, operation.method.lower(), "requestBody", "content"
                    )
                else:
                    spec_at = self._parameter_at(entry, operation, value)
            elif kind == "pointer":
                pact_at = _body_at(request.body) + value
                media = request.media_type or "application/json"
                spec_at = self._at(
                    "paths",
                    entry.template,
                    operation.method.lower(),
                    "requestBody",
                    "content",
                    media,
                    "schema",
                )
        return Finding(f"request.{item.kind.code}", item.detail, interaction.description, pact_at, spec_at)

    # --- the answer -------------------------------------------------------------------------------

    def _answer(self, interaction: Interaction, entry: PathEntry, operation: Operation) -> Iterator[Finding]:
        response = interaction.response
        method = operation.method.lower()
        responses = self.spec.resolved["paths"][entry.template][method].get("responses", {})
        code = str(response.status)
        declared = next((key for key in (code, f"{code[0]}XX", "default") if key in responses), None)
        if declared is None:
            listed = ", ".join(sorted(responses))
            yield Finding(
                "response.status_undeclared",
                f"{operation.operation_id} declares no {code} answer (declared: {listed})",
                interaction.description,
                f"{response.at}/status",
                self._at("paths", entry.template, method, "responses"),
            )
            return
        body = response.body
        if body is None:
            return
        content = responses[declared].get("content") or {}
        where = ("paths", entry.template, method, "responses", declared)
        if not content:
            yield Finding(
                "response.body_undeclared",
                f"the {code} answer of {operation.operation_id} has no body in the spec",
                interaction.description,
                body.at,
                self._at(*where),
            )
            return
        media = response.media_type or ("application/json" if body.value is not NO_BODY else None)
        schema_key = _media_key(media, content)
        if schema_key is None:
            yield Finding(
                "response.media_type_undeclared",
                f"the {code} answer of {operation.operation_id} is {media or 'without Content-Type'}; "
                f"the spec declares {', '.join(content)}",
                interaction.description,
                response.header_at("Content-Type"),
                self._at(*where, "content"),
            )
            return
        schema = content[schema_key].get("schema")
        if schema is None:
            return
        if body.value is NO_BODY:
            yield Finding(
                "response.malformed_body",
                f"the {code} answer is not JSON",
                interaction.description,
                body.at,
                self._at(*where, "content", schema_key),
            )
            return
        validator = self._subset_validator(schema)
        for error in validator.iter_errors(body.value):
            yield from self._body_findings(interaction, error, (*where, "content", schema_key, "schema"))

    def _subset_validator(self, schema: dict[str, Any]) -> OAS31Validator:
        check = self._subsets.get(id(schema))
        if check is None:
            check = OAS31Validator(consumer_subset(schema), format_checker=OAS31Validator.FORMAT_CHECKER)
            self._subsets[id(schema)] = check
        return check

    def _body_findings(
        self, interaction: Interaction, error: SchemaError, schema_at: tuple[str, ...]
    ) -> Iterator[Finding]:
        body_at = _body_at(interaction.response.body)
        if error.validator == "anyOf" and error.context:
            branch, errors = _nearest_branch(error)
            for inner in errors:
                for finding in self._body_findings(interaction, inner, schema_at):
                    yield _replace_message(
                        finding, f"{finding.message} (fits no branch of the oneOf; nearest: branch {branch})"
                    )
            return
        path = list(error.absolute_path)
        schema_path = [str(part) for part in error.absolute_schema_path]
        if error.validator == "additionalProperties":
            for key in unexpected_keys(error):
                field_at = json_pointer([*path, key])
                yield Finding(
                    "response.unexpected_field",
                    f"{field_at} is not in the spec's schema (a provider that follows it never sends it)",
                    interaction.description,
                    body_at + field_at,
                    self._at(*schema_at, *schema_path[:-1]),
                )
            return
        subject = json_pointer(path) or "the body"
        yield Finding(
            "response.invalid_body",
            f"{subject} {describe_schema_error(error)}",
            interaction.description,
            body_at + json_pointer(path),
            self._at(*schema_at, *schema_path),
        )

    # --- where in the spec ------------------------------------------------------------------------

    def _operation_at(self, entry: PathEntry | None, operation: Operation | None) -> str:
        if entry is None:
            return self._at("paths")
        if operation is None:
            return self._at("paths", entry.template)
        return self._at("paths", entry.template, operation.method.lower())

    def _parameter_at(self, entry: PathEntry, operation: Operation, name: str) -> str:
        """The parameter's place in the spec (where the operation or its path lists it); the
        operation's parameters when it declares none of this name."""
        base = _base_name(name)
        method = operation.method.lower()
        item = self.spec.resolved["paths"][entry.template]
        for owner in ((method,), ()):
            parameters = (item[method] if owner else item).get("parameters", [])
            for number, parameter in enumerate(parameters):
                if parameter.get("name") in (name, base, f"{base}[]"):
                    return self._at("paths", entry.template, *owner, "parameters", str(number))
        return self._at("paths", entry.template, method, "parameters")

    def _at(self, *tokens: str) -> str:
        return f"{self.spec_name}#{locate(self.spec.document, tokens)}"


def _replace_message(finding: Finding, message: str) -> Finding:
    return Finding(
        finding.code, message, finding.interaction, finding.pact_at, finding.spec_at, finding.error
    )


def _validating_app(spec: Spec) -> Flask:
    """A Flask app that only validates requests, as the mock does (the same limits, the same code)."""
    app = Flask(__name__)
    app.config.update(MAX_CONTENT_LENGTH=Settings().max_body_bytes)
    init_validation(app, spec, "compiled", admin_spec())
    return app


def _body_at(body: Any) -> str:
    return str(body.at) if body is not None else ""


def _media_key(media: str | None, content: dict[str, Any]) -> str | None:
    """The declared media type a response's media type falls under (exact, `type/*` or `*/*`)."""
    if media is None:
        return None
    for key in (media, media.split("/", 1)[0] + "/*", "*/*"):
        if key in content:
            return key
    return None


_INDEX = re.compile(r"\[[0-9]*\]$")


def _base_name(name: str) -> str:
    """`filter[x][]`, `filter[x][0]` and `filter[x]` are one list parameter: `filter[x]`."""
    return _INDEX.sub("", name) if name.count("[") > 1 else name


def _sent_name(name: str, sent: tuple[str, ...]) -> str | None:
    """The query key the Pact used for a parameter the mock names (any of its list forms)."""
    if name in sent:
        return name
    return next((key for key in sent if _base_name(key) == _base_name(name)), None)


def _source_key(source: Any) -> tuple[str, str]:
    kind, value = source
    return (kind, _base_name(value) if kind == "parameter" else value.lower() if kind == "header" else value)


def _expected_sources(value: Any) -> list[tuple[int, tuple[str, str]]]:
    """The `source` of each JSON:API error in an answer's body: what the refusal is about."""
    errors = value.get("errors") if isinstance(value, dict) else None
    found = []
    for number, item in enumerate(errors if isinstance(errors, list) else []):
        source = item.get("source") if isinstance(item, dict) else None
        if isinstance(source, dict):
            for kind in ("parameter", "pointer", "header"):
                if isinstance(source.get(kind), str):
                    found.append((number, (kind, source[kind])))
    return found


def _nearest_branch(error: SchemaError) -> tuple[int, list[SchemaError]]:
    """The branch of a `oneOf` (checked as anyOf) the value comes closest to: fewest errors, and
    among those the first."""
    by_branch: dict[int, list[SchemaError]] = {}
    depth = len(error.absolute_schema_path)
    for inner in error.context or []:
        branch = int(list(inner.absolute_schema_path)[depth])
        by_branch.setdefault(branch, []).append(inner)
    branch = min(by_branch, key=lambda number: (len(by_branch[number]), number))
    return branch, by_branch[branch]


def consumer_subset(schema: Any, in_all_of: bool = False) -> Any:
    """The schema as a consumer's example must fit it: no `required` (nor minProperties or
    dependentRequired), a `oneOf` read as `anyOf` (a subset may fit several branches), and every
    object schema that lists its properties closed to others unless it says otherwise (not inside
    an `allOf`, whose branches share one object)."""
    if not isinstance(schema, dict):
        return schema
    subset: dict[str, Any] = {}
    for key, value in schema.items():
        if key in ("required", "minProperties", "dependentRequired"):
            continue
        if key in ("properties", "patternProperties", "$defs", "dependentSchemas"):
            subset[key] = {name: consumer_subset(item) for name, item in value.items()}
        elif key in ("anyOf", "prefixItems"):
            subset[key] = [consumer_subset(item) for item in value]
        elif key == "oneOf":
            branches = [consumer_subset(item) for item in value]
            if "anyOf" in schema:
                subset.setdefault("allOf", []).append({"anyOf": branches})
            else:
                subset["anyOf"] = branches
        elif key == "allOf":
            subset.setdefault("allOf", []).extend(consumer_subset(item, in_all_of=True) for item in value)
        elif key in ("items", "additionalProperties", "contains", "if", "then", "else", "unevaluatedItems"):
            subset[key] = consumer_subset(value)
        else:
            subset[key] = value
    closed_by = ("additionalProperties", "unevaluatedProperties", "patternProperties")
    if "properties" in schema and not in_all_of and not any(key in schema for key in closed_by):
        subset["additionalProperties"] = False
    return subset


def locate(document: Any, tokens: tuple[str, ...]) -> str:
    """The JSON pointer in `document` that `tokens` reach when every `$ref` on the way is followed
    (a oneOf read as anyOf is the oneOf; a keyword the consumer's reading added stops the walk)."""
    at: list[str] = []
    node = document
    for token in tokens:
        node, at = _follow(document, node, at)
        if isinstance(node, dict):
            if token == "anyOf" and "anyOf" not in node and "oneOf" in node:
                token = "oneOf"
            if token not in node:
                break
            node = node[token]
        elif isinstance(node, list) and token.isdigit() and int(token) < len(node):
            node = node[int(token)]
        else:
            break
        at.append(token)
    _, at = _follow(document, node, at)
    return pointer(*at)


def _follow(document: Any, node: Any, at: list[str]) -> tuple[Any, list[str]]:
    for _ in range(64):
        ref = node.get("$ref") if isinstance(node, dict) else None
        if not isinstance(ref, str) or not ref.startswith("#/"):
            break
        at = [part.replace("~1", "/").replace("~0", "~") for part in ref[2:].split("/")]
        node = document
        for part in at:
            node = node.get(part) if isinstance(node, dict) else None
    return node, at


def verify_files(paths: list[Path], spec: Spec) -> list[PactResult]:
    """Each file read and checked; one that cannot be read is a result with `unreadable` set."""
    from .model import PactUnreadable, read_pact_file

    verifier = Verifier(spec)
    results = []
    for path in paths:
        try:
            pact = read_pact_file(path)
        except PactUnreadable as error:
            results.append(PactResult(str(path), unreadable=str(error)))
            continue
        results.append(verifier.verify(pact))
    return results
