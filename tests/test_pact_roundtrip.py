"""The round trip: a consumer's tests run against the mock with the pytest plugin's --mockserver-pact,
the Pact it writes is verified against openapi.yaml and replayed (Pact's own verifier) against a fresh
mock: all pass. A drifted provider fails naming the interaction and the field: a scenario that lacks a
state's partner, and the proxy in front of an upstream that renames a field."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from support import P08, SCENARIOS_DIR

from mockserver.cli import cli
from mockserver.testing.live import LiveServer

pytestmark = pytest.mark.live

CONSUMER_TESTS = f'''
import json
import urllib.error
import urllib.error
import urllib.request

P08 = "{P08}"
B1 = "b0000000-0000-4000-8000-000000000001"
CLICK = {{"data": {{"type": "partner_click_events", "attributes": {{"event_type": "website"}}}}}}


def call(mockserver, method, path, body=None, token="bob-token"):
    headers = {{**mockserver.headers, "Authorization": "Bearer " + token, "Accept": "application/json"}}
    data = None
    if body is not None:
        data, headers["Content-Type"] = json.dumps(body).encode(), "application/json"
    request = urllib.request.Request(mockserver.url_for(path), data, headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


def test_lists_and_reads_a_partner(mockserver):
    query = f"business_uuid={{B1}}&filter[categories][]=wholesaler"
    status, page = call(mockserver, "GET", f"/api/v1/partners?{{query}}")
    assert status == 200 and page["meta"]["total-count"] >= 1
    status, partner = call(mockserver, "GET", f"/api/v1/partners/{{P08}}")
    assert status == 200 and partner["data"]["attributes"]["name"]


def test_connects_and_clicks(mockserver):
    assert call(mockserver, "PATCH", f"/api/v1/partners/{{P08}}/connect")[0] == 200
    status, partner = call(mockserver, "GET", f"/api/v1/partners/{{P08}}?include=users")
    assert status == 200 and partner["data"]["attributes"]["user-integration-requested"] is True
    assert call(mockserver, "POST", f"/api/v1/partners/{{P08}}/click_event", CLICK)[0] == 201


def test_a_missing_partner(mockserver):
    assert call(mockserver, "GET", "/api/v1/partners/00000000-0000-4000-8000-000000000000")[0] == 404
    mockserver.assert_no_violations()
'''


@pytest.fixture(scope="module")
def consumer_pact(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The Pact the consumer's tests leave behind: pytest in a child process, the plugin starting its
    own mock (the default scenario), `--mockserver-pact DIR`."""
    folder = tmp_path_factory.mktemp("consumer")
    (folder / "test_consumer.py").write_text(textwrap.dedent(CONSUMER_TESTS))
    pacts = folder / "pacts"
    args = ["-p", "mockserver", "-p", "no:cacheprovider", "-q"]
    args += ["--mockserver-arg=--scenario default", f"--mockserver-pact={pacts}"]
    args += ["--mockserver-pact-consumer=web"]
    environment = {
        key: value for key, value in os.environ.items() if not key.startswith(("PYTEST_", "MOCKSERVER_"))
    }
    environment["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    done = subprocess.run(
        [sys.executable, "-m", "pytest", *args, str(folder)],
        cwd=folder,
        env=environment,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return pacts / "web-partners-api.json"


def test_the_plugin_writes_the_runs_pact_with_each_tests_id(consumer_pact: Path) -> None:
    pact = json.loads(consumer_pact.read_text())
    assert pact["consumer"] == {"name": "web"} and pact["provider"] == {"name": "partners-api"}
    names = {item["comments"]["testname"].split("::")[-1] for item in pact["interactions"]}
    assert names == {"test_lists_and_reads_a_partner", "test_connects_and_clicks", "test_a_missing_partner"}
    assert len(pact["interactions"]) == 6
    assert "bob-token" not in consumer_pact.read_text()


def test_the_pact_verifies_against_the_spec(consumer_pact: Path) -> None:
    result = CliRunner().invoke(cli, ["pact", "verify", str(consumer_pact)])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "6 interaction(s) in 1 file(s), 0 with errors: compatible"


def test_the_pact_replays_against_a_fresh_mock(consumer_pact: Path) -> None:
    fresh = LiveServer.start("--seed", "11", "--partners", "5")  # other data: the states load the scenario
    try:
        result = CliRunner().invoke(cli, ["pact", "replay", str(consumer_pact), "--url", fresh.base])
    finally:
        fresh.stop()
    assert result.exit_code == 0, result.output
    assert f"6 interaction(s) replayed against {fresh.base}: all passed" in result.output


def test_a_scenario_without_a_states_partner_fails_naming_it(consumer_pact: Path, tmp_path: Path) -> None:
    scenario = yaml.safe_load((SCENARIOS_DIR / "default.yaml").read_text())
    scenario["partners"] = [partner for partner in scenario["partners"] if partner["id"] != P08]
    (tmp_path / "default.yaml").write_text(yaml.safe_dump(scenario))
    drifted = LiveServer.start("--scenarios-dir", str(tmp_path))
    try:
        result = CliRunner().invoke(cli, ["pact", "replay", str(consumer_pact), "--url", drifted.base])
    finally:
        drifted.stop()
    assert result.exit_code == 1, result.output
    line = f'{consumer_pact}: "getPartner: GET /api/v1/partners/{P08} answered 200": provider state not set: '
    assert f"{line}state 'a partner exists': id '{P08}' is no partner of scenario default" in result.output
    assert "expected 200 but was 404" in result.output


class Renaming(BaseHTTPRequestHandler):
    """An upstream that forwards to a mock and renames every partner's `name` to `title`."""

    target = ""

    def do_GET(self) -> None:
        self._forward()

    def do_PATCH(self) -> None:
        self._forward()

    def do_POST(self) -> None:
        self._forward()

    def _forward(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length")}
        request = urllib.request.Request(self.target + self.path, body, headers, method=self.command)
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                status, raw = response.status, response.read()
        except urllib.error.HTTPError as error:
            status, raw = error.code, error.read()
        payload = raw.replace(b'"name":', b'"title":')
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        return


@pytest.fixture
def renaming_upstream() -> Iterator[str]:
    real = LiveServer.start("--scenario", "default")
    Renaming.target = real.base
    server = ThreadingHTTPServer(("127.0.0.1", 0), Renaming)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        real.stop()


def test_a_proxy_in_front_of_a_renaming_upstream_fails_naming_the_field(
    consumer_pact: Path, renaming_upstream: str
) -> None:
    proxy = LiveServer.start("--upstream", renaming_upstream, subcommand="proxy")
    try:
        result = CliRunner().invoke(cli, ["pact", "replay", str(consumer_pact), "--url", proxy.base])
    finally:
        proxy.stop()
    assert result.exit_code == 1, result.output
    line = f'{consumer_pact}: "getPartner: GET /api/v1/partners/{P08} answered 200": '
    assert f"{line}$.data.attributes: Actual map is missing the following keys: name" in result.output


class States(BaseHTTPRequestHandler):
    """Another provider's state endpoint: records each state, answers the token of the test's user."""

    posted: list[dict[str, Any]] = []
    status = 200

    def do_POST(self) -> None:
        change = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        States.posted.append(change)
        payload = json.dumps({"token": "bob-token"}).encode()
        self.send_response(self.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        return


def test_another_providers_states_go_to_the_state_url(consumer_pact: Path, tmp_path: Path) -> None:
    pact = json.loads(consumer_pact.read_text())
    pact["interactions"] = [
        i for i in pact["interactions"] if i["comments"]["testname"].endswith("a_partner")
    ]
    reads = tmp_path / "reads.json"
    reads.write_text(json.dumps(pact))
    server = ThreadingHTTPServer(("127.0.0.1", 0), States)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    provider = LiveServer.start("--scenario", "default")
    try:
        state_url = f"http://127.0.0.1:{server.server_address[1]}/states"
        result = CliRunner().invoke(
            cli, ["pact", "replay", str(reads), "--url", provider.base, "--state-url", state_url]
        )
    finally:
        provider.stop()
        server.shutdown()
        server.server_close()
    assert result.exit_code == 0, result.output
    names = [change["state"] for change in States.posted]
    assert names.count("the data set is loaded") == 2 and "a user sends the request" in names
    assert {change["action"] for change in States.posted} == {"setup"}


def test_a_state_url_that_fails_fails_the_interaction_in_bounded_time(consumer_pact: Path) -> None:
    """Finding: Pact's verifier waits forever on a state change answered with an error; the replay
    relays the states itself and reports the failure."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), type("Failing", (States,), {"status": 500}))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    provider = LiveServer.start("--scenario", "default")
    outcome: list[Any] = []
    state_url = f"http://127.0.0.1:{server.server_address[1]}/states"
    args = ["pact", "replay", str(consumer_pact), "--url", provider.base, "--state-url", state_url]
    worker = threading.Thread(target=lambda: outcome.append(CliRunner().invoke(cli, args)), daemon=True)
    try:
        worker.start()
        worker.join(timeout=120)
    finally:
        provider.stop()
        server.shutdown()
        server.server_close()
    assert outcome, "the replay did not finish within 120 s"
    (result,) = outcome
    assert result.exit_code == 1, result.output
    assert (
        f"provider state not set: state 'the data set is loaded': {state_url} answered 500" in result.output
    )


def test_replay_exit_codes_for_a_file_that_cannot_be_read(tmp_path: Path) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text("[]")
    result = CliRunner().invoke(cli, ["pact", "replay", str(broken), "--url", "http://127.0.0.1:9"])
    assert result.exit_code == 2
    assert "error: " in result.output and "a Pact is a JSON object" in result.output
