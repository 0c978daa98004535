"""The command line of `python scripts/fuzz.py`: the server's data set and schemathesis' settings."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from .common import DEFAULT_EXAMPLES, DEFAULT_REPORT_DIR, DEFAULT_SEED, PHASES


@dataclass
class ServerOptions:
    scenario: str | None = None
    partners: int | None = None
    data_seed: int | None = None

    def cli_args(self) -> list[str]:
        """`mockserver serve` options after the `--port P --quiet` that LiveServer.start passes."""
        args = ["--host", "127.0.0.1", "--validate-responses"]
        if self.scenario:
            args += ["--scenario", self.scenario]
        if self.partners is not None:
            args += ["--partners", str(self.partners)]
        if self.data_seed is not None:
            args += ["--seed", str(self.data_seed)]
        return args


@dataclass
class CampaignOptions:
    examples: int = DEFAULT_EXAMPLES
    seed: int = DEFAULT_SEED
    workers: int = 1
    phases: tuple[str, ...] = PHASES
    report_dir: Path = DEFAULT_REPORT_DIR
    server: ServerOptions = field(default_factory=ServerOptions)
    business: str = "fixed"
    stream: bool = True
    extra: list[str] = field(default_factory=list)

    @property
    def junit_path(self) -> Path:
        return self.report_dir / "junit.xml"

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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python scripts/fuzz.py",
        description=(
            "Start `mockserver serve --validate-responses` on a free port and run schemathesis against it: "
            "all phases, positive and negative modes, all checks, fixed seed. Cases per --examples "
            "(measured here, about 1,000 + 13 per example): 25 -> 1,299 (<1 min, the CI default); "
            "100 -> 2,223; 400 -> 6,219; 1000 -> 13,795 (~9 min). Arguments after `--` go to `st run`."
        ),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--examples", "-n", type=int, default=DEFAULT_EXAMPLES, help="st --max-examples.")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="schemathesis seed.")
    parser.add_argument("--workers", "-w", type=int, default=1, help="st --workers.")
    parser.add_argument("--phases", default=",".join(PHASES), help="Comma-separated st phases.")
    parser.add_argument(
        "--report-dir", type=Path, default=DEFAULT_REPORT_DIR, help="Where the log and reports go."
    )
    parser.add_argument("--scenario", default=None, help="Serve this scenario instead of Faker data.")
    parser.add_argument("--partners", type=int, default=None, help="Faker partners (server default: 100).")
    parser.add_argument(
        "--data-seed", type=int, default=None, help="Faker seed of the data set (default: 1)."
    )
    parser.add_argument(
        "--business-uuid",
        choices=("fixed", "mixed"),
        default="fixed",
        help="listPartners' business_uuid: always the first served business (fixed), or served businesses "
        "half of the time and generated values otherwise (mixed; the coverage phase then only gets 404s).",
    )
    parser.add_argument("--quiet", "-q", action="store_true", help="Do not stream st's output; summary only.")
    parser.add_argument("extra", nargs=argparse.REMAINDER, help="`-- ARGS`: passed to `st run`.")
    return parser


def st_extra_args(parser: argparse.ArgumentParser, remainder: Sequence[str]) -> list[str]:
    """The arguments after `--`, for `st run`; naming checks there is refused."""
    extra = list(remainder)
    if extra[:1] == ["--"]:
        extra = extra[1:]
    if any(arg == "--checks" or arg.startswith(("--checks=", "-c")) for arg in extra):
        parser.error(
            "do not pass --checks: all checks run by default, and naming them overrides schemathesis.toml"
        )
    return extra


def parse_args(argv: Sequence[str] | None) -> CampaignOptions:
    parser = build_parser()
    args = parser.parse_args(argv)
    phases = tuple(p.strip() for p in args.phases.split(",") if p.strip())
    if unknown := [p for p in phases if p not in PHASES]:
        parser.error(f"unknown phase(s): {', '.join(unknown)}; choose from {', '.join(PHASES)}")
    if args.examples < 1 or args.workers < 1:
        parser.error("--examples and --workers must be at least 1")
    extra = st_extra_args(parser, args.extra)
    return CampaignOptions(
        examples=args.examples,
        seed=args.seed,
        workers=args.workers,
        phases=phases,
        report_dir=args.report_dir.resolve(),
        server=ServerOptions(scenario=args.scenario, partners=args.partners, data_seed=args.data_seed),
        business=args.business_uuid,
        stream=not args.quiet,
        extra=extra,
    )
