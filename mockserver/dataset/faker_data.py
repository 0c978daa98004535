"""Seeded, domain-aware fake data: every value depends only on (seed, record, field), never on N."""

from __future__ import annotations

import base64
import hashlib
import re
import uuid
from random import Random

from faker import Faker

from mockserver.dataset.model import (
    CATEGORIES,
    STATUSES,
    WHOLESALER_TYPES,
    Business,
    DataSet,
    Partner,
    PartnerIntegration,
    User,
)

BUSINESSES = 2
USERS_PER_BUSINESS = 2

COUNTRY_CODES: tuple[str, ...] = (
    "US", "GB", "DE", "FR", "ES", "IT", "NL", "SE", "DK", "NO", "IE", "AU", "CA",
)  # fmt: skip
DIALLING_CODES: dict[str, str] = {
    "US": "1", "GB": "44", "DE": "49", "FR": "33", "ES": "34", "IT": "39", "NL": "31",
    "SE": "46", "DK": "45", "NO": "47", "IE": "353", "AU": "61", "CA": "1",
}  # fmt: skip
STATUS_WEIGHTS: tuple[tuple[str | None, float], ...] = (
    (None, 0.08),
    ("available", 0.62),
    ("coming_soon", 0.14),
    ("unavailable", 0.09),
    ("discontinued", 0.07),
)
"""Shares for the weighted status draw: they sum to 1, every model status and null appear."""

NAME_SUFFIXES: dict[str, tuple[str, ...]] = {
    "accounting": ("Books", "Ledger", "Accounting"),
    "delivery": ("Delivery", "Couriers", "Dispatch"),
    "inventory": ("Stock", "Inventory", "Stockroom"),
    "marketing": ("Marketing", "Media", "Loyalty"),
    "payments": ("Pay", "Payments"),
    "payroll": ("Payroll", "People", "HR"),
    "pos": ("POS", "Point of Sale", "Till"),
    "reservations": ("Tables", "Reservations", "Bookings"),
    "scheduling": ("Shifts", "Rota", "Scheduling"),
    "beer": ("Brewing", "Beer Co."),
    "coffee": ("Coffee Roasters", "Coffee"),
    "dairy": ("Dairy", "Creamery"),
    "dry_goods": ("Foods", "Provisions", "Food Service"),
    "meat": ("Meats", "Butchers"),
    "produce": ("Produce", "Fresh Farms"),
    "seafood": ("Seafood", "Fisheries"),
    "soft_drinks": ("Beverages", "Bottling", "Drinks"),
    "spirits": ("Spirits", "Distillers"),
    "wine": ("Wines", "Wine Merchants", "Vineyards"),
}
"""Name endings that fit a partner's main category (or wholesaler type)."""

BLURBS: dict[str, str] = {
    "accounting": "Bookkeeping and VAT returns that sync with your sales.",
    "delivery": "Delivery orders straight into your kitchen.",
    "inventory": "Stock counts, waste tracking and automatic reorders.",
    "marketing": "Guest marketing, loyalty and reviews in one place.",
    "payments": "Card and mobile payments with next-day payouts.",
    "payroll": "Payroll, tips and holiday pay for hospitality teams.",
    "pos": "A point of sale built for busy service.",
    "reservations": "Online table bookings and waitlists.",
    "scheduling": "Staff rotas and time clocks that follow your covers.",
    "wholesaler": "Order stock from your supplier without picking up the phone.",
}
BUSINESS_KINDS: tuple[str, ...] = ("Bistro", "Kitchen", "Trattoria", "Brasserie", "Tavern", "Diner")
EMAIL_BOXES: tuple[str, ...] = ("info", "partners", "sales", "hello", "support")
OTHER_CATEGORIES: tuple[str, ...] = tuple(c for c in CATEGORIES if c != "wholesaler")


def generate_dataset(seed: int, partners: int) -> DataSet:
    """Build the whole data set: 2 businesses, 4 users and `partners` partners, all from `seed`."""
    if partners < 0:
        raise ValueError(f"partners must be >= 0, got {partners}")
    fake = Faker("en_US")
    business_names = [_business_name(fake, seed, b) for b in range(1, BUSINESSES + 1)]
    business_ids = [_uuid(seed, "business", b) for b in range(1, BUSINESSES + 1)]
    owners = [(u, (u - 1) // USERS_PER_BUSINESS) for u in range(1, BUSINESSES * USERS_PER_BUSINESS + 1)]
    users = tuple(_user(fake, seed, u, business_ids[b], business_names[b]) for u, b in owners)
    logins = [_slug(name) for name in business_names]
    preferred: list[list[str]] = [[] for _ in business_ids]
    integrations: list[PartnerIntegration] = []
    links: set[tuple[str, str]] = set()
    partner_list: list[Partner] = []
    for k in range(1, partners + 1):
        partner = _partner(fake, seed, k)
        partner_list.append(partner)
        for b, business_id in enumerate(business_ids, 1):
            scope = f"business-{b}"
            if _unit(seed, scope, k, "preferred") < 0.15:
                preferred[b - 1].append(partner.id)
            if _unit(seed, scope, k, "integration") < 0.30:
                integrations.append(_integration(seed, b, k, business_id, logins[b - 1], partner.id))
        for u, user in enumerate(users, 1):
            if _unit(seed, f"user-{u}", k, "link") < 0.10:
                links.add((user.id, partner.id))
    businesses = tuple(
        Business(id=bid, name=name, preferred_partner_ids=frozenset(pref))
        for bid, name, pref in zip(business_ids, business_names, preferred, strict=True)
    )
    return DataSet(
        businesses=businesses,
        users=users,
        partners=tuple(partner_list),
        integrations=tuple(integrations),
        user_partner_links=frozenset(links),
        default_user_id=users[0].id,
    )


def _digest(seed: int, kind: str, k: int, field: str) -> bytes:
    """Stable bytes for one field of one record; sha256 so no run or machine changes them."""
    return hashlib.sha256(f"{seed}:{kind}:{k}:{field}".encode()).digest()


def _unit(seed: int, kind: str, k: int, field: str) -> float:
    """A uniform draw in [0, 1) for one field of one record."""
    return int.from_bytes(_digest(seed, kind, k, field)[:8], "big") / 2**64


def _rng(seed: int, kind: str, k: int, field: str) -> Random:
    """A private Random for one field that needs several draws (samples, strings)."""
    return Random(int.from_bytes(_digest(seed, kind, k, field)[:8], "big"))


def _faker(fake: Faker, seed: int, kind: str, k: int, field: str) -> Faker:
    """Reseed the shared instance for one field, so adding a field never shifts the others."""
    fake.seed_instance(int.from_bytes(_digest(seed, kind, k, field)[:8], "big"))
    return fake


def _uuid(seed: int, kind: str, k: int) -> str:
    """A version-4-shaped UUID derived from (seed, kind, k)."""
    return str(uuid.UUID(bytes=_digest(seed, kind, k, "id")[:16], version=4))


def _slug(text: str) -> str:
    """Lowercase ASCII slug for domains and logo file names."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower().replace("'", "")).strip("-") or "partner"


def _pick(draw: float, options: tuple[str, ...]) -> str:
    """The option a uniform draw in [0, 1) lands on."""
    return options[int(draw * len(options))]


def _maybe(draw: float, none_share: float, value: str) -> str | None:
    """The value, or None when the draw falls in the first `none_share` of [0, 1)."""
    return None if draw < none_share else value


def _business_name(fake: Faker, seed: int, b: int) -> str:
    """A restaurant name such as "Miller's Brasserie"."""
    kind = _pick(_unit(seed, "business", b, "kind"), BUSINESS_KINDS)
    return f"{_faker(fake, seed, 'business', b, 'name').last_name()}'s {kind}"


def _user(fake: Faker, seed: int, u: int, business_id: str, business_name: str) -> User:
    """User u (1-based), whose token is `user-{u}-token`."""
    first = _faker(fake, seed, "user", u, "first_name").first_name()
    last = _faker(fake, seed, "user", u, "last_name").last_name()
    local = re.sub(r"[^a-z0-9.]", "", f"{first}.{last}".lower())
    return User(
        id=_uuid(seed, "user", u),
        first_name=first,
        last_name=last,
        email=f"{local}@{_slug(business_name)}.example.com",
        business_id=business_id,
        token=f"user-{u}-token",
    )


def _categories(rng: Random) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """1-2 categories (about a quarter include "wholesaler") and, for wholesalers, 1-3 types."""
    if rng.random() < 0.25:
        extra = (rng.choice(OTHER_CATEGORIES),) if rng.random() < 0.3 else ()
        types = rng.sample(WHOLESALER_TYPES, rng.randint(1, 3))
        return ("wholesaler", *extra), tuple(sorted(types, key=WHOLESALER_TYPES.index))
    picked = rng.sample(OTHER_CATEGORIES, rng.randint(1, 2))
    return tuple(sorted(picked, key=CATEGORIES.index)), ()


def _status(draw: float) -> str | None:
    """Draw a status from STATUS_WEIGHTS."""
    for status, weight in STATUS_WEIGHTS:
        if draw < weight:
            return status
        draw -= weight
    return STATUSES[0]


def _partner_name(fake: Faker, seed: int, k: int, theme: str) -> str:
    """A company name, often with an ending that fits its category ("Nolan Beverages")."""
    fake = _faker(fake, seed, "partner", k, "name")
    if _unit(seed, "partner", k, "name_style") < 0.55:
        suffix = _pick(_unit(seed, "partner", k, "name_suffix"), NAME_SUFFIXES[theme])
        return f"{fake.last_name()} {suffix}"
    return fake.company()


def _partner(fake: Faker, seed: int, k: int) -> Partner:
    """Partner k (1-based); only (seed, k) decide its values."""

    def unit(field: str) -> float:
        return _unit(seed, "partner", k, field)

    categories, wholesaler_types = _categories(_rng(seed, "partner", k, "categories"))
    wholesaler = "wholesaler" in categories
    theme = wholesaler_types[0] if wholesaler else categories[0]
    name = _partner_name(fake, seed, k, theme)
    slug = _slug(name)
    country = _pick(unit("country_code"), COUNTRY_CODES)
    description = None
    if unit("description") >= 0.3:
        text = _faker(fake, seed, "partner", k, "description_text")
        if unit("description_style") < 0.7:
            description = f"{text.catch_phrase()}. {BLURBS[categories[0]]}"
        else:
            description = text.paragraph(nb_sentences=3)
    phone = None
    if unit("phone") >= 0.5:
        rng = _rng(seed, "partner", k, "phone_digits")
        digits = f"{rng.randint(200, 999)} {rng.randint(100, 999)} {rng.randint(1000, 9999)}"
        phone = f"+{DIALLING_CODES[country]} {digits}"
    video_id = base64.urlsafe_b64encode(_digest(seed, "partner", k, "video_id")[:9]).decode()[:11]
    mailbox = _pick(unit("email_box"), EMAIL_BOXES)
    logo = f"https://cdn.example-partners.com/logos/{slug}.png"
    return Partner(
        id=_uuid(seed, "partner", k),
        name=name,
        categories=categories,
        wholesaler_types=wholesaler_types,
        wholesaler_category=1 + int(unit("wholesaler_category") * 12) if wholesaler else None,
        country_code=country,
        status=_status(unit("status")),
        active=unit("active") < 0.85,
        logo_url=_maybe(unit("logo_url"), 0.10, logo),
        website_url=_maybe(unit("website_url"), 0.05, f"https://www.{slug}.com"),
        website_supports_iframe=unit("website_supports_iframe") < 0.5,
        video_url=_maybe(unit("video_url"), 0.60, f"https://www.youtube.com/watch?v={video_id}"),
        description=description,
        email=_maybe(unit("email"), 0.40, f"{mailbox}@{slug}.com"),
        phone=phone,
        book_meeting=_maybe(unit("book_meeting"), 0.80, f"https://calendly.com/{slug}/intro-call"),
        display_credentials_prompt=unit("display_credentials_prompt") < 0.3,
    )


def _integration(
    seed: int, b: int, k: int, business_id: str, login_prefix: str, partner_id: str
) -> PartnerIntegration:
    """Business b's integration with partner k: live (50%), requested (30%) or dormant (20%)."""
    scope = f"business-{b}"
    state = _unit(seed, scope, k, "integration_state")
    login_number = _rng(seed, scope, k, "integration_login").randint(100, 9999)
    return PartnerIntegration(
        id=_uuid(seed, f"integration-{b}", k),
        business_id=business_id,
        partner_id=partner_id,
        active=state < 0.5,
        requested=0.5 <= state < 0.8,
        integration_login=_maybe(
            _unit(seed, scope, k, "integration_login_null"), 0.3, f"{login_prefix}-{login_number}"
        ),
    )
