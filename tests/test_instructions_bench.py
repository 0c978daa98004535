"""`bench/instructions.py` runs its measured program as it would under callgrind (no valgrind here): the
requests are answered as expected, through the test client and through the server front."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
INSTRUCTIONS = ROOT / "bench" / "instructions.py"

pytestmark = pytest.mark.live


@pytest.mark.parametrize("case", ["get", "post"])
@pytest.mark.parametrize("through", [[], ["--front"]], ids=["test-client", "front"])
def test_the_measured_program_serves_its_requests(case: str, through: list[str]) -> None:
    """Each request's status is checked inside the program (200 for the list, 201 for the click)."""
    command = [sys.executable, str(INSTRUCTIONS), "--inner", case, "5", "--tree", str(ROOT), *through]
    finished = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert finished.returncode == 0, finished.stderr[-2000:]
