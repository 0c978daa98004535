#!/usr/bin/env python3
"""Live fuzzing campaign: `mockserver serve` on a free port, then `st run` against it over HTTP.

    python scripts/fuzz.py                       # bounded CI run: -n 25, 1,299 cases, under a minute
    python scripts/fuzz.py --examples 1000       # long campaign: 13,795 cases, ~10 min (table below)

What it does, in order:

1. Starts the server the way users do - `python -m mockserver serve --port <free port> --quiet
   --host 127.0.0.1 --validate-responses` (plus `--scenario`, or `--data-seed`/`--partners` for Faker
   data), with `mockserver.live.LiveServer` - with its output in `<report-dir>/server.log`, waits (<= 30 s)
   for `GET /__admin/health`, and reads
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

The parts live in scripts/fuzzlib/, one job per module: options, server, config, runner (st run),
results (parsing), summary, campaign (the steps in order); this file is the command line over them.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

HERE = Path(__file__).resolve().parent
for _path in (HERE.parent, HERE):  # fuzzlib, and this repository's mockserver.live, however this is run
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

from fuzzlib.campaign import Result, run_campaign  # noqa: E402
from fuzzlib.common import CampaignError  # noqa: E402
from fuzzlib.config import render_config  # noqa: E402
from fuzzlib.options import CampaignOptions, ServerOptions, parse_args  # noqa: E402
from fuzzlib.results import Reproduction, Summary, build_summary, parse_console, parse_junit, verdict  # noqa: E402
from fuzzlib.runner import run_schemathesis, st_command  # noqa: E402
from fuzzlib.server import DataSet, read_data_set, start_server  # noqa: E402
from fuzzlib.summary import format_summary  # noqa: E402

__all__ = [
    "CampaignError",
    "CampaignOptions",
    "DataSet",
    "Reproduction",
    "Result",
    "ServerOptions",
    "Summary",
    "build_summary",
    "format_summary",
    "main",
    "parse_args",
    "parse_console",
    "parse_junit",
    "read_data_set",
    "render_config",
    "run_campaign",
    "run_schemathesis",
    "st_command",
    "start_server",
    "verdict",
]


def main(argv: Sequence[str] | None = None) -> int:
    options = parse_args(argv)
    result = run_campaign(options)
    print(result.text, flush=True)
    return result.exit_code


if __name__ == "__main__":
    sys.exit(main())
