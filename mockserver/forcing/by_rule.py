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

import time
from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING

from flask import Response, after_this_request

from mockserver.contract.validation import valid_request
from mockserver.core.channels import (
    ANSWERED_BY_KEY,
    BODY_ENVIRON_KEY,
    DELAY_KEY,
    FAULT_KEY,
    FRONT_DELAYS_KEY,
    FRONT_FAULTS_KEY,
    QUERY_PREFERENCES_KEY,
)
from mockserver.core.context import current_globals, current_request
from mockserver.forcing.by_preference import apply_preferences
from mockserver.forcing.spec_answers import spec_answer, success_status
from mockserver.journal.log import Entry, request_headers
from mockserver.rules.book import RuleBook
from mockserver.state.store import current_session

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

MALFORMED = b'{"data": [{"id": "'
"""A body that starts like the API's and is not JSON."""


def forced_answer() -> Response | None:
    """The one before-request hook for what answers instead of the view: the client's preferences,
    then the session's rules. On the plain path: two environ lookups and one attribute read."""
    request = current_request()
    environ = request.environ
    if "HTTP_PREFER" in environ or QUERY_PREFERENCES_KEY in environ:
        response = apply_preferences()
        if response is not None or ANSWERED_BY_KEY in environ:
            return response
    book: RuleBook = current_session().rules
    if not book.rules or "valid_request" not in current_globals() or request.path.startswith("/__admin"):
        return None
    return apply_rules(book, environ)


def apply_rules(book: RuleBook, environ: WSGIEnvironment) -> Response | None:
    """Answer the request from the session's first matching rule, or let the view answer."""
    request = current_request()
    g = current_globals()
    operation = valid_request().operation
    if not book.tries(operation.operation_id):
        return None
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
        after_this_request(lambda response: _with_headers(response, reply.headers))
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


def _with_headers(response: Response, headers: Mapping[str, str]) -> Response:
    for name, value in headers.items():
        response.headers[name] = value
    return response


class Outgoing:
    """WSGI middleware for what happens as the answer goes out: a forced delay (waited here unless the
    server front waits itself, as the RSGI one does on its event loop, holding no thread), and a
    `truncate` or `close` fault (the body cut and the iterator failing, so that a WSGI server drops the
    connection, unless the front does faults itself)."""

    def __init__(self, wsgi_app: WSGIApplication) -> None:
        self.wsgi_app = wsgi_app

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        body = self.wsgi_app(environ, start_response)
        delay = environ.get(DELAY_KEY)
        if delay and not environ.get(FRONT_DELAYS_KEY):
            time.sleep(delay)
        fault = environ.get(FAULT_KEY)
        if fault is None or environ.get(FRONT_FAULTS_KEY):
            return body
        return _cut(b"".join(body), fault)


def _cut(content: bytes, fault: str) -> Iterator[bytes]:
    if fault == "truncate" and content:
        yield content[: len(content) // 2]
    raise ConnectionAbortedError(f"a {fault} fault: the connection is dropped on purpose")
