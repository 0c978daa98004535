"""`/__admin`: inspect, verify and steer the mock. Its contract is `admin-openapi.yaml` (served at
`/__admin/openapi.yaml`); requests are validated against it before these views run, so they read
typed values. Kept out of openapi.yaml: the public contract stays the API's own."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

from flask import Blueprint, Response, current_app, request

from mockserver.admin import inspector
from mockserver.contract.message_checks import DelayCounts, no_content
from mockserver.contract.query_arrays import server_query_reading
from mockserver.contract.spec import ADMIN_SPEC_PATH, get_spec
from mockserver.contract.validation import valid_request
from mockserver.core.api_errors import INVALID_BODY, RULE_NOT_FOUND, TOO_MANY_RULES, ApiError, ErrorItem
from mockserver.core.channels import FRONT_DELAYS_KEY
from mockserver.core.settings import Settings
from mockserver.dataset.selection import requested_dataset
from mockserver.journal.log import Entry, get_journal
from mockserver.journal.patterns import Pattern
from mockserver.rules.book import RuleError, TooManyRules, compile_rules
from mockserver.state.answer_memo import get_memo
from mockserver.state.documents import click_event_document, json_response
from mockserver.state.sessions import get_sessions, session_id_of_request
from mockserver.state.store import current_session, get_store

bp = Blueprint("admin", __name__, url_prefix="/__admin")
bp.register_blueprint(inspector.bp)  # /__admin/ui and /__admin/events


@bp.get("/health")
def health() -> Response:
    return json_response({"status": "ok"})


@bp.get("/delays")
def delays() -> Response:
    """Forced delays of the worker that answered: waiting now, the bound, cut short. Only a front that
    waits them itself (granian's) counts them; otherwise all three are null."""
    counts = request.environ.get(FRONT_DELAYS_KEY)
    if not isinstance(counts, DelayCounts):
        return json_response({"waiting": None, "limit": None, "cut": None})
    return json_response({"waiting": counts.waiting, "limit": counts.limit, "cut": counts.cut})


@bp.post("/reset")
def reset() -> Response:
    """Back to the data set's initial state: links as loaded, no click events, empty journal.

    With X-Mock-Session, only that session's state and journal entries; other sessions are untouched.
    """
    get_store().reset()
    current_session().rules.reset()
    get_journal().clear(session_id_of_request())
    return no_content()


@bp.get("/data")
def data() -> Response:
    """What a client needs to start: business ids, users and their tokens, sizes."""
    session = current_session()
    store = session.store
    default = store.default_user
    return json_response(
        {
            "source": session.source,
            "businesses": [{"id": b.id, "name": b.name} for b in store.dataset.businesses],
            "users": [
                {
                    "id": u.id,
                    "name": f"{u.first_name} {u.last_name}",
                    "business": u.business_id,
                    "token": u.token,
                    "default": default is not None and u.id == default.id,
                }
                for u in store.dataset.users
            ],
            "partners": len(store.partners),
        }
    )


@bp.get("/click-events")
def click_events() -> Response:
    """The stored click events, oldest first; `meta` counts those the cap (--max-click-events) dropped."""
    store = get_store()
    events = store.click_events()
    meta = {"stored": len(events), "dropped": store.click_events_dropped, "limit": store.max_click_events}
    return json_response({"data": [click_event_document(ev)["data"] for ev in events], "meta": meta})


@bp.get("/requests")
def requests() -> Response:
    """The journal, oldest first; `meta.dropped` counts entries the bound pushed out: the session's
    since its reset with X-Mock-Session, all since start-up without."""
    journal = get_journal()
    entries = [entry.to_json() for entry in _journal_entries()]
    dropped = journal.dropped_for(session_id_of_request())
    meta = {"stored": len(entries), "dropped": dropped, "limit": journal.size}
    return json_response({"requests": entries, "meta": meta})


@bp.get("/requests/count")
def requests_count() -> Response:
    return json_response({"count": sum(1 for _ in _journal_entries())})


def _journal_entries() -> Iterator[Entry]:
    """The journal's entries the query asks for; with X-Mock-Session, that session's only."""
    args = request.args
    return get_journal().matching(args.get("method"), args.get("path"), session_id_of_request())


def _pattern() -> Pattern:
    """The request's pattern, its query compared as the server reads queries (every list form)."""
    reading = get_spec().derived("query_reading", server_query_reading)
    return replace(Pattern.from_json(valid_request().body), query_reading=reading)


@bp.post("/requests/find")
def find_requests() -> Response:
    """Entries matching a pattern; when none does, the nearest misses with what differs."""
    pattern = _pattern()
    found, near = pattern.search(get_journal().entries(session_id_of_request()))
    return json_response(
        {"requests": [entry.to_json() for entry in found], "near_misses": [miss.to_json() for miss in near]}
    )


@bp.post("/requests/count")
def count_matching() -> Response:
    pattern = _pattern()
    entries = get_journal().entries(session_id_of_request())
    return json_response({"count": sum(1 for _ in pattern.find(entries))})


@bp.get("/violations")
def violations() -> Response:
    """Requests refused as off-contract, oldest first: what a consumer's CI asserts is empty."""
    entries = get_journal().entries(session_id_of_request())
    return json_response({"violations": [entry.to_json() for entry in entries if entry.violation]})


@bp.get("/pact")
def pact() -> Response:
    """The journal as a Pact file (mockserver.pact.export): the session's, or all of it."""
    from mockserver.pact.journal_export import pact_answer

    return pact_answer(valid_request().query)


@bp.put("/scenario")
def switch_scenario() -> Response:
    """Serve another data set: the session's, or the default one. Nothing changes unless it loads."""
    settings: Settings = current_app.config["MOCKSERVER_SETTINGS"]
    body = valid_request().body
    dataset, seed, source = requested_dataset(body, settings, get_spec())
    session_id = session_id_of_request()
    rules = compile_rules(list(dataset.rules), get_spec())  # checked already, with file:line
    get_sessions().switch(session_id, dataset, seed, source, rules, body=body)
    return json_response(
        {
            "scenario": {
                "source": source,
                "partners": len(dataset.partners),
                "businesses": len(dataset.businesses),
                "users": len(dataset.users),
                "session": session_id,
            }
        }
    )


@bp.get("/rules")
def rules() -> Response:
    """The session's rules in the order they are tried, with how many requests each answered."""
    return json_response({"rules": current_session().rules.listing()})


@bp.post("/rules")
def add_rule() -> Response:
    """Add a rule to the session (to the default one without X-Mock-Session), checked like a scenario's;
    it is tried after the data set's rules and those added before it."""
    book = current_session().rules
    try:
        book.check_room()  # before compiling: a full session costs no more than this
        (rule,) = compile_rules([valid_request().body], get_spec(), origin="admin", first=book.next_number())
        book.add(rule, definition=valid_request().body)
    except RuleError as error:
        raise ApiError(*(_rule_item(at, message) for at, message in error.problems)) from None
    except TooManyRules as error:
        raise ApiError.of(TOO_MANY_RULES, str(error), ("pointer", "")) from None
    (listed,) = [item for item in book.listing() if item["id"] == rule.id]
    return json_response({"rule": listed}, status=201)


def _rule_item(at: tuple[str | int, ...], message: str) -> ErrorItem:
    inside = at[2:] if at[:1] == ("rules",) else at  # ("rules", 0, "respond", "status") → the body's
    pointer = "".join("/" + str(part).replace("~", "~0").replace("/", "~1") for part in inside)
    return ErrorItem(INVALID_BODY, message, ("pointer", pointer))


@bp.delete("/rules/<rule_id>")
def remove_rule(rule_id: str) -> Response:
    if not current_session().rules.remove(rule_id):
        raise ApiError.of(RULE_NOT_FOUND, f"No rule {rule_id[:64]!r} in this session", ("parameter", "id"))
    return no_content()


@bp.get("/openapi.yaml")
def openapi_document() -> Response:
    return Response(ADMIN_SPEC_PATH.read_bytes(), mimetype="application/yaml")


@bp.get("/sessions")
def sessions() -> Response:
    """The live sessions, least recently used first, how many the TTL or the bound evicted, and each
    bound on what sessions hold together with how much of it is used."""
    live = get_sessions()
    memo = get_memo(current_app)
    return json_response(
        {
            "sessions": live.ids(),
            "limit": live.max_sessions,
            "ttl": live.ttl,
            "evicted": live.evicted,
            "bounds": live.usage() | (memo.usage() if memo is not None else {}),
        }
    )
