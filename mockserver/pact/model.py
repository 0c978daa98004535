"""Pact files of every specification version (v1 to v4) read into one shape: the HTTP interactions
with their request, answer and provider states, each part with its JSON pointer in the file."""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

MAX_PACT_BYTES = 64 * 1024 * 1024
"""A Pact file larger than this is not read."""
HTTP_TYPE = "Synchronous/HTTP"
JSON_MEDIA_TYPES = ("application/json", "application/vnd.api+json")
NO_BODY: Any = object()
"""Marks an interaction part without a body (as opposed to a JSON `null` body)."""


class PactUnreadable(Exception):
    """The file cannot be read as a Pact: missing, not JSON, or not of the Pact shape."""


def escape(token: str | int) -> str:
    """One JSON pointer token (RFC 6901)."""
    return str(token).replace("~", "~0").replace("/", "~1")


def pointer(*tokens: str | int) -> str:
    return "".join("/" + escape(token) for token in tokens)


@dataclass(frozen=True)
class State:
    name: str
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Body:
    """A request's or answer's body: the bytes sent, the JSON value when it is JSON, and where its
    content is in the file (a JSON pointer)."""

    raw: bytes
    value: Any
    """The JSON value, or NO_BODY when the body is not JSON."""
    content_type: str | None
    at: str


@dataclass(frozen=True)
class Message:
    """A request or an answer as the interaction gives it."""

    at: str
    """Pointer of the request or response object in the file."""
    headers: dict[str, list[str]]
    """Names as written; several values for one name when the Pact lists them."""
    body: Body | None

    def header(self, name: str) -> str | None:
        for key, values in self.headers.items():
            if key.lower() == name.lower() and values:
                return values[0]
        return None

    def header_at(self, name: str) -> str:
        for key in self.headers:
            if key.lower() == name.lower():
                return f"{self.at}/headers/{escape(key)}"
        return f"{self.at}/headers"

    @property
    def media_type(self) -> str | None:
        """The Content-Type's media type (no parameters, lower case), from the header or the body."""
        value = self.header("Content-Type") or (self.body.content_type if self.body else None)
        if value is None:
            return None
        return value.split(";", 1)[0].strip().lower() or None


@dataclass(frozen=True)
class Request(Message):
    method: str = "GET"
    path: str = "/"
    query: str = ""
    """The query string to send, percent-encoded."""
    query_at: str = ""
    query_keys: tuple[str, ...] = ()
    """The names of a v3/v4 query map (empty for a v1/v2 query string)."""


@dataclass(frozen=True)
class Response(Message):
    status: int = 200


@dataclass(frozen=True)
class Interaction:
    index: int
    description: str
    at: str
    states: tuple[State, ...]
    request: Request
    response: Response
    testname: str | None = None


@dataclass(frozen=True)
class Skipped:
    """An interaction that is not HTTP (a message, a plugin's): reported, not checked."""

    index: int
    description: str
    at: str
    kind: str


@dataclass(frozen=True)
class Pact:
    path: str
    consumer: str
    provider: str
    version: str
    """The Pact specification version, e.g. "4.0"; "1.0.0" when the file does not say."""
    interactions: tuple[Interaction, ...]
    skipped: tuple[Skipped, ...]


def read_pact_file(path: Path) -> Pact:
    """The Pact in `path`; PactUnreadable with the reason when it cannot be read."""
    try:
        if path.stat().st_size > MAX_PACT_BYTES:
            raise PactUnreadable(f"{path}: larger than {MAX_PACT_BYTES} bytes")
        text = path.read_bytes().decode("utf-8")
    except OSError as exc:
        raise PactUnreadable(f"{path}: cannot be read: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise PactUnreadable(f"{path}: not UTF-8 (byte {exc.start})") from None
    try:
        document = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise PactUnreadable(f"{path}: not JSON: {exc}") from None
    return read_pact(document, str(path))


def read_pact(document: Any, name: str) -> Pact:
    """A Pact from its JSON document; PactUnreadable naming the pointer of the first part that is not of
    the Pact shape."""
    if not isinstance(document, dict):
        raise PactUnreadable(f"{name}: a Pact is a JSON object")
    version = _spec_version(document.get("metadata"))
    interactions_json = document.get("interactions")
    if interactions_json is None and "messages" in document:
        interactions_json = []
    if not isinstance(interactions_json, list):
        raise PactUnreadable(f"{name}: /interactions must be a list")
    interactions: list[Interaction] = []
    skipped: list[Skipped] = [
        Skipped(i, str(_get(m, "description", "")), pointer("messages", i), "message")
        for i, m in enumerate(document.get("messages") or [])
    ]
    for index, item in enumerate(interactions_json):
        at = pointer("interactions", index)
        if not isinstance(item, dict):
            raise PactUnreadable(f"{name}: {at} must be an object")
        kind = item.get("type", HTTP_TYPE)
        description = item.get("description")
        if not isinstance(description, str):
            raise PactUnreadable(f"{name}: {at}/description must be a string")
        if kind != HTTP_TYPE:
            skipped.append(Skipped(index, description, at, str(kind)))
            continue
        interactions.append(_interaction(item, index, at, name))
    return Pact(
        path=name,
        consumer=_participant(document, "consumer"),
        provider=_participant(document, "provider"),
        version=version,
        interactions=tuple(interactions),
        skipped=tuple(skipped),
    )


def _get(item: Any, key: str, default: Any) -> Any:
    return item.get(key, default) if isinstance(item, dict) else default


def _participant(document: dict[str, Any], role: str) -> str:
    return str(_get(document.get(role), "name", ""))


def _spec_version(metadata: Any) -> str:
    for key in ("pactSpecification", "pact-specification"):
        version = _get(_get(metadata, key, None), "version", None)
        if isinstance(version, str):
            return version
    legacy = _get(metadata, "pactSpecificationVersion", None)
    return legacy if isinstance(legacy, str) else "1.0.0"


def _interaction(item: dict[str, Any], index: int, at: str, name: str) -> Interaction:
    request_json, response_json = item.get("request"), item.get("response")
    if not isinstance(request_json, dict):
        raise PactUnreadable(f"{name}: {at}/request must be an object")
    if not isinstance(response_json, dict):
        raise PactUnreadable(f"{name}: {at}/response must be an object")
    testname = _get(item.get("comments"), "testname", None)
    return Interaction(
        index=index,
        description=item["description"],
        at=at,
        states=_states(item, at, name),
        request=_request(request_json, f"{at}/request", name),
        response=_response(response_json, f"{at}/response", name),
        testname=testname if isinstance(testname, str) else None,
    )


def _states(item: dict[str, Any], at: str, name: str) -> tuple[State, ...]:
    """v3/v4 `providerStates` (a list of {name, params}, or a string), v1/v2 `providerState`
    (or `provider_state`)."""
    states = item.get("providerStates")
    if states is None:
        legacy = item.get("providerState", item.get("provider_state"))
        return (State(legacy),) if isinstance(legacy, str) and legacy else ()
    if isinstance(states, str):
        return (State(states),)
    if not isinstance(states, list):
        raise PactUnreadable(f"{name}: {at}/providerStates must be a list")
    found = []
    for number, state in enumerate(states):
        if not isinstance(state, dict) or not isinstance(state.get("name"), str):
            raise PactUnreadable(f"{name}: {at}/providerStates/{number} must be an object with a name")
        params = state.get("params") or {}
        found.append(State(state["name"], params if isinstance(params, dict) else {}))
    return tuple(found)


def _headers(value: Any, at: str, name: str) -> dict[str, list[str]]:
    """Header values as lists; a v1–v3 string value stays one value (`Accept: a, b` included)."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise PactUnreadable(f"{name}: {at}/headers must be an object")
    headers: dict[str, list[str]] = {}
    for key, item in value.items():
        if isinstance(item, list):
            headers[key] = [str(v) for v in item]
        else:
            headers[key] = [str(item)]
    return headers


def _query(value: Any, at: str, name: str) -> str:
    """The query to send: v1/v2 give it as a string (sent as written), v3/v4 as name → list of
    values (each percent-encoded here, bracket names kept readable)."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if not isinstance(value, dict):
        raise PactUnreadable(f"{name}: {at}/query must be a string or an object")
    pairs = []
    for key, values in value.items():
        for item in values if isinstance(values, list) else [values]:
            pairs.append(f"{_encode_query(str(key))}={_encode_query(str(item))}")
    return "&".join(pairs)


def _encode_query(text: str) -> str:
    return quote(text, safe="[],:@!$'()*;/?")


def _body(message: dict[str, Any], headers: dict[str, list[str]], at: str, name: str) -> Body | None:
    """v4's `{content, contentType, encoded}` (base64 when encoded), or a v1–v3 JSON value."""
    if "body" not in message:
        return None
    body = message["body"]
    declared = next((v[0] for k, v in headers.items() if k.lower() == "content-type" and v), None)
    if isinstance(body, dict) and "content" in body and ("contentType" in body or "encoded" in body):
        content_type = body.get("contentType") or declared
        content, content_at = body.get("content"), f"{at}/body/content"
        encoded = body.get("encoded", False)
        if encoded and encoded != "json":
            if not isinstance(content, str):
                raise PactUnreadable(f"{name}: {content_at} must be base64 text when encoded")
            try:
                raw = base64.b64decode(content, validate=True)
            except (binascii.Error, ValueError):
                raise PactUnreadable(f"{name}: {content_at} is not valid base64") from None
            return Body(raw, _json_value(raw, content_type), content_type, content_at)
        return _plain_body(content, content_type, content_at)
    return _plain_body(body, declared, f"{at}/body")


def _plain_body(content: Any, content_type: str | None, at: str) -> Body:
    media = (content_type or "").split(";", 1)[0].strip().lower()
    if isinstance(content, str) and not _is_json(media):
        return Body(content.encode("utf-8"), NO_BODY, content_type, at)
    if isinstance(content, str) and _is_json(media):
        # a JSON content type with a string: the JSON text itself, or a JSON string value
        value = _json_value(content.encode("utf-8"), content_type)
        if value is not NO_BODY:
            return Body(content.encode("utf-8"), value, content_type, at)
    raw = json.dumps(content, ensure_ascii=False).encode("utf-8")
    return Body(raw, content, content_type or "application/json", at)


def _is_json(media: str) -> bool:
    return media in JSON_MEDIA_TYPES or media.endswith("+json")


def _json_value(raw: bytes, content_type: str | None) -> Any:
    media = (content_type or "").split(";", 1)[0].strip().lower()
    if not _is_json(media):
        return NO_BODY
    try:
        return json.loads(raw.decode("utf-8"))
    except (ValueError, UnicodeDecodeError, RecursionError):
        return NO_BODY


def _request(value: dict[str, Any], at: str, name: str) -> Request:
    method, path = value.get("method"), value.get("path")
    if not isinstance(method, str) or not method:
        raise PactUnreadable(f"{name}: {at}/method must be a string")
    if not isinstance(path, str):
        raise PactUnreadable(f"{name}: {at}/path must be a string")
    headers = _headers(value.get("headers"), at, name)
    return Request(
        at=at,
        headers=headers,
        body=_body(value, headers, at, name),
        method=method.upper(),
        path=path,
        query=_query(value.get("query"), at, name),
        query_at=f"{at}/query",
        query_keys=tuple(query) if isinstance(query := value.get("query"), dict) else (),
    )


def _response(value: dict[str, Any], at: str, name: str) -> Response:
    status = value.get("status")
    if not isinstance(status, int) or isinstance(status, bool) or not 100 <= status <= 599:
        raise PactUnreadable(f"{name}: {at}/status must be an HTTP status (100 to 599)")
    headers = _headers(value.get("headers"), at, name)
    return Response(at=at, headers=headers, body=_body(value, headers, at, name), status=status)
