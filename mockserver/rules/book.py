"""Rules: answers chosen by request content, declared in a scenario file (`rules:`) or added at run time
through `/__admin/rules`, so that a frontend sees any state and its retry logic can be tested.

A rule matches like a journal pattern (`journal.patterns.Pattern`: operation, method and path, query,
headers and JSON body subsets) and answers with `respond`, or with the next reply of `sequence` (the
last one repeats: first call 503, then 200), at most `times` times. A reply names a status and a body
(literal, or a named example of the spec) and may add headers, a delay or a transport fault; one with
no status, body or example lets the mock answer as usual, late or with extra headers.

Rules are checked when they are loaded: the operation must exist, the status must be one it declares,
the body must fit that response's schema and a `Content-Type` header must be a media type it declares,
unless the rule says `contract_violation: true`. Whatever the rule says, its path pattern must be one
RE2 compiles (see `journal.patterns`), its headers valid HTTP fields, and none of them one that frames
the message or the connection (those are the server's: a rule's `Content-Length` would desynchronize
the answers that follow on the connection). Each session has its own rule book (the data set's rules
plus those added for it, at most MAX_RULES), with its own counts, indexed by operation: a request
tries only its operation's rules.
"""

from __future__ import annotations

import random
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from openapi_schema_validator import OAS31Validator
from werkzeug.http import parse_options_header

from mockserver.contract.query_arrays import server_query_reading
from mockserver.contract.spec import Operation, Spec, named_examples, responses_in
from mockserver.contract.wording import JsonPath
from mockserver.journal.log import Entry
from mockserver.journal.patterns import Pattern, pattern_problems

FAULTS = ("close", "truncate", "malformed")
MAX_RULES = 200
"""Rules of one session: the data set's and those added at run time together."""
FRAMING_HEADERS = frozenset(
    ("content-length", "transfer-encoding", "connection", "keep-alive", "upgrade", "te", "trailer")
)
"""Headers that frame the message or manage the connection (and `Proxy-*`): never a rule's to set."""
HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
"""An RFC 9110 token."""
HEADER_VALUE = re.compile(r"[\t\x20-\x7e]*")
"""Visible ASCII, spaces and tabs: no CR, LF, NUL or other control character, no raw non-ASCII byte."""
UNSET: Any = object()
"""No literal body given."""


@dataclass(frozen=True)
class Reply:
    status: int | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    body: Any = UNSET
    example: str | None = None
    delay_ms: tuple[int, int] | None = None
    """(lowest, highest); a fixed delay has both equal."""
    fault: str | None = None

    @property
    def answers_itself(self) -> bool:
        """False when the mock's own view answers (the reply only adds headers, a delay or a fault)."""
        return self.status is not None or self.body is not UNSET or self.example is not None

    def to_json(self) -> dict[str, Any]:
        found: dict[str, Any] = {}
        if self.status is not None:
            found["status"] = self.status
        if self.headers:
            found["headers"] = dict(self.headers)
        if self.body is not UNSET:
            found["body"] = self.body
        if self.example is not None:
            found["example"] = self.example
        if self.delay_ms is not None:
            low, high = self.delay_ms
            found["delay"] = low if low == high else f"{low}-{high}"
        if self.fault is not None:
            found["fault"] = self.fault
        return found


@dataclass(frozen=True)
class Rule:
    id: str
    operation: Operation
    pattern: Pattern
    match: Mapping[str, Any]
    """The `match` as written, for /__admin/rules."""
    replies: tuple[Reply, ...]
    times: int | None = None
    contract_violation: bool = False
    origin: str = "scenario"
    """"scenario" (the data set's) or "admin" (added at run time)."""

    def to_json(self, hits: int) -> dict[str, Any]:
        found: dict[str, Any] = {
            "id": self.id,
            "match": dict(self.match),
            "origin": self.origin,
            "hits": hits,
        }
        if len(self.replies) == 1:
            found["respond"] = self.replies[0].to_json()
        else:
            found["sequence"] = [reply.to_json() for reply in self.replies]
        if self.times is not None:
            found["times"] = self.times
        if self.contract_violation:
            found["contract_violation"] = True
        return found


class RuleError(ValueError):
    """Rules that cannot be used: each problem is (JSON path from the rule list, message)."""

    def __init__(self, problems: list[tuple[JsonPath, str]]) -> None:
        super().__init__("; ".join(message for _, message in problems))
        self.problems = problems


class TooManyRules(RuntimeError):
    """The session holds MAX_RULES rules already."""


def _operation(match: Mapping[str, Any], spec: Spec) -> Operation | str:
    """The operation a match names, or why there is none."""
    if "operation_id" in match:
        for entry in spec.paths:
            for operation in entry.operations.values():
                if operation.operation_id == match["operation_id"]:
                    return operation
        known = sorted(op.operation_id for e in spec.paths for op in e.operations.values())
        return f"no operation {match['operation_id']!r}; operations: {', '.join(known)}"
    if "method" in match and "path" in match:
        path_entry = spec.match_path(match["path"])
        method = "GET" if match["method"] == "HEAD" else match["method"]
        if path_entry is None or method not in path_entry.operations:
            return f"no operation serves {match['method']} {match['path']}"
        return path_entry.operations[method]
    return "name the operation: operation_id, or method and path"


def _delay(raw: Any) -> tuple[int, int] | None:
    if raw is None:
        return None
    if isinstance(raw, int):
        return (raw, raw)
    low, _, high = str(raw).partition("-")
    return (int(low), int(high))


def _reply_problems(
    reply: Mapping[str, Any], operation: Operation, at: JsonPath, violation: bool, spec: Spec
) -> list[tuple[JsonPath, str]]:
    """Is this reply within the contract? (A fault or a deliberate violation is not checked.)"""
    problems: list[tuple[JsonPath, str]] = []
    if violation or reply.get("fault") is not None:
        return problems
    responses = responses_in(spec, operation)
    declared = sorted(code for code in responses if code.isdigit())
    status = reply.get("status")
    if status is None:
        if "body" in reply or "example" in reply:
            problems.append((at, "a body or example needs a status"))
        success = min((code for code in declared if code.startswith("2")), default=None)
        if success is not None:  # the mock's own answer: its success status, as a rule does not say
            problems += _media_type_problems(reply, responses[success], success, operation, at)
        return problems
    if str(status) not in declared:
        message = (
            f"{status} is not a status {operation.operation_id} declares ({', '.join(declared)}); "
            "mark the rule contract_violation: true to answer it anyway"
        )
        return [*problems, ((*at, "status"), message)]
    response = responses[str(status)]
    problems += _media_type_problems(reply, response, str(status), operation, at)
    if "example" in reply:
        examples = named_examples(response)
        if reply["example"] not in examples:
            listed = ", ".join(examples) or "none"
            problems.append(
                ((*at, "example"), f"{reply['example']!r} is not a named example of {status}: {listed}")
            )
    if "body" in reply:
        content = response.get("content", {}).get("application/json")
        if content is None:
            if reply["body"] is not None:
                problems.append(((*at, "body"), f"{status} of {operation.operation_id} has no body"))
        else:
            validator = OAS31Validator(
                content.get("schema", {}), format_checker=OAS31Validator.FORMAT_CHECKER
            )
            for error in validator.iter_errors(reply["body"]):
                where = "".join(f"/{part}" for part in error.absolute_path)
                problems.append(((*at, "body", *error.absolute_path), f"body{where}: {error.message}"))
    return problems


def _media_type_problems(
    reply: Mapping[str, Any], response: Mapping[str, Any], status: str, operation: Operation, at: JsonPath
) -> list[tuple[JsonPath, str]]:
    """A `Content-Type` the response of this status does not declare."""
    problems: list[tuple[JsonPath, str]] = []
    declared = list(response.get("content", {}))
    for name, value in reply.get("headers", {}).items():
        if name.lower() != "content-type":
            continue
        media_type, _ = parse_options_header(value)
        if not any(_media_type_fits(media_type, listed) for listed in declared):
            message = (
                f"{value!r} is not a media type {status} of {operation.operation_id} declares "
                f"({', '.join(declared) or 'none: it has no body'}); "
                "mark the rule contract_violation: true to answer it anyway"
            )
            problems.append(((*at, "headers", name), message))
    return problems


def _media_type_fits(media_type: str, declared: str) -> bool:
    """`application/json` fits `application/json`, `application/*` and `*/*`."""
    kind, _, subtype = media_type.lower().partition("/")
    want_kind, _, want_subtype = declared.lower().partition(";")[0].strip().partition("/")
    return bool(subtype) and want_kind in ("*", kind) and want_subtype in ("*", subtype)


def _replies(definition: Mapping[str, Any], at: JsonPath) -> list[tuple[Mapping[str, Any], JsonPath]]:
    """A rule's replies, each with its JSON path."""
    if "sequence" in definition:
        return [(reply, (*at, "sequence", n)) for n, reply in enumerate(definition["sequence"])]
    return [(definition.get("respond", {}), (*at, "respond"))]


def _transport_problems(reply: Mapping[str, Any], at: JsonPath) -> list[tuple[JsonPath, str]]:
    """What no rule may say, contract or not: a bad delay range, a header that is not a valid HTTP
    field, or one that frames the message or the connection."""
    problems: list[tuple[JsonPath, str]] = []
    delay = reply.get("delay")
    if isinstance(delay, str):
        low, _, high = delay.partition("-")
        if int(low) > int(high) or int(high) > 60_000:
            problems.append(((*at, "delay"), f"{delay!r} is not a range of 0 to 60000 ms, lowest first"))
    for name, value in reply.get("headers", {}).items():
        where: JsonPath = (*at, "headers", name)
        if not HEADER_NAME.fullmatch(name):
            problems.append((where, f"{name[:64]!r} is not a header name (letters, digits, !#$%&'*+-.^_`|~)"))
        elif name.lower() in FRAMING_HEADERS or name.lower().startswith("proxy-"):
            message = f"{name} frames the message or the connection: the server sets it, never a rule"
            problems.append((where, message))
        elif not HEADER_VALUE.fullmatch(value):
            message = "a header value is visible ASCII, spaces and tabs (no CR, LF, NUL, no raw non-ASCII)"
            problems.append((where, message))
    return problems


def rule_problems(definitions: list[Any], spec: Spec | None) -> list[tuple[JsonPath, str]]:
    """Every reason these rule definitions (already of the scenario schema's shape) cannot be used;
    without a spec, those that need none (patterns, headers, delays, ids, how many)."""
    problems: list[tuple[JsonPath, str]] = []
    if len(definitions) > MAX_RULES:
        problems.append((("rules",), f"{len(definitions)} rules; a session holds at most {MAX_RULES}"))
    seen: set[str] = set()
    for index, definition in enumerate(definitions):
        at: JsonPath = ("rules", index)
        found = pattern_problems(definition["match"])
        problems += [((*at, "match", *where), message) for where, message in found]
        replies = _replies(definition, at)
        for reply, where in replies:
            problems += _transport_problems(reply, where)
        identifier = definition.get("id")
        if identifier is not None:
            if identifier in seen:
                problems.append(((*at, "id"), f"duplicate rule id {identifier!r}"))
            seen.add(identifier)
        if spec is None:
            continue
        operation = _operation(definition["match"], spec)
        if isinstance(operation, str):
            problems.append(((*at, "match"), operation))
            continue
        violation = bool(definition.get("contract_violation", False))
        for reply, where in replies:
            problems += _reply_problems(reply, operation, where, violation, spec)
    return problems


def compile_rules(
    definitions: list[Any], spec: Spec, origin: str = "scenario", first: int = 1
) -> tuple[Rule, ...]:
    """Rules from definitions that passed `rule_problems`; unnamed ones become rule-<n>."""
    problems = rule_problems(definitions, spec)
    if problems:
        raise RuleError(problems)
    rules = []
    for number, definition in enumerate(definitions, start=first):
        match = definition["match"]
        operation = _operation(match, spec)
        assert not isinstance(operation, str)
        reading = spec.derived("query_reading", server_query_reading)  # queries as the server reads them
        pattern = replace(Pattern.from_json(match), query_reading=reading)
        replies = definition.get("sequence") or [definition.get("respond", {})]
        rules.append(
            Rule(
                id=definition.get("id") or f"rule-{number}",
                operation=operation,
                pattern=pattern,
                match=match,
                replies=tuple(
                    Reply(
                        status=reply.get("status"),
                        headers=reply.get("headers", {}),
                        body=reply.get("body", UNSET),
                        example=reply.get("example"),
                        delay_ms=_delay(reply.get("delay")),
                        fault=reply.get("fault"),
                    )
                    for reply in replies
                ),
                times=definition.get("times"),
                contract_violation=bool(definition.get("contract_violation", False)),
                origin=origin,
            )
        )
    return tuple(rules)


class RuleBook:
    """A session's rules, in order, with how many requests each has answered; thread-safe."""

    def __init__(self, rules: tuple[Rule, ...] = (), seed: int = 0) -> None:
        self._base = rules
        self._lock = threading.Lock()
        self._seed = seed
        self.reset()

    @property
    def _rules(self) -> list[Rule]:
        return self._all

    @_rules.setter
    def _rules(self, rules: list[Rule]) -> None:
        """Replace the rules whole, and their index by operation (a reader sees the old or the new)."""
        by_operation: dict[str, list[Rule]] = {}
        for rule in rules:
            by_operation.setdefault(rule.operation.operation_id, []).append(rule)
        self._by_operation = {operation_id: tuple(found) for operation_id, found in by_operation.items()}
        self._all = rules

    def reset(self) -> None:
        """The data set's rules only, none answered yet (run-time rules are dropped)."""
        with self._lock:
            self._rules = list(self._base)
            self._hits: dict[str, int] = {}
            self._random = random.Random(self._seed)

    @property
    def rules(self) -> list[Rule]:
        """The rules, in the order they are tried (read without the lock: the list is replaced whole,
        never changed in place)."""
        return self._all

    def tries(self, operation_id: str) -> bool:
        """Whether any rule is for this operation (a dict lookup: the plain path's only cost)."""
        return operation_id in self._by_operation

    def fork(self) -> RuleBook:
        return RuleBook(self._base, self._seed)

    def check_room(self) -> None:
        """TooManyRules when the session cannot take another rule."""
        if len(self._rules) >= MAX_RULES:
            raise TooManyRules(
                f"this session holds {len(self._rules)} rules, at most {MAX_RULES}: "
                "remove one (DELETE /__admin/rules/{id}) or reset the session"
            )

    def add(self, rule: Rule, definition: Any = None) -> None:
        """Add a rule after the others (`definition`, as written, is for books kept elsewhere)."""
        with self._lock:
            self.check_room()
            if any(existing.id == rule.id for existing in self._rules):
                raise RuleError([(("id",), f"a rule {rule.id!r} exists; remove it first")])
            self._rules = [*self._rules, rule]

    def next_number(self) -> int:
        return len(self._rules) + 1

    def remove(self, rule_id: str) -> bool:
        with self._lock:
            kept = [rule for rule in self._rules if rule.id != rule_id]
            removed = len(kept) != len(self._rules)
            self._rules = kept
            return removed

    def listing(self) -> list[dict[str, Any]]:
        with self._lock:
            return [rule.to_json(self._hits.get(rule.id, 0)) for rule in self._rules]

    def answer(self, entry: Entry) -> tuple[Rule, Reply, float] | None:
        """The first rule of the entry's operation that matches and has answers left, its reply for this
        call, and the delay (seconds) drawn for it; counts the call."""
        for rule in self._by_operation.get(entry.operation_id or "", ()):
            if not rule.pattern.matches(entry):
                continue
            hits = self.count(rule)
            if hits is None:
                continue
            reply = rule.replies[min(hits, len(rule.replies) - 1)]
            delay = 0.0
            if reply.delay_ms is not None:
                low, high = reply.delay_ms
                with self._lock:
                    delay = (low if low == high else self._random.randint(low, high)) / 1000
            return rule, reply, delay
        return None

    def count(self, rule: Rule) -> int | None:
        """Count a call answered by `rule`; its count before, or None when it has no answers left."""
        with self._lock:
            hits = self._hits.get(rule.id, 0)
            if rule.times is not None and hits >= rule.times:
                return None
            self._hits[rule.id] = hits + 1
            return hits
