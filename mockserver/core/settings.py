"""Server configuration: one frozen dataclass, built by the CLI, by tests, or from the environment."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from mockserver.core.startup_errors import MockServerError

PROJECT_ROOT = Path(__file__).resolve().parents[2]
PACKAGED_DATA = Path(__file__).resolve().parents[1] / "data"
"""Where a wheel carries its copies of `openapi.yaml` and `scenarios/` (made by setup.py's build step)."""


def data_root() -> Path:
    """Where the default spec and scenarios are: the package's copies when installed from a wheel, the
    repository's own files in a source checkout or an editable install (which have no copies).

    The repository's `openapi.yaml` and `scenarios/` are the only source; the build copies them into
    the wheel, so an installed server runs from any directory.
    """
    return PACKAGED_DATA if (PACKAGED_DATA / "openapi.yaml").is_file() else PROJECT_ROOT


DATA_ROOT = data_root()
DEFAULT_SPEC = DATA_ROOT / "openapi.yaml"
DEFAULT_SCENARIOS_DIR = DATA_ROOT / "scenarios"
ENV_PREFIX = "MOCKSERVER_"
SERVERS = ("granian", "waitress")
VALIDATORS = ("compiled", "openapi-core")


class SettingsError(MockServerError):
    """A `MOCKSERVER_*` variable that cannot be read."""


@dataclass(frozen=True)
class Settings:
    """Everything `create_app` and `serve` need; the single source of every default."""

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
    max_click_events: int = 100_000
    """Click events kept over every session together (about 300 bytes each); past it the oldest of all
    are dropped and counted."""
    max_delayed: int = 4096
    """Forced delays a worker waits at once (under granian); past it an answer goes out undelayed."""
    read_timeout: float = 10.0
    """Seconds a client may take to send a request's headers or body before it gets a 408."""
    session_ttl: float = 600.0
    """Seconds an idle session (X-Mock-Session) lives; then a request naming it starts afresh."""
    max_sessions: int = 1000
    """Live sessions at most (in this process, or in Redis); past it the least recently used is evicted."""
    max_rendered: int = 20_000
    """Rendered partners cached over every session together (about 1.2 kB each); past it the cache of
    the session that least recently added one is dropped."""
    max_switched_partners: int = 50_000
    """Partners of the data sets switched to at run time, over every session together (about 1.4 kB
    each); past it the least recently used sessions holding one are evicted."""
    memo_answers: int = 4096
    """GET answers kept to serve a repeat in the same state without the app (under granian); 0: none."""
    memo_bytes: int = 32 * 1024 * 1024
    """Bytes of the answers kept, together; past it (or past `memo_answers`) the least recently served go."""
    latency: str | None = None
    """Every answer waits this many milliseconds ("200") or a random share of a range ("200-800")."""
    error_rate: float = 0.0
    """This share of requests (0 to 1) gets a 5xx the operation declares instead of its answer."""
    fault_rate: float = 0.0
    """This share of requests gets a transport fault: a cut connection, a truncated or malformed body."""
    chaos_seed: int | None = None
    """Seed of the latency, error and fault draws; None takes `seed`."""
    upstream: str | None = None
    """`mockserver proxy`: the server every API request is forwarded to; None serves the mock's data."""
    upstream_timeout: float = 30.0
    """Seconds the proxy waits for the upstream to connect or to send the next bytes; then a 504."""
    strict: bool = False
    """The proxy answers 4xx to an off-contract request (not forwarded) and 502 to an off-contract answer."""
    record: str | None = None
    """The proxy writes the partners its answers reveal to this scenario file."""
    access_log: bool = False
    """Log one line per request (the CLI turns it on unless --quiet)."""
    watch: bool = False
    """`serve --watch`: edits to the spec and the scenario file are served as soon as they load."""
    server: str = "granian"
    """The server `serve` runs: "granian" (with the RSGI front, `serving.front`) or "waitress" (WSGI)."""
    threads: int | None = None
    """Python threads serving requests; None takes the server's own default."""
    workers: int = 1
    """Worker processes (granian's); more than one needs `state` (each would hold its own state)."""
    state: str | None = None
    """Where the state requests change lives: None in this process, or a Redis URL
    (`redis://host:port/db`) shared by every worker and host serving the same configuration."""
    state_timeout: float = 2.0
    """Seconds a call to the state store may take; then a 503 (and a write not answered in time is
    never made: see redis_state)."""
    state_namespace: str | None = None
    """The keys' prefix in Redis; None derives it from the spec and data set, so that servers of one
    configuration share their state and others keep apart."""
    admin_token: str | None = field(default=None, repr=False)
    """Bearer token that opens /__admin to other hosts than loopback; None keeps it loopback-only."""
    cors_origins: tuple[str, ...] = ()
    """Origins browsers may call from (`*`, or a `:*` port wildcard); () means loopback ones only,
    and then /__admin answers no cross-origin request at all."""

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read `MOCKSERVER_<FIELD>` variables; the only place the environment is consulted."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for item in fields(cls):
            name = ENV_PREFIX + item.name.upper()
            raw = env.get(name)
            if raw is None:
                continue
            try:
                values[item.name] = _PARSERS[str(item.type)](raw)
            except ValueError:
                raise SettingsError(f"{name} must be {_EXPECTED[str(item.type)]}, got {raw!r}") from None
        return cls(**values)

    def to_env(self) -> dict[str, str]:
        """The `MOCKSERVER_*` variables that `from_env` reads back into these settings."""
        env = {}
        for item in fields(self):
            value = getattr(self, item.name)
            if value is not None:
                env[ENV_PREFIX + item.name.upper()] = _env_value(value)
        return env


def _env_value(value: object) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, tuple):
        return ",".join(map(str, value))
    return str(value)


def _flag(raw: str) -> bool:
    return raw.strip().lower() in {"1", "true", "yes", "on"}


def _words(raw: str) -> tuple[str, ...]:
    """A comma-separated list; blanks around items and empty items are dropped."""
    return tuple(word.strip() for word in raw.split(",") if word.strip())


_PARSERS: dict[str, Callable[[str], Any]] = {
    "Path": Path,
    "str": str,
    "str | None": lambda raw: raw or None,
    "int": int,
    "int | None": lambda raw: int(raw) if raw.strip() else None,
    "bool": _flag,
    "float": float,
    "tuple[str, ...]": _words,
}
_EXPECTED = {"int": "an integer", "int | None": "an integer", "float": "a number"}
_EXPECTED.update({kind: "a value" for kind in _PARSERS if kind not in _EXPECTED})
