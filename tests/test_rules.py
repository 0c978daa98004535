"""Rules (in scenario files and added at run time), simulated latency, errors and transport faults.

Apps here run with the response self-check on: a rule's answer that broke the spec would come back as
a 500 naming the violation, unless the rule says it breaks the contract on purpose."""

from __future__ import annotations

import http.client
import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any, ClassVar

import pytest
from flask import Flask
from flask.testing import FlaskClient
from raw_http import read_responses
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
from tiers import needs

from mockserver.dataset.scenario import ScenarioError, load_scenario
from mockserver.journal.log import Entry
from mockserver.journal.patterns import Pattern
from mockserver.rules.book import MAX_RULES, RuleBook, compile_rules
from mockserver.testing.live import LiveServer, Reply, python_environment

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


@pytest.mark.live
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


@pytest.mark.live
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


@pytest.mark.live
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


# --- what a rule may say: patterns, headers, how many ---------------------------------------------------

BACKTRACKING = "/api/v1/partners/([0-9a-f-]+)+X"
"""Python's `re` takes about 2**35 steps to find that a partner path does not match this."""
SESSION = "rule-limits"


@pytest.fixture(scope="module")
@needs("live")
def validating() -> Iterator[LiveServer]:
    """The default server with the response self-check on, shared by the socket tests below."""
    live = LiveServer.start("--scenario", "default", "--validate-responses")
    try:
        yield live
    finally:
        live.stop()


def add_rule(live: LiveServer, rule: dict[str, Any], session: str) -> Reply:
    headers = {"Content-Type": "application/json", "X-Mock-Session": session}
    return live.admin("POST", "/__admin/rules", json.dumps(rule), headers, timeout=5)


def test_a_backtracking_rule_pattern_answers_at_once_and_the_server_stays_responsive(
    validating: LiveServer,
) -> None:
    rule = {"match": {"operation_id": "getPartner", "path_pattern": BACKTRACKING}, "respond": {"status": 404}}
    assert add_rule(validating, rule, "backtracking").status == 201
    started = time.perf_counter()
    reply = validating.request("GET", f"{API}/{P07}", headers={"X-Mock-Session": "backtracking"}, timeout=5)
    assert reply.status == 200  # the rule does not match (no X), and finding that out is quick
    assert time.perf_counter() - started < 1.0
    started = time.perf_counter()
    assert validating.is_healthy()
    assert time.perf_counter() - started < 1.0


@pytest.mark.parametrize(
    ("pattern", "reason"),
    [
        (r"/api/(v1)/\1", "not a regular expression RE2 accepts"),
        ("/api/(?=v1).*", "not a regular expression RE2 accepts"),
        ("(", "not a regular expression RE2 accepts (missing ): ()"),
        ("[^/]{1000}x[^/]{1000}", "too large: RE2 compiles it to a program over 256 KiB"),
    ],
    ids=["backreference", "lookahead", "unclosed", "too-large"],
)
def test_a_pattern_re2_cannot_run_is_a_422_naming_the_field(
    client: FlaskClient, pattern: str, reason: str
) -> None:
    rule = {"match": {"operation_id": "getPartner", "path_pattern": pattern}, "respond": {"status": 404}}
    response = client.post("/__admin/rules", json=rule)
    assert response.status_code == 422, response.get_data(as_text=True)
    (error,) = response.get_json()["errors"]
    assert error["source"] == {"pointer": "/match/path_pattern"}
    assert error["detail"].startswith(reason), error["detail"]
    assert client.get("/__admin/rules").get_json() == {"rules": []}


def with_pattern_rule(tmp_path: Path, pattern: str = "(") -> tuple[Path, int]:
    """A scenario file whose first rule has this path pattern, and the line of the pattern."""
    path = with_rules(
        tmp_path, f"  - match:\n      operation_id: getPartner\n      path_pattern: {json.dumps(pattern)}\n"
    )
    return path, DEFAULT_YAML.count("\n") + 5


def test_a_bad_pattern_in_a_scenario_file_is_reported_with_its_line_by_check(
    tmp_path: Path, runner: Any
) -> None:
    from mockserver.cli import cli

    path, line = with_pattern_rule(tmp_path)
    result = runner.invoke(cli, ["check", str(path)])
    assert result.exit_code == 1, result.output
    assert result.stderr.startswith(
        f"error: {path}:{line}: rules[0].match.path_pattern: not a regular expression RE2 accepts"
    ), result.stderr


@pytest.mark.live
def test_a_bad_pattern_in_a_scenario_file_stops_serve_with_one_error_line(tmp_path: Path) -> None:
    path, line = with_pattern_rule(tmp_path)
    finished = subprocess.run(
        [sys.executable, "-m", "mockserver", "serve", "--port", "0", "--scenario", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        env=python_environment(),
    )
    assert finished.returncode == 1, finished.stderr
    assert "Traceback" not in finished.stderr
    assert finished.stderr.startswith(f"error: {path}:{line}: rules[0].match.path_pattern: "), finished.stderr


def test_a_bad_pattern_in_an_inline_scenario_is_the_scenario_error(client: FlaskClient) -> None:
    text = DEFAULT_YAML + "\nrules:\n  - match:\n      operation_id: getPartner\n      path_pattern: '('\n"
    response = client.put("/__admin/scenario", json={"inline": text})
    assert response.status_code == 400, response.get_data(as_text=True)
    (error,) = response.get_json()["errors"]
    line = DEFAULT_YAML.count("\n") + 5
    assert error["code"] == "invalid_scenario" and error["source"] == {"pointer": "/inline"}
    assert error["detail"].startswith(f"<inline>:{line}: rules[0].match.path_pattern: "), error["detail"]


def test_a_pattern_longer_than_the_bound_is_refused_in_a_scenario_file(tmp_path: Path) -> None:
    path, line = with_pattern_rule(tmp_path, "/" + "a" * 600)
    with pytest.raises(ScenarioError, match=r"rules\[0\]\.match\.path_pattern: 601 characters, at most 500"):
        load_scenario(path, tmp_path)


@pytest.mark.parametrize(
    ("headers", "pointer", "reason"),
    [
        ({"X-Note": "a\r\nSet-Cookie: x=1"}, "/respond/headers/X-Note", "a header value is visible ASCII"),
        ({"X-Note": "a\nb"}, "/respond/headers/X-Note", "a header value is visible ASCII"),
        ({"X-Note": "a\x00b"}, "/respond/headers/X-Note", "a header value is visible ASCII"),
        ({"X Note": "a"}, "/respond/headers/X Note", "'X Note' is not a header name"),
        ({"X/Note": "a"}, "/respond/headers/X~1Note", "'X/Note' is not a header name"),
        ({"X-Note:": "a"}, "/respond/headers/X-Note:", "'X-Note:' is not a header name"),
    ],
    ids=["crlf", "lf", "nul", "space-in-name", "slash-in-name", "colon-in-name"],
)
def test_a_rule_header_that_is_not_an_http_field_is_a_422(
    client: FlaskClient, headers: dict[str, str], pointer: str, reason: str
) -> None:
    for violation in (False, True):
        rule = {"match": {"operation_id": "getPartner"}, "respond": {"headers": headers}}
        response = client.post("/__admin/rules", json={**rule, "contract_violation": violation})
        assert response.status_code == 422, response.get_data(as_text=True)
        (error,) = response.get_json()["errors"]
        assert error["source"] == {"pointer": pointer} and error["detail"].startswith(reason)
    assert client.get(f"{API}/{P07}").status_code == 200


def test_a_rule_header_with_a_line_break_is_refused_in_a_scenario_file(tmp_path: Path) -> None:
    path = with_rules(
        tmp_path, '  - match: {operation_id: getPartner}\n    respond: {headers: {X-Note: "a\\r\\nb"}}\n'
    )
    with pytest.raises(ScenarioError, match=r"rules\[0\]\.respond\.headers\.X-Note: a header value is"):
        load_scenario(path, tmp_path)


@pytest.mark.parametrize(
    "name",
    ("Content-Length", "transfer-encoding", "Connection", "Keep-Alive", "Upgrade", "TE", "Trailer")
    + ("Proxy-Authenticate",),
)
def test_framing_headers_are_never_a_rules_even_breaking_the_contract(client: FlaskClient, name: str) -> None:
    for violation in (False, True):
        rule = {"match": {"operation_id": "getPartner"}, "respond": {"headers": {name: "5"}}}
        response = client.post("/__admin/rules", json={**rule, "contract_violation": violation})
        assert response.status_code == 422, response.get_data(as_text=True)
        (error,) = response.get_json()["errors"]
        assert error["source"] == {"pointer": f"/respond/headers/{name}"}
        assert "frames the message or the connection" in error["detail"]


def test_a_content_type_must_be_one_the_response_declares_unless_the_rule_breaks_the_contract(
    client: FlaskClient,
) -> None:
    html = {"match": {"operation_id": "getPartner"}, "respond": {"headers": {"Content-Type": "text/html"}}}
    response = client.post("/__admin/rules", json=html)
    assert response.status_code == 422
    (error,) = response.get_json()["errors"]
    assert error["source"] == {"pointer": "/respond/headers/Content-Type"}
    assert error["detail"].startswith("'text/html' is not a media type 200 of getPartner declares")
    with_charset = {"headers": {"Content-Type": "application/json; charset=utf-8"}, "status": 404}
    rule = {"id": "json", "match": {"operation_id": "getPartner"}, "respond": with_charset}
    assert client.post("/__admin/rules", json=rule).status_code == 201
    assert client.get(f"{API}/{P07}").headers["Content-Type"] == "application/json; charset=utf-8"
    assert client.delete("/__admin/rules/json").status_code == 204
    assert client.post("/__admin/rules", json={**html, "contract_violation": True}).status_code == 201
    assert plain_client(client.application).get(f"{API}/{P07}").headers["Content-Type"] == "text/html"


def split_responses(raw: bytes) -> list[tuple[str, bytes]]:
    """Status lines and bodies of HTTP/1.1 responses read back to back, framed by Content-Length;
    AssertionError when the bytes are not such responses."""
    found = []
    while raw:
        head, separator, rest = raw.partition(b"\r\n\r\n")
        assert separator and head.startswith(b"HTTP/1.1 "), raw[:200]
        lines = head.decode("latin-1").split("\r\n")
        lengths = [line.split(":", 1)[1] for line in lines if line.lower().startswith("content-length:")]
        assert len(lengths) == 1, lines
        length = int(lengths[0])
        found.append((lines[0], rest[:length]))
        raw = rest[length:]
    return found


@pytest.mark.parametrize(
    "headers", [{"Content-Length": "5"}, {"Transfer-Encoding": "chunked"}], ids=["content-length", "chunked"]
)
def test_pipelined_answers_stay_framed_whatever_a_rule_tries(
    validating: LiveServer, headers: dict[str, str]
) -> None:
    session = f"framing-{next(iter(headers)).lower()}"
    rule = {"match": {"operation_id": "getPartner"}, "respond": {"headers": headers}}
    added = add_rule(validating, {**rule, "contract_violation": True}, session)
    request = f"GET {API}/{P07} HTTP/1.1\r\nHost: mock\r\nX-Mock-Session: {session}\r\n\r\n".encode()
    with socket.create_connection((validating.host, validating.port), timeout=10) as sock:
        sock.sendall(request * 2)
        raw = read_responses(sock, 2, 10, 1 << 20)
    answers = split_responses(raw)
    assert [status for status, _ in answers] == ["HTTP/1.1 200 OK"] * 2
    assert [json.loads(body)["data"]["id"] for _, body in answers] == [P07, P07]
    assert added.status == 422, added.text()
    assert added.json()["errors"][0]["source"] == {"pointer": f"/respond/headers/{next(iter(headers))}"}


def test_a_session_holds_at_most_200_rules(client: FlaskClient) -> None:
    mine = {"X-Mock-Session": SESSION}
    for n in range(MAX_RULES):
        rule = {"id": f"r{n}", "match": {"operation_id": "getPartner", "query": {"n": str(n)}}, "respond": {}}
        assert client.post("/__admin/rules", json=rule, headers=mine).status_code == 201
    one_more = {"match": {"operation_id": "listWholesalers"}, "respond": {"status": 500}}
    response = client.post("/__admin/rules", json=one_more, headers=mine)
    assert response.status_code == 409, response.get_data(as_text=True)
    (error,) = response.get_json()["errors"]
    assert error["code"] == "too_many_rules" and "at most 200" in error["detail"]
    assert len(client.get("/__admin/rules", headers=mine).get_json()["rules"]) == MAX_RULES
    assert client.get(f"{API}/wholesalers", headers=mine).status_code == 200  # not added
    assert client.post("/__admin/rules", json=one_more).status_code == 201  # other sessions have room
    assert client.delete("/__admin/rules/r0", headers=mine).status_code == 204
    assert client.post("/__admin/rules", json=one_more, headers=mine).status_code == 201


def test_a_scenario_file_with_more_rules_than_a_session_holds_is_refused(tmp_path: Path) -> None:
    rule = "  - match: {operation_id: getPartner}\n    respond: {status: 404}\n"
    path = with_rules(tmp_path, rule * (MAX_RULES + 1))
    with pytest.raises(ScenarioError, match=r":\d+: rules: 201 rules; a session holds at most 200"):
        load_scenario(path, tmp_path)


class CountingPattern(Pattern):
    """A pattern that counts the entries it is asked about."""

    asked: ClassVar[list[Entry]] = []

    def matches(self, entry: Entry) -> bool:
        self.asked.append(entry)
        return False


def test_a_request_tries_only_the_rules_of_its_operation() -> None:
    (template,) = compile_rules([{"match": {"operation_id": "getPartner"}}], SPEC)
    others = tuple(
        replace(template, id=f"other-{n}", pattern=CountingPattern(operation_id="getPartner"))
        for n in range(MAX_RULES)
    )
    book = RuleBook(others)
    listing = Entry("GET", f"{API}/available", "", 0, 0.0, operation_id="listAvailablePartners")
    started = time.perf_counter()
    for _ in range(1000):
        assert book.answer(listing) is None
    assert CountingPattern.asked == []
    assert time.perf_counter() - started < 0.5
    assert not book.tries("listAvailablePartners") and book.tries("getPartner")
    book.answer(replace(listing, operation_id="getPartner"))
    assert len(CountingPattern.asked) == MAX_RULES
