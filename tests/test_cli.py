"""The command line: `check` through click's CliRunner, `serve` as a real process on a real port."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest
from click.testing import CliRunner
from support import ALICE, B1, P01, ROOT, SCENARIOS_DIR

from mockserver.cli import cli
from mockserver.dataset.model import CATEGORIES, STATUSES
from mockserver.dataset.scenario import list_scenarios, load_scenario
from mockserver.testing.live import LiveServer, free_port, python_environment

BAD_SCENARIO = f"""\
# A scenario whose only partner has a status outside the schema's enum (line 16).
businesses:
  - id: {B1}
    name: The Golden Fork
users:
  - id: {ALICE}
    first_name: Alice
    last_name: Martin
    email: alice@goldenfork.example.com
    business: {B1}
    token: alice-token
partners:
  - id: {P01}
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


@pytest.mark.parametrize(
    ("name", "counts"),
    [
        ("default", "14 partners, 2 businesses, 2 users, 5 integrations"),
        ("empty", "0 partners, 1 business, 1 user, 0 integrations"),
    ],
)
def test_check_a_good_scenario_prints_its_counts(runner: CliRunner, name: str, counts: str) -> None:
    dataset = load_scenario(name, SCENARIOS_DIR)
    result = runner.invoke(cli, ["check", name, "--scenarios-dir", str(SCENARIOS_DIR)])
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == f"ok: {counts}"
    assert counts.startswith(f"{len(dataset.partners)} partners, {len(dataset.businesses)} business")


def test_check_lists_every_problem_one_error_line_each(runner: CliRunner, tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text(BAD_SCENARIO.replace("categories: [wholesaler]", "categories: [grocer]"), "utf-8")
    result = runner.invoke(cli, ["check", str(path)])
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        f"error: {path}:{BAD_LINE - 1}: partners[0].categories[0]: 'grocer' is not one of "
        + json.dumps(list(CATEGORIES)),
        f"error: {path}:{BAD_LINE}: partners[0].status: 'sold_out' is not one of "
        + json.dumps([*STATUSES, None]),
    ]


def test_check_a_bad_file_exits_1_and_names_file_and_line(runner: CliRunner, bad_scenario: Path) -> None:
    result = runner.invoke(cli, ["check", str(bad_scenario)])
    assert result.exit_code == 1
    assert f"{bad_scenario}:{BAD_LINE}:" in result.stderr
    assert "sold_out" in result.stderr
    assert "ok:" not in result.stdout


def test_check_an_unknown_name_lists_the_available_scenarios(runner: CliRunner) -> None:
    result = runner.invoke(cli, ["check", "no-such-scenario", "--scenarios-dir", str(SCENARIOS_DIR)])
    assert result.exit_code == 1
    assert f"{SCENARIOS_DIR / 'no-such-scenario.yaml'}: unknown scenario 'no-such-scenario'" in result.stderr
    names = list_scenarios(SCENARIOS_DIR)
    assert "default" in names
    assert f"available scenarios: {', '.join(names)}" in result.stderr


def test_serve_help_lists_its_options(runner: CliRunner) -> None:
    result = runner.invoke(cli, ["serve", "--help"], terminal_width=200)
    assert result.exit_code == 0, result.output
    assert "granian (an RSGI front" in result.output and "WSGI server:" not in result.output
    assert "env var: MOCKSERVER_HOST" in result.output and "env var: MOCKSERVER_PORT" in result.output
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


def test_version_comes_from_the_installed_distribution(runner: CliRunner) -> None:
    result = runner.invoke(cli, ["--version"])
    assert result.exit_code == 0, result.output
    assert result.stdout == f"mockserver, version {metadata.version('mockserver')}\n"


# --- serve, as a process ---------------------------------------------------------------------


def mockserver(*args: str) -> list[str]:
    """The command line that runs the CLI in a fresh interpreter."""
    return [sys.executable, "-m", "mockserver", *args]


def run_mockserver(*args: str, timeout: float) -> subprocess.CompletedProcess[str]:
    """The CLI run to its end in a fresh interpreter, from the repository, its output captured."""
    return subprocess.run(
        mockserver(*args),
        cwd=ROOT,
        env=python_environment(),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.mark.live
def test_serve_answers_over_http_and_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    server = LiveServer.start(log=tmp_path / "serve.log", cwd=ROOT)  # --quiet
    try:
        body = server.get_json("/api/v1/partners/available?per_page=5")
        assert 0 < len(body["data"]) <= 5
        assert body["meta"]["total-count"] >= len(body["data"])
        assert all(p["type"] == "partners" for p in body["data"])
    finally:
        code = server.stop()
    assert code == 0, "the server did not exit cleanly within the stop timeout of SIGTERM"
    output = server.output()
    assert "mockserver: stopped" in output
    assert "Traceback" not in output
    assert "/api/v1/partners/available" not in output, "--quiet logs no requests"


@pytest.mark.live
def test_serve_logs_one_line_per_request(tmp_path: Path) -> None:
    port = free_port()
    argv = mockserver("serve", "--port", str(port), "--scenario", "default")  # no --quiet
    server = LiveServer(argv, port, tmp_path / "serve.log", cwd=ROOT, env=python_environment())
    reached = [0]
    """Requests that reached the server: each one is a line of the access log."""

    def healthy() -> bool:
        ready = server.is_healthy()  # OSError while nothing listens: that request reached nothing
        reached[0] += 1
        return ready

    paths = [
        "/api/v1/partners/available?page=1",
        "/api/v1/partners/wholesalers?per_page=2",
        f"/api/v1/partners/{P01}",
    ]
    try:
        server.wait_ready(healthy)
        for path in paths:
            server.get_json(path)
            reached[0] += 1
    finally:
        code = server.stop()
    assert code == 0

    output = server.output()
    request_lines = [line for line in output.splitlines() if re.search(r'"(GET|POST|PATCH|DELETE) /', line)]
    assert len(request_lines) == reached[0], output
    for path in paths:
        (line,) = [line for line in request_lines if f'"GET {path}" ' in line]
        assert re.search(rf'"GET {re.escape(path)}" 200 \d+(\.\d+)?ms$', line), line


@pytest.mark.live
def test_a_failed_start_prints_its_error_and_no_stopped_line() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_mockserver("serve", "--port", str(port), "--server", "waitress", "--quiet", timeout=60)
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        f"error: port {port} on 127.0.0.1 is in use: another process listens there "
        "(stop it, or choose another --port)"
    ]


@pytest.mark.live
@pytest.mark.parametrize("server", ["granian", "waitress"])
def test_an_address_that_cannot_be_listened_on_is_one_error_line(server: str) -> None:
    result = run_mockserver(
        "serve", "--host", "192.0.2.1", "--port", str(free_port()), "--server", server, timeout=60
    )
    assert result.returncode == 1
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: cannot listen on 192.0.2.1 port "), result.stderr


@pytest.mark.live
def test_the_host_and_port_can_come_from_the_environment(tmp_path: Path) -> None:
    """MOCKSERVER_HOST is what a container sets, so that any `serve` command it runs listens on every
    interface; an option given on the command line wins."""
    port = free_port()
    env = python_environment({"MOCKSERVER_HOST": "0.0.0.0", "MOCKSERVER_PORT": str(port)})
    server = LiveServer(mockserver("serve", "--quiet"), port, tmp_path / "serve.log", cwd=ROOT, env=env)
    try:
        server.wait_ready(server.is_healthy)
        assert f"on http://0.0.0.0:{port}" in server.output()
    finally:
        assert server.stop() == 0
    override = mockserver("serve", "--quiet", "--host", "127.0.0.1")
    server = LiveServer(override, port, tmp_path / "override.log", cwd=ROOT, env=env)
    try:
        server.wait_ready(server.is_healthy)
        assert f"on http://127.0.0.1:{port}" in server.output()
    finally:
        assert server.stop() == 0


@pytest.mark.live
def test_every_line_the_watching_server_prints_is_its_own(tmp_path: Path) -> None:
    """Start-up lines, access log lines and `mockserver:` lines; nothing unprefixed from a library."""
    scenario = tmp_path / "watched.yaml"
    scenario.write_text((SCENARIOS_DIR / "default.yaml").read_text("utf-8"), "utf-8")
    port = free_port()
    argv = mockserver("serve", "--port", str(port), "--scenario", str(scenario), "--watch")  # no --quiet
    server = LiveServer(argv, port, tmp_path / "serve.log", cwd=ROOT, env=python_environment())
    try:
        server.wait_ready(server.is_healthy)
        scenario.write_text(scenario.read_text("utf-8") + "# edited\n", "utf-8")
        server.wait_ready(lambda: f"mockserver: reloaded {scenario}" in server.output())
    finally:
        assert server.stop() == 0
    access_line = re.compile(r'^\S+ "(GET|HEAD|POST|PUT|PATCH|DELETE|OPTIONS) \S+" \d{3} ')
    # granian says so when a worker took longer than the stop's 5 s bound (a loaded machine): a
    # warning of the server the mock runs on, which a user should see.
    slow_stop = "[WARNING] Killing worker-1 after it refused to gracefully stop"
    foreign = [
        line
        for line in server.output().splitlines()
        if not (line.startswith(("mockserver: ", "  ")) or access_line.match(line) or line == slow_stop)
    ]
    assert foreign == [], server.output()


@pytest.mark.live
def test_serve_refuses_a_bad_scenario_file_and_does_not_start(bad_scenario: Path) -> None:
    port = free_port()
    result = run_mockserver("serve", "--port", str(port), "--scenario", str(bad_scenario), timeout=30)
    assert result.returncode != 0
    assert f"{bad_scenario}:{BAD_LINE}:" in result.stderr
    assert "serving" not in result.stderr
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        assert sock.connect_ex(("127.0.0.1", port)) != 0, "nothing listens on the port"


@pytest.mark.live
def test_serve_bounds_the_journal_and_bodies_as_told() -> None:
    server = LiveServer.start("--scenario", "default", "--journal-size", "2", "--max-body-bytes", "100")
    try:
        for page in (1, 2, 3):
            assert server.request("GET", f"/api/v1/partners/available?page={page}").status == 200
        journal = server.get_json("/__admin/requests")
        assert [entry["query"] for entry in journal["requests"]] == ["page=2", "page=3"]
        assert journal["meta"] == {"stored": 2, "dropped": 1, "limit": 2}
        body = b'{"name": "' + b"x" * 120 + b'"}'
        reply = server.request("PUT", "/__admin/scenario", body, {"Content-Type": "application/json"})
        assert reply.status == 413, reply.text()
    finally:
        server.stop()


def serve_on_taken_port(port: int, *args: str) -> subprocess.CompletedProcess[str]:
    """`serve` on a port something else listens on; a server that starts anyway is stopped after 20 s
    (and the test fails on its exit code)."""
    process = subprocess.Popen(
        mockserver("serve", "--port", str(port), "--scenario", "default", *args),
        cwd=ROOT,
        env=python_environment(),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        stdout, stderr = process.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        stdout, stderr = process.communicate()
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)


def in_use(port: int) -> str:
    return (
        f"error: port {port} on 127.0.0.1 is in use: another process listens there "
        "(stop it, or choose another --port)"
    )


@pytest.mark.live
@pytest.mark.parametrize("server", ["granian", "waitress"])
def test_serve_refuses_the_port_of_a_running_mockserver(server: str) -> None:
    """granian listens with SO_REUSEPORT: a second server used to start beside the first, and the
    kernel split the connections between them."""
    first = LiveServer.start("--scenario", "default")
    try:
        result = serve_on_taken_port(first.port, "--server", server)
        assert first.is_healthy()
    finally:
        first.stop()
    assert result.returncode == 1, result.stderr[-2000:]
    assert result.stderr.splitlines() == [in_use(first.port)]


@pytest.mark.live
def test_serve_refuses_a_port_another_program_listens_on() -> None:
    """Used to end in a 148-line traceback from granian."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        result = serve_on_taken_port(port)
    assert result.returncode == 1, result.stderr[-2000:]
    assert result.stderr.splitlines() == [in_use(port)]


UNDECLARED_STATUS_RULE = (SCENARIOS_DIR / "default.yaml").read_text("utf-8") + (
    "\nrules:\n  - match: {operation_id: getPartner}\n    respond: {status: 302}\n"
)


def test_check_refuses_a_rule_whose_status_the_spec_does_not_declare(
    runner: CliRunner, tmp_path: Path
) -> None:
    path = tmp_path / "redirect.yaml"
    path.write_text(UNDECLARED_STATUS_RULE, "utf-8")
    result = runner.invoke(cli, ["check", str(path)])
    assert result.exit_code == 1, result.output
    assert re.search(rf"^error: {re.escape(str(path))}:\d+: rules\[0\]\.respond\.status: 302 ", result.stderr)
    assert "ok:" not in result.stdout


@pytest.mark.live
def test_serve_refuses_a_rule_whose_status_the_spec_does_not_declare_in_one_line(tmp_path: Path) -> None:
    path = tmp_path / "redirect.yaml"
    path.write_text(UNDECLARED_STATUS_RULE, "utf-8")
    result = run_mockserver("serve", "--port", str(free_port()), "--scenario", str(path), timeout=30)
    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(errors) == 1 and errors[0].startswith(f"error: {path}:"), result.stderr
    assert "rules[0].respond.status: 302" in errors[0]
