"""Server configuration: one frozen dataclass, built by the CLI, by tests, or from the environment."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SPEC = PROJECT_ROOT / "openapi.yaml"
DEFAULT_SCENARIOS_DIR = PROJECT_ROOT / "scenarios"


@dataclass(frozen=True)
class Settings:
    """Everything `create_app` needs; nothing is read from globals."""

    spec_path: Path = DEFAULT_SPEC
    scenario: str | None = None
    """A scenario name or path; None serves Faker data."""
    scenarios_dir: Path = DEFAULT_SCENARIOS_DIR
    seed: int = 1
    partners: int = 100
    host: str = "127.0.0.1"
    port: int = 4010
    validator: str = "compiled"
    """"compiled" (validators built once at start-up) or "openapi-core" (the reference, slower)."""
    validate_responses: bool = False
    """Check every response against the spec and answer 500 naming the violation."""
    max_body_bytes: int = 1024 * 1024
    """Request bodies above this size are refused with 413."""
    journal_size: int = 1000
    """How many recent requests `/__admin/requests` keeps."""
    access_log: bool = False
    """Log one line per request (the CLI turns it on unless --quiet)."""

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read `MOCKSERVER_*` variables; the only place the environment is consulted."""
        env = os.environ if environ is None else environ
        defaults = cls()

        def flag(name: str, default: bool) -> bool:
            raw = env.get(name)
            return default if raw is None else raw.strip().lower() in {"1", "true", "yes", "on"}

        return cls(
            spec_path=Path(env.get("MOCKSERVER_SPEC", str(defaults.spec_path))),
            scenario=env.get("MOCKSERVER_SCENARIO") or None,
            scenarios_dir=Path(env.get("MOCKSERVER_SCENARIOS_DIR", str(defaults.scenarios_dir))),
            seed=int(env.get("MOCKSERVER_SEED", defaults.seed)),
            partners=int(env.get("MOCKSERVER_PARTNERS", defaults.partners)),
            host=env.get("MOCKSERVER_HOST", defaults.host),
            port=int(env.get("MOCKSERVER_PORT", defaults.port)),
            validator=env.get("MOCKSERVER_VALIDATOR", defaults.validator),
            validate_responses=flag("MOCKSERVER_VALIDATE_RESPONSES", defaults.validate_responses),
            max_body_bytes=int(env.get("MOCKSERVER_MAX_BODY_BYTES", defaults.max_body_bytes)),
            access_log=flag("MOCKSERVER_ACCESS_LOG", defaults.access_log),
        )

    def to_env(self) -> dict[str, str]:
        """The `MOCKSERVER_*` variables that `from_env` reads back into these settings."""
        env = {
            "MOCKSERVER_SPEC": str(self.spec_path),
            "MOCKSERVER_SCENARIOS_DIR": str(self.scenarios_dir),
            "MOCKSERVER_SEED": str(self.seed),
            "MOCKSERVER_PARTNERS": str(self.partners),
            "MOCKSERVER_HOST": self.host,
            "MOCKSERVER_PORT": str(self.port),
            "MOCKSERVER_VALIDATOR": self.validator,
            "MOCKSERVER_VALIDATE_RESPONSES": str(self.validate_responses).lower(),
            "MOCKSERVER_MAX_BODY_BYTES": str(self.max_body_bytes),
            "MOCKSERVER_ACCESS_LOG": str(self.access_log).lower(),
        }
        if self.scenario is not None:
            env["MOCKSERVER_SCENARIO"] = self.scenario
        return env
