"""The request pipeline's side channels, in one place.

Stages of the pipeline (see `mockserver.app`, where their order is declared) pass a few facts to later
ones besides the request itself: keys of the WSGI environ, attributes of `flask.g`, and the app's
`extensions`. The import graph does not show these hand-offs, so each is named here once, with who
writes it and who reads it. `tests/test_layers.py` fails when a stage uses a key or an attribute that
is not listed here.
"""

from __future__ import annotations

# --- WSGI environ keys: set before the app runs, or by one stage for a later one -----------------

BODY_PROBLEM = "mockserver.body_problem"
"""The server front (`serving.front`) marks a body that did not arrive whole: "timeout" or
"incomplete". Read by `contract.message_checks` (a 408 or a 400, never acted on)."""

FRONT_DELAYS_KEY = "mockserver.front_delays"
"""The server front's `DelayCounts` (it waits forced delays itself, bounded). Read by `forcing.by_rule`
(which then leaves the waiting to the front) and `GET /__admin/delays`."""

FRONT_FAULTS_KEY = "mockserver.front_faults"
"""Set by the server front when it applies transport faults itself. Read by `forcing.by_rule`."""

DELAY_KEY = "mockserver.delay"
"""Seconds to wait before the answer goes out. Written by `forcing.by_preference`, `forcing.by_rule`
and `forcing.by_chance`; read by the server front (or `forcing.by_rule.Outgoing` under waitress)."""

FAULT_KEY = "mockserver.fault"
"""A transport fault to apply as the answer goes out ("truncate", "close"). Written by
`forcing.by_rule` and `forcing.by_chance`; read like DELAY_KEY."""

QUERY_PREFERENCES_KEY = "mockserver.query_preferences"
"""The `__code`, `__example`, `__dynamic`, `__delay` parameters taken out of the query string, as
(name, value, parameter) triples. Written by `forcing.by_preference.ControlParameters` (a WSGI layer
outside the journal); read by `forcing.by_preference` when it applies them."""

SENT_ARGS_KEY = "mockserver.sent_args"
"""The query parameters as sent, when `contract.query_arrays` rewrote indexed arrays; read for paging
links (`api.views`)."""

OPERATION_ENVIRON_KEY = "mockserver.operation_id"
"""The id of the operation a request matched. Written by `contract.validation`; read by the journal."""

BODY_ENVIRON_KEY = "mockserver.body"
"""The body as read, once. Written by `contract.message_checks.body_of_request`; read by the journal and
rules (`forcing.by_rule`)."""

WHOLE_BODY_KEY = "mockserver.whole_body"
"""The body as the server front (`serving.front`) read it: whole, and within the size limit. Read by
`contract.message_checks.body_of_request`, which then need not read `wsgi.input` through Werkzeug's
stream (about 10 µs)."""

ERROR_ENVIRON_KEY = "mockserver.error"
"""The error a request was answered with. Written by `core.api_errors.render_error` and the proxy;
read by the journal (a contract violation when its kind is one)."""

ANSWERED_BY_KEY = "mockserver.answered_by"
"""What answered instead of the view (a preference, a rule, a simulated error). Written by the
`forcing` stages; read by the journal."""

INCARNATION_ENVIRON_KEY = "mockserver.incarnation"
"""The incarnation of the session a request used (None when its store failed to tell). Written by
`state.sessions`; read by the journal."""

JOURNAL_AT_CLOSE_KEY = "mockserver.journal_at_close"
"""Set by a view whose body is streamed (the proxy's past its checked part): the journal records the
request once the body has been sent, with the error a cut on the way left."""

UNJOURNALED_ENVIRON_KEY = "mockserver.unjournaled"
"""Set by `edge.docs_page` on a request that is no call of the API: the journal leaves it out."""

USER_ENVIRON_KEY = "mockserver.user"
"""The id of the user a request acted as (never its token). Written by `api.views`; read by the
journal (a Pact export states the user)."""

ANSWER_ENVIRON_KEY = "mockserver.answer"
"""The response as sent. Written by `journal.log.keep_answer`, the after-request hook that runs last;
read by the journal, which keeps a bounded copy for a Pact export."""

ENTRY_ENVIRON_KEY = "mockserver.journal_entry"
"""The journal entry the middleware made for a request. Written by `journal.log.JournalMiddleware`;
read by the answer memo (`state.answer_memo`), which journals a copy for each repeat it serves."""

MEMO_TICKET_KEY = "mockserver.memo_ticket"
"""The answer memo's ticket for a GET whose answer it may keep. Written and read by the server front
(`serving.front`), around the app's call."""

ENVIRON_KEYS = frozenset(
    {
        BODY_PROBLEM,
        FRONT_DELAYS_KEY,
        FRONT_FAULTS_KEY,
        DELAY_KEY,
        FAULT_KEY,
        QUERY_PREFERENCES_KEY,
        SENT_ARGS_KEY,
        OPERATION_ENVIRON_KEY,
        BODY_ENVIRON_KEY,
        WHOLE_BODY_KEY,
        ERROR_ENVIRON_KEY,
        ANSWERED_BY_KEY,
        INCARNATION_ENVIRON_KEY,
        JOURNAL_AT_CLOSE_KEY,
        UNJOURNALED_ENVIRON_KEY,
        USER_ENVIRON_KEY,
        ANSWER_ENVIRON_KEY,
        ENTRY_ENVIRON_KEY,
        MEMO_TICKET_KEY,
    }
)

# --- flask.g: shared by the hooks and the view of one request ----------------------------------

G_ATTRIBUTES = {
    "valid_request": "the request's typed values (`ValidRequest`); written by `contract.validation`, read "
    "by the views, the forcing stages and `contract.response_check`",
    "request_error": "the validation error of a request the proxy forwards anyway; written by "
    "`contract.validation`, read by `proxy.forwarding`",
    "user": "the current user (from the bearer token); written and read by `api.views`",
    "response_document": "the JSON document a view rendered, so the response check need not parse it "
    "again; written by `state.documents` and `forcing.spec_answers`, read by `contract.response_check`",
    "preference_applied": "the `Preference-Applied` header's value; written by `forcing.by_preference`, "
    "read as the answer goes out",
    "contract_violation": "the answer breaks the contract on purpose (a rule says so, a fault, a 503 of "
    "the store); written by `forcing.by_rule`, `forcing.by_chance` and `scaleout.backend`, read by "
    "`contract.response_check`",
}
"""Every attribute a request's stages set on `flask.g`, with who writes and who reads it."""

# --- app.extensions: the parts of one app ---------------------------------------------------------

SPEC_EXTENSION = "mockserver.spec"
"""The loaded spec (`contract.validation.init_app`)."""
COMPILED_EXTENSION = "mockserver.compiled"
"""The operations' compiled validators (`contract.validation.init_app`)."""
JOURNAL_EXTENSION = "mockserver.journal"
"""The request log (`journal.log.init_app`); `state.sessions` and the admin endpoints read it."""
SESSIONS_EXTENSION = "mockserver.sessions"
"""The sessions, in memory or in Redis (`state.sessions.init_app`)."""
REDIS_EXTENSION = "mockserver.redis"
"""The Redis background (journal appends, change notices) of an app with `--state` (`scaleout.backend`);
a reload hands it to the new app."""
MEMO_EXTENSION = "mockserver.memo"
"""The memo of GET answers (`state.answer_memo.install`), absent when there is none; the server front
and `/__admin/sessions` read it."""
INSPECTOR_EXTENSION = "mockserver.inspector"
"""The inspector's bound on event streams open at once (`admin.inspector`)."""
DOCS_DOCUMENT_EXTENSION = "mockserver.docs_document"
"""The /docs page's spec with live ids, and the data set it was made for (`edge.docs_page`)."""
