"""JSON:API documents: resources with dasherized attributes, relationship links, paging links and meta."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import orjson
from flask import Response

from mockserver.core.context import current_globals
from mockserver.dataset.model import Business, Partner, PartnerIntegration, User
from mockserver.dataset.queries import Page
from mockserver.state.store import ClickEvent, Store, current_session

API_PREFIX = "/api/v1/partners"
MAX_RENDERED = 20_000
"""Rendered partners cached, over every session's renderer (about 1.2 kB each)."""


@dataclass(frozen=True)
class Viewer:
    """Whose point of view the flags describe: the current user and the business in question."""

    user: User
    business: Business


def json_response(document: dict[str, Any], status: int = 200) -> Response:
    g = current_globals()
    g.response_document = document  # spares the response self-check from parsing the body again
    return Response(orjson.dumps(document), status=status, mimetype="application/json")


def partner_url(partner_id: str) -> str:
    return f"{API_PREFIX}/{partner_id}"


def identifier(kind: str, resource_id: str) -> dict[str, str]:
    return {"type": kind, "id": resource_id}


def _relationship(partner_id: str, name: str) -> dict[str, Any]:
    base = partner_url(partner_id)
    return {"links": {"self": f"{base}/relationships/{name}", "related": f"{base}/{name}"}}


Template = tuple[dict[str, Any], dict[str, Any], dict[str, Any]]


def _build_template(partner: Partner) -> Template:
    """What a partner's resource looks like whoever asks: built once per partner, copied per use."""
    attributes = {
        "active": partner.active,
        "book-meeting": partner.book_meeting,
        "categories": list(partner.categories),
        "country-code": partner.country_code,
        "description": partner.description,
        "display-credentials-prompt": partner.display_credentials_prompt,
        "email": partner.email,
        "logo": {"url": partner.logo_url},
        "name": partner.name,
        "status": partner.status,
        "partner-integration-active": None,
        "partner-integration-requested": None,
        "phone": partner.phone,
        "preferred": None,
        "user-integration-requested": None,
        "video-url": partner.video_url,
        "website-supports-iframe": partner.website_supports_iframe,
        "website-url": partner.website_url,
        "wholesaler-category": partner.wholesaler_category,
        "wholesaler-types": list(partner.wholesaler_types),
    }
    return (
        attributes,
        _relationship(partner.id, "users"),
        _relationship(partner.id, "partner-integrations"),
    )


class RenderBudget:
    """One bound on the rendered pieces that every renderer of a server (one per session) caches.

    Only a miss comes here (a hit is one dict lookup in the renderer). Past the bound, the whole cache
    of the renderer that least recently added a piece is dropped; a renderer alone at the bound renders
    its further pieces per request. A cache a new version replaced stays counted until its renderer
    adds again or is dropped: the count is never below what is held."""

    def __init__(self, limit: int = MAX_RENDERED) -> None:
        self.limit = limit
        self.cached = 0
        """Pieces counted, over every renderer."""
        self.dropped = 0
        """Renderers' caches dropped for the bound since start-up."""
        self._held: OrderedDict[Renderer, tuple[dict[Hashable, Any], int]] = OrderedDict()
        """Renderer → its cache as counted and how many pieces it holds; least recently added first."""
        self._lock = threading.Lock()

    def keep(self, renderer: Renderer, pieces: dict[Hashable, Any], key: Hashable, piece: Any) -> None:
        """Cache a piece in a renderer's current cache, within the bound."""
        with self._lock:
            if renderer._pieces[1] is not pieces:  # replaced meanwhile (a new version, or dropped)
                return
            held, count = self._held.pop(renderer, (pieces, 0))
            if held is not pieces:  # a new cache since the last piece: the old one is gone
                self.cached -= count
                count = 0
            while self.cached >= self.limit and self._held:
                self._drop(next(iter(self._held)))
            if self.cached < self.limit:
                pieces[key] = piece
                count += 1
                self.cached += 1
            self._held[renderer] = (pieces, count)

    def _drop(self, renderer: Renderer) -> None:
        """Drop a renderer's cache (under the lock)."""
        _, count = self._held.pop(renderer)
        self.cached -= count
        self.dropped += 1
        renderer._pieces = (renderer._pieces[0], {})

    def forget(self, renderer: Renderer) -> None:
        """The renderer's session is gone: its cache no longer counts."""
        with self._lock:
            _, count = self._held.pop(renderer, (None, 0))
            self.cached -= count


class Renderer:
    """Renders a store's partners; a rendered resource is reused until the store's next write.

    A piece rendered while a write lands is returned but not kept, so no stale piece survives. The
    pieces every renderer of a server caches are bounded together (`RenderBudget`).
    """

    def __init__(
        self, store: Store, templates: dict[str, Template] | None = None, budget: RenderBudget | None = None
    ) -> None:
        self.store = store
        self._templates: dict[str, Template] = {} if templates is None else templates
        """Partner templates depend on the data set only: renderers of forked stores share them."""
        self.budget = budget or RenderBudget()
        self._pieces: tuple[int, dict[Hashable, Any]] = (store.version, {})

    def _cached(self, key: Hashable, render: Callable[[], Any]) -> Any:
        version, pieces = self._current_pieces()
        piece = pieces.get(key)
        if piece is None:
            piece = self._rendered(version, pieces, key, render())
        return piece

    def _current_pieces(self) -> tuple[int, dict[Hashable, Any]]:
        """The store's version and the pieces rendered at it (emptied when it moved)."""
        version = self.store.version
        cached_version, pieces = self._pieces
        if cached_version != version:
            pieces = {}
            self._pieces = (version, pieces)
        return version, pieces

    def _rendered(self, version: int, pieces: dict[Hashable, Any], key: Hashable, piece: Any) -> Any:
        """Keep a piece rendered at `version`, unless a write came meanwhile."""
        if self.store.version == version:
            self.budget.keep(self, pieces, key, piece)
        return piece

    def fork(self, store: Store) -> Renderer:
        """A renderer for a forked store: its own cache of rendered pieces, the same templates and bound."""
        return Renderer(store, self._templates, self.budget)

    def release(self) -> None:
        """The session is gone: its cache no longer counts against the bound."""
        self.budget.forget(self)

    def _template(self, partner: Partner) -> Template:
        template = self._templates.get(partner.id)
        if template is None:
            template = self._templates[partner.id] = _build_template(partner)
        return template

    def partner_resource(self, partner: Partner, viewer: Viewer, include: frozenset[str]) -> dict[str, Any]:
        """The partner as this viewer sees it."""
        key = (partner.id, viewer.business.id, viewer.user.id, include)
        resource: dict[str, Any] = self._cached(key, lambda: self._render_partner(partner, viewer, include))
        return resource

    def _render_partner(self, partner: Partner, viewer: Viewer, include: frozenset[str]) -> dict[str, Any]:
        store = self.store
        template, users_template, integrations_template = self._template(partner)
        integration = store.integrations.get((viewer.business.id, partner.id))
        attributes = dict(template)
        if integration is not None:
            attributes["partner-integration-active"] = integration.active
            attributes["partner-integration-requested"] = integration.requested
        attributes["preferred"] = partner.id in viewer.business.preferred_partner_ids
        linked = store.linked_user_ids(partner.id)
        attributes["user-integration-requested"] = viewer.user.id in linked
        users = dict(users_template)
        integrations = dict(integrations_template)
        if "users" in include:
            users["data"] = [identifier("users", u.id) for u in store.users_in_order(linked)]
        if "partner_integrations" in include:
            integrations["data"] = [identifier("partner-integrations", integration.id)] if integration else []
        return {
            "id": partner.id,
            "type": "partners",
            "links": {"self": partner_url(partner.id)},
            "attributes": attributes,
            "relationships": {"users": users, "partner-integrations": integrations},
        }

    def list_document(
        self, page: Page, viewer: Viewer, include: frozenset[str], links: dict[str, str | None]
    ) -> dict[str, Any]:
        version, pieces = self._current_pieces()  # once for the page, not once per partner
        business_id, user_id = viewer.business.id, viewer.user.id
        data = []
        for partner in page.items:
            key = (partner.id, business_id, user_id, include)
            resource = pieces.get(key)
            if resource is None:
                resource = self._rendered(
                    version, pieces, key, self._render_partner(partner, viewer, include)
                )
            data.append(resource)
        document: dict[str, Any] = {
            "data": data,
            "meta": {"total-count": page.total_count, "total-pages": page.total_pages},
            "links": links,
        }
        if include:
            document["included"] = included_resources(data, self.store)
        return document

    def single_document(self, partner: Partner, viewer: Viewer, include: frozenset[str]) -> dict[str, Any]:
        resource = self.partner_resource(partner, viewer, include)
        document: dict[str, Any] = {"data": resource}
        if include:
            document["included"] = included_resources([resource], self.store)
        return document


def user_resource(user: User) -> dict[str, Any]:
    return {
        "id": user.id,
        "type": "users",
        "attributes": {"first-name": user.first_name, "last-name": user.last_name, "email": user.email},
    }


def integration_resource(integration: PartnerIntegration) -> dict[str, Any]:
    return {
        "id": integration.id,
        "type": "partner-integrations",
        "attributes": {
            "active": integration.active,
            "requested": integration.requested,
            "integration-login": integration.integration_login,
        },
        "relationships": {
            "business": {"data": identifier("businesses", integration.business_id)},
            "partner": {"data": identifier("partners", integration.partner_id)},
        },
    }


def included_resources(resources: Iterable[dict[str, Any]], store: Store) -> list[dict[str, Any]]:
    """The compound document's `included`: each resource the linkage names, once, in first-seen order.

    Read from the rendered linkage, not from the store again, so `included` always agrees with it.
    """
    seen: dict[tuple[str, str], dict[str, Any]] = {}
    for resource in resources:
        for relationship in resource["relationships"].values():
            for ref in relationship.get("data", ()):
                key = (ref["type"], ref["id"])
                if key not in seen:
                    seen[key] = _included_resource(store, *key)
    return list(seen.values())


def _included_resource(store: Store, kind: str, resource_id: str) -> dict[str, Any]:
    if kind == "users":
        return user_resource(store.users[resource_id])
    return integration_resource(store.integrations_by_id[resource_id])


def page_links(path: str, args: list[tuple[str, str]], page: Page) -> dict[str, str | None]:
    """first/prev/next/last links that keep every other query parameter as the client sent it."""
    kept = urlencode([(k, v) for k, v in args if k not in ("page", "per_page")], safe="[],")
    prefix = f"{path}?{kept}&" if kept else f"{path}?"
    last = max(page.total_pages, 1)

    def url(number: int) -> str:
        return f"{prefix}page={number}&per_page={page.size}"

    return {
        "self": url(page.number),
        "first": url(1),
        "prev": url(min(page.number - 1, last)) if page.number > 1 else None,
        "next": url(page.number + 1) if page.number < page.total_pages else None,
        "last": url(last),
    }


def click_event_document(event: ClickEvent) -> dict[str, Any]:
    return {
        "data": {
            "id": event.id,
            "type": "partner_click_events",
            "attributes": {
                "event-type": event.event_type,
                "created-at": event.created_at.isoformat().replace("+00:00", "Z"),
            },
            "relationships": {
                "partner": {"data": identifier("partners", event.partner_id)},
                "user": {"data": identifier("users", event.user_id)},
            },
        }
    }


def get_renderer() -> Renderer:
    """The renderer of the current request's store (its session's, or the default one)."""
    renderer: Renderer = current_session().renderer
    return renderer
