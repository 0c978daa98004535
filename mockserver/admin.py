"""`/__admin`: inspect and reset the mock. Kept out of openapi.yaml so contract fuzzing never hits it."""

from __future__ import annotations

from flask import Blueprint, Response, request

from .documents import click_event_document, json_response
from .journal import get_journal
from .store import get_store

bp = Blueprint("admin", __name__, url_prefix="/__admin")


@bp.get("/health")
def health() -> Response:
    return json_response({"status": "ok"})


@bp.post("/reset")
def reset() -> Response:
    """Back to the data set's initial state: links as loaded, no click events, empty journal."""
    get_store().reset()
    get_journal().clear()
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
    entries = get_journal().matching(request.args.get("method"), request.args.get("path"))
    return json_response({"requests": [entry.to_json() for entry in entries]})


@bp.get("/requests/count")
def requests_count() -> Response:
    entries = get_journal().matching(request.args.get("method"), request.args.get("path"))
    return json_response({"count": sum(1 for _ in entries)})
