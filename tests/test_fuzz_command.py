"""`mockserver fuzz --url`: the contract checked from the provider's side, against any server.

A server that drifted from the spec fails the command (exit 1, the failure named in the output and
in the JUnit XML); a running mock, reached with a token and ids, passes; an option the campaign
cannot run with, or a missing schemathesis, is one `error: …` line and exit 1. The started-mock
campaign is tests/test_fuzz_campaign.py's. Few examples and only the phases each test needs.
"""

from __future__ import annotations

import json
import sys
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from click.testing import CliRunner
from support import ALICE, B1, P01, P02, P08, TOKENS, make_app, serving
from tiers import needs
from werkzeug.serving import WSGIRequestHandler, make_server

from mockserver.cli import cli
from mockserver.testing.live import LiveServer, free_port

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

RENAMED = (b'"website-url"', b'"website_url"')
"""The drift: one attribute of every partner renamed, as a careless serializer change would."""


def drifted(app: WSGIApplication) -> WSGIApplication:
    """`app` with RENAMED applied to every response body."""

    def drifted_app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        answer: dict[str, Any] = {}

        def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            answer.update(status=status, headers=headers)
            return lambda data: None

        chunks = app(environ, capture)
        try:
            body = b"".join(chunks).replace(*RENAMED)
        finally:
            getattr(chunks, "close", lambda: None)()
        headers = [(k, v) for k, v in answer["headers"] if k.lower() != "content-length"]
        start_response(answer["status"], [*headers, ("Content-Length", str(len(body)))])
        return [body]

    return drifted_app


class QuietHandler(WSGIRequestHandler):
    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """No access log: a failing test's output shows the campaign's summary, not every request."""


@pytest.fixture
@needs("live")
def drifted_server() -> Iterator[str]:
    """The default scenario's mock, drifted, on a threaded werkzeug server in this process."""
    app = drifted(make_app(scenario="default"))
    with serving(make_server("127.0.0.1", 0, app, threaded=True, request_handler=QuietHandler)) as server:
        yield f"http://127.0.0.1:{server.server_port}"


def junit_outcomes(path: Path) -> dict[str, list[ET.Element]]:
    """Test case name -> its failure / error / skipped elements."""
    return {case.get("name", ""): list(case) for case in ET.parse(path).getroot().iter("testcase")}


def test_a_drifted_server_fails_and_the_failure_is_named(
    runner: CliRunner, tmp_path: Path, drifted_server: str
) -> None:
    junit = tmp_path / "junit.xml"
    result = runner.invoke(
        cli,
        ["fuzz", "--url", drifted_server, "--business-id", B1, "--phases", "examples", "-n", "2"]
        + ["--report-dir", str(tmp_path), "--junit", str(junit), "--quiet"],
    )

    assert result.exit_code == 1, result.output
    assert "Response violates schema" in result.output
    assert "GET /api/v1/partners/{id}" in result.output
    assert "result: FAIL - " in result.output
    failed = {name: children for name, children in junit_outcomes(junit).items() if children}
    assert "GET /api/v1/partners/{id}" in failed, failed
    texts = [ET.tostring(child, encoding="unicode") for children in failed.values() for child in children]
    assert any("website_url" in text for text in texts), texts


@pytest.fixture(scope="module")
@needs("live")
def journaled_mock() -> Iterator[LiveServer]:
    server = LiveServer.start("--scenario", "default", "--journal-size", "100000")
    try:
        yield server
    finally:
        server.stop()


def count(server: LiveServer, pattern: dict[str, Any]) -> int:
    reply = server.admin(
        "POST", "/__admin/requests/count", json.dumps(pattern), {"Content-Type": "application/json"}
    )
    assert reply.status == 200, reply.text()
    result: int = reply.json()["count"]
    return result


def test_a_running_mock_passes_with_a_token_and_ids(
    runner: CliRunner, tmp_path: Path, journaled_mock: LiveServer
) -> None:
    result = runner.invoke(
        cli,
        ["fuzz", "--url", journaled_mock.base, "--token", TOKENS[ALICE], "--business-id", B1]
        + ["--partner-id", P01, "--partner-id", P02, "--partner-id", P08]
        + ["--phases", "examples,fuzzing", "-n", "3", "--report-dir", str(tmp_path), "--quiet"],
    )

    assert result.exit_code == 0, result.output
    assert "operations covered: 7/7" in result.output
    assert "3 partner id(s) from the command line" in result.output
    assert TOKENS[ALICE] not in (tmp_path / "schemathesis.toml").read_text()
    assert TOKENS[ALICE] not in (tmp_path / "schemathesis.log").read_text()
    outcomes = junit_outcomes(tmp_path / "junit.xml")
    assert len(outcomes) == 7 and not any(outcomes.values()), outcomes
    as_alice = {"headers": {"Authorization": "Bearer"}}
    assert count(journaled_mock, {"operation_id": "listPartners", "query": {"business_uuid": B1}, **as_alice})
    assert count(journaled_mock, {"path": f"/api/v1/partners/{P01}", "status": 200, **as_alice})
    assert not count(journaled_mock, {"headers": {"Authorization": "Bearer"}, "status": 401})


@pytest.mark.live
@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--url", "http://127.0.0.1:{port}"], "error: cannot reach http://127.0.0.1:{port}: "),
        (["--url", "ftp://127.0.0.1/"], "error: --url must look like https://host[:port][/base path]"),
        (["--url", "http://127.0.0.1:{port}", "--scenario", "default"], "error: --scenario, --partners"),
        (["--phases", "examples,smoke"], "error: unknown phase(s): smoke; choose from examples, coverage"),
    ],
    ids=["unreachable", "not-http", "mock-option-with-url", "unknown-phase"],
)
def test_options_the_campaign_cannot_run_with_are_one_error_line(
    runner: CliRunner, tmp_path: Path, arguments: list[str], message: str
) -> None:
    port = free_port()  # nothing listens there
    arguments = [a.format(port=port) for a in arguments]
    result = runner.invoke(cli, ["fuzz", *arguments, "--report-dir", str(tmp_path), "--quiet"])

    assert result.exit_code == 1, result.output
    assert result.stdout == ""
    assert result.stderr.startswith(message.format(port=port)), result.stderr
    assert len(result.stderr.splitlines()) == 1, result.stderr


def test_without_schemathesis_the_command_says_how_to_install_it(
    runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "schemathesis", None)  # `import schemathesis` raises ImportError

    result = runner.invoke(cli, ["fuzz", "--report-dir", str(tmp_path)])

    assert result.exit_code == 1
    assert result.stderr == "error: mockserver fuzz needs schemathesis: pip install 'mockserver[fuzz]'\n"
    assert not list(tmp_path.iterdir())  # nothing started, nothing written
