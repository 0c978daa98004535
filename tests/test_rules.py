"""Rules (in scenario files and added at run time), simulated latency, errors and transport faults.

Apps here run with the response self-check on: a rule's answer that broke the spec would come back as
a 500 naming the violation, unless the rule says it breaks the contract on purpose."""

from __future__ import annotations

import http.client
import json
import socket
import time
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from support import (
    API,
    AS_BOB,
    P07,
    P08,
    SCENARIOS_DIR,
    SPEC,
    VALID_CLICK,
    make_app,
    plain_client,
    post_click,
    send,
)

from mockserver.live import LiveServer, read_responses
from mockserver.scenarios import ScenarioError, load_scenario

DEFAULT_YAML = (SCENARIOS_DIR / "default.yaml").read_text(encoding="utf-8")
UNKNOWN_PARTNER = SPEC.resolved["components"]["examples"]["UnknownPartner"]["value"]


@pytest.fixture
def app(state_settings: dict[str, Any]) -> Flask:
    """The default scenario, its state in memory and in Redis (each test runs on both)."""
    return make_app(scenario="default", **state_settings)


def with_rules(tmp_path: Path, rules: str) -> Path:
    path = tmp_path / "with-rules.yaml"
    path.write_text(DEFAULT_YAML + "\nrules:\n" + rules, encoding="utf-8")
    return path


def app_with(tmp_path: Path, rules: str, **settings: Any) -> Flask:
    return make_app(scenario=str(with_rules(tmp_path, rules)), validate_responses=True, **settings)


def statuses(client: FlaskClient, url: str, n: int, **kwargs: Any) -> list[int]:
    return [client.get(url, **kwargs).status_code for _ in range(n)]


def test_a_sequence_answers_in_turn_and_its_last_reply_repeats(
    tmp_path: Path, state_settings: dict[str, Any]
) -> None:
    app = app_with(
        tmp_path,
        """
  - id: flaky
    match: {operation_id: listAvailablePartners}
    sequence:
      - {status: 503}
      - {status: 500}
      - {}
    contract_violation: true
""",
        **state_settings,
    )
    client = plain_client(app)  # the answers break the contract on purpose
    assert statuses(client, f"{API}/available", 4) == [503, 500, 200, 200]
    journal = client.get("/__admin/requests").get_json()["requests"]
    assert [e["answered_by"] for e in journal] == ["rule flaky"] * 4
    assert client.get("/__admin/rules").get_json()["rules"][0]["hits"] == 4


def test_times_limits_a_rule_and_reset_starts_it_again(
    tmp_path: Path, state_settings: dict[str, Any]
) -> None:
    client = app_with(
        tmp_path,
        """
  - match: {operation_id: getPartner}
    respond: {status: 500}
    times: 1
""",
        **state_settings,
    ).test_client()
    assert statuses(client, f"{API}/{P07}", 3) == [500, 200, 200]
    assert client.post("/__admin/reset").status_code == 204
    assert statuses(client, f"{API}/{P07}", 2) == [500, 200]


def test_a_rule_matches_on_query_headers_and_body(tmp_path: Path) -> None:
    client = app_with(
        tmp_path,
        """
  - match: {operation_id: listAvailablePartners, query: {page: "2"}}
    respond: {status: 400, example: perPageTooLarge}
  - match: {operation_id: getPartner, headers: {authorization: Bearer}}
    respond: {status: 404, example: unknownPartner}
  - match: {operation_id: createPartnerClickEvent, body: {data: {attributes: {event_type: video}}}}
    respond: {status: 404}
""",
    ).test_client()
    assert client.get(f"{API}/available?page=2").status_code == 400
    assert client.get(f"{API}/available?page=1").status_code == 200
    (error,) = client.get(f"{API}/{P07}", headers=AS_BOB).get_json()["errors"]
    assert error == {**UNKNOWN_PARTNER["errors"][0], "detail": f"No partner has id {P07}"}  # this request's
    assert client.get(f"{API}/{P07}").status_code == 200
    video = {"data": {"type": "partner_click_events", "attributes": {"event_type": "video"}}}
    assert post_click(client, video, partner_id=P07).status_code == 404
    assert post_click(client, VALID_CLICK, partner_id=P07).status_code == 201


def test_a_rules_query_matches_a_list_in_any_form_the_server_reads(tmp_path: Path) -> None:
    client = app_with(
        tmp_path,
        """
  - match: {operation_id: listAvailablePartners, query: {"filter[status]": coming_soon}}
    respond: {status: 500}
""",
    ).test_client()
    for sent in (
        "filter[status][]=coming_soon",
        "filter[status][0]=coming_soon",
        "filter[status]=available,coming_soon",
    ):
        assert client.get(f"{API}/available?{sent}").status_code == 500, sent
    assert client.get(f"{API}/available?filter[status][]=available").status_code == 200


def test_a_reply_without_status_lets_the_mock_answer_late_and_with_headers(tmp_path: Path) -> None:
    client = app_with(
        tmp_path,
        """
  - match: {operation_id: getPartner}
    respond: {delay: 250, headers: {X-Served-By: rule}}
""",
    ).test_client()
    started = time.perf_counter()
    response = client.get(f"{API}/{P07}")
    assert time.perf_counter() - started >= 0.25
    assert response.status_code == 200 and response.get_json()["data"]["id"] == P07
    assert response.headers["X-Served-By"] == "rule"


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        (
            "  - match: {operation_id: getPartner}\n    respond: {status: 302}\n",
            "rules[0].respond.status: 302 is not a status getPartner declares (200, 400, 401, 404, 408, 500)",
        ),
        (
            "  - match: {operation_id: getPartner}\n    respond: {status: 200, body: {data: []}}\n",
            "rules[0].respond.body.data: body/data: [] is not of type 'object'",
        ),
        (
            "  - match: {operation_id: getPartnr}\n    respond: {status: 200}\n",
            "rules[0].match: no operation 'getPartnr'",
        ),
        (
            "  - match: {method: GET, path: /api/v1/nope}\n    respond: {status: 200}\n",
            "rules[0].match: no operation serves GET /api/v1/nope",
        ),
        (
            "  - match: {operation_id: getPartner}\n    respond: {status: 404, example: nope}\n",
            "rules[0].respond.example: 'nope' is not a named example of 404: unknownPartner",
        ),
        (
            "  - match: {operation_id: getPartner}\n    respond: {delay: 900-100}\n",
            "rules[0].respond.delay: '900-100' is not a range of 0 to 60000 ms, lowest first",
        ),
    ],
    ids=[
        "undeclared-status",
        "body-off-schema",
        "unknown-operation",
        "unknown-path",
        "unknown-example",
        "bad-range",
    ],
)
def test_a_bad_rule_is_refused_at_load_with_its_line(tmp_path: Path, rule: str, message: str) -> None:
    path = with_rules(tmp_path, rule)
    line = DEFAULT_YAML.count("\n") + 3
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path, tmp_path, spec=SPEC)
    assert str(caught.value).startswith(f"{path}:{line}: {message}") or (
        str(caught.value).startswith(f"{path}:{line + 1}: {message}")
        or str(caught.value).startswith(f"{path}:{line + 2}: {message}")
    ), str(caught.value)


def test_a_deliberate_violation_passes_the_self_check(tmp_path: Path) -> None:
    app = app_with(
        tmp_path,
        """
  - match: {operation_id: getPartner}
    respond: {status: 418, body: {teapot: true}}
    contract_violation: true
""",
    )
    client = plain_client(app)
    response = client.get(f"{API}/{P07}")
    assert response.status_code == 418 and response.get_json() == {"teapot": True}


def test_rules_added_at_run_time_belong_to_their_session(client: FlaskClient) -> None:
    mine, other = {"X-Mock-Session": "rules-a"}, {"X-Mock-Session": "rules-b"}
    rule = {"id": "gone", "match": {"operation_id": "getPartner"}, "respond": {"status": 404}}
    response = client.post("/__admin/rules", json=rule, headers=mine)
    assert response.status_code == 201
    assert response.get_json()["rule"] == {**rule, "origin": "admin", "hits": 0}
    assert client.get(f"{API}/{P07}", headers=mine).status_code == 404
    assert client.get(f"{API}/{P07}", headers=other).status_code == 200
    assert client.get(f"{API}/{P07}").status_code == 200
    assert client.get("/__admin/rules", headers=other).get_json() == {"rules": []}
    again = client.post("/__admin/rules", json=rule, headers=mine)
    assert again.status_code == 422 and again.get_json()["errors"][0]["source"] == {"pointer": "/id"}
    assert client.delete("/__admin/rules/gone", headers=mine).status_code == 204
    assert client.delete("/__admin/rules/gone", headers=mine).status_code == 404
    assert client.get(f"{API}/{P07}", headers=mine).status_code == 200


@pytest.mark.parametrize(
    ("rule", "pointer"),
    [
        ({"match": {"operation_id": "getPartner"}, "respond": {"status": 418}}, "/respond/status"),
        (
            {"match": {"operation_id": "getPartner"}, "respond": {"status": 200, "body": {"data": 1}}},
            "/respond/body/data",
        ),
        ({"match": {}, "respond": {"status": 200}}, "/match"),
        ({"match": {"operation_id": "getPartner"}, "respond": {}, "sequence": [{}]}, ""),
        ({"match": {"operation_id": "getPartner"}, "respond": {"fault": "explode"}}, "/respond/fault"),
    ],
    ids=["undeclared-status", "body-off-schema", "no-operation", "respond-and-sequence", "unknown-fault"],
)
def test_a_bad_rule_sent_at_run_time_is_a_422_naming_the_field(
    client: FlaskClient, rule: dict[str, Any], pointer: str
) -> None:
    response = client.post("/__admin/rules", json=rule)
    assert response.status_code == 422, response.get_data(as_text=True)
    assert response.get_json()["errors"][0]["source"] == {"pointer": pointer}
    assert client.get("/__admin/rules").get_json() == {"rules": []}


def test_reset_drops_rules_added_at_run_time(client: FlaskClient) -> None:
    rule = {"match": {"operation_id": "getPartner"}, "respond": {"status": 500}}
    assert client.post("/__admin/rules", json=rule).status_code == 201
    assert client.get(f"{API}/{P07}").status_code == 500
    assert client.post("/__admin/reset").status_code == 204
    assert client.get(f"{API}/{P07}").status_code == 200


def test_a_preference_comes_before_a_rule(client: FlaskClient) -> None:
    rule = {"match": {"operation_id": "getPartner"}, "respond": {"status": 500}}
    assert client.post("/__admin/rules", json=rule).status_code == 201
    response = client.get(f"{API}/{P07}", headers={"Prefer": "code=404"})
    assert response.status_code == 404
    assert client.get("/__admin/requests").get_json()["requests"][-1]["answered_by"] == "prefer code=404"


# --- faults, latency and errors on a live server ------------------------------------------------------


def raw_get(server: LiveServer, path: str) -> tuple[int, bytes, bool]:
    """Status, the bytes that came, and whether the body was cut short."""
    connection = server.connection(timeout=10)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        try:
            return response.status, response.read(), False
        except http.client.IncompleteRead as cut:
            return response.status, cut.partial, True
    finally:
        connection.close()


@pytest.mark.parametrize("server", ["granian", "waitress"])
def test_transport_faults_from_rules(tmp_path: Path, server: str) -> None:
    path = with_rules(
        tmp_path,
        f"""
  - match: {{method: GET, path: {API}/{P07}}}
    respond: {{fault: truncate}}
  - match: {{method: GET, path: {API}/{P08}}}
    respond: {{fault: malformed}}
  - match: {{operation_id: listWholesalers}}
    respond: {{fault: close}}
""",
    )
    live = LiveServer.start("--scenario", str(path), "--server", server)
    try:
        whole = live.request("GET", f"{API}/c0000000-0000-4000-8000-000000000001").body
        status, body, cut = raw_get(live, f"{API}/{P07}")
        assert cut and 0 < len(body) < len(whole) and status == 200
        status, body, cut = raw_get(live, f"{API}/{P08}")
        assert status == 200 and not cut
        with pytest.raises(ValueError):
            json.loads(body)
        if server == "granian":
            # Not a byte of an answer: the client sees the end of the connection, or its reset.
            with pytest.raises((http.client.RemoteDisconnected, ConnectionResetError)):
                raw_get(live, f"{API}/wholesalers")
        else:  # waitress writes nothing before the first body byte: it answers its own plain 500
            status, body, cut = raw_get(live, f"{API}/wholesalers")
            assert status == 500 and body.startswith(b"Internal Server Error")
        assert (
            live.request("GET", f"{API}/c0000000-0000-4000-8000-000000000001").status == 200
        )  # still serving
    finally:
        live.stop()


def until_closed(sock: socket.socket) -> bytes:
    """What arrives before the server ends the connection (a time-out fails the caller)."""
    received = b""
    try:
        while chunk := sock.recv(65536):
            received += chunk
    except ConnectionResetError:
        pass
    return received


def test_close_fault_sends_no_byte(tmp_path: Path) -> None:
    """Under granian every `close` ends the connection before any byte of an answer, on a new
    connection as on one that already carried an answer (ending a stream early sent the headers
    about one time in three)."""
    path = with_rules(
        tmp_path,
        """
  - match: {operation_id: listWholesalers}
    respond: {fault: close}
""",
    )
    live = LiveServer.start("--scenario", str(path))
    faulted = f"GET {API}/wholesalers HTTP/1.1\r\nHost: mock\r\n\r\n".encode()
    try:
        for _ in range(20):
            with socket.create_connection((live.host, live.port), timeout=10) as sock:
                sock.sendall(faulted)
                assert until_closed(sock) == b""
        with socket.create_connection((live.host, live.port), timeout=10) as sock:
            sock.sendall(
                f"GET {API}/c0000000-0000-4000-8000-000000000001 HTTP/1.1\r\nHost: mock\r\n\r\n".encode()
            )
            assert read_responses(sock, 1, 10, 1 << 20).startswith(b"HTTP/1.1 200 ")
            sock.sendall(faulted)
            assert until_closed(sock) == b""
    finally:
        live.stop()


def test_simulated_errors_follow_the_seed() -> None:
    def run(seed: int) -> list[int]:
        live = LiveServer.start("--scenario", "default", "--error-rate", "0.5", "--chaos-seed", str(seed))
        try:
            return [live.request("GET", f"{API}/{P07}").status for _ in range(24)]
        finally:
            live.stop()

    first, again, other = run(3), run(3), run(4)
    assert first == again
    assert first != other
    assert set(first) == {200, 500} and 4 <= first.count(500) <= 20


def test_latency_and_fault_rate(tmp_path: Path) -> None:
    app = make_app(scenario="default", latency="100-150", fault_rate=1.0, chaos_seed=1)
    client = plain_client(app)  # every answer is faulted on purpose
    started = time.perf_counter()
    answers = []
    for _ in range(6):
        try:
            answers.append(client.get(f"{API}/{P07}").get_data())
        except ConnectionAbortedError:
            answers.append(b"<dropped>")
    assert time.perf_counter() - started >= 0.6
    assert all(not body.startswith(b'{"data":{') for body in answers)  # every answer faulted
    journal = client.get("/__admin/requests").get_json()["requests"]
    assert {e["answered_by"] for e in journal} <= {
        "simulated close",
        "simulated truncate",
        "simulated malformed",
    }


def test_bad_latency_is_a_usage_error(runner: Any) -> None:
    from mockserver.cli import cli

    result = runner.invoke(cli, ["serve", "--latency", "800-200"])
    assert result.exit_code == 2 and "800-200" in result.output


def test_a_rule_answers_before_simulated_errors(tmp_path: Path) -> None:
    client = app_with(
        tmp_path,
        """
  - match: {operation_id: getPartner}
    respond: {status: 404}
""",
        error_rate=1.0,
    ).test_client()
    assert client.get(f"{API}/{P07}").status_code == 404
    assert client.get(f"{API}/wholesalers").status_code == 500
    assert send(client, "PATCH", f"{API}/{P08}/connect").status_code == 500
