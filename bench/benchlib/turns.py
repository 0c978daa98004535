"""The servers take turns: a warm-up of each, then the measured runs in an interleaved plan, so slow
drift of a noisy machine hits them alike."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import TypeVar

from .common import BenchError, log
from .formats import fmt_mib
from .machine import load_average
from .running import stop_everything
from .servers import BenchServer

Case = TypeVar("Case")


def warm_up(
    servers: list[BenchServer], seconds: int, warm: Callable[[BenchServer], None], label_width: int
) -> None:
    """`warm(server)` for each server (when `seconds`); its idle RSS is read after it."""
    for s in servers:
        if seconds:
            warm(s)
        s.rss_idle_kib = s.rss_kib()
        log(f"warm-up: {s.label:<{label_width}} done, RSS {fmt_mib(s.rss_idle_kib)}")


def turns(plan: Sequence[tuple[Case, BenchServer]], duration: int) -> Iterator[tuple[int, Case, BenchServer]]:
    """The plan's runs numbered from 1, its length and time logged first; a server that died ends the
    run."""
    log(f"load: {len(plan)} wrk runs of {duration} s (about {len(plan) * (duration + 0.3) / 60:.1f} min)")
    for n, (case, server) in enumerate(plan, 1):
        if not server.alive():
            raise BenchError(f"{server.label} died during the load; its log:\n{server.log_tail()}")
        yield n, case, server


def finish_load(servers: list[BenchServer], info: dict[str, str]) -> None:
    """RSS after all the load, the load average at the end; then everything started is stopped."""
    for s in servers:
        s.rss_after_kib = s.rss_kib()
    info["load average (end)"] = load_average()
    stop_everything()
