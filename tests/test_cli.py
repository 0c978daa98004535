"""The command line: `check` through click's CliRunner, `serve` as a real process on a real port."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from conftest import ROOT, SCENARIOS_DIR

from mockserver.cli import cli
from mockserver.scenarios import list_scenarios, load_scenario

READY_TIMEOUT = 15.0
STOP_TIMEOUT = 10.0

BAD_SCENARIO = """\
# A scenario whose only partner has a status outside the schema's enum (line 16).
businesses:
  - id: b0000000-0000-4000-8000-000000000001
    name: The Golden Fork
users:
  - id: a11ce000-0000-4000-8000-000000000001
    first_name: Alice
    last_name: Martin
    email: alice@goldenfork.example.com
    business: b0000000-0000-4000-8000-000000000001
    token: alice-token
partners:
  - id: c0000000-0000-4000-8000-000000000001
    name: Fizzwell Beverages HBC
    categories: [wholesaler]
    status: sold_out
"""
BAD_LINE = 16


@pytest.fixture
def bad_scenario(tmp_path: Path) -> Path:
    path = tmp_path / "broken.yaml"
    path.write_text(BAD_SCENARIO, encoding="utf-8")
    assert BAD_SCENARIO.splitlines()[BAD_LINE - 1].strip() == "status: sold_out"
    return path


# --- check -------------------------------------------------------------------------------------


def test_check_a_good_scenario_prints_its_counts(runner: CliRunner) -> None:
    dataset = load_scenario("default", SCENARIOS_DIR)
    result = runner.invoke(cli, ["check", "default", "--scenarios-dir", str(SCENARIOS_DIR)])
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == (
        f"ok: {len(dataset.partners)} partners, {len(dataset.businesses)} businesses, "
        f"{len(dataset.users)} users, {len(dataset.integrations)} integrations"
    )
    assert len(dataset.partners) > 0


def test_check_a_bad_file_exits_1_and_names_file_and_line(runner: CliRunner, bad_scenario: Path) -> None:
    result = runner.invoke(cli, ["check", str(bad_scenario)])
    assert result.exit_code == 1
    assert f"{bad_scenario}:{BAD_LINE}:" in result.stderr
    assert "sold_out" in result.stderr
    assert "ok:" not in result.stdout


def test_check_an_unknown_name_lists_the_available_scenarios(runner: CliRunner) -> None:
    result = runner.invoke(cli, ["check", "no-such-scenario", "--scenarios-dir", str(SCENARIOS_DIR)])
    assert result.exit_code == 1
    assert "unknown scenario 'no-such-scenario'" in result.stderr
    names = list_scenarios(SCENARIOS_DIR)
    assert "default" in names
    assert f"available scenarios: {', '.join(names)}" in result.stderr


def test_serve_help_lists_its_options(runner: CliRunner) -> None:
    result = runner.invoke(cli, ["serve", "--help"])
    assert result.exit_code == 0, result.output
    for option in (
        "--host",
        "--port",
        "--seed",
        "--partners",
        "--scenario",
        "--spec",
        "--validate-responses",
    ):
        assert re.search(rf"(^|\s|/){re.escape(option)}\b", result.output), option


# --- serve, as a process ---------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def get_json(url: str, timeout: float = 5.0) -> tuple[int, Any]:
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return response.status, json.loads(response.read())


@dataclass
class Server:
    """A `python -m mockserver serve` process, its port and the file its stderr goes to."""

    process: subprocess.Popen[bytes]
    port: int
    log: Path
    ok_requests: int = 0
    """Requests this test made that reached the server."""

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def get(self, path: str) -> tuple[int, Any]:
        status, body = get_json(self.base + path)
        self.ok_requests += 1
        return status, body

    def wait_ready(self) -> None:
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline:
            assert self.process.poll() is None, f"the server exited early:\n{self.output()}"
            try:
                status, body = self.get("/__admin/health")
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                time.sleep(0.1)
                continue
            assert (status, body) == (200, {"status": "ok"})
            return
        pytest.fail(f"the server was not ready within {READY_TIMEOUT}s:\n{self.output()}")

    def stop(self) -> int:
        """SIGTERM, then the exit code; fails the test if the process outlives STOP_TIMEOUT."""
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            pytest.fail(f"the server did not stop within {STOP_TIMEOUT}s of SIGTERM:\n{self.output()}")

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")


def mockserver(*args: str) -> list[str]:
    """The command line that runs the CLI in a fresh interpreter."""
    return [sys.executable, "-m", "mockserver", *args]


def environment() -> dict[str, str]:
    """The test's environment, with the project importable however it was installed."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env["PYTHONUNBUFFERED"] = "1"
    return env


def start(tmp_path: Path, *args: str) -> Iterator[Server]:
    port = free_port()
    log = tmp_path / "serve.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            mockserver("serve", "--port", str(port), *args),
            cwd=ROOT,
            env=environment(),
            stdin=subprocess.DEVNULL,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    server = Server(process, port, log)
    try:
        yield server
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


@pytest.fixture
def quiet_server(tmp_path: Path) -> Iterator[Server]:
    yield from start(tmp_path, "--quiet")


@pytest.fixture
def logging_server(tmp_path: Path) -> Iterator[Server]:
    yield from start(tmp_path, "--scenario", "default")


def test_serve_answers_over_http_and_stops_cleanly_on_sigterm(quiet_server: Server) -> None:
    quiet_server.wait_ready()
    status, body = quiet_server.get("/api/v1/partners/available?per_page=5")
    assert status == 200
    assert 0 < len(body["data"]) <= 5
    assert body["meta"]["total-count"] >= len(body["data"])
    assert all(p["type"] == "partners" for p in body["data"])

    assert quiet_server.stop() == 0
    output = quiet_server.output()
    assert "mockserver: stopped" in output
    assert "Traceback" not in output
    assert "/api/v1/partners/available" not in output, "--quiet logs no requests"


def test_serve_logs_one_line_per_request(logging_server: Server) -> None:
    logging_server.wait_ready()
    paths = [
        "/api/v1/partners/available?page=1",
        "/api/v1/partners/wholesalers?per_page=2",
        "/api/v1/partners/c0000000-0000-4000-8000-000000000001",
    ]
    for path in paths:
        assert logging_server.get(path)[0] == 200
    assert logging_server.stop() == 0

    output = logging_server.output()
    request_lines = [line for line in output.splitlines() if re.search(r'"(GET|POST|PATCH|DELETE) /', line)]
    assert len(request_lines) == logging_server.ok_requests, output
    for path in paths:
        (line,) = [line for line in request_lines if f'"GET {path}" ' in line]
        assert re.search(rf'"GET {re.escape(path)}" 200 \d+(\.\d+)?ms$', line), line


def test_serve_refuses_a_bad_scenario_file_and_does_not_start(bad_scenario: Path) -> None:
    port = free_port()
    result = subprocess.run(
        mockserver("serve", "--port", str(port), "--scenario", str(bad_scenario)),
        cwd=ROOT,
        env=environment(),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode != 0
    assert f"{bad_scenario}:{BAD_LINE}:" in result.stderr
    assert "serving" not in result.stderr
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        assert sock.connect_ex(("127.0.0.1", port)) != 0, "nothing listens on the port"
