"""What every bench command shares: paths and the error type, option groups, the runner that stops
everything on any exit, the servers under test, wrk, process-tree figures from /proc, the run's folder
and the report tables. Each command's own parts are in runlib/ (`bash bench/run`), scalelib/
(`bash bench/scale`) and soaklib/ (`python bench/soak.py`); see bench/README.md.

Importing it puts this repository on `sys.path`, so that a plain python3 (the runner of `bench/run` and
`bench/scale`) finds `mockserver.testing.live`, the child-server helper, without installing the project.
"""

import sys
from pathlib import Path

_REPOSITORY = str(Path(__file__).resolve().parent.parent.parent)
if _REPOSITORY not in sys.path:
    sys.path.insert(0, _REPOSITORY)
