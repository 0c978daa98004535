"""The package as users install it: a wheel built from the repository's files, installed with its
dependencies (from PyPI) into a fresh virtual environment, and run from a directory outside the checkout.

One build and one install for the module. Where PyPI cannot be reached the install fails, and so does
every test here: nothing is skipped.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest
from support import ROOT, SCENARIOS_DIR, SPEC_PATH

from mockserver.contract.spec import ADMIN_SPEC_PATH
from mockserver.dataset.scenario import list_scenarios, load_scenario
from mockserver.testing.live import LiveServer

pytestmark = pytest.mark.system  # pip, and PyPI

VERSION: str = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["version"]
TIMEOUT = 600
"""Seconds for one build or install step (they download from PyPI)."""


def run(argv: list[str], cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run a command to completion; its output is in the failure message when it fails."""
    result = subprocess.run(
        argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=TIMEOUT
    )
    if result.returncode != 0:
        output = f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
        pytest.fail(f"{' '.join(argv)} exited with {result.returncode}\n{output}")
    return result


def source_copy(destination: Path) -> Path:
    """The checkout's files as a fresh clone would have them (tracked, or new and not ignored), so the
    build neither sees nor leaves anything in the working tree (build/, *.egg-info)."""
    listing = run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], ROOT).stdout
    for name in filter(None, listing.split("\0")):
        source = ROOT / name
        if source.is_file():  # a tracked file deleted in the working tree is not there
            (destination / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, destination / name)
    return destination


FOREIGN = {"PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "PYTHONUSERBASE", "VIRTUAL_ENV"}
"""Variables that would make the installed scripts import another copy of the package."""


@dataclass(frozen=True)
class Installed:
    """A wheel installed into its own virtual environment, and a scratch directory to run it from."""

    source: Path
    wheel: Path
    venv: Path
    scratch: Path

    @property
    def env(self) -> dict[str, str]:
        """This process's environment without what would import the checkout (PYTHONPATH) or another
        environment's packages; the environment's scripts first on PATH."""
        env = {name: value for name, value in os.environ.items() if name not in FOREIGN}
        env["PATH"] = os.pathsep.join([str(self.venv / "bin"), env.get("PATH", "")])
        env["PYTHONUNBUFFERED"] = "1"
        return env

    def run(self, *argv: str) -> subprocess.CompletedProcess[str]:
        """A command of the environment (`mockserver`, `python`), run in the scratch directory."""
        return subprocess.run(
            [str(self.venv / "bin" / argv[0]), *argv[1:]],
            cwd=self.scratch,
            env=self.env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=60,
        )


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    root = tmp_path_factory.mktemp("packaging")
    source = source_copy(root / "source")
    run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--wheel-dir", str(root / "dist"), "."], source)
    (wheel,) = (root / "dist").glob("mockserver-*.whl")
    venv = root / "venv"
    run([sys.executable, "-m", "venv", "--without-pip", str(venv)], root)  # this pip installs into it
    run([sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), "install", str(wheel)], root)
    scratch = root / "scratch"
    scratch.mkdir()
    return Installed(source, wheel, venv, scratch)


def test_the_wheel_carries_the_repository_spec_and_scenarios_unchanged(installed: Installed) -> None:
    with zipfile.ZipFile(installed.wheel) as wheel:
        names = set(wheel.namelist())
        assert wheel.read("mockserver/data/openapi.yaml") == SPEC_PATH.read_bytes()
        # `mockserver fuzz` reads the checks' configuration beside the spec
        assert wheel.read("mockserver/data/schemathesis.toml") == (ROOT / "schemathesis.toml").read_bytes()
        packaged = sorted(name for name in names if name.startswith("mockserver/data/scenarios/"))
        assert packaged == [
            f"mockserver/data/scenarios/{name}.yaml" for name in list_scenarios(SCENARIOS_DIR)
        ]
        for name in packaged:
            assert wheel.read(name) == (SCENARIOS_DIR / Path(name).name).read_bytes(), name
    for data in ("admin/admin-openapi.yaml", "dataset/scenario.schema.json", "py.typed"):
        assert f"mockserver/{data}" in names
    inspector = sorted(path.name for path in (ROOT / "mockserver" / "admin" / "static").iterdir())
    packaged = sorted(n.rpartition("/")[2] for n in names if n.startswith("mockserver/admin/static/"))
    assert packaged == inspector, "the inspector page's files (pyproject's package-data)"
    assert {name.split("/")[0] for name in names} == {"mockserver", f"mockserver-{VERSION}.dist-info"}


def test_the_wheel_carries_every_module_of_the_package(installed: Installed) -> None:
    with zipfile.ZipFile(installed.wheel) as wheel:
        names = set(wheel.namelist())
    modules = {
        path.relative_to(installed.source).as_posix() for path in installed.source.glob("mockserver/**/*.py")
    }
    assert "mockserver/cli.py" in modules
    assert modules - names == set(), "modules of the checkout missing from the wheel (pyproject's packages?)"


def test_the_environment_imports_the_installed_package_not_the_checkout(installed: Installed) -> None:
    code = "import mockserver.core.settings as s; print(s.__file__, s.DEFAULT_SPEC, s.DEFAULT_SCENARIOS_DIR)"
    result = installed.run("python", "-c", code)
    assert result.returncode == 0, result.stderr
    module, spec, scenarios = map(Path, result.stdout.split())
    assert installed.venv.resolve() in module.resolve().parents
    assert ROOT not in module.resolve().parents
    assert spec == module.parent.parent / "data" / "openapi.yaml"
    assert scenarios == module.parent.parent / "data" / "scenarios"


def test_version_is_the_one_in_pyproject(installed: Installed) -> None:
    result = installed.run("mockserver", "--version")
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"mockserver, version {VERSION}\n"
    assert installed.wheel.name.startswith(f"mockserver-{VERSION}-")


def test_check_finds_the_packaged_scenarios_by_name(installed: Installed) -> None:
    dataset = load_scenario("default", SCENARIOS_DIR)
    result = installed.run("mockserver", "check", "default")
    assert result.returncode == 0, result.stderr
    assert result.stdout == (
        f"ok: {len(dataset.partners)} partners, {len(dataset.businesses)} businesses, "
        f"{len(dataset.users)} users, {len(dataset.integrations)} integrations\n"
    )
    unknown = installed.run("mockserver", "check", "no-such-scenario")
    assert unknown.returncode == 1
    assert f"available scenarios: {', '.join(list_scenarios(SCENARIOS_DIR))}" in unknown.stderr


@pytest.mark.parametrize("args", [(), ("--scenario", "default")], ids=["faker", "scenario-by-name"])
def test_serve_answers_from_a_scratch_directory(installed: Installed, args: tuple[str, ...]) -> None:
    mockserver = str(installed.venv / "bin" / "mockserver")
    server = LiveServer.start(*args, command=[mockserver], cwd=installed.scratch, env=installed.env)
    try:
        available = server.request("GET", "/api/v1/partners/available")
        assert available.status == 200, available.text()
        assert available.json()["meta"]["total-count"] > 0
        admin_spec = server.request("GET", "/__admin/openapi.yaml")
        assert admin_spec.status == 200, admin_spec.text()
        assert admin_spec.body == ADMIN_SPEC_PATH.read_bytes()
    finally:
        code = server.stop()
    assert code == 0, server.output()
    assert "Traceback" not in server.output()
