"""Paths, defaults, exit codes and the error type shared by the campaign's modules."""

from __future__ import annotations

from mockserver.core.settings import DEFAULT_SPEC
from mockserver.core.startup_errors import MockServerError

SPEC = DEFAULT_SPEC
REPO_CONFIG = DEFAULT_SPEC.with_name("schemathesis.toml")
"""The checks' settings (which check is off for which operation, and why), beside the spec they fit."""
PHASES = ("examples", "coverage", "fuzzing", "stateful")
READY_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0
PROBE_TIMEOUT = 10.0
HEARTBEAT = 60.0
DICTIONARY_PROBABILITY = 0.5
PARTNER_ID_OPERATIONS = ("getPartner", "createPartnerClickEvent", "connectPartner", "disconnectPartner")
TOKEN_ENV = "MOCKSERVER_FUZZ_TOKEN"
"""The bearer token reaches `st run` through this variable: never on a command line or in a file."""

EXIT_OK, EXIT_FAILED = 0, 1


class CampaignError(MockServerError):
    """The campaign could not run (the command prints `error: …` and exits 1)."""
