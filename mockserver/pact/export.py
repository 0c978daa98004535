"""The journal as a Pact file (v3 or v4): one interaction per distinct request and answer.

Standard library only (no Flask): the admin API builds the Pact from its journal, and the pytest
plugin merges the Pacts of a run's tests with `merge`.

- The query is name → list of values, bracket names kept as sent (`filter[categories][]`).
- Only the headers a contract needs are kept (`Accept`, `Content-Type`, `Prefer` and the spec's header
  parameters); never `X-Mock-Session`, `Host`, `User-Agent`, and never a token: the user behind
  `Authorization` is a provider state, and the header is filled in from it when replayed.
- Provider states come from the data: the data set, the user, the partner and the business the
  request names, and whether the user is linked to each partner the answer shows.
- Matching rules cover what a provider generates: ids (UUIDs), `created-at`, links, counts.
- An off-contract request, an entry whose body or answer was cut (or not kept), one answered by a
  rule, a preference or a simulated error is skipped, with the reason.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from mockserver.journal.log import Entry, header_name

from . import states
from .model import JSON_MEDIA_TYPES

VERSIONS = {3: "3.0.0", 4: "4.0"}
KEPT_HEADERS = frozenset({"accept", "content-type", "prefer"})
"""Request headers a contract needs, besides the spec's header parameters."""
NEVER = frozenset({"x-mock-session", "host", "user-agent", "authorization", "content-length", "cookie"})
UUID = "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
DATE_TIME = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$"
COUNTS = frozenset({"total-count", "total-pages"})
_UUID = re.compile(UUID)
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
PATH_ID = re.compile(r"^/api/v1/partners/([^/]+)")


@dataclass(frozen=True)
class Skipped:
    method: str
    path: str
    query: str
    status: int
    reason: str

    def to_json(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "path": self.path,
            "query": self.query,
            "status": self.status,
            "reason": self.reason,
        }


@dataclass(frozen=True)
class ExportOptions:
    consumer: str = "consumer"
    provider: str = "partners-api"
    version: int = 4
    data_set: dict[str, Any] = field(default_factory=dict)
    """The parameters of the data-set state ({name}, or {seed, partners}); empty: not known."""
    header_parameters: frozenset[str] = frozenset()
    """The spec's header parameters (lower case): kept besides KEPT_HEADERS."""
    testname: str | None = None
    """v4's `comments.testname` of every interaction."""


@dataclass
class Export:
    pact: dict[str, Any]
    skipped: list[Skipped]


def export(entries: Iterable[Entry], options: ExportOptions) -> Export:
    """The Pact of these journal entries (oldest first), and the entries left out."""
    interactions: list[dict[str, Any]] = []
    skipped: list[Skipped] = []
    seen: set[str] = set()
    for entry in entries:
        reason = skip_reason(entry)
        if reason is not None:
            skipped.append(Skipped(entry.method, entry.path, entry.query, entry.status, reason))
            continue
        interaction = _interaction(entry, options)
        key = json.dumps(interaction, sort_keys=True)
        if key not in seen:
            seen.add(key)
            interactions.append(interaction)
    return Export(pact_document(interactions, options, skipped), skipped)


def skip_reason(entry: Entry) -> str | None:
    """Why an entry cannot be an interaction, or None."""
    if entry.violation:
        first = entry.errors[0].detail if entry.errors else ""
        return f"off-contract: {first}"
    if entry.operation_id is None:
        return "no operation of the spec answered it"
    if entry.answered_by is not None:
        return f"answered by {entry.answered_by}, not as the provider would"
    if entry.body_truncated or entry.headers_truncated:
        return "the request was cut when journaled"
    if entry.answer.cut:
        return "the answer was not kept whole (larger than the journal keeps, or streamed)"
    return None


def pact_document(
    interactions: list[dict[str, Any]], options: ExportOptions, skipped: Iterable[Skipped] = ()
) -> dict[str, Any]:
    """The Pact: interactions given unique descriptions, in the options' version."""
    unique = _unique_descriptions(interactions)
    metadata: dict[str, Any] = {"pactSpecification": {"version": VERSIONS[options.version]}}
    listed = [item.to_json() for item in skipped]
    metadata["mockserver"] = {"skipped": listed}
    return {
        "consumer": {"name": options.consumer},
        "provider": {"name": options.provider},
        "interactions": [_in_version(item, options.version) for item in unique],
        "metadata": metadata,
    }


def merge(pacts: Iterable[dict[str, Any]], consumer: str, provider: str, version: int) -> dict[str, Any]:
    """One Pact of several (each test's): identical interactions once, descriptions made unique."""
    interactions: list[dict[str, Any]] = []
    seen: set[str] = set()
    skipped: list[Skipped] = []
    for pact in pacts:
        for item in pact.get("interactions", []):
            plain = {key: value for key, value in item.items() if key not in ("comments", "key")}
            plain["description"] = re.sub(r" \(\d+\)$", "", plain["description"])
            key = json.dumps(plain, sort_keys=True)
            if key not in seen:
                seen.add(key)
                interactions.append(_in_version_back(item))
        for gone in pact.get("metadata", {}).get("mockserver", {}).get("skipped", []):
            skipped.append(Skipped(**gone))
    options = ExportOptions(consumer=consumer, provider=provider, version=version)
    return pact_document(interactions, options, skipped)


# --- one interaction ---------------------------------------------------------------------------------


def _interaction(entry: Entry, options: ExportOptions) -> dict[str, Any]:
    """The interaction in a neutral form (v3's, with v4's comments): `_in_version` finishes it."""
    request: dict[str, Any] = {"method": entry.method, "path": entry.path}
    query = _query(entry.query)
    if query:
        request["query"] = query
    headers = _request_headers(entry, options.header_parameters)
    sent_token = any(header_name(key).lower() == "authorization" for key, _ in entry.headers)
    if sent_token:
        headers["Authorization"] = f"Bearer {states.TOKEN_PLACEHOLDER}"
        expression = {"type": "ProviderState", "expression": f"Bearer {states.TOKEN_PLACEHOLDER}"}
        request["generators"] = {"header": {"Authorization": expression}}
    if headers:
        request["headers"] = headers
    content_type = _header(entry.headers, "content-type")
    if entry.body:
        request["body"] = _body(entry.body, content_type)
    response: dict[str, Any] = {"status": entry.status}
    answer = entry.answer
    answer_headers = {key: value for key, value in answer.headers}
    if answer_headers:
        response["headers"] = answer_headers
    body: Any = None
    if answer.body:
        body = _body(answer.body, answer.content_type)
        response["body"] = body
        rules = _matching_rules(body)
        if rules:
            response["matchingRules"] = {"body": rules}
    interaction: dict[str, Any] = {
        "description": _description(entry),
        "providerStates": _states(entry, options, body),
        "request": request,
        "response": response,
    }
    if options.testname:
        interaction["comments"] = {"testname": options.testname}
    return interaction


def _description(entry: Entry) -> str:
    target = f"{entry.path}?{entry.query}" if entry.query else entry.path
    return f"{entry.operation_id}: {entry.method} {target} answered {entry.status}"


def _query(raw: str) -> dict[str, list[str]]:
    query: dict[str, list[str]] = {}
    for name, value in parse_qsl(raw, keep_blank_values=True):
        query.setdefault(name, []).append(value)
    return query


def _header(headers: tuple[tuple[str, str], ...], name: str) -> str | None:
    return next((value for key, value in headers if header_name(key).lower() == name), None)


def _request_headers(entry: Entry, parameters: frozenset[str]) -> dict[str, str]:
    kept = {}
    for key, value in entry.headers:
        name = header_name(key)
        lower = name.lower()
        if lower in NEVER or not (lower in KEPT_HEADERS or lower in parameters):
            continue
        if lower == "content-type" and not entry.body:
            continue
        kept[name] = value
    return kept


def _body(raw: bytes, content_type: str | None) -> Any:
    media = (content_type or "").split(";", 1)[0].strip().lower()
    text = raw.decode("utf-8", errors="replace")
    if media in JSON_MEDIA_TYPES or media.endswith("+json"):
        try:
            return json.loads(text)
        except ValueError:
            return text
    return text


def _states(entry: Entry, options: ExportOptions, body: Any) -> list[dict[str, Any]]:
    """The provider states the interaction needs, in the order a replay sets them up: the data set
    first (it starts the provider afresh), then the user, then what the request and answer name."""
    found: list[dict[str, Any]] = []
    if options.data_set:
        found.append({"name": states.DATA_SET, "params": dict(options.data_set)})
    if entry.user:
        found.append({"name": states.USER, "params": {"id": entry.user}})
    path_id = PATH_ID.match(entry.path)
    if path_id and _UUID.match(path_id.group(1)):
        exists = entry.status != 404
        name = states.PARTNER if exists else states.NO_PARTNER
        found.append({"name": name, "params": {"id": path_id.group(1)}})
    business = _query(entry.query).get("business_uuid")
    if business and _UUID.match(business[0]) and entry.status < 400:
        found.append({"name": states.BUSINESS, "params": {"id": business[0]}})
    if entry.user and entry.method in ("GET", "HEAD"):
        for partner, linked in _links_shown(body):
            name = states.LINKED if linked else states.NOT_LINKED
            found.append({"name": name, "params": {"user": entry.user, "partner": partner}})
    return found


def _links_shown(body: Any) -> list[tuple[str, bool]]:
    """Each partner of the answer with whether the current user is linked to it."""
    data = body.get("data") if isinstance(body, dict) else None
    shown = []
    for item in data if isinstance(data, list) else [data]:
        if not isinstance(item, dict) or item.get("type") != "partners":
            continue
        flag = (item.get("attributes") or {}).get("user-integration-requested")
        if isinstance(flag, bool) and isinstance(item.get("id"), str):
            shown.append((item["id"], flag))
    return shown


# --- matching rules -------------------------------------------------------------------------------


def _matching_rules(body: Any) -> dict[str, Any]:
    """Rules for the values a provider generates: UUIDs by pattern, `created-at` as a date-time,
    links by type (or null), counts as integers."""
    rules: dict[str, Any] = {}
    _walk(body, "$", None, False, rules)
    return rules


def _walk(value: Any, at: str, key: str | None, in_links: bool, rules: dict[str, Any]) -> None:
    if isinstance(value, dict):
        for name, item in value.items():
            _walk(item, _child(at, name), name, in_links or name == "links", rules)
        return
    if isinstance(value, list):
        for index, item in enumerate(value):
            _walk(item, f"{at}[{index}]", key, in_links, rules)
        return
    if in_links:
        rules[at] = {"combine": "OR", "matchers": [{"match": "type"}, {"match": "null"}]}
    elif key == "created-at" and isinstance(value, str):
        rules[at] = _one({"match": "regex", "regex": DATE_TIME})
    elif key in COUNTS and isinstance(value, int):
        rules[at] = _one({"match": "integer"})
    elif isinstance(value, str) and _UUID.match(value):
        rules[at] = _one({"match": "regex", "regex": UUID})


def _one(matcher: dict[str, Any]) -> dict[str, Any]:
    return {"combine": "AND", "matchers": [matcher]}


def _child(at: str, name: str) -> str:
    if _IDENTIFIER.fullmatch(name):
        return f"{at}.{name}"
    return f"{at}['{name}']"


# --- versions and descriptions --------------------------------------------------------------------


def _unique_descriptions(interactions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The second interaction of a description gets ` (2)`, and so on."""
    counts: dict[str, int] = {}
    unique = []
    for item in interactions:
        description = item["description"]
        counts[description] = counts.get(description, 0) + 1
        if counts[description] > 1:
            item = {**item, "description": f"{description} ({counts[description]})"}
        unique.append(item)
    return unique


def _in_version(item: dict[str, Any], version: int) -> dict[str, Any]:
    """v3: comments left out (v3 has none). v4: type, key, header values as lists, bodies as
    {content, contentType, encoded}."""
    if version == 3:
        return {key: value for key, value in item.items() if key != "comments"}
    request, response = dict(item["request"]), dict(item["response"])
    for message in (request, response):
        if "headers" in message:
            message["headers"] = {key: [value] for key, value in message["headers"].items()}
        if "body" in message:
            content_type = _content_type(message)
            message["body"] = {"content": message["body"], "contentType": content_type, "encoded": False}
    converted: dict[str, Any] = {"type": "Synchronous/HTTP", "key": item["description"], "pending": False}
    converted.update({key: value for key, value in item.items() if key not in ("request", "response")})
    converted["request"], converted["response"] = request, response
    return converted


def _in_version_back(item: dict[str, Any]) -> dict[str, Any]:
    """An interaction of either version in the neutral form `_in_version` takes."""
    if item.get("type") != "Synchronous/HTTP":
        return dict(item)
    plain = {key: value for key, value in item.items() if key not in ("type", "key", "pending")}
    for part in ("request", "response"):
        message = dict(item[part])
        if "headers" in message:
            message["headers"] = {key: ", ".join(values) for key, values in message["headers"].items()}
        if isinstance(message.get("body"), dict) and "content" in message["body"]:
            message["body"] = message["body"]["content"]
        plain[part] = message
    plain["description"] = re.sub(r" \(\d+\)$", "", plain["description"])
    return plain


def _content_type(message: dict[str, Any]) -> str:
    for key, value in message.get("headers", {}).items():
        if key.lower() == "content-type":
            return str(value[0] if isinstance(value, list) else value)
    return "application/json" if not isinstance(message.get("body"), str) else "text/plain"
