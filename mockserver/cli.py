"""Command line: `mockserver serve` and `mockserver check`. The only place errors become exit codes."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from .serving import SERVERS, serve
from .settings import DEFAULT_SCENARIOS_DIR, DEFAULT_SPEC, Settings
from .spec import SpecError, read_spec_document

DEFAULTS = Settings()

scenarios_dir_option = click.option(
    "--scenarios-dir",
    default=str(DEFAULT_SCENARIOS_DIR),
    show_default=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Where scenario names are looked up.",
)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def cli() -> None:
    """A mock and contract-testing server for the Partners API."""


@cli.command("serve", short_help="Run the mock server.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option(
    "--port", default=4010, show_default=True, type=click.IntRange(0, 65535), help="Port to listen on."
)
@click.option(
    "--seed", default=DEFAULTS.seed, show_default=True, type=int, help="Seed of the Faker data set."
)
@click.option(
    "--partners", default=DEFAULTS.partners, show_default=True, type=click.IntRange(0), help="Faker partners."
)
@click.option(
    "--scenario",
    default=None,
    help="Serve a scenario (name in scenarios/ or a YAML path) instead of Faker data.",
)
@click.option(
    "--spec",
    "spec_path",
    default=str(DEFAULT_SPEC),
    show_default=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="OpenAPI document.",
)
@scenarios_dir_option
@click.option(
    "--validate-responses/--no-validate-responses",
    default=False,
    show_default=True,
    help="Check every response against the spec; a violation answers 500.",
)
@click.option(
    "--server",
    type=click.Choice(SERVERS),
    default="granian",
    show_default=True,
    help="WSGI server: granian (fastest, measured) or waitress (pure Python).",
)
@click.option(
    "--threads", type=click.IntRange(1), default=None, help="Python threads (default: granian 1, waitress 8)."
)
@click.option(
    "--validator",
    type=click.Choice(["compiled", "openapi-core"]),
    default="compiled",
    show_default=True,
    help="Request validation: validators compiled at start-up, or openapi-core on every request.",
)
@click.option("--quiet", is_flag=True, help="No per-request log lines.")
def serve_command(
    host: str,
    port: int,
    seed: int,
    partners: int,
    scenario: str | None,
    spec_path: Path,
    scenarios_dir: Path,
    validate_responses: bool,
    server: str,
    threads: int | None,
    validator: str,
    quiet: bool,
) -> None:
    """Serve every operation of the spec on a production WSGI server until Ctrl-C or SIGTERM."""
    settings = Settings(
        spec_path=spec_path,
        scenario=scenario,
        scenarios_dir=scenarios_dir,
        seed=seed,
        partners=partners,
        host=host,
        port=port,
        validate_responses=validate_responses,
        validator=validator,
        access_log=not quiet,
    )
    from .scenarios import ScenarioError, load_scenario

    try:
        read_spec_document(spec_path)
        if scenario is not None:
            load_scenario(scenario, scenarios_dir)
    except (SpecError, ScenarioError) as exc:
        raise click.ClickException(str(exc)) from None
    try:
        serve(settings, server, threads)
    except (SpecError, ScenarioError, OSError) as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        click.echo("mockserver: stopped", err=True)


@cli.command("check", short_help="Check a scenario file.")
@click.argument("scenario")
@scenarios_dir_option
def check_command(scenario: str, scenarios_dir: Path) -> None:
    """Load SCENARIO (a name or a path) as the server would; print file:line and exit 1 on an error."""
    from .scenarios import ScenarioError, load_scenario

    try:
        dataset = load_scenario(scenario, scenarios_dir)
    except ScenarioError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    click.echo(
        f"ok: {len(dataset.partners)} partners, {len(dataset.businesses)} businesses, "
        f"{len(dataset.users)} users, {len(dataset.integrations)} integrations"
    )


def main() -> None:
    cli(prog_name="mockserver")
