"""Paths, defaults, exit codes and the error type shared by the campaign's modules."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
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
