"""The report's parts every command writes alike: markdown tables, medians, the servers and machine
tables, the report's frame, results.json."""

from __future__ import annotations

import json
import shlex
import statistics
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, Protocol

from .common import rel
from .formats import fmt_mib
from .servers import BenchServer
from .workspace import Workspace


def markdown_table(head: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    lines += ["| " + " | ".join(cells) + " |" for cells in rows]
    return "\n".join(lines)


def median_of(samples: Iterable[object], attr: str) -> float:
    """The median of one figure over samples (the repeats of one case)."""
    return float(statistics.median(float(getattr(s, attr)) for s in samples))


def startup_median(server: BenchServer) -> str:
    return f"{statistics.median(server.startups):.2f} s" if server.startups else "–"


def startup_spread(server: BenchServer) -> str:
    """Median start-up, with the fastest, the slowest and how many starts."""
    st = server.startups
    return f"{statistics.median(st):.2f} s ({min(st):.2f}–{max(st):.2f}, {len(st)})"


def servers_table(
    servers: list[BenchServer], startup_head: str, startup: Callable[[BenchServer], str]
) -> str:
    """Each server's command, start-up and RSS (idle after the warm-up, and after the load)."""
    head = ["server", "command", startup_head, "RSS idle (after warm-up)", "RSS after load"]
    return markdown_table(
        head,
        (
            [
                s.label,
                f"`{shlex.join(rel(a) for a in s.argv)}`",
                startup(s),
                fmt_mib(s.rss_idle_kib),
                fmt_mib(s.rss_after_kib),
            ]
            for s in servers
        ),
    )


def machine_table(info: dict[str, str]) -> str:
    rows = "\n".join(f"| {k} | {v} |" for k, v in info.items())
    return f"| | |\n|---|---|\n{rows}"


def markdown_report(
    title: str, info: dict[str, str], head: list[str], sections: dict[str, str], how_to_read: str
) -> str:
    """The report: its title and date, `head` (settings line, results table), `sections` under their
    headings, the machine's table, how to read it."""
    parts = [f"# {title} — {info['date']}", *head]
    parts += [f"## {heading}\n\n{text}" for heading, text in sections.items()]
    parts += [f"## Machine\n\n{machine_table(info)}", how_to_read]
    return "\n\n".join(parts)


class Settings(Protocol):
    @property
    def output(self) -> Path: ...

    def as_json(self) -> dict[str, Any]: ...


class Finished(Protocol):
    """A finished run, as a command's results hold it."""

    @property
    def workspace(self) -> Workspace: ...

    @property
    def options(self) -> Settings: ...

    @property
    def servers(self) -> list[BenchServer]: ...


def keep_results(results: Finished, report: str, **figures: Any) -> None:
    """The report at --output and in the run's folder, with results.json: the machine, the settings,
    the servers, then the command's own `figures`."""
    document = {
        "info": results.workspace.info,
        "settings": results.options.as_json(),
        "servers": [s.as_json() for s in results.servers],
        **figures,
    }
    results.workspace.keep(results.options.output, report, json.dumps(document, indent=2))
