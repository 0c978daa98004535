"""`mockserver fuzz`: a bounded live campaign against the started mock, and the campaign's parts.

The campaign test is the CI gate for the live run: any schemathesis failure or error, an operation
left untested, or no case generated fails it (-n 25, every phase). The command against other servers
(`--url`), its errors and a missing schemathesis are tests/test_fuzz_command.py's.
"""

from __future__ import annotations

import json
import urllib.request
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import schemathesis
from click.testing import CliRunner
from schemathesis.core.result import Ok
from support import B1, B2, P01, P02, ROOT, SPEC_OPERATIONS, SPEC_PATH

from mockserver.cli import cli
from mockserver.fuzzing.common import CampaignError
from mockserver.fuzzing.config import render_config
from mockserver.fuzzing.dataset import DataSet
from mockserver.fuzzing.options import CampaignOptions, check_st_args
from mockserver.fuzzing.results import build_summary, parse_console, parse_junit, verdict
from mockserver.fuzzing.runner import st_command

OPERATIONS = {f"{method} {path}" for method, path, _, _ in SPEC_OPERATIONS}


@pytest.mark.system
def test_bounded_live_campaign_passes_on_every_operation(runner: CliRunner, tmp_path: Path) -> None:
    junit = tmp_path / "ci" / "fuzz.xml"
    result = runner.invoke(
        cli, ["fuzz", "-n", "25", "--report-dir", str(tmp_path), "--junit", str(junit), "--quiet"]
    )

    assert result.exit_code == 0, result.output
    output = result.output
    for phase in ("examples", "coverage", "fuzzing", "stateful"):
        assert f"\n  {phase} " in output, output  # each phase's counts
    assert "operations covered: 7/7" in output
    assert "failures:           0" in output and "errors:             0" in output
    assert "missing_test_data" not in output  # the served ids reached the API
    assert output.rstrip().endswith("result: PASS")
    cases = ET.parse(junit).getroot().iter("testcase")
    outcomes = {case.get("name"): [child.tag for child in case] for case in cases}
    assert set(outcomes) == OPERATIONS | {"Stateful tests"}, outcomes
    assert all(not tags for tags in outcomes.values()), outcomes  # no failure, error or skip
    for name in ("report.json", "schemathesis.log", "schemathesis.toml", "server.log"):
        assert (tmp_path / name).is_file(), name
    assert "mockserver: stopped" in (tmp_path / "server.log").read_text()
    base_url = output.split("fuzz: server ", 1)[1].split()[0]
    with pytest.raises(OSError):  # nothing listens on the campaign's port any more
        urllib.request.urlopen(f"{base_url}/__admin/health", timeout=2)


# --- the parser, on output captured from a run against a deliberately broken copy of the spec ------

CONSOLE = """\
Schemathesis v4.32.5
━━━━━━━━━━━━━━━━━━━━

 ❌  Coverage (in 4.45s)

     ✅ 4 passed  ❌ 3 failed

=================================== FAILURES ===================================
________________________ GET /api/v1/partners/available ________________________
1. Test Case ID: Vtt24p

- ST108 Response violates schema

    10 is greater than the maximum of 3

[200] OK:

    `{"data": [{"id": "4d01afcc-37e7-4d89-a59e-936047009b8a"}]}`

Reproduce with:

    curl -X GET 'http://127.0.0.1:18411/api/v1/partners/available?include=users&page=1'

    st replay Vtt24p

__________________________ GET /api/v1/partners/{id} ___________________________
1. Test Case ID: FBWrN2

- ST103 Undocumented status code

    Received: 400
    Documented: 200, 401, 404, 500

Reproduce with:

    curl -X GET 'http://127.0.0.1:18411/api/v1/partners/b1555c60-ac69-4ecd-88dd-9c77b8e0e81d?include='

    st replay FBWrN2

================================ Stateful tests ================================

Failed to extract data from response:

    1. Test Case ID: 71RoEe

    GET /api/v1/partners/available -> [200] DisconnectFirstPartner -> DELETE /api/v1/partners/{id}/connect

        Could not resolve parameter `id` via `$response.body#/data/0/id`

        [200] curl -X GET 'http://127.0.0.1:18411/api/v1/partners/available?page=126865'

=================================== SUMMARY ====================================

API Operations:
  Selected: 7/7
  Tested: 6
  Skipped: 1

Failures:
  ❌ ST108 Response violates schema: 2
  ❌ ST103 Undocumented status code: 1

Errors:
  🚫 Network Error: 1

Test cases:
  698 generated, 3 found 3 unique failures

Seed: 42

======================== 3 failures, 1 warning in 8.98s ========================
"""

JUNIT = """\
<?xml version="1.0" encoding="utf-8"?>
<testsuites errors="0" failures="2" skipped="1" tests="4" time="8.6">
  <testsuite name="schemathesis" errors="0" failures="2" skipped="1" tests="4" time="8.6">
    <testcase name="GET /api/v1/partners/available" time="0.6">
      <failure type="failure" message="ST108">x</failure>
    </testcase>
    <testcase name="GET /api/v1/partners/{id}" time="0.1">
      <failure type="failure" message="ST103">y</failure>
    </testcase>
    <testcase name="GET /api/v1/partners/wholesalers" time="0.1"><skipped message="no cases"/></testcase>
    <testcase name="Stateful tests" time="2.4" />
  </testsuite>
</testsuites>
"""


def test_console_parser_reads_figures_failures_and_reproductions() -> None:
    summary = parse_console(CONSOLE)

    assert (summary.operations_selected, summary.operations_total, summary.operations_tested) == (7, 7, 6)
    assert summary.cases == 698
    assert summary.failures == {
        "ST108": ("Response violates schema", 2),
        "ST103": ("Undocumented status code", 1),
    }
    assert summary.failure_count == 3
    assert summary.errors == {"Network Error": 1}
    assert summary.duration == 8.98
    assert summary.link_notes == 1
    assert summary.phases == {"Coverage": "4 passed, 3 failed in 4.45s"}
    assert [(r.operation, r.case_id, r.checks) for r in summary.reproductions] == [
        ("GET /api/v1/partners/available", "Vtt24p", ["ST108 Response violates schema"]),
        ("GET /api/v1/partners/{id}", "FBWrN2", ["ST103 Undocumented status code"]),
    ]
    assert summary.reproductions[1].curl == [
        "curl -X GET 'http://127.0.0.1:18411/api/v1/partners/b1555c60-ac69-4ecd-88dd-9c77b8e0e81d?include='"
    ]
    assert verdict(summary, 1)[0] == 1


def test_clean_console_output_passes() -> None:
    clean = (
        "=== SUMMARY ===\n\nAPI Operations:\n  Selected: 7/7\n  Tested: 7\n\nTest cases:\n"
        "  1210 generated, 1210 passed\n\n=== No issues found in 38.52s ===\n"
    )
    summary = parse_console(clean)

    assert (summary.cases, summary.failures, summary.errors, summary.duration) == (1210, {}, {}, 38.52)
    assert verdict(summary, 0) == (0, [])


def test_json_report_and_junit_take_precedence(tmp_path: Path) -> None:
    (tmp_path / "junit.xml").write_text(JUNIT)
    report = {
        "operations": {"total": 7, "selected": 7, "tested": 7},
        "test_cases": {"generated": 700},
        "failures": [
            {
                "code": "ST108",
                "title": "Response violates schema",
                "count": 2,
                "operations": ["GET /x", "GET /y"],
            }
        ],
        "errors": [],
        "warnings": {"missing_test_data": ["GET /api/v1/partners"], "missing_auth": []},
        "running_time": 9.5,
        "exit_code": 1,
    }
    summary = build_summary(CONSOLE, report, parse_junit(tmp_path / "junit.xml"))

    assert (summary.operations_tested, summary.cases, summary.duration) == (7, 700, 9.5)
    assert summary.failures == {"ST108": ("Response violates schema", 2)}
    assert summary.failure_operations == {"ST108": ["GET /x", "GET /y"]}
    assert summary.errors == {}
    assert summary.warnings == {"missing_test_data": ["GET /api/v1/partners"]}
    assert summary.covered == ["GET /api/v1/partners/available", "GET /api/v1/partners/{id}"]
    assert summary.not_covered == ["GET /api/v1/partners/wholesalers"]
    code, reasons = verdict(summary, 1)
    assert code == 1
    assert reasons == [
        "2 failure(s)",
        "not covered: GET /api/v1/partners/wholesalers",
        "schemathesis exited with 1",
    ]


# --- the per-run configuration --------------------------------------------------------------------

SERVED_BUSINESSES = [B1, B2]
SERVED_PARTNERS = [P01, P02]


@pytest.mark.parametrize("business", ["fixed", "mixed"])
def test_generated_config_keeps_the_repository_settings_and_adds_the_served_ids(
    tmp_path: Path, business: str
) -> None:
    data = DataSet(business_ids=SERVED_BUSINESSES, partner_ids=SERVED_PARTNERS, partner_count=2)
    text = render_config(
        (ROOT / "schemathesis.toml").read_text(), data, tmp_path / "cache", business=business
    )
    assert text.startswith((ROOT / "schemathesis.toml").read_text().rstrip("\n"))
    path = tmp_path / "schemathesis.toml"
    path.write_text(text)
    schema = schemathesis.openapi.from_path(SPEC_PATH, config=schemathesis.Config.from_path(path))

    disabled, parameters = {}, {}
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), result
        operation = result.ok()
        operation_id = operation.definition.raw["operationId"]
        checks = schema.config.checks_config_for(operation=operation)
        disabled[operation_id] = not checks.use_after_free.enabled
        parameters[operation_id] = schema.config.operations.get_for_operation(operation).parameters
    assert {k for k, v in disabled.items() if v} == {"connectPartner"}
    assert schema.config.cache.directory == tmp_path / "cache"
    list_binding = parameters["listPartners"]["query.business_uuid"]
    if business == "fixed":
        assert list_binding == SERVED_BUSINESSES[0]
    else:
        assert (list_binding.dictionary, list_binding.probability) == ("fuzz-business-ids", 0.5)
        assert [e.value for e in schema.config.dictionaries["fuzz-business-ids"].entries] == SERVED_BUSINESSES
    for operation_id in ("getPartner", "createPartnerClickEvent", "connectPartner", "disconnectPartner"):
        binding = parameters[operation_id]["path.id"]
        assert (binding.dictionary, binding.probability) == ("fuzz-partner-ids", 0.5)
    assert parameters["listAvailablePartners"] == parameters["listWholesalers"] == {}
    assert [e.value for e in schema.config.dictionaries["fuzz-partner-ids"].entries] == SERVED_PARTNERS


def test_the_token_is_read_from_the_environment_and_sent_on_every_request(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = DataSet(business_ids=SERVED_BUSINESSES, partner_ids=SERVED_PARTNERS)
    text = render_config((ROOT / "schemathesis.toml").read_text(), data, None, token=True)
    assert "s3cret" not in text
    path = tmp_path / "schemathesis.toml"
    path.write_text(text)
    monkeypatch.setenv("MOCKSERVER_FUZZ_TOKEN", "s3cret")

    config = schemathesis.Config.from_path(path)

    assert config.projects.default.headers == {"Authorization": "Bearer s3cret"}
    assert (ROOT / "schemathesis.toml").read_text().rstrip("\n") in text  # the repository's settings


def test_checks_cannot_be_named_on_the_command_line() -> None:
    with pytest.raises(CampaignError, match="do not pass --checks"):
        check_st_args(["--checks", "not_a_server_error"])
    options = CampaignOptions(examples=25, seed=42, extra=check_st_args(["--max-failures", "5"]))
    assert options.extra == ["--max-failures", "5"]
    assert json.dumps(st_command(options, "http://127.0.0.1:1")).count('"--checks"') == 0
