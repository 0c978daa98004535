"""`/__admin`: inspect and reset the mock. Kept out of openapi.yaml so contract fuzzing never hits it."""

from __future__ import annotations

from collections.abc import Iterator

from flask import Blueprint, Response, request

from .documents import click_event_document, json_response
from .journal import Entry, get_journal
from .sessions import get_sessions, session_id_of_request
from .store import get_store

bp = Blueprint("admin", __name__, url_prefix="/__admin")


@bp.get("/health")
def health() -> Response:
    return json_response({"status": "ok"})


@bp.post("/reset")
def reset() -> Response:
    """Back to the data set's initial state: links as loaded, no click events, empty journal.

    With X-Mock-Session, only that session's state and journal entries; other sessions are untouched.
    """
    get_store().reset()
    get_journal().clear(session_id_of_request())
    return Response(status=204)


@bp.get("/data")
def data() -> Response:
    """What a client needs to start: business ids, users and their tokens, sizes."""
    store = get_store()
    default = store.default_user
    return json_response(
        {
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
    entries = _journal_entries()
    return json_response({"requests": [entry.to_json() for entry in entries]})


@bp.get("/requests/count")
def requests_count() -> Response:
    return json_response({"count": sum(1 for _ in _journal_entries())})


def _journal_entries() -> Iterator[Entry]:
    """The journal's entries the query asks for; with X-Mock-Session, that session's only."""
    args = request.args
    return get_journal().matching(args.get("method"), args.get("path"), session_id_of_request())


@bp.get("/sessions")
def sessions() -> Response:
    """The live sessions, least recently used first, and how many the TTL or the bound evicted."""
    live = get_sessions()
    return json_response(
        {"sessions": live.ids(), "limit": live.max_sessions, "ttl": live.ttl, "evicted": live.evicted}
    )
