"""`mockserver pact export | verify | replay`. Imports only click here: each command loads its module
when it runs."""

from __future__ import annotations

import json
from pathlib import Path

import click

from mockserver.core.settings import DEFAULT_SPEC


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
    from mockserver.contract.spec import SpecError, load_spec

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


@pact_group.command("export", short_help="Write the journal of a running mock as a Pact file.")
@click.option("--url", required=True, metavar="URL", help="The running mock, e.g. http://127.0.0.1:4010.")
@click.option("--session", default=None, metavar="ID", help="Only this X-Mock-Session's requests.")
@click.option("--consumer", default="consumer", show_default=True, help="The consumer's name.")
@click.option("--provider", default="partners-api", show_default=True, help="The provider's name.")
@click.option("--pact-version", type=click.Choice(["3", "4"]), default="4", show_default=True)
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write the Pact here (default: CONSUMER-PROVIDER.json).",
)
@click.option("--strict", is_flag=True, help="Exit 1 when any request was skipped (off-contract or cut).")
@click.option(
    "--admin-token", envvar="MOCKSERVER_ADMIN_TOKEN", default=None, help="The mock's --admin-token."
)
@click.pass_context
def export_command(
    ctx: click.Context,
    url: str,
    session: str | None,
    consumer: str,
    provider: str,
    pact_version: str,
    output: Path | None,
    strict: bool,
    admin_token: str | None,
) -> None:
    """Ask the mock at URL for its journal as a Pact (GET /__admin/pact) and write it. Requests left
    out are listed on stderr, one line each; with --strict they make the exit code 1."""
    from .fetch import fetch_pact

    try:
        pact = fetch_pact(url, consumer, provider, int(pact_version), session, admin_token)
    except (ValueError, OSError, RuntimeError) as error:
        click.echo(f"error: {error}", err=True)
        ctx.exit(2)
    skipped = pact.get("metadata", {}).get("mockserver", {}).get("skipped", [])
    for item in skipped:
        target = f"{item['path']}?{item['query']}" if item["query"] else item["path"]
        click.echo(f"skipped: {item['method']} {target} -> {item['status']}: {item['reason']}", err=True)
    path = output or Path(f"{consumer}-{provider}.json")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(pact, indent=2) + "\n", encoding="utf-8")
    click.echo(f"{path}: {len(pact['interactions'])} interaction(s), {len(skipped)} request(s) skipped")
    ctx.exit(1 if strict and skipped else 0)


@pact_group.command("replay", short_help="Replay a Pact file against a running provider.")
@click.argument("pact", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--url", required=True, metavar="URL", help="The provider, e.g. http://127.0.0.1:4010.")
@click.option(
    "--state-url",
    default=None,
    metavar="URL",
    help="Another provider's state-change endpoint (the verifier posts each state to it); without it "
    "the provider is taken to be this mock, whose states are set through its admin API.",
)
@click.option("--provider", default=None, help="The provider's name (default: the Pact's).")
@click.option(
    "--admin-token", envvar="MOCKSERVER_ADMIN_TOKEN", default=None, help="The mock's --admin-token."
)
@click.option("--verbose", "-v", is_flag=True, help="Print the verifier's whole output.")
@click.pass_context
def replay_command(
    ctx: click.Context,
    pact: Path,
    url: str,
    state_url: str | None,
    provider: str | None,
    admin_token: str | None,
    verbose: bool,
) -> None:
    """Replay each interaction of PACT against URL with Pact's verifier, its provider states set first.
    Exit 0 when all pass, 1 when one fails, 2 when the file cannot be read or pact-python is missing."""
    try:
        import pact as _  # noqa: F401  (checks the optional extra is installed)
    except ImportError:
        click.echo(
            "error: mockserver pact replay needs pact-python: pip install 'mockserver[pact]'", err=True
        )
        ctx.exit(2)
    from .model import PactUnreadable
    from .replay import replay

    try:
        result = replay(pact, url, state_url=state_url, admin_token=admin_token, provider=provider)
    except (PactUnreadable, ValueError) as error:
        click.echo(f"error: {error}", err=True)
        ctx.exit(2)
    if verbose:
        click.echo(result.output)
    for mismatch in result.mismatches:
        click.echo(f'{pact}: "{mismatch.interaction}": {mismatch.message}')
    verdict = "all passed" if result.passed else f"{len({m.interaction for m in result.mismatches})} failed"
    click.echo(f"{result.interactions} interaction(s) replayed against {url}: {verdict}")
    ctx.exit(0 if result.passed else 1)
