#!/usr/bin/env python3
"""Live fuzzing campaign: `mockserver serve` on a free port, then `st run` against it over HTTP.

    python scripts/fuzz.py                       # bounded CI run: -n 25, 1,299 cases, under a minute
    python scripts/fuzz.py --examples 1000       # long campaign: 13,795 cases, ~10 min (table below)

What it does, in order:

1. Starts the server the way users do - `python -m mockserver serve --host 127.0.0.1 --port <free port>
   --quiet --validate-responses` (plus `--scenario`, or `--data-seed`/`--partners` for Faker data) -
   with its output in `<report-dir>/server.log`, waits (<= 30 s) for `GET /__admin/health`, and reads
   the data set's business ids (`GET /__admin/data`) and partner ids (`GET /api/v1/partners`).
2. Writes `<report-dir>/schemathesis.toml`: the repository's schemathesis.toml verbatim, plus
   - `[cache] directory = <report-dir>/cache` (wiped at start, so a run never replays an earlier run's
     requests, and `st replay` finds this run's failures);
   - `business_uuid` of `listPartners` set to the first served business (`[[operations]] parameters`).
     Without it every `GET /api/v1/partners` is a 404 (schemathesis warns "Missing test data") and the
     filters are never reached. The cost: the live run sends no missing, malformed or unknown
     `business_uuid` (tests/test_errors.py and the in-process tests/test_contract.py do). With
     `--business-uuid mixed` the served businesses are instead a dictionary drawn with probability 0.5,
     which keeps those cases in the fuzzing phase but leaves the coverage phase of this operation at
     404s only (schemathesis' coverage phase does not draw from dictionaries);
   - the served partner ids as a dictionary for the path `id` of the four `/partners/{id}...`
     operations, drawn with probability 0.5: half the ids stay generated (unknown -> 404, malformed ->
     400; negative mode is untouched), half reach a real partner (links, clicks, includes).
   Nothing else: every check stays on (no `--checks` on the command line, which would override the
   per-operation `use_after_free` setting of schemathesis.toml), all four phases, both modes.
3. Runs `python -m schemathesis.cli --config-file <report-dir>/schemathesis.toml run openapi.yaml
   --url http://127.0.0.1:PORT --seed S -n N --phases examples,coverage,fuzzing,stateful -m all
   --workers W --generation-database none --report junit,json ...` with its cwd in the report dir, and
   keeps its console output in `<report-dir>/schemathesis.log`, the JUnit XML in `junit.xml`, the
   JSON run report in `report.json`.
4. Prints a summary - operations covered (x/7), cases generated, failures by check code, errors,
   warnings, durations, and each failure's case id, curl line and `st replay` command - and exits
   0 only when schemathesis passed with no failure and no error and every selected operation was
   tested. The server is always stopped (SIGTERM, then SIGKILL), also on Ctrl-C or SIGTERM.

Exit codes: 0 clean run; 1 failures, errors or untested operations; 2 the campaign could not run
(server did not start, schemathesis crashed without a report); 130 interrupted.

Cases per `--examples` (`-n`, seed 42, all phases and modes, default Faker data; measured here with
schemathesis 4.32.5, granian, 2 shared cores; the same options give the same count on every run).
Examples and coverage add a fixed ~1,000 cases; fuzzing and stateful about 13 per example:

    -n      cases     schemathesis time
    25       1,299     35-45 s   (default; CI)
    100      2,223     66 s
    400      6,219    244 s
    1000    13,795    551 s     (long campaign: >= 10,000 cases needs -n >= ~750)

A failure reproduces with the same options (fixed seed, fixed data set, no example database); the
summary prints the server command and `st --config-file ... replay <case id> --url ...` for each.
Extra arguments after `--` go to `st run` unchanged (e.g. `-- --max-failures 5`); do not pass
`--checks`, which would switch the per-operation check settings of schemathesis.toml back on.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import tomllib
import urllib.error
import urllib.request
import xml.etree.ElementTree as ET
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "openapi.yaml"
REPO_CONFIG = ROOT / "schemathesis.toml"
PHASES = ("examples", "coverage", "fuzzing", "stateful")
DEFAULT_EXAMPLES = 25
DEFAULT_SEED = 42
DEFAULT_REPORT_DIR = ROOT / "reports"
READY_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0
HEARTBEAT = 60.0
DICTIONARY_PROBABILITY = 0.5
PARTNER_ID_OPERATIONS = ("getPartner", "createPartnerClickEvent", "connectPartner", "disconnectPartner")

EXIT_OK, EXIT_FAILED, EXIT_NOT_RUN, EXIT_INTERRUPTED = 0, 1, 2, 130


class CampaignError(Exception):
    """The campaign could not run (exit code 2)."""


# --- the server -------------------------------------------------------------------------------------


@dataclass
class ServerOptions:
    scenario: str | None = None
    partners: int | None = None
    data_seed: int | None = None

    def cli_args(self) -> list[str]:
        args = ["--quiet", "--validate-responses"]
        if self.scenario:
            args += ["--scenario", self.scenario]
        if self.partners is not None:
            args += ["--partners", str(self.partners)]
        if self.data_seed is not None:
            args += ["--seed", str(self.data_seed)]
        return args


def server_command(options: ServerOptions, port: int) -> list[str]:
    return [sys.executable, "-m", "mockserver", "serve", "--host", "127.0.0.1", "--port", str(port)] + (
        options.cli_args()
    )


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Server:
    """`python -m mockserver serve --port P ...` as a child process in its own session.

    Only the processes of that session are ever signalled: SIGTERM to the server (granian and
    waitress both stop on it), then SIGKILL to whatever of its process group outlives STOP_TIMEOUT
    (granian runs its app in a worker process).
    """

    def __init__(self, options: ServerOptions, log_path: Path) -> None:
        self.options = options
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None
        self.port = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}" if self.port else ""

    def start(self, timeout: float = READY_TIMEOUT, attempts: int = 3) -> None:
        """Start on a free port and wait for /__admin/health; a new port if another process took it."""
        for attempt in range(1, attempts + 1):
            try:
                self._start_once(timeout)
                return
            except CampaignError:
                self.stop()
                if attempt == attempts or "address already in use" not in self.log_text().lower():
                    raise

    def _start_once(self, timeout: float) -> None:
        self.port = free_port()
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                server_command(self.options, self.port),
                cwd=ROOT,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,  # Ctrl-C reaches this script only; it stops the server itself
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise CampaignError(f"the server exited with {self.process.returncode}:\n{self.log_tail()}")
            if _get_json(f"{self.base_url}/__admin/health", quiet=True) == {"status": "ok"}:
                return
            time.sleep(0.2)
        raise CampaignError(
            f"the server did not answer /__admin/health within {timeout:.0f}s:\n{self.log_tail()}"
        )

    def stop(self) -> None:
        process = self.process
        if process is None:
            return
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            with suppress(subprocess.TimeoutExpired):
                process.wait(STOP_TIMEOUT)
        with suppress(ProcessLookupError, PermissionError):  # the server's session: it and its workers
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(STOP_TIMEOUT)

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def log_tail(self, lines: int = 30) -> str:
        return "\n".join(self.log_text().splitlines()[-lines:])


def _get_json(url: str, *, quiet: bool = False) -> Any:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return json.load(response)
    except (urllib.error.URLError, OSError, ValueError) as exc:
        if quiet:
            return None
        raise CampaignError(f"GET {url} failed: {exc}") from None


@dataclass
class DataSet:
    business_ids: list[str]
    partner_ids: list[str]
    partner_count: int


def read_data_set(base_url: str) -> DataSet:
    """The ids the server actually serves: businesses from /__admin/data, partners from the list endpoints."""
    data = _get_json(f"{base_url}/__admin/data")
    business_ids = [business["id"] for business in data["businesses"]]
    partner_ids: list[str] = []
    if business_ids:
        # Every partner, whatever its status, is listed by GET /api/v1/partners.
        page = 1
        while True:
            document = _get_json(
                f"{base_url}/api/v1/partners?business_uuid={business_ids[0]}&per_page=100&page={page}"
            )
            partner_ids += [partner["id"] for partner in document["data"]]
            if not document["data"] or page >= document["meta"]["total-pages"]:
                break
            page += 1
    else:
        for path in ("/api/v1/partners/available", "/api/v1/partners/wholesalers"):
            document = _get_json(f"{base_url}{path}?per_page=100")
            partner_ids += [p["id"] for p in document["data"] if p["id"] not in partner_ids]
    return DataSet(business_ids=business_ids, partner_ids=partner_ids, partner_count=int(data["partners"]))


# --- the per-run schemathesis configuration ---------------------------------------------------------


def _toml_string(value: str) -> str:
    return json.dumps(value)  # a JSON string of printable text is a valid TOML basic string


def _toml_list(values: Sequence[str]) -> str:
    return "[\n" + "".join(f"  {_toml_string(v)},\n" for v in values) + "]"


def _dictionary_binding(name: str) -> str:
    return f"{{ dictionary = {_toml_string(name)}, probability = {DICTIONARY_PROBABILITY} }}"


def render_config(base_text: str, data: DataSet, cache_dir: Path | None, *, business: str = "fixed") -> str:
    """The repository's configuration verbatim, then the run's cache directory and the served ids.

    `business="fixed"`: `listPartners` always gets the data set's first business (a config parameter
    override), so all its phases reach the filters. `"mixed"`: the businesses are a dictionary drawn
    with probability 0.5, so half the values stay generated (unknown -> 404, malformed -> 400), but the
    coverage phase, which does not use dictionaries, then only ever gets 404s on this operation.
    """
    base = tomllib.loads(base_text)  # fails early, with the file's own error, on a broken config
    parts = [
        base_text.rstrip("\n"),
        "",
        "",
        "# ---- added by scripts/fuzz.py for this run: the served data set ----",
    ]
    if cache_dir is not None and "cache" not in base:
        parts += ["", "[cache]", f"directory = {_toml_string(str(cache_dir))}"]
    bindings: list[tuple[Sequence[str], str, str]] = []
    if data.business_ids and business == "fixed":
        bindings.append((["listPartners"], "query.business_uuid", _toml_string(data.business_ids[0])))
    elif data.business_ids:
        parts += ["", "[dictionaries.fuzz-business-ids]", f"values = {_toml_list(data.business_ids)}"]
        bindings.append((["listPartners"], "query.business_uuid", _dictionary_binding("fuzz-business-ids")))
    if data.partner_ids:
        parts += ["", "[dictionaries.fuzz-partner-ids]", f"values = {_toml_list(data.partner_ids)}"]
        bindings.append((PARTNER_ID_OPERATIONS, "path.id", _dictionary_binding("fuzz-partner-ids")))
    for operation_ids, key, value in bindings:
        ids = ", ".join(_toml_string(o) for o in operation_ids)
        parts += [
            "",
            "[[operations]]",
            f"include-operation-id = [{ids}]",
            f"parameters = {{ {_toml_string(key)} = {value} }}",
        ]
    text = "\n".join(parts) + "\n"
    tomllib.loads(text)
    return text


# --- schemathesis -----------------------------------------------------------------------------------


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


def st_command(options: CampaignOptions, base_url: str) -> list[str]:
    return [
        sys.executable, "-m", "schemathesis.cli",
        "--config-file", str(options.config_path),
        "--no-color",
        "run", str(SPEC),
        "--url", base_url,
        "--seed", str(options.seed),
        "--max-examples", str(options.examples),
        "--phases", ",".join(options.phases),
        "--mode", "all",
        "--workers", str(options.workers),
        "--generation-database", "none",
        "--report", "junit,json",
        "--report-junit-path", str(options.junit_path),
        "--report-json-path", str(options.json_path),
        *options.extra,
    ]  # fmt: skip


@contextmanager
def _heartbeat(enabled: bool, every: float = HEARTBEAT) -> Iterator[None]:
    """A line every `every` seconds: st writes its console output only when it finishes (not a tty)."""
    stop = threading.Event()
    started = time.monotonic()

    def beat() -> None:
        while not stop.wait(every):
            elapsed = int(time.monotonic() - started)
            print(f"fuzz: schemathesis running, {elapsed // 60}m{elapsed % 60:02d}s", flush=True)

    thread = threading.Thread(target=beat, daemon=True)
    if enabled:
        thread.start()
    try:
        yield
    finally:
        stop.set()
        if enabled:
            thread.join()


def run_schemathesis(command: list[str], options: CampaignOptions) -> int:
    """Run st with its output in the log (and on stdout when streaming); its exit code."""
    env = dict(os.environ, COLUMNS="120", PYTHONUNBUFFERED="1", NO_COLOR="1")
    with options.log_path.open("w", encoding="utf-8") as log:
        log.write("$ " + " ".join(command) + "\n\n")
        log.flush()
        with (
            subprocess.Popen(
                command,
                cwd=options.report_dir,  # st writes .schemathesis/.hypothesis state there, not in the repo
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,
            ) as process,
            _heartbeat(options.stream),
        ):
            try:
                assert process.stdout is not None
                for raw in process.stdout:
                    line = raw.decode("utf-8", errors="replace")
                    log.write(line)
                    if options.stream:
                        sys.stdout.write(line)
                        sys.stdout.flush()
                return process.wait()
            finally:
                if process.poll() is None:
                    process.send_signal(signal.SIGINT)  # st stops and writes its reports when interrupted
                    try:
                        process.wait(STOP_TIMEOUT)
                    except subprocess.TimeoutExpired:
                        process.kill()
                        process.wait()


# --- parsing the results ----------------------------------------------------------------------------


@dataclass
class Reproduction:
    operation: str
    case_id: str
    checks: list[str]
    curl: list[str]


@dataclass
class Summary:
    operations_total: int | None = None
    operations_selected: int | None = None
    operations_tested: int | None = None
    covered: list[str] = field(default_factory=list)
    not_covered: list[str] = field(default_factory=list)
    cases: int | None = None
    failures: dict[str, tuple[str, int]] = field(default_factory=dict)
    failure_operations: dict[str, list[str]] = field(default_factory=dict)
    errors: dict[str, int] = field(default_factory=dict)
    warnings: dict[str, list[str]] = field(default_factory=dict)
    duration: float | None = None
    exit_code: int | None = None
    reproductions: list[Reproduction] = field(default_factory=list)
    link_notes: int = 0

    @property
    def failure_count(self) -> int:
        return sum(count for _, count in self.failures.values())

    @property
    def error_count(self) -> int:
        return sum(self.errors.values())


_SECTION = re.compile(r"^={3,} (.+?) ={3,}$")
_OPERATION = re.compile(r"^_{3,} (.+?) _{3,}$")
_CASE = re.compile(r"^\s*\d+\. Test Case ID: (\S+)")
_CHECK = re.compile(r"^- (ST\d+) (.+)$")
_FAILURE_LINE = re.compile(r"^\s*❌ (\S+) (.+): (\d+)$")
_ERROR_LINE = re.compile(r"^\s*🚫 (.+): (\d+)$")
_DURATION = re.compile(r"^=+ .*?(?:in|after) (\d+(?:\.\d+)?)s =+$")


def parse_console(text: str) -> Summary:
    """The figures of `st run`'s console output (its SUMMARY and FAILURES sections)."""
    summary = Summary()
    lines = text.splitlines()
    section = ""
    block = ""
    current: Reproduction | None = None
    operation = ""
    for line in lines:
        if match := _DURATION.match(line):
            summary.duration = float(match.group(1))
        if match := _SECTION.match(line):
            section, current = match.group(1), None
            continue
        if section == "FAILURES":
            if match := _OPERATION.match(line):
                operation, current = match.group(1), None
            elif match := _CASE.match(line):
                current = Reproduction(operation=operation, case_id=match.group(1), checks=[], curl=[])
                summary.reproductions.append(current)
            elif current is not None and (match := _CHECK.match(line)):
                current.checks.append(f"{match.group(1)} {match.group(2).strip()}")
            elif current is not None and line.strip().startswith("curl "):
                current.curl.append(line.strip())
        elif section == "Stateful tests" and "Could not resolve parameter" in line:
            summary.link_notes += 1
        elif section == "SUMMARY":
            stripped = line.strip()
            if stripped.endswith(":") and not stripped.startswith(("❌", "🚫", "-")):
                block = stripped[:-1]
            elif match := re.match(r"Selected: (\d+)/(\d+)", stripped):
                summary.operations_selected, summary.operations_total = (
                    int(match.group(1)),
                    int(match.group(2)),
                )
            elif match := re.match(r"Tested: (\d+)", stripped):
                summary.operations_tested = int(match.group(1))
            elif block == "Test cases" and (match := re.match(r"(\d+) generated", stripped)):
                summary.cases = int(match.group(1))
            elif block == "Test cases" and stripped.startswith("No test cases were generated"):
                summary.cases = 0
            elif block == "Failures" and (match := _FAILURE_LINE.match(line)):
                summary.failures[match.group(1)] = (match.group(2), int(match.group(3)))
            elif block == "Errors" and (match := _ERROR_LINE.match(line)):
                summary.errors[match.group(1)] = int(match.group(2))
    return summary


def parse_junit(path: Path) -> dict[str, str]:
    """Operation (or "Stateful tests") -> passed / failed / error / skipped, from st's JUnit XML."""
    outcome: dict[str, str] = {}
    for case in ET.parse(path).getroot().iter("testcase"):
        status = "passed"
        for tag in ("skipped", "error", "failure"):
            if case.find(tag) is not None:
                status = "failed" if tag == "failure" else tag
        outcome[case.get("name", "")] = status
    return outcome


def build_summary(
    console: str, report: dict[str, Any] | None = None, junit: dict[str, str] | None = None
) -> Summary:
    """Console figures, overridden by the JSON report's when there is one; coverage from the JUnit XML."""
    summary = parse_console(console)
    if report is not None:
        operations = report.get("operations") or {}
        summary.operations_total = operations.get("total", summary.operations_total)
        summary.operations_selected = operations.get("selected", summary.operations_selected)
        summary.operations_tested = operations.get("tested", summary.operations_tested)
        summary.cases = (report.get("test_cases") or {}).get("generated", summary.cases)
        summary.failures = {f["code"]: (f["title"], int(f["count"])) for f in report.get("failures", [])}
        summary.failure_operations = {
            f["code"]: list(f.get("operations", [])) for f in report.get("failures", [])
        }
        summary.errors = {e["title"]: int(e["count"]) for e in report.get("errors", [])}
        summary.warnings = {k: list(v) for k, v in (report.get("warnings") or {}).items() if v}
        summary.duration = report.get("running_time", summary.duration)
        summary.exit_code = report.get("exit_code")
    if junit is not None:
        operations_only = {name: status for name, status in junit.items() if name != "Stateful tests"}
        summary.covered = sorted(name for name, status in operations_only.items() if status != "skipped")
        summary.not_covered = sorted(name for name, status in operations_only.items() if status == "skipped")
    return summary


def verdict(summary: Summary, st_exit_code: int) -> tuple[int, list[str]]:
    """The script's exit code and the reasons behind a non-zero one."""
    reasons = []
    if summary.failure_count:
        reasons.append(f"{summary.failure_count} failure(s)")
    if summary.error_count:
        reasons.append(f"{summary.error_count} error(s)")
    selected = summary.operations_selected
    if summary.operations_tested is None or selected is None or summary.operations_tested < selected:
        reasons.append(f"operations tested {summary.operations_tested}/{selected}")
    if summary.not_covered:
        reasons.append(f"not covered: {', '.join(summary.not_covered)}")
    if summary.cases is None or summary.cases == 0:
        reasons.append("no test case generated")
    if st_exit_code != 0:
        reasons.append(f"schemathesis exited with {st_exit_code}")
    return (EXIT_FAILED if reasons else EXIT_OK), reasons


def format_summary(
    summary: Summary,
    *,
    options: CampaignOptions,
    server: Server,
    wall_time: float,
    reasons: Sequence[str],
) -> str:
    total = summary.operations_total
    covered = len(summary.covered) if summary.covered or summary.not_covered else summary.operations_tested
    out = ["", "=" * 30 + " fuzzing campaign " + "=" * 30]
    out.append(f"operations covered: {covered}/{total}")
    if summary.not_covered:
        out.append(f"  not covered: {', '.join(summary.not_covered)}")
    out.append(f"cases generated:    {summary.cases}")
    out.append(f"failures:           {summary.failure_count}")
    for code, (title, count) in sorted(summary.failures.items()):
        where = ", ".join(summary.failure_operations.get(code, []))
        out.append(f"  {code} {title}: {count}" + (f"  [{where}]" if where else ""))
    out.append(f"errors:             {summary.error_count}")
    for title, count in sorted(summary.errors.items()):
        out.append(f"  {title}: {count}")
    for name, items in sorted(summary.warnings.items()):
        out.append(f"warning {name}: {', '.join(items)}")
    if summary.link_notes:
        out.append(
            f"stateful link notes: {summary.link_notes} (a link had nothing to extract, e.g. an empty page)"
        )
    duration = f"{summary.duration:.1f}s" if summary.duration is not None else "?"
    out.append(f"duration:           schemathesis {duration}, whole campaign {wall_time:.1f}s")
    out.append(
        f"settings:           -n {options.examples}, seed {options.seed}, workers {options.workers}, "
        f"phases {','.join(options.phases)}, modes positive+negative, all checks"
    )
    out.append(f"reports:            {options.report_dir} (schemathesis.log, junit.xml, report.json)")
    if summary.reproductions:
        out.append("")
        out.append("reproduce: start the same server, then curl or replay each case:")
        out.append("  " + " ".join(server_command(options.server, server.port)))
        for repro in summary.reproductions:
            out.append(f"- {repro.operation}  case {repro.case_id}: {'; '.join(repro.checks)}")
            for curl in repro.curl:
                out.append(f"    {curl}")
            out.append(
                f"    st --config-file {options.config_path} replay {repro.case_id} "
                f"--url {server.base_url or 'http://127.0.0.1:PORT'}"
            )
    out.append("")
    out.append("result: " + ("PASS" if not reasons else "FAIL - " + "; ".join(reasons)))
    return "\n".join(out)


# --- the command line -------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> CampaignOptions:
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
    args = parser.parse_args(argv)
    phases = tuple(p.strip() for p in args.phases.split(",") if p.strip())
    if unknown := [p for p in phases if p not in PHASES]:
        parser.error(f"unknown phase(s): {', '.join(unknown)}; choose from {', '.join(PHASES)}")
    if args.examples < 1 or args.workers < 1:
        parser.error("--examples and --workers must be at least 1")
    extra = list(args.extra)
    if extra[:1] == ["--"]:
        extra = extra[1:]
    if any(arg == "--checks" or arg.startswith(("--checks=", "-c")) for arg in extra):
        parser.error(
            "do not pass --checks: all checks run by default, and naming them overrides schemathesis.toml"
        )
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


@contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """SIGTERM (CI cancelling the job) unwinds like Ctrl-C, so the server is stopped either way."""

    def interrupt(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    try:
        previous = signal.signal(signal.SIGTERM, interrupt)
    except ValueError:  # not the main thread: leave the handler alone
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@dataclass
class Result:
    exit_code: int
    summary: Summary | None
    text: str
    base_url: str = ""


def run_campaign(options: CampaignOptions) -> Result:
    started = time.perf_counter()
    options.report_dir.mkdir(parents=True, exist_ok=True)
    for stale in (options.junit_path, options.json_path, options.log_path):
        stale.unlink(missing_ok=True)
    shutil.rmtree(options.cache_dir, ignore_errors=True)
    server = Server(options.server, options.report_dir / "server.log")
    try:
        with _sigterm_as_interrupt():
            server.start()
            data = read_data_set(server.base_url)
            options.config_path.write_text(
                render_config(REPO_CONFIG.read_text(), data, options.cache_dir, business=options.business),
                encoding="utf-8",
            )
            print(
                f"fuzz: server {server.base_url} ({data.partner_count} partners, {len(data.business_ids)} "
                f"businesses), st -n {options.examples} seed {options.seed}; log {options.log_path}",
                flush=True,
            )
            st_exit_code = run_schemathesis(st_command(options, server.base_url), options)
    except KeyboardInterrupt:
        return Result(EXIT_INTERRUPTED, None, "fuzz: interrupted; server stopped")
    except CampaignError as exc:
        return Result(EXIT_NOT_RUN, None, f"fuzz: {exc}")
    finally:
        server.stop()
    console = options.log_path.read_text(encoding="utf-8", errors="replace")
    report = json.loads(options.json_path.read_text()) if options.json_path.is_file() else None
    junit = parse_junit(options.junit_path) if options.junit_path.is_file() else None
    if report is None and junit is None and parse_console(console).cases is None:
        tail = "\n".join(console.splitlines()[-30:])
        return Result(
            EXIT_NOT_RUN, None, f"fuzz: schemathesis exited with {st_exit_code} and no report:\n{tail}"
        )
    summary = build_summary(console, report, junit)
    exit_code, reasons = verdict(summary, st_exit_code)
    text = format_summary(
        summary, options=options, server=server, wall_time=time.perf_counter() - started, reasons=reasons
    )
    return Result(exit_code, summary, text, server.base_url)


def main(argv: Sequence[str] | None = None) -> int:
    options = parse_args(argv)
    result = run_campaign(options)
    print(result.text, flush=True)
    return result.exit_code


if __name__ == "__main__":
    sys.exit(main())
