"""The seven Partners operations. Views are thin: the request is validated already (see validation)."""

from __future__ import annotations

import uuid
from typing import Any

from flask import Blueprint, Response

from mockserver.contract.message_checks import no_content
from mockserver.contract.query_arrays import sent_args
from mockserver.contract.validation import valid_request
from mockserver.core.api_errors import (
    BUSINESS_NOT_FOUND,
    CLIENT_GENERATED_ID,
    PARTNER_MISMATCH,
    PARTNER_NOT_FOUND,
    UNKNOWN_TOKEN,
    ApiError,
    ErrorItem,
)
from mockserver.core.channels import USER_ENVIRON_KEY
from mockserver.core.context import current_globals, current_request
from mockserver.dataset.model import Partner, User
from mockserver.dataset.queries import matching, paginate
from mockserver.state.documents import Viewer, click_event_document, get_renderer, json_response, page_links
from mockserver.state.store import Store, get_store

bp = Blueprint("partners", __name__, url_prefix="/api/v1/partners")


CHALLENGE = {"WWW-Authenticate": 'Bearer realm="mockserver"'}


def _unauthorized(detail: str) -> ApiError:
    return ApiError.of(UNKNOWN_TOKEN, detail, ("header", "Authorization"), headers=CHALLENGE)


def current_user() -> User:
    """`Authorization: Bearer <token>` names a user; no header means the data set's default user."""
    request = current_request()
    store = get_store()
    header = request.environ.get("HTTP_AUTHORIZATION")  # `headers.get` raises and catches when absent
    if header is None:
        if store.default_user is None:
            raise _unauthorized("The data set has no users")
        return store.default_user
    if not header.isascii():  # a token is ASCII; granian's front hands such bytes on as a stand-in
        raise _unauthorized("Authorization must be 'Bearer <token>' in ASCII; it carries other bytes")
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise _unauthorized("Authorization must be 'Bearer <token>'")
    user = store.users_by_token.get(token.strip())
    if user is None:
        raise _unauthorized("The bearer token does not belong to any user of the data set")
    return user


@bp.before_request
def identify_user() -> None:
    request = current_request()
    g = current_globals()
    g.user = current_user()
    request.environ[USER_ENVIRON_KEY] = g.user.id  # for the journal (a Pact's provider state)


def _viewer_of_user() -> Viewer:
    g = current_globals()
    user: User = g.user
    return Viewer(user=user, business=get_store().businesses[user.business_id])


def _include() -> frozenset[str]:
    return frozenset(valid_request().query.get("include") or ())


def _partner(partner_id: uuid.UUID) -> Partner:
    """The partner the path names; the route's converter has parsed the id validation accepted."""
    store = get_store()
    partner = store.partners.get(str(partner_id))
    if partner is None:
        detail = f"No partner has id {partner_id}{_what_else_it_names(store, str(partner_id))}"
        raise ApiError.of(PARTNER_NOT_FOUND, detail, ("parameter", "id"))
    return partner


def _what_else_it_names(store: Store, some_id: str) -> str:
    """A hint when an unknown partner id names something else of the data set (an easy mix-up)."""
    business = store.businesses.get(some_id)
    if business is not None:
        return (
            f": it is the id of the business {business.name!r}. A business goes in the business_uuid "
            f"query parameter: GET /api/v1/partners?business_uuid={some_id}"
        )
    user = store.users.get(some_id)
    if user is not None:
        return ": it is the id of a user. The current user is picked by the Authorization header's token"
    return ""


def _list(viewer: Viewer) -> Response:
    request = current_request()
    store = get_store()
    valid = valid_request()
    query = valid.query
    mask = matching(store.index, valid.operation.operation_id, query, viewer.business)
    page = paginate(store.index, mask, number=query.get("page", 1), size=query.get("per_page", 25))
    links = page_links(request.path, list(sent_args().items(multi=True)), page)
    return json_response(get_renderer().list_document(page, viewer, _include(), links))


@bp.get("")
def list_partners() -> Response:
    g = current_globals()
    business_id = str(valid_request().query["business_uuid"])
    business = get_store().businesses.get(business_id)
    if business is None:
        raise ApiError.of(
            BUSINESS_NOT_FOUND, f"No business has id {business_id}", ("parameter", "business_uuid")
        )
    return _list(Viewer(user=g.user, business=business))


@bp.get("/available")
def list_available_partners() -> Response:
    return _list(_viewer_of_user())


@bp.get("/wholesalers")
def list_wholesalers() -> Response:
    return _list(_viewer_of_user())


@bp.get("/<uuid:partner_id>")
def get_partner(partner_id: uuid.UUID) -> Response:
    return json_response(get_renderer().single_document(_partner(partner_id), _viewer_of_user(), _include()))


def _related_partner_ids(relationship: dict[str, Any]) -> list[tuple[str, str]]:
    """Ids given in `relationships.partner`, in its JSON:API form and in the flat form the docs print."""
    found = []
    if "id" in (relationship.get("data") or {}):
        found.append(("/data/relationships/partner/data/id", str(relationship["data"]["id"])))
    if "id" in relationship:
        found.append(("/data/relationships/partner/id", str(relationship["id"])))
    return found


@bp.post("/<uuid:partner_id>/click_event")
def create_click_event(partner_id: uuid.UUID) -> Response:
    g = current_globals()
    partner = _partner(partner_id)
    data = valid_request().body["data"]
    if "id" in data:
        raise ApiError.of(
            CLIENT_GENERATED_ID,
            "/data/id is assigned by the server; send the click event without an id",
            ("pointer", "/data/id"),
        )
    relationship = (data.get("relationships") or {}).get("partner") or {}
    mismatches = [
        ErrorItem(
            PARTNER_MISMATCH,
            f"{pointer} must be the path's partner id {partner.id}, got {given}",
            ("pointer", pointer),
        )
        for pointer, given in _related_partner_ids(relationship)
        if uuid.UUID(given) != uuid.UUID(partner.id)
    ]
    if mismatches:
        raise ApiError(*mismatches)
    user: User = g.user
    event = get_store().record_click(partner.id, user.id, data["attributes"]["event_type"])
    return json_response(click_event_document(event), status=201)


@bp.patch("/<uuid:partner_id>/connect")
def connect_partner(partner_id: uuid.UUID) -> Response:
    g = current_globals()
    partner = _partner(partner_id)
    get_store().connect(g.user.id, partner.id)
    return json_response(get_renderer().single_document(partner, _viewer_of_user(), frozenset()))


def _return_preference() -> str | None:
    """The request's `return` preference (RFC 7240 `Prefer: return=minimal`), lower case; the first
    one counts, and a request without one gets None."""
    request = current_request()
    for header in request.headers.getlist("Prefer"):
        for preference in header.split(","):
            name, _, value = preference.partition(";")[0].partition("=")
            if name.strip().lower() == "return":
                return value.strip().strip('"').lower()
    return None


@bp.delete("/<uuid:partner_id>/connect")
def disconnect_partner(partner_id: uuid.UUID) -> Response:
    """The partner, as PATCH answers it (the API docs' sample reads the answer as JSON); a 204 without
    a body for `Prefer: return=minimal`."""
    g = current_globals()
    partner = _partner(partner_id)
    get_store().disconnect(g.user.id, partner.id)
    preference = _return_preference()
    if preference == "minimal":
        return no_content({"Preference-Applied": "return=minimal"})
    response = json_response(get_renderer().single_document(partner, _viewer_of_user(), frozenset()))
    if preference == "representation":
        response.headers["Preference-Applied"] = "return=representation"
    return response
