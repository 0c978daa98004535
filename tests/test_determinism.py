"""Determinism: the same settings give byte-identical answers, and partner k does not depend on --partners."""

from __future__ import annotations

import random
from typing import Any

import pytest
from flask import Flask
from support import API, make_app

Json = dict[str, Any]
BOTH = "include=users,partner_integrations"


def data_of(app: Flask) -> Json:
    """Business ids, users and tokens, as the admin API shows them."""
    with app.test_client() as client:
        response = client.get("/__admin/data")
        assert response.status_code == 200
        document: Json = response.get_json()
        return document


def partner_ids(app: Flask) -> list[str]:
    """Every partner id, in list order."""
    business = data_of(app)["businesses"][0]["id"]
    ids: list[str] = []
    with app.test_client() as client:
        target: str | None = f"{API}?business_uuid={business}&per_page=100"
        while target is not None:
            response = client.get(target)
            assert response.status_code == 200, response.get_data(as_text=True)
            ids += [resource["id"] for resource in response.get_json()["data"]]
            target = response.get_json()["links"]["next"]
    return ids


def sample_requests(app: Flask) -> list[tuple[str, str | None]]:
    """(URL, token) pairs covering every GET operation, both businesses, several users and include."""
    data = data_of(app)
    businesses = [b["id"] for b in data["businesses"]]
    tokens = [u["token"] for u in data["users"]]
    ids = partner_ids(app)
    requests: list[tuple[str, str | None]] = [
        (f"{API}?business_uuid={businesses[0]}&per_page=100&{BOTH}", None),
        (f"{API}?business_uuid={businesses[-1]}&page=2&per_page=3&search=e", tokens[-1]),
        (
            f"{API}?business_uuid={businesses[-1]}&filter[categories]=wholesaler,pos&filter[active]=true",
            None,
        ),
        (f"{API}/available?per_page=7&{BOTH}", None),
        (f"{API}/available?filter[status][]=coming_soon&{BOTH}", tokens[-1]),
        (f"{API}/wholesalers?include=partner_integrations", tokens[0]),
    ]
    for partner_id in ids[:3] + ids[-2:]:
        requests += [(f"{API}/{partner_id}?{BOTH}", token) for token in (None, tokens[-1])]
    return requests


def bodies(app: Flask, requests: list[tuple[str, str | None]]) -> list[bytes]:
    """The raw response bodies, in order; every request must succeed."""
    answers = []
    with app.test_client() as client:
        for target, token in requests:
            headers = {"Authorization": f"Bearer {token}"} if token else {}
            response = client.get(target, headers=headers)
            assert response.status_code == 200, f"{target}: {response.get_data(as_text=True)[:500]}"
            answers.append(response.get_data())
    return answers


@pytest.mark.parametrize(("seed", "partners"), [(1, 100), (42, 25), (7, 3)])
def test_same_seed_and_size_give_identical_bodies(seed: int, partners: int) -> None:
    first, second = make_app(seed=seed, partners=partners), make_app(seed=seed, partners=partners)
    requests = sample_requests(first)
    assert len(partner_ids(first)) == partners
    assert data_of(first) == data_of(second)
    assert bodies(first, requests) == bodies(second, requests)


def test_data_does_not_depend_on_global_random_state_or_other_apps() -> None:
    """Another app built in between, or a reseeded `random`, changes nothing."""
    state = random.getstate()
    try:
        random.seed(1234)
        first = make_app(seed=5, partners=20)
        requests = sample_requests(first)
        expected = bodies(first, requests)
        make_app(seed=6, partners=40)
        random.seed(98765)
        random.random()
        assert bodies(make_app(seed=5, partners=20), requests) == expected
    finally:
        random.setstate(state)


def test_answers_do_not_depend_on_request_order() -> None:
    first, second = make_app(seed=3, partners=30), make_app(seed=3, partners=30)
    requests = sample_requests(first)
    forwards = bodies(first, requests)
    backwards = bodies(second, list(reversed(requests)))
    assert forwards == list(reversed(backwards))
    assert bodies(first, requests) == forwards  # asking the same app again


@pytest.mark.parametrize("seed", [1, 9])
def test_partner_k_does_not_depend_on_partner_count(seed: int) -> None:
    small, large = make_app(seed=seed, partners=10), make_app(seed=seed, partners=50)
    small_data, large_data = data_of(small), data_of(large)
    assert small_data["businesses"] == large_data["businesses"]
    assert small_data["users"] == large_data["users"]
    small_ids, large_ids = partner_ids(small), partner_ids(large)
    assert len(small_ids) == 10 and len(large_ids) == 50
    assert set(small_ids) < set(large_ids)
    tokens = [None, *(u["token"] for u in small_data["users"])]
    requests = [(f"{API}/{pid}?{BOTH}", token) for pid in small_ids for token in tokens]
    assert bodies(small, requests) == bodies(large, requests)


def test_partner_k_is_served_the_same_in_every_list() -> None:
    """A partner's resource inside a list is the same whatever the data set's size."""
    small, large = make_app(seed=2, partners=10), make_app(seed=2, partners=60)
    business = data_of(small)["businesses"][1]["id"]
    target = f"{API}?business_uuid={business}&per_page=100&include=partner_integrations"
    with small.test_client() as client:
        small_data = client.get(target).get_json()["data"]
    with large.test_client() as client:
        large_by_id = {r["id"]: r for r in client.get(target).get_json()["data"]}
    assert len(small_data) == 10 and len(large_by_id) == 60
    for resource in small_data:
        assert large_by_id[resource["id"]] == resource


def test_different_seeds_give_different_data() -> None:
    one, two = make_app(seed=1, partners=20), make_app(seed=2, partners=20)
    one_data, two_data = data_of(one), data_of(two)
    assert {b["id"] for b in one_data["businesses"]}.isdisjoint(b["id"] for b in two_data["businesses"])
    assert {u["id"] for u in one_data["users"]}.isdisjoint(u["id"] for u in two_data["users"])
    one_ids, two_ids = partner_ids(one), partner_ids(two)
    assert set(one_ids).isdisjoint(two_ids)
    lists = []
    for app, data in ((one, one_data), (two, two_data)):
        with app.test_client() as client:
            business = data["businesses"][0]["id"]
            document = client.get(f"{API}?business_uuid={business}&per_page=100").get_json()
            lists.append(document)
    names = [sorted(r["attributes"]["name"] for r in doc["data"]) for doc in lists]
    assert names[0] != names[1]
    assert lists[0]["data"] != lists[1]["data"]


@pytest.mark.parametrize("scenario", ["default", "edge-cases", "empty"])
def test_scenario_apps_are_deterministic(scenario: str) -> None:
    first, second = make_app(scenario=scenario), make_app(scenario=scenario)
    assert data_of(first) == data_of(second)
    requests: list[tuple[str, str | None]] = (
        sample_requests(first)
        if partner_ids(first)
        else [
            (f"{API}?business_uuid={data_of(first)['businesses'][0]['id']}&{BOTH}", None),
            (f"{API}/available?{BOTH}", None),
            (f"{API}/wholesalers", None),
        ]
    )
    assert bodies(first, requests) == bodies(second, requests)


def test_scenario_answers_do_not_depend_on_the_seed() -> None:
    """`seed` drives Faker data; a scenario's reads are the file's, whatever the seed."""
    first, second = make_app(scenario="edge-cases", seed=1), make_app(scenario="edge-cases", seed=99)
    requests = sample_requests(first)
    assert bodies(first, requests) == bodies(second, requests)
