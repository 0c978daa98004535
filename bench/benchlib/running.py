"""Run a bench command so that every process and server it started is stopped on any exit: its normal
end, an error, Ctrl-C, SIGTERM, SIGHUP, or the interpreter exiting."""

from __future__ import annotations

import atexit
import signal
from collections.abc import Callable
from types import FrameType
from typing import Protocol, TypeVar

from .common import BenchError, log


class Stoppable(Protocol):
    def stop(self) -> object: ...


S = TypeVar("S", bound=Stoppable)
RUNNING: list[Stoppable] = []
"""What runs now, in the order it started; stopped last first."""


def started(thing: S) -> S:
    """Register something just started, to be stopped on every exit; returns it."""
    RUNNING.append(thing)
    return thing


def forget(thing: Stoppable) -> None:
    """`thing` was stopped by its owner: nothing to do for it at exit."""
    if thing in RUNNING:
        RUNNING.remove(thing)


def stop(thing: Stoppable) -> None:
    forget(thing)
    thing.stop()


def stop_everything() -> None:
    while RUNNING:
        RUNNING.pop().stop()


def _interrupt(signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def run_command(name: str, main: Callable[[], int], interrupted: int = 130) -> int:
    """`main()` with everything it started stopped on any exit; a BenchError is printed as
    `NAME: error: MESSAGE` (exit code 2), an interruption as `NAME: interrupted` (`interrupted`)."""
    atexit.register(stop_everything)
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGHUP, _interrupt)
    try:
        return main()
    except BenchError as exc:
        log(f"{name}: error: {exc}")
        return 2
    except KeyboardInterrupt:
        log(f"{name}: interrupted")
        return interrupted
    finally:
        stop_everything()
