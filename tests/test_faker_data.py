"""Tests for mockserver.dataset.faker_data: determinism, independence from N, vocabulary and shape."""

from __future__ import annotations

import re
import uuid

import pytest

from mockserver.core.settings import Settings
from mockserver.dataset.faker_data import (
    COUNTRY_CODES,
    generate_dataset,
)
from mockserver.dataset.model import CATEGORIES, STATUSES, WHOLESALER_TYPES, DataSet, Partner

NULLABLE = (
    "wholesaler_category",
    "status",
    "logo_url",
    "website_url",
    "video_url",
    "description",
    "email",
    "phone",
    "book_meeting",
)
SLUG = r"[a-z0-9]+(?:-[a-z0-9]+)*"


@pytest.fixture(scope="module")
def large() -> DataSet:
    """A data set big enough for proportions to settle."""
    return generate_dataset(11, 3000)


def share(partners: tuple[Partner, ...], field: str) -> float:
    """Fraction of partners whose `field` is None."""
    return sum(getattr(p, field) is None for p in partners) / len(partners)


def test_defaults_are_the_documented_constants() -> None:
    defaults = Settings()
    assert (defaults.seed, defaults.partners) == (1, 100)
    assert len(generate_dataset(defaults.seed, defaults.partners).partners) == 100


def test_same_seed_and_size_give_equal_data_sets() -> None:
    assert generate_dataset(7, 60) == generate_dataset(7, 60)


def test_ids_and_names_are_pinned_for_seed_1() -> None:
    """Ids come from sha256 only; the name also pins Faker's output (Faker must be pinned)."""
    first = generate_dataset(1, 1).partners[0]
    assert first.id == "f990ab51-a2ce-4205-8991-39a1e6085e5c"
    assert first.name == "Alvarez-Ramos"
    assert first.categories == ("accounting", "pos")
    assert generate_dataset(1, 0).users[0].id == "7b32199c-cdf7-464b-9acb-73ab545280fc"


def test_partner_k_does_not_depend_on_how_many_partners_exist() -> None:
    small, big = generate_dataset(3, 10), generate_dataset(3, 50)
    small_ids = {p.id for p in small.partners}
    assert small.partners == big.partners[:10]
    assert small.users == big.users
    assert [b.id for b in small.businesses] == [b.id for b in big.businesses]
    for s, b in zip(small.businesses, big.businesses, strict=True):
        assert s.preferred_partner_ids == b.preferred_partner_ids & small_ids
    assert small.integrations == tuple(i for i in big.integrations if i.partner_id in small_ids)
    assert small.user_partner_links == {link for link in big.user_partner_links if link[1] in small_ids}


def test_different_seeds_give_different_data() -> None:
    one, two = generate_dataset(1, 20), generate_dataset(2, 20)
    assert {p.id for p in one.partners}.isdisjoint({p.id for p in two.partners})
    assert [p.name for p in one.partners] != [p.name for p in two.partners]
    assert {u.id for u in one.users}.isdisjoint({u.id for u in two.users})


def test_fixed_businesses_and_users() -> None:
    data = generate_dataset(5, 0)
    assert data.partners == () and data.integrations == ()
    assert len(data.businesses) == 2
    assert [u.token for u in data.users] == [f"user-{k}-token" for k in range(1, 5)]
    assert data.default_user_id == data.users[0].id
    business_ids = [b.id for b in data.businesses]
    assert [u.business_id for u in data.users] == [business_ids[0]] * 2 + [business_ids[1]] * 2
    for user in data.users:
        assert user.first_name and user.last_name
        assert re.fullmatch(r"[a-z.]+@[a-z0-9-]+\.example\.com", user.email), user.email


def test_negative_partner_count_is_refused() -> None:
    with pytest.raises(ValueError, match="partners must be >= 0"):
        generate_dataset(1, -1)


def test_ids_are_unique_version_4_uuids(large: DataSet) -> None:
    ids = [p.id for p in large.partners] + [b.id for b in large.businesses]
    ids += [u.id for u in large.users] + [i.id for i in large.integrations]
    assert len(set(ids)) == len(ids)
    for value in ids:
        assert str(uuid.UUID(value)) == value and uuid.UUID(value).version == 4


def test_partner_attributes_use_the_model_vocabularies(large: DataSet) -> None:
    for p in large.partners:
        assert 1 <= len(p.categories) <= 2 and len(set(p.categories)) == len(p.categories)
        assert set(p.categories) <= set(CATEGORIES)
        if "wholesaler" in p.categories:
            assert 1 <= len(p.wholesaler_types) <= 3
            assert set(p.wholesaler_types) <= set(WHOLESALER_TYPES)
            assert p.wholesaler_category is not None and 1 <= p.wholesaler_category <= 12
        else:
            assert p.wholesaler_types == () and p.wholesaler_category is None
        assert p.country_code in COUNTRY_CODES
        assert p.status is None or p.status in STATUSES
        assert p.name.strip() == p.name and p.name


def test_urls_emails_and_phones_have_their_documented_shapes(large: DataSet) -> None:
    for p in large.partners:
        if p.logo_url is not None:
            assert re.fullmatch(rf"https://cdn\.example-partners\.com/logos/{SLUG}\.png", p.logo_url)
        if p.website_url is not None:
            assert re.fullmatch(rf"https://www\.{SLUG}\.com", p.website_url)
        if p.video_url is not None:
            assert re.fullmatch(r"https://www\.youtube\.com/watch\?v=[A-Za-z0-9_-]{11}", p.video_url)
        if p.email is not None:
            assert re.fullmatch(rf"[a-z]+@{SLUG}\.com", p.email)
        if p.phone is not None:
            assert re.fullmatch(r"\+\d{1,3} \d{3} \d{3} \d{4}", p.phone)
        if p.book_meeting is not None:
            assert p.book_meeting.startswith("https://")


def test_every_nullable_attribute_has_nulls_and_values(large: DataSet) -> None:
    for field in NULLABLE:
        values = [getattr(p, field) for p in large.partners]
        assert None in values, field
        assert any(v is not None for v in values), field
    assert {p.status for p in large.partners} == {*STATUSES, None}
    for flag in ("active", "website_supports_iframe", "display_credentials_prompt"):
        assert {getattr(p, flag) for p in large.partners} == {True, False}


@pytest.mark.parametrize(
    ("field", "low", "high"),
    [
        ("status", 0.05, 0.11),
        ("logo_url", 0.07, 0.13),
        ("website_url", 0.03, 0.07),
        ("video_url", 0.56, 0.64),
        ("description", 0.26, 0.34),
        ("email", 0.36, 0.44),
        ("phone", 0.46, 0.54),
        ("book_meeting", 0.76, 0.84),
    ],
)
def test_null_shares_match_the_brief(large: DataSet, field: str, low: float, high: float) -> None:
    assert low <= share(large.partners, field) <= high


def test_category_and_status_mix(large: DataSet) -> None:
    partners = large.partners
    wholesalers = sum("wholesaler" in p.categories for p in partners) / len(partners)
    available = sum(p.status == "available" for p in partners) / len(partners)
    active = sum(p.active for p in partners) / len(partners)
    assert 0.21 <= wholesalers <= 0.29
    assert 0.55 <= available <= 0.70
    assert 0.81 <= active <= 0.89
    assert set().union(*(p.categories for p in partners)) == set(CATEGORIES)
    assert set().union(*(p.wholesaler_types for p in partners)) == set(WHOLESALER_TYPES)


def test_relationships_per_business_and_user(large: DataSet) -> None:
    n = len(large.partners)
    partner_ids = {p.id for p in large.partners}
    business_ids = {b.id for b in large.businesses}
    for business in large.businesses:
        assert 0.12 <= len(business.preferred_partner_ids) / n <= 0.18
        assert business.preferred_partner_ids <= partner_ids
        owned = [i for i in large.integrations if i.business_id == business.id]
        assert 0.26 <= len(owned) / n <= 0.34
    for user in large.users:
        linked = {p for u, p in large.user_partner_links if u == user.id}
        assert 0.07 <= len(linked) / n <= 0.13
        assert linked <= partner_ids
    pairs = [(i.business_id, i.partner_id) for i in large.integrations]
    assert len(set(pairs)) == len(pairs)
    assert {b for b, _ in pairs} == business_ids and {p for _, p in pairs} <= partner_ids
    states = {(i.active, i.requested) for i in large.integrations}
    assert states == {(True, False), (False, True), (False, False)}
    logins = [i.integration_login for i in large.integrations]
    assert None in logins and any(login is not None for login in logins)
