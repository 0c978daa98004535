"""Command line: `mockserver serve` and `mockserver check`. The only place errors become exit codes."""

from __future__ import annotations

import logging
import signal
import sys
import time
from pathlib import Path
from types import FrameType

import click

from .fakedata import DEFAULT_PARTNERS, DEFAULT_SEED
from .scenarios import ScenarioError, load_scenario
from .settings import DEFAULT_SCENARIOS_DIR, DEFAULT_SPEC, Settings
from .spec import SpecError


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def cli() -> None:
    """A mock and contract-testing server for the Partners API."""


def _stop_on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


@cli.command("serve", short_help="Run the mock server.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option(
    "--port", default=4010, show_default=True, type=click.IntRange(0, 65535), help="Port to listen on."
)
@click.option("--seed", default=DEFAULT_SEED, show_default=True, type=int, help="Seed of the Faker data set.")
@click.option(
    "--partners", default=DEFAULT_PARTNERS, show_default=True, type=click.IntRange(0), help="Faker partners."
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
@click.option(
    "--scenarios-dir",
    default=str(DEFAULT_SCENARIOS_DIR),
    show_default=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Where scenario names are looked up.",
)
@click.option(
    "--validate-responses/--no-validate-responses",
    default=False,
    show_default=True,
    help="Check every response against the spec; a violation answers 500.",
)
@click.option("--threads", default=8, show_default=True, type=click.IntRange(1), help="Worker threads.")
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
    threads: int,
    quiet: bool,
) -> None:
    """Serve every operation of the spec on a production WSGI server (waitress) until Ctrl-C or SIGTERM."""
    from waitress.server import create_server

    from .app import create_app

    logging.basicConfig(
        level=logging.WARNING if quiet else logging.INFO, format="%(message)s", stream=sys.stderr
    )
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)
    settings = Settings(
        spec_path=spec_path,
        scenario=scenario,
        scenarios_dir=scenarios_dir,
        seed=seed,
        partners=partners,
        host=host,
        port=port,
        validate_responses=validate_responses,
    )
    started = time.perf_counter()
    try:
        app = create_app(settings)
    except (SpecError, ScenarioError) as exc:
        raise click.ClickException(str(exc)) from None
    server = create_server(app, host=host, port=port, threads=threads, ident="mockserver")
    store = app.extensions["mockserver.store"]
    source = f"scenario {scenario}" if scenario else f"Faker data (seed {seed}, {partners} partners)"
    bound_port = getattr(server, "effective_port", port)
    click.echo(f"mockserver: serving {source} on http://{host}:{bound_port}", err=True)
    for business in store.dataset.businesses:
        click.echo(f"  business {business.id}  {business.name}", err=True)
    for user in store.dataset.users:
        mark = " (default)" if store.default_user and user.id == store.default_user.id else ""
        click.echo(f"  user token {user.token}  {user.first_name} {user.last_name}{mark}", err=True)
    click.echo(f"  ready in {time.perf_counter() - started:.2f}s; Ctrl-C to stop", err=True)
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    try:
        server.run()
    except KeyboardInterrupt:
        pass
    finally:
        server.close()
        click.echo("mockserver: stopped", err=True)


@cli.command("check", short_help="Check a scenario file.")
@click.argument("scenario")
@click.option(
    "--scenarios-dir",
    default=str(DEFAULT_SCENARIOS_DIR),
    show_default=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Where scenario names are looked up.",
)
def check_command(scenario: str, scenarios_dir: Path) -> None:
    """Load SCENARIO (a name or a path) as the server would; print file:line and exit 1 on an error."""
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
