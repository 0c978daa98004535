"""The data set, indexed once, plus the state requests change; the current request's store."""

from __future__ import annotations

import copy
from contextvars import ContextVar
from typing import Any

from flask import Flask, current_app

from mockserver.core.channels import SESSIONS_EXTENSION
from mockserver.dataset.index import PartnerIndex
from mockserver.dataset.model import Business, DataSet, Partner, PartnerIntegration, User
from mockserver.state.mutable import ClickBudget, ClickEvent, MemoryState, State

__all__ = ["ClickEvent", "Store", "current_session", "get_store"]


class Store:
    """The data set, indexed once, and the state requests change (`mutable.State`: in memory by default, or
    shared through Redis)."""

    def __init__(
        self,
        dataset: DataSet,
        seed: int = 0,
        max_click_events: int = 100_000,
        state: State | None = None,
        budget: ClickBudget | None = None,
    ) -> None:
        """`budget`: the bound on click events shared with other stores (by default one of its own)."""
        self.dataset = dataset
        self._seed = seed
        self.businesses: dict[str, Business] = {b.id: b for b in dataset.businesses}
        self.users: dict[str, User] = {u.id: u for u in dataset.users}
        self.users_by_token: dict[str, User] = {u.token: u for u in dataset.users}
        self.partners: dict[str, Partner] = {p.id: p for p in dataset.partners}
        self.index = PartnerIndex(dataset.partners, dataset.businesses)
        self.integrations: dict[tuple[str, str], PartnerIntegration] = {
            (i.business_id, i.partner_id): i for i in dataset.integrations
        }
        self.integrations_by_id: dict[str, PartnerIntegration] = {i.id: i for i in dataset.integrations}
        default = dataset.default_user_id or (dataset.users[0].id if dataset.users else None)
        self.default_user: User | None = self.users.get(default) if default else None
        self._attach(state or MemoryState(dataset.user_partner_links, seed, max_click_events, budget))

    def _attach(self, state: State) -> None:
        self.state = state
        # Bound once: a read on the request path is one call, not two.
        self.linked_user_ids = state.linked_user_ids
        self.connect = state.connect
        self.disconnect = state.disconnect
        self.record_click = state.record_click
        self.click_events = state.click_events
        self.reset = state.reset
        self.release = state.release

    @property
    def seed(self) -> int:
        return self._seed

    @property
    def version(self) -> int:
        """Bumped by every write that changes what a read returns (renderers' caches watch it)."""
        return self.state.version

    @property
    def max_click_events(self) -> int:
        return self.state.max_click_events

    @property
    def click_events_dropped(self) -> int:
        """Events recorded since the last reset that the bound pushed out."""
        return self.state.click_events_dropped

    def with_state(self, state: State) -> Store:
        """A store over the same data set and indexes (shared, never copied) with another state."""
        other = copy.copy(self)
        other._attach(state)
        return other

    def fork(self) -> Store:
        """A store over the same data set and indexes with its own fresh in-memory state."""
        state = self.state
        assert isinstance(state, MemoryState), "shared states are made per session by their sessions"
        return self.with_state(state.fresh())

    def users_in_order(self, user_ids: frozenset[str]) -> list[User]:
        """These users, in data-set order."""
        return [user for user in self.dataset.users if user.id in user_ids]


CURRENT_SESSION: ContextVar[Any] = ContextVar("mockserver_session", default=None)
"""The current request's session (it has `.store` and `.renderer`), set by `sessions` at the start of
every request: the one `X-Mock-Session` names, or the default. A context variable, as Flask keeps its
own request state: reading it costs far less than a lookup through `flask.g` on the plain request
path, and one read gives a store and its renderer that belong together even while the data set is
switched."""


def current_session(app: Flask | None = None) -> Any:
    """The current request's session; with `app` (outside requests), that app's default one."""
    if app is not None:
        return app.extensions[SESSIONS_EXTENSION].default
    session = CURRENT_SESSION.get()
    if session is None:
        session = current_app.extensions[SESSIONS_EXTENSION].default
    return session


def get_store() -> Store:
    """The current request's store: its session's, or the default one."""
    store: Store = current_session().store
    return store
