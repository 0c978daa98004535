"""The run's own folder: bench/results/runs/<date-time>/ with the spec snapshot, logs and results."""

from __future__ import annotations

import datetime as _dt
import hashlib
import shutil
from dataclasses import dataclass
from pathlib import Path

from .common import RESULTS, ROOT, BenchError
from .machine import machine_info
from .tools import Tools


@dataclass
class Workspace:
    run_dir: Path
    raw_log: Path
    """wrk's raw output, every run appended."""
    spec: Path
    """The snapshot of the OpenAPI document both servers serve."""
    info: dict[str, str]
    """Machine and software details, printed in the report's "Machine" table."""

    def keep(self, output: Path, report: str, results_json: str) -> None:
        """The markdown report at `output` and in the run's folder, with results.json."""
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(report)
        (self.run_dir / "report.md").write_text(report)
        (self.run_dir / "results.json").write_text(results_json)


def resolve_spec(spec_arg: Path) -> Path:
    """The OpenAPI document to snapshot; checked before anything is installed."""
    spec_src = spec_arg.resolve()
    if not spec_src.is_file():
        raise BenchError(f"{spec_src} not found")
    return spec_src


def prepare_workspace(spec_src: Path, tools: Tools, runs: Path = RESULTS / "runs") -> Workspace:
    """A new folder `runs/<date-time>/` with the spec snapshot; the machine's details."""
    stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    run_dir = runs / stamp
    run_dir.mkdir(parents=True, exist_ok=True)
    info = machine_info(tools.server_cmd, tools.wrk)
    # Both servers serve one frozen copy of the document: Prism watches its document and restarts its
    # HTTP server when the file changes (dropping connections mid-run), and mockserver reads it once, so
    # an edit of openapi.yaml during a run would otherwise break Prism's numbers and let the two differ.
    spec = run_dir / "openapi.yaml"
    shutil.copyfile(spec_src, spec)
    info["spec"] = f"{spec_src.relative_to(ROOT) if spec_src.is_relative_to(ROOT) else spec_src} " + (
        f"(sha256 {hashlib.sha256(spec.read_bytes()).hexdigest()[:12]}, snapshot at start)"
    )
    return Workspace(run_dir=run_dir, raw_log=run_dir / "wrk.log", spec=spec, info=info)
