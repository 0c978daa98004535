"""The mock's data model: immutable records shared by the Faker generator and scenario files."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

CATEGORIES: tuple[str, ...] = (
    "accounting",
    "delivery",
    "inventory",
    "marketing",
    "payments",
    "payroll",
    "pos",
    "reservations",
    "scheduling",
    "wholesaler",
)
"""Fixed vocabulary of partner categories (the spec's enum says the same)."""

WHOLESALER_TYPES: tuple[str, ...] = (
    "beer",
    "coffee",
    "dairy",
    "dry_goods",
    "meat",
    "produce",
    "seafood",
    "soft_drinks",
    "spirits",
    "wine",
)
"""Fixed vocabulary of wholesaler types, matched by `filter[wholesaler_categories]`."""

STATUSES: tuple[str, ...] = ("available", "coming_soon", "unavailable", "discontinued")
"""Partner statuses; a partner's status may also be null."""


@dataclass(frozen=True)
class Business:
    id: str
    name: str
    preferred_partner_ids: frozenset[str] = frozenset()


@dataclass(frozen=True)
class User:
    id: str
    first_name: str
    last_name: str
    email: str
    business_id: str
    token: str


@dataclass(frozen=True)
class Partner:
    id: str
    name: str
    categories: tuple[str, ...]
    wholesaler_types: tuple[str, ...]
    wholesaler_category: int | None
    country_code: str | None
    status: str | None
    active: bool
    logo_url: str | None
    website_url: str | None
    website_supports_iframe: bool
    video_url: str | None
    description: str | None
    email: str | None
    phone: str | None
    book_meeting: str | None
    display_credentials_prompt: bool


@dataclass(frozen=True)
class PartnerIntegration:
    """A business's connection to a partner; the login is served, a password never exists here."""

    id: str
    business_id: str
    partner_id: str
    active: bool
    requested: bool
    integration_login: str | None


@dataclass(frozen=True)
class DataSet:
    """Everything a server starts from; the mutable part (links, click events) lives in the store."""

    businesses: tuple[Business, ...]
    users: tuple[User, ...]
    partners: tuple[Partner, ...]
    integrations: tuple[PartnerIntegration, ...]
    user_partner_links: frozenset[tuple[str, str]] = field(default_factory=frozenset)
    """Pairs of (user id, partner id) linked at start."""
    default_user_id: str | None = None
    """The user a request without an Authorization header acts as; None means the first user."""
    rules: tuple[dict[str, Any], ...] = ()
    """Rule definitions of a scenario (`rules:`), checked against the spec when it was loaded with one;
    `rules.book.compile_rules` makes them answer."""
