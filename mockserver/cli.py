"""Command line: `mockserver serve`, `proxy`, `check` and `fuzz`. The only place errors become exit codes."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from mockserver.core.settings import SERVERS, VALIDATORS, Settings
from mockserver.core.startup_errors import MockServerError

DEFAULTS = Settings()


class MockServerGroup(click.Group):
    """Turns any MockServerError (and an OSError such as a port in use) into `error: …` and exit 1;
    an error of several problems (a scenario's) is one `error: …` line each."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (MockServerError, OSError) as exc:
            for line in str(exc).splitlines() or [""]:
                click.echo(f"error: {line}", err=True)
            ctx.exit(1)


def origins(ctx: click.Context, param: click.Parameter, values: tuple[str, ...]) -> tuple[str, ...]:
    """Each `scheme://host[:port]`, `scheme://host:*` (any port) or `*`; commas separate them too
    (MOCKSERVER_CORS_ORIGINS holds a comma-separated list)."""
    found = []
    for origin in (item.strip() for value in values for item in value.split(",") if item.strip()):
        scheme, sep, rest = origin.partition("://")
        if not (origin == "*" or (sep and scheme and rest and not any(c in rest for c in "/?#"))):
            raise click.BadParameter(f"{origin!r} is not an origin: scheme://host[:port] (no path), or *")
        found.append(origin)
    return tuple(found)


def _latency(value: str | None) -> str | None:
    """Check `--latency` where it is typed, so a bad value is a usage error."""
    if value is None:
        return None
    from mockserver.forcing.by_chance import parse_latency

    try:
        parse_latency(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None
    return value


scenarios_dir_option = click.option(
    "--scenarios-dir",
    default=str(DEFAULTS.scenarios_dir),
    show_default=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Where scenario names are looked up.",
)


@click.group(cls=MockServerGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="mockserver", prog_name="mockserver")
def cli() -> None:
    """A mock and contract-testing server for the Partners API."""


SERVER_OPTIONS = [
    click.option(
        "--host",
        envvar="MOCKSERVER_HOST",
        show_envvar=True,
        default=DEFAULTS.host,
        show_default=True,
        help="Interface to listen on (0.0.0.0: every interface, as in a container).",
    ),
    click.option(
        "--port",
        envvar="MOCKSERVER_PORT",
        show_envvar=True,
        default=DEFAULTS.port,
        show_default=True,
        type=click.IntRange(0, 65535),
        help="Port to listen on.",
    ),
    click.option(
        "--spec",
        "spec_path",
        default=str(DEFAULTS.spec_path),
        show_default=True,
        type=click.Path(dir_okay=False, path_type=Path),
        help="OpenAPI document.",
    ),
    click.option(
        "--server",
        type=click.Choice(SERVERS),
        default=DEFAULTS.server,
        show_default=True,
        help="Server: granian (an RSGI front that reads whole requests; fastest, measured) or "
        "waitress (a pure-Python WSGI server).",
    ),
    click.option(
        "--threads",
        type=click.IntRange(1),
        default=DEFAULTS.threads,
        help="Python threads (default: granian 1, waitress 8).",
    ),
    click.option(
        "--read-timeout",
        type=click.FloatRange(0.1, 3600),
        default=DEFAULTS.read_timeout,
        show_default=True,
        help="Seconds a client may take to send a request's headers or body before a 408.",
    ),
    click.option(
        "--max-body-bytes",
        type=click.IntRange(1),
        default=DEFAULTS.max_body_bytes,
        show_default=True,
        help="Request bodies above this size are refused with 413 (inline scenarios included).",
    ),
    click.option(
        "--journal-size",
        type=click.IntRange(1),
        default=DEFAULTS.journal_size,
        show_default=True,
        help="Requests the journal (/__admin/requests) keeps; past it the oldest are dropped and counted.",
    ),
    click.option(
        "--admin-token",
        envvar="MOCKSERVER_ADMIN_TOKEN",
        show_envvar=True,
        default=DEFAULTS.admin_token,
        metavar="TEXT",
        help="Bearer token that opens /__admin to other hosts (without it, loopback clients only).",
    ),
    click.option(
        "--cors-origin",
        "cors_origins",
        multiple=True,
        metavar="ORIGIN",
        callback=origins,
        envvar="MOCKSERVER_CORS_ORIGINS",
        show_envvar=True,
        default=DEFAULTS.cors_origins,
        help="Origin browsers may call from (repeatable; * for any, host:* for any port); replaces the "
        "loopback default, and opens /__admin to these origins.",
    ),
    click.option("--quiet", is_flag=True, help="No per-request log lines."),
]
"""Options of every command that runs a server (`serve`, `proxy`)."""


def server_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """Apply SERVER_OPTIONS, in order, to a command."""
    for option in reversed(SERVER_OPTIONS):
        command = option(command)
    return command


@cli.command("serve", short_help="Run the mock server.")
@server_options
@click.option(
    "--seed", default=DEFAULTS.seed, show_default=True, type=int, help="Seed of the Faker data set."
)
@click.option(
    "--partners", default=DEFAULTS.partners, show_default=True, type=click.IntRange(0), help="Faker partners."
)
@click.option(
    "--scenario",
    default=DEFAULTS.scenario,
    help="Serve a scenario (name in scenarios/ or a YAML path) instead of Faker data.",
)
@scenarios_dir_option
@click.option(
    "--validate-responses/--no-validate-responses",
    default=DEFAULTS.validate_responses,
    show_default=True,
    help="Check every response against the spec; a violation answers 500.",
)
@click.option(
    "--validator",
    type=click.Choice(VALIDATORS),
    default=DEFAULTS.validator,
    show_default=True,
    help="Request validation: validators compiled at start-up, or openapi-core on every request.",
)
@click.option(
    "--latency",
    metavar="MS[-MS]",
    default=None,
    callback=lambda ctx, param, value: _latency(value),
    help="Every answer waits MS milliseconds, or a random time in MS-MS (e.g. 200-800).",
)
@click.option(
    "--error-rate",
    type=click.FloatRange(0, 1),
    default=DEFAULTS.error_rate,
    show_default=True,
    help="Share of requests answered with a 5xx the operation declares.",
)
@click.option(
    "--fault-rate",
    type=click.FloatRange(0, 1),
    default=DEFAULTS.fault_rate,
    show_default=True,
    help="Share of requests that get a transport fault (cut connection, truncated or malformed body).",
)
@click.option(
    "--chaos-seed",
    type=int,
    default=None,
    help="Seed of the latency, error and fault draws (default: --seed).",
)
@click.option(
    "--max-click-events",
    type=click.IntRange(1),
    default=DEFAULTS.max_click_events,
    show_default=True,
    help="Click events kept over all sessions together; past it the oldest are dropped (and counted).",
)
@click.option(
    "--session-ttl",
    type=click.FloatRange(1),
    default=DEFAULTS.session_ttl,
    show_default=True,
    help="Seconds an idle X-Mock-Session lives before a request naming it starts afresh.",
)
@click.option(
    "--max-sessions",
    type=click.IntRange(1),
    default=DEFAULTS.max_sessions,
    show_default=True,
    help="Live sessions at most (in Redis too, with --state); past it the least recently used is evicted.",
)
@click.option(
    "--max-rendered",
    type=click.IntRange(0),
    default=DEFAULTS.max_rendered,
    show_default=True,
    help="Rendered partners cached over all sessions together (about 1.2 kB each).",
)
@click.option(
    "--memo-answers",
    type=click.IntRange(0),
    default=DEFAULTS.memo_answers,
    show_default=True,
    help="GET answers kept to serve a repeat in the same state without running the app; 0 turns it off.",
)
@click.option(
    "--memo-bytes",
    type=click.IntRange(0),
    default=DEFAULTS.memo_bytes,
    show_default=True,
    help="Bytes of the kept GET answers, together; past it the least recently served go.",
)
@click.option(
    "--max-switched-partners",
    type=click.IntRange(0),
    default=DEFAULTS.max_switched_partners,
    show_default=True,
    help="Partners of data sets switched to at run time, over all sessions together; past it the least "
    "recently used sessions holding one are evicted.",
)
@click.option(
    "--max-delayed",
    type=click.IntRange(1),
    default=DEFAULTS.max_delayed,
    show_default=True,
    help="Forced delays (Prefer: delay, __delay, rules, --latency) waiting at once per worker; past it "
    "an answer goes out undelayed (counted in /__admin/delays).",
)
@click.option(
    "--watch",
    is_flag=True,
    default=DEFAULTS.watch,
    help="Serve edits to the --spec and --scenario files as soon as they load; a broken edit is "
    "reported and the last good version keeps serving.",
)
@click.option(
    "--state",
    envvar="MOCKSERVER_STATE",
    default=DEFAULTS.state,
    metavar="URL",
    help="Keep the state (links, click events, sessions, rules, journal) in Redis at this URL "
    "(redis://host:port/db), shared by every worker and host serving the same configuration. "
    "Default: in this process. [env: MOCKSERVER_STATE]",
)
@click.option(
    "--state-timeout",
    type=click.FloatRange(0.05, 60),
    default=DEFAULTS.state_timeout,
    show_default=True,
    help="Seconds a call to the --state store may take; then a 503, and a write not answered in time "
    "is never made.",
)
@click.option(
    "--workers",
    type=click.IntRange(1),
    default=DEFAULTS.workers,
    show_default=True,
    help="Worker processes; more than one needs --state.",
)
def serve_command(quiet: bool, **options: Any) -> None:
    """Serve every operation of the spec (on granian, or waitress) until Ctrl-C or SIGTERM."""
    from mockserver.contract.spec import load_spec
    from mockserver.dataset.scenario import load_scenario
    from mockserver.serving.run import check_port_free, check_scale_out, serve

    settings = Settings(access_log=not quiet, **options)
    check_scale_out(settings)
    spec = load_spec(settings.spec_path)  # a bad spec or scenario is reported here, before any server starts
    if settings.scenario is not None:  # its rules too, against the spec (a status it does not declare)
        load_scenario(settings.scenario, settings.scenarios_dir, spec=spec)
    check_port_free(settings.host, settings.port)
    serve(settings)
    click.echo("mockserver: stopped", err=True)  # not after a failed start: its error says it all


@cli.command("proxy", short_help="Forward to a real server, checking its traffic against the spec.")
@click.option("--upstream", required=True, metavar="URL", help="The server to forward every API request to.")
@click.option(
    "--upstream-timeout",
    type=click.FloatRange(0.1, 3600),
    default=DEFAULTS.upstream_timeout,
    show_default=True,
    help="Seconds the upstream has for its whole answer (connecting, headers and body); then a 504.",
)
@click.option(
    "--strict",
    is_flag=True,
    help="Answer 4xx to an off-contract request (not forwarded) and 502 to an off-contract answer.",
)
@click.option(
    "--record",
    type=click.Path(dir_okay=False),
    default=None,
    help="Write the partners (businesses, users, links) the answers reveal to this scenario file.",
)
@server_options
def proxy_command(quiet: bool, **options: Any) -> None:
    """Forward every API request to --upstream; check requests and answers against the spec; list the
    violations at /__admin/violations and in an X-Contract-Violations header."""
    from mockserver.contract.spec import load_spec
    from mockserver.proxy.forwarding import Upstream
    from mockserver.serving.run import check_port_free, serve

    settings = Settings(access_log=not quiet, **options)
    load_spec(settings.spec_path)
    Upstream.parse(settings.upstream or "", settings.upstream_timeout)  # a bad URL is reported here
    check_port_free(settings.host, settings.port)
    serve(settings)
    click.echo("mockserver: stopped", err=True)  # not after a failed start: its error says it all


@cli.command("check", short_help="Check a scenario file.")
@click.argument("scenario")
@scenarios_dir_option
@click.option(
    "--spec",
    "spec_path",
    default=str(DEFAULTS.spec_path),
    show_default=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="OpenAPI document the scenario's rules are checked against.",
)
def check_command(scenario: str, scenarios_dir: Path, spec_path: Path) -> None:
    """Load SCENARIO (a name or a path) as the server would; print file:line and exit 1 on an error."""
    from mockserver.contract.spec import load_spec
    from mockserver.dataset.scenario import load_scenario

    dataset = load_scenario(scenario, scenarios_dir, spec=load_spec(spec_path))
    sizes = (
        (len(dataset.partners), "partner"),
        (len(dataset.businesses), "business"),
        (len(dataset.users), "user"),
        (len(dataset.integrations), "integration"),
    )
    click.echo("ok: " + ", ".join(counted(number, noun) for number, noun in sizes))


def counted(number: int, noun: str) -> str:
    """`1 business`, `2 businesses`, `0 partners`."""
    if number == 1:
        return f"1 {noun}"
    return f"{number} {noun}es" if noun.endswith("s") else f"{number} {noun}s"


@cli.command("fuzz", short_help="Fuzz the mock, or any server of the spec, with schemathesis.")
@click.option(
    "--url",
    default=None,
    metavar="URL",
    help="Fuzz the server at this URL (the real API, staging, a proxy); without it, start the mock.",
)
@click.option(
    "--token",
    envvar="MOCKSERVER_FUZZ_TOKEN",
    show_envvar=True,
    default=None,
    metavar="TEXT",
    help="Sent as `Authorization: Bearer TEXT` on every request.",
)
@click.option(
    "--business-id",
    "business_ids",
    multiple=True,
    metavar="UUID",
    help="A business of the server's data, for listPartners (repeatable; default: the mock's).",
)
@click.option(
    "--partner-id",
    "partner_ids",
    multiple=True,
    metavar="UUID",
    help="A partner of the server's data, for the /partners/{id} paths (repeatable; default: listed).",
)
@click.option(
    "--examples", "-n", type=click.IntRange(1), default=25, show_default=True, help="st --max-examples."
)
@click.option("--seed", type=int, default=42, show_default=True, help="schemathesis seed.")
@click.option("--workers", "-w", type=click.IntRange(1), default=1, show_default=True, help="st --workers.")
@click.option(
    "--phases",
    default="examples,coverage,fuzzing,stateful",
    show_default=True,
    help="Comma-separated st phases.",
)
@click.option(
    "--business-mode",
    type=click.Choice(["fixed", "mixed"]),
    default="fixed",
    show_default=True,
    help="listPartners' business_uuid: always the first business, or a business half of the time and "
    "generated values otherwise (the coverage phase then only gets 404s).",
)
@click.option(
    "--spec",
    default=str(DEFAULTS.spec_path),
    show_default=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="OpenAPI document the server claims to implement.",
)
@click.option(
    "--report-dir",
    default="reports",
    show_default=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Where the logs, the run's schemathesis.toml and report.json go.",
)
@click.option(
    "--junit",
    default=None,
    type=click.Path(dir_okay=False, path_type=Path),
    help="JUnit XML report path (default: REPORT_DIR/junit.xml).",
)
@click.option("--scenario", default=None, help="The started mock serves this scenario instead of Faker data.")
@click.option("--partners", type=click.IntRange(0), default=None, help="The started mock's Faker partners.")
@click.option("--data-seed", type=int, default=None, help="The started mock's Faker seed.")
@click.option("--quiet", "-q", is_flag=True, help="Do not stream st's output; summary only.")
@click.argument("st_args", nargs=-1, type=click.UNPROCESSED, metavar="[-- ST_RUN_ARGS]...")
@click.pass_context
def fuzz_command(ctx: click.Context, /, **options: Any) -> None:
    """Run schemathesis against the mock or --url: every check, all phases, both modes, a fixed seed.

    Exits 0 only when every selected operation was tested, cases were generated and nothing failed.
    """
    try:
        import schemathesis  # noqa: F401  (st runs as a child process; this checks it is installed)
    except ImportError:
        click.echo("error: mockserver fuzz needs schemathesis: pip install 'mockserver[fuzz]'", err=True)
        ctx.exit(1)
    from mockserver.fuzzing.campaign import run_campaign
    from mockserver.fuzzing.options import campaign_options

    try:
        result = run_campaign(campaign_options(**options))
    except KeyboardInterrupt:
        click.echo("fuzz: interrupted", err=True)
        ctx.exit(130)
    click.echo(result.text)
    ctx.exit(result.exit_code)


# `mockserver pact …`: the group imports only click; each command loads its module when it runs.
from mockserver.pact.commands import pact_group  # noqa: E402

cli.add_command(pact_group)


def main() -> None:
    cli(prog_name="mockserver")
