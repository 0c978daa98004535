"""Answers the spec itself supplies: a declared status of an operation, with its named example or a
body generated from that response's schema. Used by the forced responses (`Prefer`), the scenario
rules and the simulated errors, so that each of them stays within the contract."""

from __future__ import annotations

import hashlib
import re
from typing import Any

import orjson
from flask import Response

from mockserver.contract.from_schema import generate
from mockserver.contract.spec import Operation, get_spec, named_examples, responses_in
from mockserver.core.context import current_flask_app, current_globals, current_request
from mockserver.rules.book import UNSET


def responses_of(operation: Operation) -> dict[str, Any]:
    """The operation's declared responses in the app's spec."""
    return responses_in(get_spec(), operation)


def declared_statuses(operation: Operation) -> list[str]:
    return sorted(code for code in responses_of(operation) if code.isdigit())


def success_status(operation: Operation) -> int:
    return min(int(code) for code in declared_statuses(operation) if code.startswith("2"))


def request_seed(status: int) -> str:
    """The seed of a generated body: the server's seed and the request, so the same request gets the
    same body."""
    request = current_request()
    app = current_flask_app()
    settings = app.config["MOCKSERVER_SETTINGS"]
    key = f"{settings.seed}:{request.method}:{request.full_path}:{status}"
    return hashlib.sha256(key.encode()).hexdigest()


def spec_answer(
    operation: Operation,
    status: int,
    example: str | None = None,
    dynamic: bool = False,
    body: Any = UNSET,
) -> Response:
    """A response of `status` (one the operation declares, else an empty body): a literal `body`, the
    named `example`, a generated body when `dynamic`, else the status's first named example, else a
    generated one. Headers the response declares required (and the bearer challenge) are set."""
    g = current_globals()
    response_spec = responses_of(operation).get(str(status), {})
    examples = named_examples(response_spec)
    content = response_spec.get("content", {}).get("application/json")
    if body is UNSET:
        body = None
        if example is not None:
            body = about_this_request(examples[example])
        elif not dynamic and examples:
            body = about_this_request(next(iter(examples.values())))
        elif content is not None:
            body = generate(content["schema"], request_seed(status))
            if isinstance(body, dict) and isinstance(body.get("errors"), list):
                for item in body["errors"]:
                    if isinstance(item, dict):
                        item["status"] = str(status)  # the error objects agree with the status line
    response = Response(
        b"" if body is None else orjson.dumps(body), status=status, mimetype="application/json"
    )
    if body is None:
        del response.headers["Content-Type"]
    g.response_document = body
    for name, header in response_spec.get("headers", {}).items():
        if name.lower() == "www-authenticate":
            response.headers[name] = 'Bearer realm="mockserver"'
        elif header.get("required"):
            response.headers[name] = str(
                generate(header.get("schema", {"type": "string"}), request_seed(status))
            )
    return response


UUID_TEXT = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


def about_this_request(example: Any) -> Any:
    """An error example as an answer to this request: where an error object's `source.parameter` names
    a parameter the request sent as a UUID, the UUIDs of its `detail` become that value ("No partner has
    id <the id requested>"). Anything else of the example is kept as the spec gives it."""
    if not isinstance(example, dict) or not isinstance(example.get("errors"), list):
        return example
    sent = _uuid_parameters()
    if not sent:
        return example
    items = []
    for item in example["errors"]:
        parameter = (item.get("source") or {}).get("parameter") if isinstance(item, dict) else None
        if parameter in sent and isinstance(item.get("detail"), str):
            item = {**item, "detail": UUID_TEXT.sub(sent[parameter], item["detail"])}
        items.append(item)
    return {**example, "errors": items}


def _uuid_parameters() -> dict[str, str]:
    """The request's path and query parameters whose (validated) value is a UUID, as text."""
    g = current_globals()
    valid = g.get("valid_request")
    if valid is None:
        return {}
    values = {**valid.query, **valid.path}
    return {name: str(value) for name, value in values.items() if UUID_TEXT.fullmatch(str(value))}
