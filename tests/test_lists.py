"""The read operations: the three lists and GET /{id}, checked against the scenario files themselves.

Expected results are computed here from the scenario YAML (read with `yaml.safe_load`), never from
the server's own code: filters, search, ordering, flags, paging and `include`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest
import yaml
from flask import Flask
from flask.testing import FlaskClient
from support import (
    ALICE,
    API,
    B1,
    B2,
    BOB,
    P02,
    P04,
    P07,
    PARTNER_DEFAULTS,
    SCENARIOS_DIR,
    bearer,
    make_app,
)

Json = dict[str, Any]
Params = list[tuple[str, str]]
Keep = Callable[[Json], bool]

AVAILABLE_PATH = f"{API}/available"
WHOLESALERS_PATH = f"{API}/wholesalers"


def load_scenario_yaml(name: str) -> Json:
    """A scenario file as plain data, optional partner fields filled with their documented defaults."""
    data: Json = yaml.safe_load((SCENARIOS_DIR / f"{name}.yaml").read_text(encoding="utf-8"))
    data["partners"] = [{**PARTNER_DEFAULTS, **p} for p in data["partners"]]
    return data


DEFAULT = load_scenario_yaml("default")
EDGE = load_scenario_yaml("edge-cases")


# The model, as the scenario files describe it.


def by_name(partners: Iterator[Json] | list[Json]) -> list[Json]:
    """Partners ordered by name (Unicode casefold), then id."""
    return sorted(partners, key=lambda p: (p["name"].casefold(), p["id"]))


def expected_ids(data: Json, keep: Keep = lambda p: True) -> list[str]:
    return [p["id"] for p in by_name([p for p in data["partners"] if keep(p)])]


def preferred_of(data: Json, business_id: str) -> set[str]:
    business = next(b for b in data["businesses"] if b["id"] == business_id)
    return set(business.get("preferred_partners", []))


def integration_of(data: Json, business_id: str, partner_id: str) -> Json | None:
    for item in data.get("integrations", []):
        if item["business"] == business_id and item["partner"] == partner_id:
            return {"active": False, "requested": False, "integration_login": None, **item}
    return None


def links_of(data: Json) -> set[tuple[str, str]]:
    return {(link["user"], link["partner"]) for link in data.get("links", [])}


def linked_users(data: Json, partner_id: str) -> list[Json]:
    """Users linked to a partner, in the file's order."""
    links = links_of(data)
    return [u for u in data["users"] if (u["id"], partner_id) in links]


def user_of(data: Json, token: str | None) -> Json:
    """The user a request acts as: the token's user, or the default user without a token."""
    if token is None:
        default = data.get("default_user", data["users"][0]["id"])
        return next(u for u in data["users"] if u["id"] == default)
    return next(u for u in data["users"] if u["token"] == token)


def partner_by_id(data: Json, partner_id: str) -> Json:
    return next(p for p in data["partners"] if p["id"] == partner_id)


def expected_attributes(data: Json, partner: Json, business_id: str, user_id: str) -> Json:
    integration = integration_of(data, business_id, partner["id"])
    return {
        "active": partner["active"],
        "book-meeting": partner["book_meeting"],
        "categories": partner["categories"],
        "country-code": partner["country_code"],
        "description": partner["description"],
        "display-credentials-prompt": partner["display_credentials_prompt"],
        "email": partner["email"],
        "logo": {"url": partner["logo_url"]},
        "name": partner["name"],
        "status": partner["status"],
        "partner-integration-active": integration["active"] if integration else None,
        "partner-integration-requested": integration["requested"] if integration else None,
        "phone": partner["phone"],
        "preferred": partner["id"] in preferred_of(data, business_id),
        "user-integration-requested": (user_id, partner["id"]) in links_of(data),
        "video-url": partner["video_url"],
        "website-supports-iframe": partner["website_supports_iframe"],
        "website-url": partner["website_url"],
        "wholesaler-category": partner["wholesaler_category"],
        "wholesaler-types": partner["wholesaler_types"],
    }


def relationship_links(partner_id: str, name: str) -> Json:
    base = f"{API}/{partner_id}"
    return {"links": {"self": f"{base}/relationships/{name}", "related": f"{base}/{name}"}}


def user_resource(user: Json) -> Json:
    return {
        "id": user["id"],
        "type": "users",
        "attributes": {
            "first-name": user["first_name"],
            "last-name": user["last_name"],
            "email": user["email"],
        },
    }


def integration_resource(integration: Json) -> Json:
    return {
        "id": integration["id"],
        "type": "partner-integrations",
        "attributes": {
            "active": integration["active"],
            "requested": integration["requested"],
            "integration-login": integration["integration_login"],
        },
        "relationships": {
            "business": {"data": {"type": "businesses", "id": integration["business"]}},
            "partner": {"data": {"type": "partners", "id": integration["partner"]}},
        },
    }


def is_available(partner: Json) -> bool:
    return partner["active"] and partner["status"] in ("available", "coming_soon")


def is_wholesaler(partner: Json) -> bool:
    return "wholesaler" in partner["categories"]


def matches(needle: str) -> Keep:
    """The search rule: a case-insensitive (casefold) substring of the name."""
    return lambda p: needle.casefold() in p["name"].casefold()


# HTTP helpers.


def url(path: str, params: Params | None = None) -> str:
    return f"{path}?{urlencode(params)}" if params else path


def get_json(client: FlaskClient, target: str, token: str | None = None) -> Json:
    response = client.get(target, headers=bearer(token))
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    document: Json = response.get_json()
    return document


def ids_of(document: Json) -> list[str]:
    return [resource["id"] for resource in document["data"]]


def list_everything(client: FlaskClient, path: str, params: Params, token: str | None = None) -> Json:
    """One page holding the whole result (the scenarios have fewer than 100 partners)."""
    document = get_json(client, url(path, [*params, ("per_page", "100")]), token)
    assert document["meta"]["total-count"] == len(document["data"])
    assert document["meta"]["total-pages"] == (1 if document["data"] else 0)
    return document


def split_link(link: str) -> tuple[str, Params, int, int]:
    """A paging link as (path, other parameters, page, per_page); it must be relative."""
    parts = urlsplit(link)
    assert not parts.scheme and not parts.netloc, f"{link} is not a relative URL"
    pairs = parse_qsl(parts.query, keep_blank_values=True)
    pages = [v for k, v in pairs if k == "page"]
    sizes = [v for k, v in pairs if k == "per_page"]
    assert len(pages) == 1 and len(sizes) == 1, link
    others = [(k, v) for k, v in pairs if k not in ("page", "per_page")]
    return parts.path, others, int(pages[0]), int(sizes[0])


def page_number(link: str | None) -> int | None:
    return None if link is None else split_link(link)[2]


# Every test here but one only reads: they share one app per scenario.


@pytest.fixture
def client(shared_app: Flask) -> Iterator[FlaskClient]:
    """Overrides conftest's `client`: a client of this module's one default-scenario app."""
    with shared_app.test_client() as test_client:
        yield test_client


@pytest.fixture(scope="module")
def edge_app() -> Flask:
    return make_app(scenario="edge-cases")


@pytest.fixture
def edge_client(edge_app: Flask) -> Iterator[FlaskClient]:
    with edge_app.test_client() as client:
        yield client


@pytest.fixture
def empty_client() -> Iterator[FlaskClient]:
    with make_app(scenario="empty").test_client() as client:
        yield client


@pytest.fixture
def app_of(request: pytest.FixtureRequest) -> Callable[[str], Flask]:
    """The module's shared app of a scenario, by name ("default" or "edge-cases")."""
    return lambda scenario: request.getfixturevalue(
        {"default": "shared_app", "edge-cases": "edge_app"}[scenario]
    )


# Ordering.


@pytest.mark.parametrize(
    ("scenario", "data"), [("default", DEFAULT), ("edge-cases", EDGE)], ids=["default", "edge-cases"]
)
def test_partners_are_ordered_by_casefolded_name_then_id(
    app_of: Callable[[str], Flask], scenario: str, data: Json
) -> None:
    expected = expected_ids(data)
    # The rule must matter: file order is not this order, nor (with edge cases) a case-sensitive sort.
    assert expected != [p["id"] for p in data["partners"]]
    case_sensitive = [p["id"] for p in sorted(data["partners"], key=lambda p: (p["name"], p["id"]))]
    assert (expected != case_sensitive) is (scenario == "edge-cases")
    with app_of(scenario).test_client() as client:
        document = list_everything(client, API, [("business_uuid", B1)])
    assert ids_of(document) == expected


def test_names_equal_but_for_case_are_ordered_by_id(edge_client: FlaskClient) -> None:
    document = list_everything(edge_client, API, [("business_uuid", B1), ("search", "acme")])
    assert [r["attributes"]["name"] for r in document["data"]] == [
        "acme supplies",
        "ACME Supplies",
        "Acme Supplies",
    ]
    assert ids_of(document) == [f"ed9e0000-0000-4000-8000-0000000000{n}" for n in (13, 14, 15)]


@pytest.mark.parametrize(
    ("path", "keep"),
    [(AVAILABLE_PATH, is_available), (WHOLESALERS_PATH, is_wholesaler)],
    ids=["available", "wholesalers"],
)
def test_other_lists_are_ordered_the_same_way(edge_client: FlaskClient, path: str, keep: Keep) -> None:
    assert ids_of(list_everything(edge_client, path, [])) == expected_ids(EDGE, keep)


# GET /api/v1/partners: filters.


def any_of(field: str, *values: str) -> Keep:
    return lambda p: bool(set(values) & set(p[field]))


def none_of(field: str, *values: str) -> Keep:
    return lambda p: not set(values) & set(p[field])


def country_in(*codes: str) -> Keep:
    return lambda p: p["country_code"] in codes


def preferred_is(value: bool, business_id: str = B1) -> Keep:
    chosen = preferred_of(DEFAULT, business_id)
    return lambda p: (p["id"] in chosen) is value


def active_is(value: bool) -> Keep:
    return lambda p: p["active"] is value


def every(*tests: Keep) -> Keep:
    return lambda p: all(test(p) for test in tests)


FILTER_CASES = [
    # categories: any-of, both forms, and their union
    pytest.param(
        [("filter[categories][]", "wholesaler")], any_of("categories", "wholesaler"), id="categories[]"
    ),
    pytest.param(
        [("filter[categories][]", "pos"), ("filter[categories][]", "payroll")],
        any_of("categories", "pos", "payroll"),
        id="categories[]-twice",
    ),
    pytest.param(
        [("filter[categories]", "pos,payroll")], any_of("categories", "pos", "payroll"), id="categories-csv"
    ),
    pytest.param(
        [("filter[categories][]", "accounting"), ("filter[categories]", "delivery,reservations")],
        any_of("categories", "accounting", "delivery", "reservations"),
        id="categories-both-forms-union",
    ),
    # excluded_categories: none-of
    pytest.param(
        [("filter[excluded_categories][]", "wholesaler")],
        none_of("categories", "wholesaler"),
        id="excluded_categories[]",
    ),
    pytest.param(
        [("filter[excluded_categories]", "wholesaler,payments")],
        none_of("categories", "wholesaler", "payments"),
        id="excluded_categories-csv",
    ),
    pytest.param(
        [("filter[excluded_categories][]", "inventory"), ("filter[excluded_categories]", "payroll")],
        none_of("categories", "inventory", "payroll"),
        id="excluded_categories-both-forms",
    ),
    # wholesaler_categories: any-of over wholesaler-types
    pytest.param(
        [("filter[wholesaler_categories][]", "wine")],
        any_of("wholesaler_types", "wine"),
        id="wholesaler_categories[]",
    ),
    pytest.param(
        [("filter[wholesaler_categories]", "coffee,dairy")],
        any_of("wholesaler_types", "coffee", "dairy"),
        id="wholesaler_categories-csv",
    ),
    pytest.param(
        [("filter[wholesaler_categories][]", "produce"), ("filter[wholesaler_categories]", "soft_drinks")],
        any_of("wholesaler_types", "produce", "soft_drinks"),
        id="wholesaler_categories-both-forms",
    ),
    # country_codes: any-of
    pytest.param([("filter[country_codes][]", "GB")], country_in("GB"), id="country_codes[]"),
    pytest.param([("filter[country_codes]", "US,IT")], country_in("US", "IT"), id="country_codes-csv"),
    pytest.param(
        [("filter[country_codes][]", "SE"), ("filter[country_codes]", "NO,FR")],
        country_in("SE", "NO", "FR"),
        id="country_codes-both-forms",
    ),
    # booleans
    pytest.param([("filter[preferred]", "true")], preferred_is(True), id="preferred-true"),
    pytest.param([("filter[preferred]", "false")], preferred_is(False), id="preferred-false"),
    pytest.param([("filter[active]", "true")], active_is(True), id="active-true"),
    pytest.param([("filter[active]", "false")], active_is(False), id="active-false"),
    # combinations: AND across filters
    pytest.param(
        [("filter[categories][]", "wholesaler"), ("filter[preferred]", "true")],
        every(any_of("categories", "wholesaler"), preferred_is(True)),
        id="categories+preferred",
    ),
    pytest.param(
        [("filter[categories]", "wholesaler"), ("filter[preferred]", "false"), ("filter[active]", "true")],
        every(any_of("categories", "wholesaler"), preferred_is(False), active_is(True)),
        id="categories+preferred+active",
    ),
    pytest.param(
        [("filter[excluded_categories][]", "wholesaler"), ("filter[country_codes][]", "US")],
        every(none_of("categories", "wholesaler"), country_in("US")),
        id="excluded+country",
    ),
    pytest.param(
        [
            ("filter[excluded_categories]", "wholesaler"),
            ("filter[country_codes]", "US"),
            ("filter[active]", "true"),
        ],
        every(none_of("categories", "wholesaler"), country_in("US"), active_is(True)),
        id="excluded+country+active",
    ),
    pytest.param(
        [("filter[categories]", "payments"), ("filter[active]", "false")],
        every(any_of("categories", "payments"), active_is(False)),
        id="categories+inactive",
    ),
    pytest.param(
        [("filter[categories]", "wholesaler,inventory"), ("filter[excluded_categories][]", "inventory")],
        every(any_of("categories", "wholesaler", "inventory"), none_of("categories", "inventory")),
        id="categories+excluded-overlap",
    ),
    pytest.param(
        [("filter[wholesaler_categories]", "wine,dairy,produce"), ("filter[country_codes]", "IT,FR")],
        every(any_of("wholesaler_types", "wine", "dairy", "produce"), country_in("IT", "FR")),
        id="wholesaler_categories+country",
    ),
    pytest.param(
        [("filter[categories][]", "payroll"), ("filter[active]", "true"), ("search", "S")],
        every(any_of("categories", "payroll"), active_is(True), matches("S")),
        id="categories+active+search",
    ),
    pytest.param(
        [
            ("filter[categories][]", "wholesaler"),
            ("filter[excluded_categories]", "inventory"),
            ("filter[wholesaler_categories]", "dairy,wine,coffee"),
            ("filter[country_codes][]", "FR"),
            ("filter[country_codes]", "IT,NO"),
            ("filter[preferred]", "false"),
            ("filter[active]", "true"),
            ("search", "O"),
        ],
        every(
            any_of("categories", "wholesaler"),
            none_of("categories", "inventory"),
            any_of("wholesaler_types", "dairy", "wine", "coffee"),
            country_in("FR", "IT", "NO"),
            preferred_is(False),
            active_is(True),
            matches("O"),
        ),
        id="all-six-filters+search",
    ),
]


@pytest.mark.parametrize(("params", "keep"), FILTER_CASES)
def test_partner_filters(client: FlaskClient, params: Params, keep: Keep) -> None:
    expected = expected_ids(DEFAULT, keep)
    # Each case must discriminate: ignoring the filter, or matching nothing, would fail it.
    assert 0 < len(expected) < len(DEFAULT["partners"])
    document = list_everything(client, API, [("business_uuid", B1), *params])
    assert ids_of(document) == expected
    assert document["meta"] == {"total-count": len(expected), "total-pages": 1}


@pytest.mark.parametrize("business_id", [B1, B2])
@pytest.mark.parametrize("value", [True, False])
def test_preferred_filter_follows_business_uuid(client: FlaskClient, business_id: str, value: bool) -> None:
    expected = expected_ids(DEFAULT, preferred_is(value, business_id))
    assert 0 < len(expected) < len(DEFAULT["partners"])
    params = [("business_uuid", business_id), ("filter[preferred]", str(value).lower())]
    document = list_everything(client, API, params)
    assert ids_of(document) == expected
    assert {r["attributes"]["preferred"] for r in document["data"]} == {value}


def test_filters_on_edge_cases(edge_client: FlaskClient) -> None:
    """Partners without categories, country or wholesaler types never match an any-of filter."""
    cases: list[tuple[Params, Keep]] = [
        ([("filter[categories]", "marketing")], any_of("categories", "marketing")),
        (
            [("filter[excluded_categories]", "wholesaler,delivery")],
            none_of("categories", "wholesaler", "delivery"),
        ),
        ([("filter[wholesaler_categories][]", "beer")], any_of("wholesaler_types", "beer")),
        ([("filter[country_codes]", "US,IL")], country_in("US", "IL")),
        ([("filter[active]", "false")], active_is(False)),
    ]
    for params, keep in cases:
        expected = expected_ids(EDGE, keep)
        assert 0 < len(expected) < len(EDGE["partners"])
        document = list_everything(edge_client, API, [("business_uuid", B1), *params])
        assert ids_of(document) == expected, params
    everything_everywhere = "ed9e0000-0000-4000-8000-000000000019"
    no_categories = "ed9e0000-0000-4000-8000-000000000018"
    for category in ("accounting", "scheduling", "wholesaler"):
        document = list_everything(
            edge_client, API, [("business_uuid", B1), ("filter[categories][]", category)]
        )
        assert everything_everywhere in ids_of(document)
        assert no_categories not in ids_of(document)


def test_a_filter_matching_nothing_is_an_empty_page(client: FlaskClient) -> None:
    params = [("business_uuid", B1), ("filter[categories]", "marketing"), ("filter[active]", "true")]
    assert expected_ids(DEFAULT, every(any_of("categories", "marketing"), active_is(True))) == []
    document = get_json(client, url(API, params))
    assert document["data"] == []
    assert document["meta"] == {"total-count": 0, "total-pages": 0}
    assert "included" not in document
    links = document["links"]
    assert page_number(links["first"]) == 1
    assert page_number(links["last"]) == 1
    assert page_number(links["self"]) == 1
    assert links["prev"] is None and links["next"] is None


# Flags and the current user.


@pytest.mark.parametrize("business_id", [B1, B2])
@pytest.mark.parametrize("token", [None, "alice-token", "bob-token"])
def test_partner_list_flags(client: FlaskClient, business_id: str, token: str | None) -> None:
    """Business flags follow `business_uuid`; `user-integration-requested` follows the token's user."""
    user = user_of(DEFAULT, token)
    document = list_everything(client, API, [("business_uuid", business_id)], token)
    for resource in document["data"]:
        partner = partner_by_id(DEFAULT, resource["id"])
        assert resource["attributes"] == expected_attributes(DEFAULT, partner, business_id, user["id"])


def test_flags_are_not_constant() -> None:
    """Guards the flag tests: each flag takes both values in the default scenario, per business."""
    for business_id in (B1, B2):
        seen = {
            key: {expected_attributes(DEFAULT, p, business_id, ALICE)[key] for p in DEFAULT["partners"]}
            for key in ("preferred", "partner-integration-active", "partner-integration-requested")
        }
        assert seen["preferred"] == {True, False}
        assert None in seen["partner-integration-active"] and True in seen["partner-integration-active"]
        assert None in seen["partner-integration-requested"] and True in seen["partner-integration-requested"]


@pytest.mark.parametrize(
    ("token", "business_id", "user_id"),
    [(None, B1, ALICE), ("alice-token", B1, ALICE), ("bob-token", B2, BOB)],
    ids=["no-token", "alice", "bob"],
)
@pytest.mark.parametrize(
    ("path", "keep"),
    [(AVAILABLE_PATH, is_available), (WHOLESALERS_PATH, is_wholesaler)],
    ids=["available", "wholesalers"],
)
def test_user_lists_compute_flags_for_the_users_business(
    client: FlaskClient, path: str, keep: Keep, token: str | None, business_id: str, user_id: str
) -> None:
    document = list_everything(client, path, [], token)
    assert ids_of(document) == expected_ids(DEFAULT, keep)
    for resource in document["data"]:
        partner = partner_by_id(DEFAULT, resource["id"])
        assert resource["attributes"] == expected_attributes(DEFAULT, partner, business_id, user_id)


def test_bob_and_alice_see_different_flags_on_the_same_partner(client: FlaskClient) -> None:
    alice = get_json(client, f"{API}/{P04}", "alice-token")["data"]["attributes"]
    bob = get_json(client, f"{API}/{P04}", "bob-token")["data"]["attributes"]
    assert (alice["preferred"], alice["partner-integration-active"], alice["user-integration-requested"]) == (
        False,
        None,
        False,
    )
    assert (bob["preferred"], bob["partner-integration-active"], bob["user-integration-requested"]) == (
        True,
        True,
        True,
    )


# GET /api/v1/partners/available.


def both_statuses(partner: Json) -> bool:
    """Both forms of `filter[status]` unioned: every listed status (keeping only one form would not be)."""
    return True


AVAILABLE_CASES = [
    pytest.param(
        [("filter[status][]", "coming_soon")], lambda p: p["status"] == "coming_soon", id="status[]"
    ),
    pytest.param([("filter[status]", "available")], lambda p: p["status"] == "available", id="status-csv"),
    pytest.param(
        [("filter[status][]", "coming_soon"), ("filter[status]", "available")],
        both_statuses,
        id="status-both-forms-union",
    ),
    pytest.param(
        [("filter[categories][]", "wholesaler")], any_of("categories", "wholesaler"), id="categories[]"
    ),
    pytest.param(
        [("filter[categories]", "pos,payroll")], any_of("categories", "pos", "payroll"), id="categories-csv"
    ),
    pytest.param(
        [("filter[categories][]", "accounting"), ("filter[categories]", "delivery")],
        any_of("categories", "accounting", "delivery"),
        id="categories-both-forms-union",
    ),
    pytest.param(
        [("filter[categories][]", "wholesaler"), ("filter[status]", "available")],
        every(any_of("categories", "wholesaler"), lambda p: p["status"] == "available"),
        id="categories+status",
    ),
    pytest.param([("search", "TA")], matches("TA"), id="search"),
    pytest.param(
        [("search", "o"), ("filter[status][]", "available"), ("filter[categories]", "wholesaler,accounting")],
        every(
            matches("o"),
            lambda p: p["status"] == "available",
            any_of("categories", "wholesaler", "accounting"),
        ),
        id="search+status+categories",
    ),
]


def test_available_lists_active_available_or_coming_soon(client: FlaskClient) -> None:
    expected = expected_ids(DEFAULT, is_available)
    assert 0 < len(expected) < len(DEFAULT["partners"])
    assert ids_of(list_everything(client, AVAILABLE_PATH, [])) == expected


def test_available_leaves_out_inactive_unavailable_and_null_status(edge_client: FlaskClient) -> None:
    listed = ids_of(list_everything(edge_client, AVAILABLE_PATH, []))
    assert listed == expected_ids(EDGE, is_available)
    left_out = {
        "ed9e0000-0000-4000-8000-000000000016": "status null",
        "ed9e0000-0000-4000-8000-000000000020": "inactive, available",
        "ed9e0000-0000-4000-8000-000000000021": "inactive, coming soon",
        "ed9e0000-0000-4000-8000-000000000022": "unavailable",
        "ed9e0000-0000-4000-8000-000000000023": "discontinued yet active",
        "ed9e0000-0000-4000-8000-000000000024": "status null, inactive",
    }
    assert not set(left_out) & set(listed)
    assert "ed9e0000-0000-4000-8000-000000000031" in listed  # active, coming soon


@pytest.mark.parametrize(("params", "keep"), AVAILABLE_CASES)
def test_available_filters(client: FlaskClient, params: Params, keep: Keep) -> None:
    base = expected_ids(DEFAULT, is_available)
    expected = expected_ids(DEFAULT, every(is_available, keep))
    assert expected
    if keep is both_statuses:
        assert expected_ids(DEFAULT, lambda p: p["status"] == "available") != base
    else:
        assert len(expected) < len(base)
    assert ids_of(list_everything(client, AVAILABLE_PATH, params)) == expected


# GET /api/v1/partners/wholesalers.


def test_wholesalers_lists_the_wholesaler_category(client: FlaskClient) -> None:
    expected = expected_ids(DEFAULT, is_wholesaler)
    assert 0 < len(expected) < len(DEFAULT["partners"])
    document = list_everything(client, WHOLESALERS_PATH, [])
    assert ids_of(document) == expected
    assert all("wholesaler" in r["attributes"]["categories"] for r in document["data"])


def test_wholesalers_include_inactive_and_any_status(edge_client: FlaskClient) -> None:
    listed = ids_of(list_everything(edge_client, WHOLESALERS_PATH, []))
    assert listed == expected_ids(EDGE, is_wholesaler)
    assert "ed9e0000-0000-4000-8000-000000000033" in listed  # inactive, discontinued
    assert "ed9e0000-0000-4000-8000-000000000019" in listed  # every category


def test_wholesalers_ignore_search(client: FlaskClient) -> None:
    """`/wholesalers` has no `search` parameter: it is ignored, not applied."""
    expected = expected_ids(DEFAULT, is_wholesaler)
    assert ids_of(list_everything(client, WHOLESALERS_PATH, [("search", "zzz-no-such-name")])) == expected


# GET /api/v1/partners/{id}.


@pytest.mark.parametrize("partner_id", [p["id"] for p in DEFAULT["partners"]])
@pytest.mark.parametrize("token", [None, "bob-token"], ids=["alice", "bob"])
def test_get_partner_serves_the_scenario_record(
    client: FlaskClient, partner_id: str, token: str | None
) -> None:
    user = user_of(DEFAULT, token)
    document = get_json(client, f"{API}/{partner_id}", token)
    assert document == {
        "data": {
            "id": partner_id,
            "type": "partners",
            "links": {"self": f"{API}/{partner_id}"},
            "attributes": expected_attributes(
                DEFAULT, partner_by_id(DEFAULT, partner_id), user["business"], user["id"]
            ),
            "relationships": {
                "users": relationship_links(partner_id, "users"),
                "partner-integrations": relationship_links(partner_id, "partner-integrations"),
            },
        }
    }


@pytest.mark.parametrize(
    "number",
    ["01", "02", "06", "11", "16", "17", "19", "25", "30", "31"],
)
def test_get_partner_serves_edge_case_records(edge_client: FlaskClient, number: str) -> None:
    partner_id = f"ed9e0000-0000-4000-8000-0000000000{number}"
    for token in ("alice-token", "bob-token"):
        user = user_of(EDGE, token)
        attributes = get_json(edge_client, f"{API}/{partner_id}", token)["data"]["attributes"]
        assert attributes == expected_attributes(
            EDGE, partner_by_id(EDGE, partner_id), user["business"], user["id"]
        )


@pytest.mark.parametrize(
    ("path", "keep"), [(AVAILABLE_PATH, is_available), (WHOLESALERS_PATH, is_wholesaler)]
)
def test_list_items_equal_the_single_partner(client: FlaskClient, path: str, keep: Keep) -> None:
    for token in ("alice-token", "bob-token"):
        listed = list_everything(client, path, [("include", "users,partner_integrations")], token)["data"]
        assert listed
        for resource in listed:
            single = get_json(client, f"{API}/{resource['id']}?include=users,partner_integrations", token)
            assert single["data"] == resource


# Search.


@pytest.mark.parametrize(
    "needle",
    ["till", "TILL", "tIlLtOp", "POS", "fresh produce", "ROSSI", "roßi", "a", " ", "zzz-no-such-name"],
)
@pytest.mark.parametrize(
    ("path", "params", "keep"),
    [
        (API, [("business_uuid", B1)], lambda p: True),
        (AVAILABLE_PATH, [], is_available),
    ],
    ids=["partners", "available"],
)
def test_search_is_a_case_insensitive_substring_of_the_name(
    client: FlaskClient, path: str, params: Params, keep: Keep, needle: str
) -> None:
    expected = expected_ids(DEFAULT, every(keep, matches(needle)))
    assert ids_of(list_everything(client, path, [*params, ("search", needle)])) == expected


def test_search_cases_discriminate() -> None:
    """Guards the search test: case-insensitivity changes its results."""
    assert expected_ids(DEFAULT, lambda p: "TILL" in p["name"]) == []
    assert expected_ids(DEFAULT, matches("TILL")) == [P02]
    assert len(expected_ids(DEFAULT, matches("a"))) < len(DEFAULT["partners"])
    # Casefold, not lower(): "ß" folds to "ss", so "roßi" finds Vinoteca Rossi Wines.
    vinoteca = P07
    assert expected_ids(DEFAULT, lambda p: "roßi" in p["name"].lower()) == []
    assert expected_ids(DEFAULT, matches("roßi")) == [vinoteca]


EDGE_SEARCHES = [
    pytest.param("ACME SUPPLIES", id="case-only-difference"),
    pytest.param("café crème", id="accents"),
    pytest.param("CAFÉ CRÈME", id="accents-upper"),
    pytest.param("SMØRREBRØD ŁÓDŹ", id="nordic-polish-upper"),
    pytest.param("ΩMEGA", id="greek-upper"),
    pytest.param("ŚLIWOWICA", id="polish-upper"),
    pytest.param("Cafe\u0301 Combine\u0301", id="combining-accents"),
    pytest.param("Café Combiné", id="precomposed-accents"),
    pytest.param("東京", id="japanese"),
    pytest.param("餐饮", id="chinese"),
    pytest.param("배달", id="korean"),
    pytest.param("🍕", id="emoji"),
    pytest.param("👨\u200d👩\u200d👧\u200d👦", id="zwj-family"),
    pytest.param("🇮🇹", id="flag"),
    pytest.param("المذاق", id="arabic"),
    pytest.param("פיתה פאלאס", id="hebrew"),
    pytest.param("פאלאס 2024", id="mixed-rtl-ltr"),
    pytest.param("zero\u200bwidth", id="zero-width-space"),
    pytest.param("ZeroWidth", id="zero-width-space-missing"),
    pytest.param("padded   spaces", id="inner-spaces"),
    pytest.param("line\nbreak", id="line-break"),
    pytest.param("100%", id="percent"),
    pytest.param("%wild%", id="percent-not-a-wildcard"),
    pytest.param("_under_", id="underscore"),
    pytest.param("<SCRIPT>", id="html"),
    pytest.param('"quotes"', id="quotes"),
    pytest.param("123", id="digits"),
]


@pytest.mark.parametrize("needle", EDGE_SEARCHES)
def test_search_with_unicode_and_special_characters(edge_client: FlaskClient, needle: str) -> None:
    expected = expected_ids(EDGE, matches(needle))
    document = list_everything(edge_client, API, [("business_uuid", B1), ("search", needle)])
    assert ids_of(document) == expected


def test_edge_searches_discriminate() -> None:
    """Guards the unicode search test: every needle but the missing-ZWSP one matches a strict subset."""
    for case in EDGE_SEARCHES:
        (needle,) = case.values
        assert isinstance(needle, str)
        found = expected_ids(EDGE, matches(needle))
        if case.id == "zero-width-space-missing":
            assert found == []
        else:
            assert 0 < len(found) < 5, case.id


def test_search_combines_with_filters_on_edge_cases(edge_client: FlaskClient) -> None:
    params = [
        ("business_uuid", B2),
        ("search", "SUPPLIES"),
        ("filter[wholesaler_categories][]", "dry_goods"),
        ("filter[country_codes]", "US"),
        ("filter[preferred]", "false"),
    ]
    keep = every(
        matches("SUPPLIES"),
        any_of("wholesaler_types", "dry_goods"),
        country_in("US"),
        lambda p: p["id"] not in preferred_of(EDGE, B2),
    )
    expected = expected_ids(EDGE, keep)
    assert len(expected) == 3  # the three Acme spellings; the consortium sells "Supply", not "Supplies"
    assert ids_of(list_everything(edge_client, API, params)) == expected


# Paging.


EDGE_BY_NAME = expected_ids(EDGE)
EDGE_LIST = [("business_uuid", B1)]


@pytest.mark.parametrize(
    ("page", "prev", "next_"),
    [(1, None, 2), (2, 1, 3), (4, 3, 5), (7, 6, None)],
    ids=["first", "second", "middle", "last"],
)
def test_pages_of_five(edge_client: FlaskClient, page: int, prev: int | None, next_: int | None) -> None:
    assert len(EDGE_BY_NAME) == 33
    params = [*EDGE_LIST, ("page", str(page)), ("per_page", "5")]
    document = get_json(edge_client, url(API, params))
    assert ids_of(document) == EDGE_BY_NAME[(page - 1) * 5 : page * 5]
    assert document["meta"] == {"total-count": 33, "total-pages": 7}
    links = document["links"]
    assert page_number(links["self"]) == page
    assert page_number(links["first"]) == 1
    assert page_number(links["prev"]) == prev
    assert page_number(links["next"]) == next_
    assert page_number(links["last"]) == 7
    for link in links.values():
        if link is not None:
            assert split_link(link)[3] == 5


def test_last_page_may_be_short(edge_client: FlaskClient) -> None:
    document = get_json(edge_client, url(API, [*EDGE_LIST, ("page", "7"), ("per_page", "5")]))
    assert len(document["data"]) == 3


@pytest.mark.parametrize("page", [8, 9, 100, 2147483647])
def test_a_page_past_the_end_is_empty_with_true_meta(edge_client: FlaskClient, page: int) -> None:
    params = [*EDGE_LIST, ("page", str(page)), ("per_page", "5")]
    document = get_json(edge_client, url(API, params))
    assert document["data"] == []
    assert document["meta"] == {"total-count": 33, "total-pages": 7}
    links = document["links"]
    assert page_number(links["self"]) == page
    assert page_number(links["first"]) == 1
    assert page_number(links["last"]) == 7
    assert links["next"] is None
    # `prev`, when given, leads back to a page with data.
    prev = page_number(links["prev"])
    if prev is not None:
        assert 1 <= prev <= 7
        assert get_json(edge_client, links["prev"])["data"]


def test_default_paging_is_page_one_of_25(edge_client: FlaskClient) -> None:
    document = get_json(edge_client, url(API, EDGE_LIST))
    assert ids_of(document) == EDGE_BY_NAME[:25]
    assert document["meta"] == {"total-count": 33, "total-pages": 2}
    links = document["links"]
    assert split_link(links["self"])[2:] == (1, 25)
    assert links["prev"] is None
    assert split_link(links["next"])[2:] == (2, 25)
    assert split_link(links["last"])[2:] == (2, 25)


def test_per_page_100_holds_everything(edge_client: FlaskClient) -> None:
    document = get_json(edge_client, url(API, [*EDGE_LIST, ("per_page", "100")]))
    assert ids_of(document) == EDGE_BY_NAME
    assert document["meta"] == {"total-count": 33, "total-pages": 1}
    links = document["links"]
    assert links["prev"] is None and links["next"] is None
    assert split_link(links["first"])[2:] == split_link(links["last"])[2:] == (1, 100)


def test_per_page_1_gives_one_partner_per_page(client: FlaskClient) -> None:
    expected = expected_ids(DEFAULT)
    for number in (1, 7, 14):
        params = [("business_uuid", B2), ("page", str(number)), ("per_page", "1")]
        document = get_json(client, url(API, params))
        assert ids_of(document) == [expected[number - 1]]
        assert document["meta"] == {"total-count": 14, "total-pages": 14}
        assert page_number(document["links"]["last"]) == 14
        assert (document["links"]["next"] is None) is (number == 14)
        assert (document["links"]["prev"] is None) is (number == 1)


def walk(client: FlaskClient, start: str, direction: str = "next", token: str | None = None) -> list[Json]:
    """Every document reached by following `direction` links from `start`."""
    documents: list[Json] = []
    target: str | None = start
    while target is not None:
        assert len(documents) < 100, "the links do not end"
        document = get_json(client, target, token)
        documents.append(document)
        target = document["links"][direction]
    return documents


WALKS = [
    pytest.param("default", API, [("business_uuid", B1)], lambda p: True, "1", id="partners-1"),
    pytest.param("edge-cases", API, EDGE_LIST, lambda p: True, "5", id="partners-5"),
    pytest.param("edge-cases", API, EDGE_LIST, lambda p: True, "100", id="partners-100"),
    pytest.param(
        "edge-cases",
        API,
        [
            ("business_uuid", B2),
            ("filter[categories][]", "wholesaler"),
            ("filter[categories]", "pos,delivery"),
            ("filter[active]", "true"),
            ("search", "e"),
            ("include", "users,partner_integrations"),
        ],
        every(any_of("categories", "wholesaler", "pos", "delivery"), active_is(True), matches("e")),
        "2",
        id="partners-filtered-2",
    ),
    pytest.param(
        "edge-cases",
        AVAILABLE_PATH,
        [("filter[status]", "available")],
        lambda p: is_available(p) and p["status"] == "available",
        "4",
        id="available-4",
    ),
    pytest.param("edge-cases", WHOLESALERS_PATH, [], is_wholesaler, "3", id="wholesalers-3"),
]


@pytest.mark.parametrize(("scenario", "path", "params", "keep", "per_page"), WALKS)
def test_following_next_visits_every_partner_once(
    app_of: Callable[[str], Flask], scenario: str, path: str, params: Params, keep: Keep, per_page: str
) -> None:
    data = DEFAULT if scenario == "default" else EDGE
    expected = expected_ids(data, keep)
    size = int(per_page)
    pages = -(-len(expected) // size)
    assert pages >= 1
    with app_of(scenario).test_client() as client:
        documents = walk(client, url(path, [*params, ("per_page", per_page)]))
        assert len(documents) == pages
        assert [i for d in documents for i in ids_of(d)] == expected
        for number, document in enumerate(documents, 1):
            assert document["meta"] == {"total-count": len(expected), "total-pages": pages}
            for name, link in document["links"].items():
                if link is None:
                    continue
                link_path, others, _, link_size = split_link(link)
                assert link_path == path, name
                assert sorted(others) == sorted(params), name
                assert link_size == size, name
            assert page_number(document["links"]["self"]) == number
        # And back again from the last page.
        backwards = walk(client, documents[-1]["links"]["self"], "prev")
        assert [ids_of(d) for d in backwards] == [ids_of(d) for d in reversed(documents)]


def test_links_keep_other_parameters_as_sent(client: FlaskClient) -> None:
    params = [
        ("business_uuid", B1),
        ("filter[categories][]", "wholesaler"),
        ("filter[categories][]", "pos"),
        ("filter[categories]", "payroll,inventory"),
        ("search", "o"),
        ("include", "users"),
        ("cache_buster", "a b&c"),
    ]
    document = get_json(client, url(API, [*params, ("page", "2"), ("per_page", "2")]))
    assert document["meta"]["total-pages"] == 3
    for name, link in document["links"].items():
        assert link is not None, name
        link_path, others, _, size = split_link(link)
        assert link_path == API
        assert sorted(others) == sorted(params), name
        assert size == 2
        assert get_json(client, link)["meta"] == document["meta"]


@pytest.mark.parametrize(
    ("path", "params"),
    [(API, [("business_uuid", B1)]), (AVAILABLE_PATH, []), (WHOLESALERS_PATH, [])],
    ids=["partners", "available", "wholesalers"],
)
@pytest.mark.parametrize("page", ["1", "2"])
def test_empty_data_set_lists(empty_client: FlaskClient, path: str, params: Params, page: str) -> None:
    document = get_json(empty_client, url(path, [*params, ("page", page), ("per_page", "10")]))
    assert document["data"] == []
    assert document["meta"] == {"total-count": 0, "total-pages": 0}
    links = document["links"]
    assert page_number(links["self"]) == int(page)
    assert page_number(links["first"]) == 1
    assert page_number(links["last"]) == 1
    assert links["next"] is None
    if page == "1":
        assert links["prev"] is None


# include.


def included_keys(document: Json) -> list[tuple[str, str]]:
    return [(r["type"], r["id"]) for r in document["included"]]


@pytest.mark.parametrize(
    ("path", "params"),
    [
        (API, [("business_uuid", B1)]),
        (AVAILABLE_PATH, []),
        (WHOLESALERS_PATH, []),
        (f"{API}/{P02}", []),
    ],
    ids=["partners", "available", "wholesalers", "one"],
)
def test_without_include_there_is_no_linkage_nor_included(
    client: FlaskClient, path: str, params: Params
) -> None:
    document = get_json(client, url(path, params))
    assert "included" not in document
    resources = document["data"] if isinstance(document["data"], list) else [document["data"]]
    assert resources
    for resource in resources:
        for relationship in resource["relationships"].values():
            assert set(relationship) == {"links"}


@pytest.mark.parametrize("business_id", [B1, B2])
@pytest.mark.parametrize(
    "include", ["users", "partner_integrations", "users,partner_integrations", "partner_integrations,users"]
)
def test_include_on_the_partner_list(client: FlaskClient, business_id: str, include: str) -> None:
    wanted = set(include.split(","))
    document = list_everything(client, API, [("business_uuid", business_id), ("include", include)])
    expected_included: dict[tuple[str, str], Json] = {}
    for resource in document["data"]:
        users = linked_users(DEFAULT, resource["id"])
        integration = integration_of(DEFAULT, business_id, resource["id"])
        relationships = resource["relationships"]
        if "users" in wanted:
            assert relationships["users"]["data"] == [{"type": "users", "id": u["id"]} for u in users]
            for user in users:
                expected_included[("users", user["id"])] = user_resource(user)
        else:
            assert "data" not in relationships["users"]
        if "partner_integrations" in wanted:
            linkage = [{"type": "partner-integrations", "id": integration["id"]}] if integration else []
            assert relationships["partner-integrations"]["data"] == linkage
            if integration:
                expected_included[("partner-integrations", integration["id"])] = integration_resource(
                    integration
                )
        else:
            assert "data" not in relationships["partner-integrations"]
    keys = included_keys(document)
    assert len(keys) == len(set(keys)), "included repeats a resource"
    assert sorted(document["included"], key=lambda r: (r["type"], r["id"])) == [
        expected_included[key] for key in sorted(expected_included)
    ]
    assert expected_included  # each include value brings something in this scenario


def test_included_users_are_not_repeated(client: FlaskClient) -> None:
    """Alice is linked to two partners on the page; she is included once."""
    assert len([link for link in DEFAULT["links"] if link["user"] == ALICE]) == 2
    document = list_everything(client, API, [("business_uuid", B1), ("include", "users")])
    linked_to_alice = [
        r["id"]
        for r in document["data"]
        if {"type": "users", "id": ALICE} in r["relationships"]["users"]["data"]
    ]
    assert len(linked_to_alice) == 2
    assert sorted(included_keys(document)) == [("users", ALICE), ("users", BOB)]


def test_included_only_covers_the_page(client: FlaskClient) -> None:
    expected = expected_ids(DEFAULT)
    for number, partner_id in enumerate(expected, 1):
        params = [
            ("business_uuid", B1),
            ("include", "users,partner_integrations"),
            ("page", str(number)),
            ("per_page", "1"),
        ]
        document = get_json(client, url(API, params))
        assert ids_of(document) == [partner_id]
        integration = integration_of(DEFAULT, B1, partner_id)
        wanted = [("users", u["id"]) for u in linked_users(DEFAULT, partner_id)]
        wanted += [("partner-integrations", integration["id"])] if integration else []
        assert sorted(included_keys(document)) == sorted(wanted)


@pytest.mark.parametrize(("token", "business_id"), [(None, B1), ("bob-token", B2)], ids=["alice", "bob"])
@pytest.mark.parametrize("partner_id", [P02, P04, P07])
def test_include_on_one_partner(
    client: FlaskClient, token: str | None, business_id: str, partner_id: str
) -> None:
    document = get_json(client, f"{API}/{partner_id}?include=users,partner_integrations", token)
    users = linked_users(DEFAULT, partner_id)
    integration = integration_of(DEFAULT, business_id, partner_id)
    relationships = document["data"]["relationships"]
    assert relationships["users"]["data"] == [{"type": "users", "id": u["id"]} for u in users]
    assert relationships["partner-integrations"]["data"] == (
        [{"type": "partner-integrations", "id": integration["id"]}] if integration else []
    )
    expected = [user_resource(u) for u in users] + (
        [integration_resource(integration)] if integration else []
    )
    assert sorted(document["included"], key=lambda r: (r["type"], r["id"])) == sorted(
        expected, key=lambda r: (r["type"], r["id"])
    )


def test_include_users_shows_every_linked_user_after_a_connect() -> None:
    client = make_app(scenario="default").test_client()  # it writes: an app of its own
    response = client.patch(f"{API}/{P02}/connect", headers=bearer("bob-token"))
    assert response.status_code == 200
    document = get_json(client, f"{API}/{P02}?include=users")
    assert document["data"]["relationships"]["users"]["data"] == [
        {"type": "users", "id": ALICE},
        {"type": "users", "id": BOB},
    ]
    assert included_keys(document) == [("users", ALICE), ("users", BOB)]


# HEAD.
