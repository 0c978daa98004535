"""The tools a run needs: Prism (pinned, in bench/node_modules), wrk (Debian's), this server's command."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from .common import BENCH, ROOT, BenchError, log

PRISM_PKG = "@stoplight/prism-cli"
PRISM_PACKAGE_JSON = BENCH / "node_modules" / "@stoplight" / "prism-cli" / "package.json"


@dataclass(frozen=True)
class Tools:
    prism: Path
    wrk: str
    server_cmd: list[str]
    """The command that starts this project's server, without its options."""


def install_tools(explicit_server_cmd: str | None, skip_install: bool) -> Tools:
    return Tools(
        prism=ensure_prism(skip_install),
        wrk=ensure_wrk(skip_install),
        server_cmd=resolve_server_cmd(explicit_server_cmd, skip_install),
    )


def pinned_prism_version() -> str:
    deps = json.loads((BENCH / "package.json").read_text())["dependencies"]
    return str(deps[PRISM_PKG])


def installed_prism_version() -> str | None:
    try:
        return str(json.loads(PRISM_PACKAGE_JSON.read_text())["version"])
    except (OSError, ValueError, KeyError):
        return None


def prism_node_engine() -> str:
    """The Node versions the installed Prism declares it supports (npm warns, but runs it, on others)."""
    try:
        return str(json.loads(PRISM_PACKAGE_JSON.read_text())["engines"]["node"])
    except (OSError, ValueError, KeyError, TypeError):
        return "unknown"


def ensure_prism(skip_install: bool) -> Path:
    """Prism pinned by bench/package.json + package-lock.json, installed with `npm ci` (never global)."""
    pin = pinned_prism_version()
    prism = BENCH / "node_modules" / ".bin" / "prism"
    if installed_prism_version() == pin and prism.exists():
        return prism
    if skip_install:
        raise BenchError(f"Prism {pin} is not installed in bench/node_modules (run without --no-install)")
    if shutil.which("npm") is None or shutil.which("node") is None:
        raise BenchError("node and npm are needed to install Prism (e.g. apt-get install -y nodejs npm)")
    log(f"setup: installing Prism {pin} into bench/node_modules (npm ci)")
    env = dict(os.environ, SCARF_ANALYTICS="false", DO_NOT_TRACK="1")
    rc = subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=BENCH, env=env).returncode
    if rc != 0:
        raise BenchError(f"npm ci failed with exit code {rc}")
    if installed_prism_version() != pin or not prism.exists():
        raise BenchError(f"npm ci did not install Prism {pin} (found {installed_prism_version()})")
    return prism


def ensure_wrk(skip_install: bool) -> str:
    """wrk from Debian's packages, installed with apt-get when missing."""
    return ensure_apt_tool("wrk", "wrk", skip_install)


def ensure_apt_tool(command: str, package: str, skip_install: bool) -> str:
    """`command` on PATH, else installed from Debian's `package` with apt-get (an update and one retry
    when the first install fails); its path."""
    found = shutil.which(command)
    if found:
        return found
    if skip_install:
        raise BenchError(
            f"{command} is not installed (apt-get install -y {package}, or run without --no-install)"
        )
    if shutil.which("apt-get") is None:
        raise BenchError(
            f"{command} is missing and there is no apt-get to install it; install {package} by hand"
        )
    prefix: list[str] = []
    if os.geteuid() != 0:
        if shutil.which("sudo") is None:
            raise BenchError(f"{command} is missing; installing it needs root (apt-get install -y {package})")
        prefix = ["sudo", "-n"]
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    log(f"setup: installing {command} (apt-get install -y {package})")
    install = [*prefix, "apt-get", "install", "-y", "-q", package]
    rc = subprocess.run(install, env=env).returncode
    if rc != 0:  # probably an empty or stale package list: update once and retry
        subprocess.run([*prefix, "apt-get", "update", "-q"], env=env, check=False)
        rc = subprocess.run(install, env=env).returncode
    found = shutil.which(command)
    if rc != 0 or not found:
        raise BenchError(f"apt-get install -y {package} failed (exit code {rc})")
    return found


def resolve_server_cmd(explicit: str | None, skip_install: bool) -> list[str]:
    """The command that starts this project's server, without its options.

    --server-cmd / $MOCKSERVER_CMD win; then the repo's .venv, bench/.venv, `mockserver` on PATH; when
    none exists, bench/.venv is created and the project is installed there (pip install -e .).
    """
    if explicit:
        return shlex.split(explicit)
    for candidate in (ROOT / ".venv" / "bin" / "mockserver", BENCH / ".venv" / "bin" / "mockserver"):
        if candidate.exists():
            return [str(candidate), "serve"]
    on_path = shutil.which("mockserver")
    if on_path:
        return [on_path, "serve"]
    if skip_install:
        raise BenchError("mockserver is not installed (pip install -e .), or give --server-cmd")
    venv = BENCH / ".venv"
    log(f"setup: creating {venv} and installing the project into it (pip install -e .)")
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet"]
    subprocess.run([*pip, "--upgrade", "pip"], check=True)
    subprocess.run([*pip, "-e", str(ROOT)], check=True)
    return [str(venv / "bin" / "mockserver"), "serve"]
