"""`mockserver pact export | verify | replay`. Imports only click here: each command loads its module
when it runs."""

from __future__ import annotations

from pathlib import Path

import click

from ..settings import DEFAULT_SPEC


@click.group("pact", short_help="Export, verify and replay Pact files.")
def pact_group() -> None:
    """Pact files: export the journal as one, check any against the spec, replay one on a provider."""


@pact_group.command("verify", short_help="Check Pact files against the spec.")
@click.argument("pacts", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--spec",
    "spec_path",
    default=str(DEFAULT_SPEC),
    show_default=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The OpenAPI document the provider follows.",
)
@click.option("--format", "output", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option(
    "--junit", type=click.Path(dir_okay=False, path_type=Path), default=None, help="Also write JUnit XML."
)
@click.pass_context
def verify_command(
    ctx: click.Context, pacts: tuple[Path, ...], spec_path: Path, output: str, junit: Path | None
) -> None:
    """Check each HTTP interaction of PACT... with the mock's own validators: the request as the mock
    reads it, the answer as a consumer reads it. Exit 0 compatible, 1 not, 2 a file cannot be read."""
    from ..spec import SpecError, load_spec
    from .report import EXIT_UNREADABLE, exit_code, json_report, text_report, write_junit
    from .verify import verify_files

    try:
        spec = load_spec(spec_path)
    except SpecError as error:
        click.echo(f"error: {error}", err=True)
        ctx.exit(EXIT_UNREADABLE)
    results = verify_files(list(pacts), spec)
    click.echo(json_report(results) if output == "json" else text_report(results))
    if junit is not None:
        write_junit(results, junit)
    ctx.exit(exit_code(results))
