"""What the image is built from and how it checks its health, without a container engine (the build
itself is .ci/container-smoke): `.dockerignore` lets in every file the wheel needs, the image's
command takes its address from the environment, and its health check fails while the server listens
on loopback only, which nothing outside the container can reach."""

from __future__ import annotations

import fnmatch
import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from support import ROOT

from mockserver.serving.healthcheck import listening_addresses
from mockserver.testing.live import LiveServer, free_port, python_environment

DOCKERFILE = (ROOT / "Dockerfile").read_text(encoding="utf-8")


def ignore_rules() -> list[tuple[bool, str]]:
    """`.dockerignore` as (re-included?, pattern), in order."""
    lines = (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
    rules = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    return [(rule.startswith("!"), rule.removeprefix("!")) for rule in rules]


def in_build_context(path: str) -> bool:
    """Docker's rule: the last pattern matching the path or one of its parent directories wins."""
    parts = path.split("/")
    prefixes = ["/".join(parts[: n + 1]) for n in range(len(parts))]
    kept = True
    for included, pattern in ignore_rules():
        matcher = pattern.removeprefix("**/")
        candidates = parts if pattern.startswith("**/") else prefixes
        if any(fnmatch.fnmatchcase(candidate, matcher) for candidate in candidates):
            kept = included
    return kept


def wheel_sources() -> Iterator[str]:
    """Every file the wheel is built from: the build's own files, the package, and the repository
    files setup.py copies into it (PACKAGED)."""
    yield from ("pyproject.toml", "setup.py", "README.md")
    packaged = re.search(r"PACKAGED = \(([^)]*)\)", (ROOT / "setup.py").read_text(encoding="utf-8"))
    assert packaged is not None
    for pattern in re.findall(r'"([^"]+)"', packaged.group(1)):
        yield from (str(path.relative_to(ROOT)) for path in sorted(ROOT.glob(pattern)))
    yield from (str(path.relative_to(ROOT)) for path in sorted((ROOT / "mockserver").rglob("*.py")))


def test_the_build_context_holds_every_file_the_wheel_packages() -> None:
    sources = list(wheel_sources())
    assert "schemathesis.toml" in sources and "openapi.yaml" in sources
    left_out = [path for path in sources if not in_build_context(path)]
    assert left_out == []
    assert not in_build_context("tests/test_container.py")
    assert not in_build_context("mockserver/__pycache__/cli.cpython-311.pyc")


def dockerfile_instruction(name: str) -> str:
    (line,) = [line for line in DOCKERFILE.splitlines() if line.startswith(f"{name} ")]
    return line.removeprefix(f"{name} ")


def test_the_image_takes_its_address_from_the_environment() -> None:
    """A command of one's own (`docker run … mockserver serve --scenario mine`) replaces CMD: the
    address must not live there."""
    env = dockerfile_instruction("ENV")
    assert "MOCKSERVER_HOST=0.0.0.0" in env and "MOCKSERVER_PORT=4010" in env
    assert "--host" not in dockerfile_instruction("CMD")


def health_check(port: int) -> subprocess.CompletedProcess[str]:
    """The image's HEALTHCHECK command, run here against `port`."""
    command = json.loads(dockerfile_instruction("HEALTHCHECK").split(" CMD ", 1)[1])
    assert command[:1] == ["python3"]
    return subprocess.run(
        [sys.executable, *command[1:]],
        env=python_environment({"MOCKSERVER_PORT": str(port)}),
        capture_output=True,
        text=True,
        timeout=30,
    )


@pytest.mark.live
def test_the_health_check_fails_while_the_server_listens_on_loopback_only(tmp_path: Path) -> None:
    port = free_port()
    assert health_check(port).returncode == 1  # nothing listens
    argv = [sys.executable, "-m", "mockserver", "serve", "--quiet", "--port", str(port)]
    for host, healthy in (("127.0.0.1", False), ("0.0.0.0", True)):
        server = LiveServer([*argv, "--host", host], port, tmp_path / f"{host}.log", env=python_environment())
        try:
            server.wait_ready(server.is_healthy)
            assert host in (listening_addresses(port) or [])
            result = health_check(port)
        finally:
            server.stop()
        if healthy:
            assert (result.returncode, result.stdout) == (0, f"healthy: port {port}\n"), result.stderr
        else:
            assert result.returncode == 1
            assert "listens on 127.0.0.1 only: nothing outside the container can reach it" in result.stderr
