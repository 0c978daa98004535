"""The journal's copy of each answer, and the journal exported as a Pact file: `GET /__admin/pact`,
`mockserver pact export --url`, and what a Pact keeps and leaves out (dedup, headers, states,
matching rules, skipped requests), in valid v3 and v4."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from flask.testing import FlaskClient
from support import ALICE, AS_ALICE, B1, NO_SUCH_ID, P02, P07, P08, SPEC, make_app, plain_client

from mockserver.cli import cli
from mockserver.core.channels import JOURNAL_EXTENSION
from mockserver.journal.log import MAX_ANSWER_BODY, Answer, Entry, Journal
from mockserver.pact import states
from mockserver.pact.export import ExportOptions, export, merge
from mockserver.pact.model import read_pact
from mockserver.pact.schemas import schema_problems
from mockserver.pact.verify import Verifier
from mockserver.scaleout.redis_journal import _decode, _encode
from mockserver.testing.live import LiveServer

SESSION = {"X-Mock-Session": "pact-export"}
CLICK = {"data": {"type": "partner_click_events", "attributes": {"event_type": "website"}}}


@pytest.fixture
def client() -> FlaskClient:
    return plain_client(make_app(scenario="default"))


def journal_of(client: FlaskClient) -> Journal:
    journal: Journal = client.application.extensions[JOURNAL_EXTENSION]
    return journal


def pact_of(client: FlaskClient, version: int = 4, **query: str) -> dict[str, Any]:
    reply = client.get("/__admin/pact", query_string={"version": version, **query}, headers=SESSION)
    assert reply.status_code == 200, reply.get_data(as_text=True)
    document: dict[str, Any] = reply.get_json()
    return document


# --- the journal's copy of the answer ---------------------------------------------------------------


def test_the_journal_keeps_the_answer_and_the_user_but_no_token(client: FlaskClient) -> None:
    client.get(f"/api/v1/partners/{P07}", headers={**SESSION, **AS_ALICE})
    client.get(f"/api/v1/partners/{P07}", headers={**SESSION, "Authorization": "Bearer nobody"})
    client.delete(f"/api/v1/partners/{P07}/connect", headers={**SESSION, "Prefer": "return=minimal"})
    found, refused, minimal = journal_of(client).entries("pact-export")
    assert found.user == ALICE
    assert found.answer.content_type == "application/json" and not found.answer.cut
    assert json.loads(found.answer.body or b"")["data"]["id"] == P07
    assert refused.user is None  # refused before a user was known
    assert dict(refused.answer.headers)["WWW-Authenticate"] == 'Bearer realm="mockserver"'
    assert (
        minimal.answer.body == b"" and dict(minimal.answer.headers)["Preference-Applied"] == "return=minimal"
    )
    assert all("alice-token" not in repr(entry) for entry in (found, refused, minimal))


def test_an_answer_over_the_bound_is_not_kept_but_marked() -> None:
    client = plain_client(make_app(seed=3, partners=150))
    reply = client.get("/api/v1/partners/available?per_page=100", headers=SESSION)
    assert len(reply.data) > MAX_ANSWER_BODY
    (entry,) = journal_of(client).entries("pact-export")
    assert entry.answer == Answer(content_type="application/json", headers=entry.answer.headers, cut=True)


def test_the_redis_journal_carries_the_answer_and_reads_older_entries() -> None:
    answer = Answer("application/json", (("Content-Type", "application/json"),), b'{"a": "\xc3\xa9"}', False)
    entry = Entry("GET", "/p", "", 200, 1.0, "s", 1.0, answer=answer, user=ALICE)
    assert _decode(_encode(entry)) == entry
    key, _, row = _encode(entry).partition(b"\n")
    older = key + b"\n" + json.dumps(json.loads(row)[:-2]).encode()  # written before answers were kept
    assert _decode(older).answer.cut and _decode(older).user is None


# --- the export ------------------------------------------------------------------------------------


def serve_a_consumer(client: FlaskClient) -> None:
    """A consumer's calls: a list twice (one interaction), a partner before and after a connect (two),
    a click, an unknown partner, an off-contract filter, and a rule's answer."""
    alice = {**SESSION, **AS_ALICE, "Accept": "application/json", "User-Agent": "consumer/1"}
    query = f"business_uuid={B1}&filter[categories][]=pos&filter[categories][]=payroll&per_page=5"
    for _ in range(2):
        assert client.get(f"/api/v1/partners?{query}", headers=alice).status_code == 200
    assert client.get(f"/api/v1/partners/{P08}", headers=alice).status_code == 200
    assert client.patch(f"/api/v1/partners/{P08}/connect", headers=alice).status_code == 200
    assert client.get(f"/api/v1/partners/{P08}", headers=alice).status_code == 200
    assert client.post(f"/api/v1/partners/{P08}/click_event", json=CLICK, headers=alice).status_code == 201
    assert client.get(f"/api/v1/partners/{NO_SUCH_ID}", headers=SESSION).status_code == 404
    assert (
        client.get(f"/api/v1/partners?business_uuid={B1}&filter[colour]=red", headers=SESSION).status_code
        == 400
    )
    rule = {"match": {"operation_id": "getPartner"}, "respond": {"status": 500}}
    assert client.post("/__admin/rules", json=rule, headers=SESSION).status_code == 201
    assert client.get(f"/api/v1/partners/{P02}", headers=SESSION).status_code == 500


def by_description(pact: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {item["description"]: item for item in pact["interactions"]}


def test_one_interaction_per_distinct_call_with_unique_descriptions(client: FlaskClient) -> None:
    serve_a_consumer(client)
    pact = pact_of(client, consumer="web", provider="partners")
    assert pact["consumer"] == {"name": "web"} and pact["provider"] == {"name": "partners"}
    descriptions = [item["description"] for item in pact["interactions"]]
    assert len(descriptions) == len(set(descriptions)) == 6
    partner = f"getPartner: GET /api/v1/partners/{P08} answered 200"
    assert [d for d in descriptions if d.startswith(partner)] == [partner, f"{partner} (2)"]
    assert [item["key"] for item in pact["interactions"]] == descriptions


def test_what_a_request_keeps(client: FlaskClient) -> None:
    serve_a_consumer(client)
    pact = pact_of(client)
    listing = pact["interactions"][0]["request"]
    assert listing["query"] == {
        "business_uuid": [B1],
        "filter[categories][]": ["pos", "payroll"],
        "per_page": ["5"],
    }
    assert listing["headers"] == {"Accept": ["application/json"], "Authorization": ["Bearer ${token}"]}
    assert listing["generators"] == {
        "header": {"Authorization": {"type": "ProviderState", "expression": "Bearer ${token}"}}
    }
    click = next(item for item in pact["interactions"] if item["request"]["method"] == "POST")["request"]
    assert click["headers"]["Content-Type"] == ["application/json"]
    assert click["body"] == {"content": CLICK, "contentType": "application/json", "encoded": False}
    text = json.dumps(pact)
    for never in ("alice-token", "X-Mock-Session", "pact-export", "User-Agent", "consumer/1", "Host"):
        assert never not in text


def test_provider_states_come_from_the_data(client: FlaskClient) -> None:
    serve_a_consumer(client)
    interactions = pact_of(client)["interactions"]

    def states_of(index: int) -> list[tuple[str, dict[str, Any]]]:
        return [(s["name"], s["params"]) for s in interactions[index]["providerStates"]]

    data_set = (states.DATA_SET, {"source": "scenario default", "name": "default"})
    user = (states.USER, {"id": ALICE})
    before, after = states_of(1), states_of(3)
    assert before == [
        data_set,
        user,
        (states.PARTNER, {"id": P08}),
        (states.NOT_LINKED, {"user": ALICE, "partner": P08}),
    ]
    assert after[-1] == (states.LINKED, {"user": ALICE, "partner": P08})
    listing = dict(states_of(0))
    assert listing[states.BUSINESS] == {"id": B1}
    assert states_of(5) == [data_set, (states.USER, {"id": ALICE}), (states.NO_PARTNER, {"id": NO_SUCH_ID})]


def test_matching_rules_cover_generated_values(client: FlaskClient) -> None:
    serve_a_consumer(client)
    interactions = pact_of(client)["interactions"]
    listing = interactions[0]["response"]["matchingRules"]["body"]
    assert listing["$.meta['total-count']"]["matchers"] == [{"match": "integer"}]
    assert listing["$.links.next"] == {"combine": "OR", "matchers": [{"match": "type"}, {"match": "null"}]}
    assert listing["$.data[0].id"]["matchers"][0]["match"] == "regex"
    click = next(item for item in interactions if item["request"]["method"] == "POST")
    rules = click["response"]["matchingRules"]["body"]
    assert rules["$.data.attributes['created-at']"]["matchers"][0]["match"] == "regex"
    assert rules["$.data.id"]["matchers"][0]["regex"].startswith("^[0-9a-fA-F]{8}")


def test_off_contract_and_forced_answers_are_skipped_with_the_reason(client: FlaskClient) -> None:
    serve_a_consumer(client)
    skipped = pact_of(client)["metadata"]["mockserver"]["skipped"]
    assert [(item["status"], item["reason"].split(":")[0]) for item in skipped] == [
        (400, "off-contract"),
        (500, "answered by rule rule-1, not as the provider would"),
    ]
    assert skipped[0]["query"].endswith("filter[colour]=red")


def test_a_cut_entry_is_skipped() -> None:
    cut = Entry("GET", "/api/v1/partners/x", "", 200, 1.0, operation_id="getPartner", answer=Answer(cut=True))
    long_body = Entry("POST", "/x", "", 201, 1.0, operation_id="op", body=b"{", body_truncated=True)
    result = export([cut, long_body], ExportOptions())
    assert result.pact["interactions"] == []
    assert [item.reason for item in result.skipped] == [
        "the answer was not kept whole (larger than the journal keeps, or streamed)",
        "the request was cut when journaled",
    ]


@pytest.mark.parametrize("version", [3, 4])
def test_the_export_is_valid_pact_and_compatible_with_the_spec(client: FlaskClient, version: int) -> None:
    serve_a_consumer(client)
    pact = pact_of(client, version)
    assert pact["metadata"]["pactSpecification"]["version"].startswith(f"{version}.")
    assert schema_problems(pact, version) == []
    assert list(Verifier(SPEC).verify(read_pact(pact, "export.json")).findings) == []
    if version == 3:
        assert all("type" not in item and "comments" not in item for item in pact["interactions"])
        assert pact["interactions"][0]["request"]["headers"]["Accept"] == "application/json"


def test_the_schemas_refuse_what_pact_refuses(client: FlaskClient) -> None:
    serve_a_consumer(client)
    pact = pact_of(client)
    pact["interactions"][0]["request"]["method"] = "FETCH"
    del pact["interactions"][1]["response"]["status"]
    pact["interactions"][2]["response"]["body"]["encoded"] = None
    problems = schema_problems(pact, 4)
    assert [p.split(":")[0] for p in problems] == [
        "/interactions/0/request/method",
        "/interactions/1/response",
        "/interactions/2/response/body/encoded",
    ]


def test_tests_pacts_merge_into_one_with_their_test_names(client: FlaskClient) -> None:
    serve_a_consumer(client)
    first = pact_of(client, testname="tests/test_a.py::test_one")
    second = pact_of(client, testname="tests/test_b.py::test_two")
    merged = merge([first, second], "web", "partners", 4)
    assert len(merged["interactions"]) == len(first["interactions"])
    assert {item["comments"]["testname"] for item in merged["interactions"]} == {"tests/test_a.py::test_one"}
    assert [i["description"] for i in merged["interactions"]] == [
        i["description"] for i in first["interactions"]
    ]
    assert schema_problems(merged, 4) == []
    assert len(merged["metadata"]["mockserver"]["skipped"]) == 4


def test_the_admin_contract_refuses_a_bad_version(client: FlaskClient) -> None:
    reply = client.get("/__admin/pact?version=2")
    assert reply.status_code == 400
    assert reply.get_json()["errors"][0]["source"] == {"parameter": "version"}


# --- the command ---------------------------------------------------------------------------------


@pytest.mark.live
def test_export_from_a_running_mock(tmp_path: Path) -> None:
    server = LiveServer.start("--scenario", "default")
    try:
        session = {"X-Mock-Session": "cli"}
        assert server.request("GET", f"/api/v1/partners/{P07}", headers=session).status == 200
        assert server.request("GET", "/api/v1/partners/nope", headers=session).status == 400
        output = tmp_path / "pacts" / "web.json"
        args = [
            "pact",
            "export",
            "--url",
            server.base,
            "--session",
            "cli",
            "--consumer",
            "web",
            "-o",
            str(output),
        ]
        result = CliRunner().invoke(cli, args)
        assert result.exit_code == 0, result.output
        assert f"{output}: 1 interaction(s), 1 request(s) skipped" in result.output
        assert (
            "skipped: GET /api/v1/partners/nope -> 400: off-contract: id must be a valid uuid"
            in result.output
        )
        pact = json.loads(output.read_text())
        assert pact["consumer"] == {"name": "web"} and len(pact["interactions"]) == 1
        assert CliRunner().invoke(cli, [*args, "--strict"]).exit_code == 1
        v3 = CliRunner().invoke(cli, [*args, "--pact-version", "3"])
        assert json.loads(output.read_text())["metadata"]["pactSpecification"]["version"] == "3.0.0", (
            v3.output
        )
    finally:
        server.stop()
    unreachable = CliRunner().invoke(cli, ["pact", "export", "--url", server.base])
    assert unreachable.exit_code == 2 and "error:" in unreachable.output
