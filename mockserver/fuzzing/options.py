"""What one campaign runs against and with: the target, its data, schemathesis' settings, the reports."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from .common import PHASES, SPEC, CampaignError


@dataclass
class ServerOptions:
    """The data set of the mock the campaign starts (without --url)."""

    scenario: str | None = None
    partners: int | None = None
    data_seed: int | None = None
    spec: Path | None = None

    def cli_args(self) -> list[str]:
        """`mockserver serve` options after the `--port P --quiet` that LiveServer.start passes."""
        args = ["--host", "127.0.0.1", "--validate-responses"]
        if self.spec is not None:
            args += ["--spec", str(self.spec)]
        if self.scenario:
            args += ["--scenario", self.scenario]
        if self.partners is not None:
            args += ["--partners", str(self.partners)]
        if self.data_seed is not None:
            args += ["--seed", str(self.data_seed)]
        return args

    @property
    def chosen(self) -> bool:
        return self.scenario is not None or self.partners is not None or self.data_seed is not None


@dataclass
class CampaignOptions:
    examples: int
    seed: int
    url: str | None = None
    """The server under test; None starts the mock."""
    token: str | None = None
    business_ids: tuple[str, ...] = ()
    partner_ids: tuple[str, ...] = ()
    workers: int = 1
    phases: tuple[str, ...] = PHASES
    report_dir: Path = Path("reports")
    junit: Path | None = None
    spec: Path = SPEC
    server: ServerOptions = field(default_factory=ServerOptions)
    business: str = "fixed"
    stream: bool = True
    extra: list[str] = field(default_factory=list)

    @property
    def junit_path(self) -> Path:
        return self.junit if self.junit is not None else self.report_dir / "junit.xml"

    @property
    def json_path(self) -> Path:
        return self.report_dir / "report.json"

    @property
    def log_path(self) -> Path:
        return self.report_dir / "schemathesis.log"

    @property
    def config_path(self) -> Path:
        return self.report_dir / "schemathesis.toml"

    @property
    def cache_dir(self) -> Path:
        return self.report_dir / "cache"

    @property
    def server_log_path(self) -> Path:
        return self.report_dir / "server.log"


def parse_phases(text: str) -> tuple[str, ...]:
    """`examples,coverage,...` as a tuple; CampaignError naming an unknown phase."""
    phases = tuple(p.strip() for p in text.split(",") if p.strip())
    if unknown := [p for p in phases if p not in PHASES]:
        raise CampaignError(f"unknown phase(s): {', '.join(unknown)}; choose from {', '.join(PHASES)}")
    if not phases:
        raise CampaignError(f"--phases names no phase; choose from {', '.join(PHASES)}")
    return phases


def check_url(url: str) -> str:
    """`http(s)://host[:port][/base path]`, without a trailing slash; CampaignError for anything else."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
        raise CampaignError(f"--url must look like https://host[:port][/base path], got {url!r}")
    try:
        parts.port  # noqa: B018  (a port that is not a number raises here)
    except ValueError:
        raise CampaignError(f"--url has a bad port: {url!r}") from None
    return url.strip().rstrip("/")


def check_st_args(extra: Sequence[str]) -> list[str]:
    """The arguments after `--`, for `st run`; naming checks there is refused."""
    args = list(extra)
    if any(arg == "--checks" or arg.startswith(("--checks=", "-c")) for arg in args):
        raise CampaignError(
            "do not pass --checks: all checks run by default, and naming them overrides schemathesis.toml"
        )
    return args


def campaign_options(
    *,
    url: str | None,
    token: str | None,
    business_ids: Sequence[str],
    partner_ids: Sequence[str],
    examples: int,
    seed: int,
    workers: int,
    phases: str,
    spec: Path,
    report_dir: Path,
    junit: Path | None,
    scenario: str | None,
    partners: int | None,
    data_seed: int | None,
    business_mode: str,
    quiet: bool,
    st_args: Sequence[str],
) -> CampaignOptions:
    """The command line's values checked and resolved; CampaignError for a combination that cannot run."""
    server = ServerOptions(scenario=scenario, partners=partners, data_seed=data_seed)
    if not spec.is_file():
        raise CampaignError(f"no OpenAPI document at {spec}")
    if url is not None and server.chosen:
        raise CampaignError(
            "--scenario, --partners and --data-seed choose the started mock's data, not --url's"
        )
    if url is None:
        server.spec = spec.resolve()  # the started mock serves the document it is fuzzed against
    return CampaignOptions(
        examples=examples,
        seed=seed,
        url=check_url(url) if url is not None else None,
        token=token or None,
        business_ids=tuple(business_ids),
        partner_ids=tuple(partner_ids),
        workers=workers,
        phases=parse_phases(phases),
        spec=spec.resolve(),
        report_dir=report_dir.resolve(),
        junit=junit.resolve() if junit is not None else None,
        server=server,
        business=business_mode,
        stream=not quiet,
        extra=check_st_args(st_args),
    )
