"""Where rules answer: a before-request hook after validation and the client's own preferences, and the
transport faults a rule (or the simulated error rate) asks for.

A fault reaches the server front through the environ: `malformed` is a body that is not JSON,
answered here; `truncate` and `close` are done by the front as the answer goes out. Under the
default server (granian's RSGI front) `close` ends the connection before any byte of an answer and
`truncate` sends the status line, the headers (with the full length) and half the body. Under
waitress (or any WSGI server) the body iterator fails after that many bytes, which makes the server
drop the connection; for `close` that is before any byte, and waitress then answers its own
plain-text 500 and closes.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

from flask import Flask, Response, g, request

from .answers import spec_answer, success_status
from .framing import DELAY_KEY, FAULT_KEY, FRONT_FAULTS_KEY
from .journal import ANSWERED_BY_KEY, BODY_ENVIRON_KEY, Entry, request_headers
from .rules import RuleBook
from .store import current_session
from .validation import valid_request

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

MALFORMED = b'{"data": [{"id": "'
"""A body that starts like the API's and is not JSON."""


def apply_rules() -> Response | None:
    """Answer the request from the session's first matching rule, or let the view answer."""
    book: RuleBook = current_session().rules
    if (
        not book
        or "valid_request" not in g
        or g.get("preference_applied")
        or request.path.startswith("/__admin")
    ):
        return None
    environ = request.environ
    operation = valid_request().operation
    entry = Entry(
        request.method,
        request.path,
        environ.get("QUERY_STRING", ""),
        0,
        0.0,
        headers=request_headers(environ),
        body=environ.get(BODY_ENVIRON_KEY),
        operation_id=operation.operation_id,
    )
    found = book.answer(entry)
    if found is None:
        return None
    rule, reply, delay = found
    environ[ANSWERED_BY_KEY] = f"rule {rule.id}"
    if delay:
        environ[DELAY_KEY] = delay
    if reply.headers:
        g.rule_headers = reply.headers
    if rule.contract_violation or reply.fault is not None:
        g.contract_violation = True  # the response self-check lets it through
    status = reply.status or success_status(operation)
    if reply.fault == "malformed":
        return Response(MALFORMED, status=status, mimetype="application/json")
    if reply.fault is not None:
        environ[FAULT_KEY] = reply.fault
    if not reply.answers_itself:
        return None
    return spec_answer(operation, status, reply.example, body=reply.body)


def _rule_headers(response: Response) -> Response:
    for name, value in g.get("rule_headers", {}).items():
        response.headers[name] = value
    return response


class TransportFaults:
    """WSGI middleware: a `truncate` or `close` fault cuts the body and fails, so that a WSGI server
    drops the connection; a front that does faults itself (the RSGI one) is left to it."""

    def __init__(self, wsgi_app: WSGIApplication) -> None:
        self.wsgi_app = wsgi_app

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        body = self.wsgi_app(environ, start_response)
        fault = environ.get(FAULT_KEY)
        if fault is None or environ.get(FRONT_FAULTS_KEY):
            return body
        return _cut(b"".join(body), fault)


def _cut(content: bytes, fault: str) -> Iterator[bytes]:
    if fault == "truncate" and content:
        yield content[: len(content) // 2]
    raise ConnectionAbortedError(f"a {fault} fault: the connection is dropped on purpose")


def init_app(app: Flask) -> None:
    app.before_request(apply_rules)
    app.after_request(_rule_headers)
    app.wsgi_app = TransportFaults(app.wsgi_app)  # type: ignore[method-assign]
