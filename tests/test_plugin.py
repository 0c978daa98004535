"""The pytest plugin as its users see it: consumer test files run by pytest in a child process.

The child runs pytest against one mock this module shares (`--mockserver-url`), with plugin
autoloading off and only this plugin and xdist named (`-p`): the installed plugins (hypothesis,
schemathesis, Faker) would add seconds to every run. One test runs with autoloading on, to prove
the entry point, and lets the plugin start and stop its own server.
"""

from __future__ import annotations

import sys
import textwrap
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from support import NO_SUCH_ID, P07, P08
from tiers import needs

from mockserver import pytest_plugin
from mockserver.pytest_plugin import MockSession
from mockserver.testing import client, live
from mockserver.testing.live import LiveServer, MockEndpoint

pytestmark = pytest.mark.live

pytest_plugins = ["pytester"]

Run = Callable[..., pytest.RunResult]

ENVIRONMENT = (
    *("MOCKSERVER_URL", "MOCKSERVER_ADMIN_TOKEN", "PYTEST_DISABLE_PLUGIN_AUTOLOAD", "PYTEST_ADDOPTS"),
    *("PYTEST_XDIST_WORKER", "PYTEST_XDIST_WORKER_COUNT", "PYTEST_XDIST_TESTRUNUID"),
)
"""Variables a child run must not inherit from this one."""

CLIENT = (
    """
import json
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from mockserver.pytest_plugin import AdminError

"""
    + f"P07, P08, NO_SUCH_ID = {P07!r}, {P08!r}, {NO_SUCH_ID!r}\n"
    + '''CLICK = {"data": {"type": "partner_click_events", "attributes": {"event_type": "website"}}}


def call(mockserver, method, path, body=None, headers=None):
    """Status and JSON document of one request, in the test's session unless `headers` says otherwise."""
    sent = dict(mockserver.headers if headers is None else headers)
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        sent["Content-Type"] = "application/json"
    request = urllib.request.Request(mockserver.url_for(path), data, sent, method=method)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as error:
        status, raw = error.code, error.read()
    return status, json.loads(raw) if raw else None


def partner_ids(mockserver, headers=None):
    status, document = call(mockserver, "GET", "/api/v1/partners/available?per_page=100", headers=headers)
    assert status == 200, document
    return [partner["id"] for partner in document["data"]]
'''
)


@pytest.fixture(scope="module")
@needs("live")
def shared() -> Iterator[LiveServer]:
    """One mock (the default scenario) for every child run that names it with --mockserver-url."""
    server = LiveServer.start("--scenario", "default")
    try:
        yield server
    finally:
        server.stop()


def isolate(monkeypatch: pytest.MonkeyPatch) -> None:
    """The child's environment without this run's plugin settings (nor xdist's, should it run us)."""
    for name in ENVIRONMENT:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def run(pytester: pytest.Pytester, shared: LiveServer, monkeypatch: pytest.MonkeyPatch) -> Run:
    """Write a consumer's test file and run pytest on it in a child process, against `shared`."""
    isolate(monkeypatch)
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")

    def run_consumer(source: str, *args: str, url: str | None = shared.base) -> pytest.RunResult:
        pytester.makepyfile(test_consumer=CLIENT + textwrap.dedent(source))
        options = ["-p", "mockserver", "-p", "xdist", "-p", "no:cacheprovider"]
        if url is not None:
            options += ["--mockserver-url", url]
        return pytester.runpytest_subprocess(*options, *args, timeout=120)

    return run_consumer


def test_a_consumer_test_passes(run: Run) -> None:
    result = run(
        """
        def test_lists_available_partners(mockserver):
            assert mockserver.url.startswith("http://127.0.0.1:")
            assert mockserver.headers == {"X-Mock-Session": mockserver.session}
            assert mockserver.endpoint.admin_token == "s3cret"  # sent on /__admin requests only
            status, document = call(mockserver, "GET", "/api/v1/partners/available?per_page=5&page=2")
            assert status == 200 and len(document["data"]) == 5

            entries = mockserver.assert_called(
                "GET", "/api/v1/partners/available", query={"per_page": 5}, status=200,
                operation_id="listAvailablePartners",
            )
            assert [entry["query"] for entry in entries] == ["per_page=5&page=2"]
            mockserver.assert_called("GET", path_pattern="/api/v1/partners/.*", times=1)
            mockserver.assert_called("POST", "/api/v1/partners/available", times=0)
            assert mockserver.count(method="GET") == 1
            assert [entry["session"] for entry in mockserver.requests()] == [mockserver.session]
            mockserver.assert_no_violations()

        def test_a_missing_partner_is_no_violation(mockserver):
            status, _ = call(mockserver, "GET", f"/api/v1/partners/{NO_SUCH_ID}")
            assert status == 404
            mockserver.assert_no_violations()

        def test_the_session_data(mockserver):
            data = mockserver.data()
            assert [user["token"] for user in data["users"]] == ["alice-token", "bob-token"]
            assert data["partners"] == 14
        """,
        "--mockserver-admin-token=s3cret",
    )
    result.assert_outcomes(passed=3)


def test_a_failing_assert_called_shows_the_near_misses(run: Run) -> None:
    result = run(
        """
        def test_wrong_page_size(mockserver):
            call(mockserver, "GET", "/api/v1/partners/available?per_page=5")
            call(mockserver, "GET", "/api/v1/partners/wholesalers?per_page=10")
            call(mockserver, "GET", "/api/v1/partners/available?per_page=0")
            mockserver.assert_called("GET", "/api/v1/partners/available", query={"per_page": 10})

        def test_wrong_body(mockserver):
            body = {"data": {"type": "partner_click_events", "attributes": {"event_type": "video"}}}
            call(mockserver, "POST", f"/api/v1/partners/{P07}/click_event", body)
            mockserver.assert_called(
                "POST", f"/api/v1/partners/{P07}/click_event", body=CLICK, status=201
            )

        def test_called_too_often(mockserver):
            for _ in range(2):
                call(mockserver, "GET", f"/api/v1/partners/{P08}")
            mockserver.assert_called("GET", f"/api/v1/partners/{P08}", times=1)

        def test_nothing_sent_in_the_session(mockserver):
            call(mockserver, "GET", "/api/v1/partners/available", headers={})
            mockserver.assert_called("GET", "/api/v1/partners/available")
        """
    )
    result.assert_outcomes(failed=4)
    out = result.stdout.str()
    # the request asked for, the candidates as request lines, and each difference with both values
    assert "expected a request GET /api/v1/partners/available query={'per_page': 10}" in out
    assert "none of the session's 3 request(s) matched" in out
    assert "GET /api/v1/partners/available?per_page=0 -> 400 (per_page must be" in out
    assert "GET /api/v1/partners/available?per_page=5 -> 200" in out
    assert "query.per_page: expected '10', got '5'" in out
    assert "GET /api/v1/partners/wholesalers?per_page=10 -> 200" in out
    assert "path: expected '/api/v1/partners/available', got '/api/v1/partners/wholesalers'" in out

    assert f"POST /api/v1/partners/{P07}/click_event -> 201" in out
    assert "body/data/attributes/event_type: expected 'website', got 'video'" in out

    assert f"expected 1 request GET /api/v1/partners/{P08}, got 2:" in out
    assert "no request reached the mock in session main-test_nothing_sent_in_the_sess" in out
    assert "(does the client send mockserver.headers?)" in out


def test_assert_called_reads_a_query_as_the_server_does(run: Run) -> None:
    """Every form the server reads as one list matches a pattern in any of the forms; a near miss shows
    the parameter as it was sent."""
    result = run(
        """
        import pytest

        SENT = {
            "brackets": "filter[status][]=available",
            "indexed": "filter%5Bstatus%5D%5B0%5D=available",
            "comma": "filter[status]=available",
            "repeated": "filter[status]=available&filter[status]=coming_soon",
            "mixed": "filter[status][1]=coming_soon&filter[status][0]=available",
        }

        @pytest.mark.parametrize("form", list(SENT))
        @pytest.mark.parametrize("key", ["filter[status]", "filter[status][]", "filter[status][0]"])
        def test_one_value_matches_every_form(mockserver, form, key):
            status, _ = call(mockserver, "GET", "/api/v1/partners/available?" + SENT[form])
            assert status == 200
            mockserver.assert_called("GET", "/api/v1/partners/available", query={key: "available"})

        def test_lists_in_the_servers_order(mockserver):
            call(mockserver, "GET", "/api/v1/partners/available?" + SENT["mixed"])
            call(mockserver, "GET", "/api/v1/partners/available?include=users&include=partner_integrations")
            both = ["available", "coming_soon"]
            mockserver.assert_called("GET", "/api/v1/partners/available", query={"filter[status]": both})
            mockserver.assert_called(
                "GET", "/api/v1/partners/available", query={"filter[status]": "available,coming_soon"}
            )
            mockserver.assert_called(
                "GET", "/api/v1/partners/available", query={"include": ["users", "partner_integrations"]}
            )
            assert mockserver.count(query={"filter[status][]": both}) == 1

        def test_a_near_miss_shows_the_parameter_as_sent(mockserver):
            call(mockserver, "GET", "/api/v1/partners/available?filter[status][]=coming_soon")
            wanted = {"filter[status]": "available"}
            mockserver.assert_called("GET", "/api/v1/partners/available", query=wanted)
        """
    )
    result.assert_outcomes(passed=16, failed=1)
    out = result.stdout.str()
    assert "query.filter[status]: expected 'available', got 'filter[status][]=coming_soon'" in out


def test_assert_no_violations_names_the_parameter(run: Run) -> None:
    result = run(
        """
        def test_off_contract(mockserver):
            status, _ = call(mockserver, "GET", "/api/v1/partners/available?per_page=abc")
            assert status == 400
            mockserver.assert_no_violations()
        """
    )
    result.assert_outcomes(failed=1)
    out = result.stdout.str()
    assert "1 request(s) of session main-test_off_contract-" in out
    assert "broke the contract:" in out
    assert "GET /api/v1/partners/available?per_page=abc -> 400" in out
    assert "invalid_parameter [parameter per_page]: " in out


def test_load_switches_the_session_alone(run: Run) -> None:
    result = run(
        """
        SCENARIO = {
            "businesses": [{"id": "b1000000-0000-4000-8000-000000000001", "name": "Solo Bistro"}],
            "users": [{
                "id": "a1000000-0000-4000-8000-000000000001", "first_name": "Sam", "last_name": "Solo",
                "email": "sam@solo.example.com", "business": "b1000000-0000-4000-8000-000000000001",
                "token": "sam-token",
            }],
            "partners": [{
                "id": "f1000000-0000-4000-8000-000000000001", "name": "Only Partner",
                "categories": ["pos"], "status": "available", "active": True,
            }],
        }
        OTHER = {"X-Mock-Session": "another-test-session"}

        def test_a_scenario_by_name(mockserver):
            loaded = mockserver.load("edge-cases")
            assert loaded["partners"] == 33 and loaded["session"] == mockserver.session
            assert all(id.startswith("ed9e0000-") for id in partner_ids(mockserver))
            assert not any(id.startswith("ed9e0000-") for id in partner_ids(mockserver, OTHER))
            assert not any(id.startswith("ed9e0000-") for id in partner_ids(mockserver, {}))

        def test_an_inline_scenario(mockserver, tmp_path):
            mockserver.load(SCENARIO)
            assert partner_ids(mockserver) == ["f1000000-0000-4000-8000-000000000001"]
            assert mockserver.data()["users"][0]["token"] == "sam-token"
            assert len(partner_ids(mockserver, OTHER)) > 1

            path = tmp_path / "scenario.json"
            path.write_text(json.dumps(SCENARIO))
            assert mockserver.load(path)["partners"] == 1

        def test_faker_data(mockserver):
            assert mockserver.load(seed=7, partners=5)["partners"] == 5
            assert mockserver.data()["partners"] == 5

        def test_a_bad_scenario_is_refused(mockserver):
            bad = {**SCENARIO, "partners": [{**SCENARIO["partners"][0], "status": "sold"}]}
            with pytest.raises(AdminError) as refused:
                mockserver.load(bad)
            assert "invalid_scenario" in str(refused.value)
            assert "partners[0].status" in str(refused.value)
            assert mockserver.data()["partners"] == 14  # still the data it had

        def test_one_source_at_a_time(mockserver):
            with pytest.raises(TypeError):
                mockserver.load("edge-cases", seed=3)
        """
    )
    result.assert_outcomes(passed=5)


def test_each_test_ends_with_its_session_reset(
    run: Run, monkeypatch: pytest.MonkeyPatch, shared: LiveServer
) -> None:
    monkeypatch.setenv("MOCKSERVER_URL", shared.base)  # the variables instead of the options
    monkeypatch.setenv("MOCKSERVER_ADMIN_TOKEN", "from-the-environment")
    result = run(
        """
        seen = {}

        def test_writes(mockserver):
            assert mockserver.endpoint.admin_token == "from-the-environment"
            seen["session"] = mockserver.session
            assert call(mockserver, "PATCH", f"/api/v1/partners/{P07}/connect")[0] == 200
            assert call(mockserver, "POST", f"/api/v1/partners/{P07}/click_event", CLICK)[0] == 201
            assert mockserver.count() == 2

        def test_the_next_test_finds_it_clean(mockserver):
            earlier = {"X-Mock-Session": seen["session"]}
            status, events = call(mockserver, "GET", "/__admin/click-events", headers=earlier)
            assert status == 200 and events["data"] == []
            status, journal = call(mockserver, "GET", "/__admin/requests", headers=earlier)
            assert status == 200 and journal["requests"] == []
            status, partner = call(mockserver, "GET", f"/api/v1/partners/{P07}", headers=earlier)
            assert partner["data"]["attributes"]["user-integration-requested"] is False
        """,
        url=None,
    )
    result.assert_outcomes(passed=2)


def test_parallel_workers_share_one_server(run: Run, pytester: pytest.Pytester, shared: LiveServer) -> None:
    barrier = pytester.path / "barrier"
    barrier.mkdir()
    result = run(
        f"""
        BARRIER = Path({str(barrier)!r})

        def wait_for_the_other(mine):
            (BARRIER / mine).touch()
            deadline = time.monotonic() + 30
            while len(list(BARRIER.iterdir())) < 2:
                assert time.monotonic() < deadline, "the other test never ran alongside"
                time.sleep(0.05)

        @pytest.mark.parametrize(("mine", "theirs", "clicks"), [(P07, P08, 2), (P08, P07, 3)])
        def test_writes_in_parallel(mockserver, mine, theirs, clicks):
            assert call(mockserver, "PATCH", f"/api/v1/partners/{{mine}}/connect")[0] == 200
            for _ in range(clicks):
                assert call(mockserver, "POST", f"/api/v1/partners/{{mine}}/click_event", CLICK)[0] == 201
            wait_for_the_other(mine)  # both sessions now hold their writes on the one server

            _, events = call(mockserver, "GET", "/__admin/click-events")
            assert [e["relationships"]["partner"]["data"]["id"] for e in events["data"]] == [mine] * clicks
            _, partner = call(mockserver, "GET", f"/api/v1/partners/{{theirs}}")
            assert partner["data"]["attributes"]["user-integration-requested"] is False
            _, partner = call(mockserver, "GET", f"/api/v1/partners/{{mine}}")
            assert partner["data"]["attributes"]["user-integration-requested"] is True
            mockserver.assert_called("POST", f"/api/v1/partners/{{mine}}/click_event", times=clicks)
            mockserver.assert_called("POST", f"/api/v1/partners/{{theirs}}/click_event", times=0)
        """,
        "-n",
        "2",
        "--dist",
        "load",
    )
    result.assert_outcomes(passed=2)
    sessions = MockEndpoint.from_url(shared.base).get_json("/__admin/sessions")["sessions"]
    workers = {session.split("-")[0] for session in sessions if "test_writes_in_parallel" in session}
    assert workers == {"gw0", "gw1"}


def test_the_plugin_starts_and_stops_its_own_server(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    isolate(monkeypatch)
    port_file = pytester.path / "port"
    pytester.makepyfile(
        test_own=f"""
        from pathlib import Path

        def test_started(mockserver, mockserver_process):
            assert mockserver_process.alive()
            assert mockserver.url == mockserver_process.base
            assert [b["name"] for b in mockserver.data()["businesses"]][0] == "The Golden Fork"
            Path({str(port_file)!r}).write_text(str(mockserver_process.port))
        """
    )
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "--mockserver-arg=--scenario default", timeout=120
    )
    result.assert_outcomes(passed=1)
    stopped = MockEndpoint("127.0.0.1", int(port_file.read_text()))
    with pytest.raises(OSError):
        stopped.is_healthy()


def test_a_url_with_no_mock_behind_it_is_an_error(run: Run) -> None:
    result = run("def test_any(mockserver):\n    pass\n", url="http://127.0.0.1:9")
    result.assert_outcomes(errors=1)
    assert "no mock answers at http://127.0.0.1:9 (--mockserver-url): " in result.stdout.str()
    result = run("def test_any(mockserver):\n    pass\n", url="https://127.0.0.1:4010/api")
    result.assert_outcomes(errors=1)
    expected = "expected a URL like http://127.0.0.1:4010, got 'https://127.0.0.1:4010/api'"
    assert expected in result.stdout.str()


def test_the_admin_token_goes_with_admin_requests() -> None:
    """A mock on another host answers /__admin only with its --admin-token (loopback needs none)."""
    seen: list[dict[str, str]] = []

    class Recorder(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.answer(200, b'{"status": "ok"}')

        def do_POST(self) -> None:
            self.answer(204, b"")

        def answer(self, status: int, body: bytes) -> None:
            seen.append(dict(self.headers))
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    recorder = ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    thread = threading.Thread(target=recorder.serve_forever, daemon=True)
    thread.start()
    try:
        endpoint = MockEndpoint.from_url(f"http://127.0.0.1:{recorder.server_address[1]}", "s3cret")
        assert endpoint.is_healthy()
        handle = MockSession(endpoint, "a-session")
        handle.reset()
    finally:
        recorder.shutdown()
        recorder.server_close()
    assert [headers.get("Authorization") for headers in seen] == ["Bearer s3cret", "Bearer s3cret"]
    assert seen[1]["X-Mock-Session"] == "a-session"
    assert handle.headers == {"X-Mock-Session": "a-session"}  # what the tests send to the API


def test_the_plugin_imports_no_flask(pytester: pytest.Pytester) -> None:
    """It is loaded by every pytest run of every project that installs the package: it stays cheap."""
    code = (
        "import sys, mockserver.pytest_plugin\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('flask', 'werkzeug', 'openapi_core'))\n"
        "assert not heavy, heavy\n"
    )
    result = pytester.run(sys.executable, "-c", code, timeout=60)
    assert result.ret == 0, result.stderr.str()


def test_the_documented_names_import_from_the_plugin() -> None:
    """docs/pytest-plugin.md: consumers import the fixtures' types from `mockserver.pytest_plugin`."""
    assert pytest_plugin.MockSession is client.MockSession
    assert pytest_plugin.AdminError is client.AdminError
    assert pytest_plugin.MockEndpoint is live.MockEndpoint
    assert set(pytest_plugin.__all__) == {"AdminError", "MockEndpoint", "MockSession"}


def test_url_for(shared: LiveServer) -> None:
    handle = MockSession(MockEndpoint.from_url(shared.base + "/"), "x")
    assert handle.url_for("/api/v1/partners") == shared.base + "/api/v1/partners"
    assert handle.url_for("api/v1/partners") == shared.base + "/api/v1/partners"


def test_a_failure_says_when_the_journal_dropped_requests_of_the_session(run: Run) -> None:
    result = run(
        """
        def test_first_page_asked(mockserver):
            for page in (1, 2, 3):
                call(mockserver, "GET", f"/api/v1/partners/available?page={page}")
            mockserver.assert_called("GET", "/api/v1/partners/available", query={"page": "1"})
        """,
        "--mockserver-arg=--scenario default --journal-size 2",
        url=None,
    )
    result.assert_outcomes(failed=1)
    out = result.stdout.str()
    assert "query.page: expected '1', got '2'" in out
    assert "(1 older request(s) of this session were dropped by the journal's bound" in out
