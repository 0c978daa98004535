"""One thread that runs callbacks when their time is up.

The proxy gives an upstream call one deadline for its whole answer (connecting, headers and body).
A socket time-out cannot do that: it bounds each read, so an upstream that sends one byte every
second never trips it. At the deadline the callback shuts the upstream socket down, which ends
whatever read is waiting on it, however the bytes trickle. One thread serves every deadline.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import threading
import time
from collections.abc import Callable


class Timer:
    """A callback due at `when` (time.monotonic()); `cancel` before then and it never runs."""

    __slots__ = ("callback", "cancelled", "fired", "when")

    def __init__(self, when: float, callback: Callable[[], None]) -> None:
        self.when = when
        self.callback = callback
        self.cancelled = False
        self.fired = False

    def cancel(self) -> None:
        self.cancelled = True


class Deadlines:
    """Timers on one daemon thread, started on first use."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, Timer]] = []
        self._order = itertools.count()
        self._wake = threading.Condition()
        self._thread: threading.Thread | None = None

    def call_later(self, seconds: float, callback: Callable[[], None]) -> Timer:
        timer = Timer(time.monotonic() + seconds, callback)
        with self._wake:
            heapq.heappush(self._heap, (timer.when, next(self._order), timer))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="mockserver-deadlines", daemon=True)
                self._thread.start()
            self._wake.notify()
        return timer

    def _run(self) -> None:
        while True:
            timer = self._next_due()
            if not timer.cancelled:
                timer.fired = True
                with contextlib.suppress(Exception):  # one callback's failure must not stop the others
                    timer.callback()

    def _next_due(self) -> Timer:
        with self._wake:
            while True:
                while self._heap and self._heap[0][2].cancelled:
                    heapq.heappop(self._heap)
                wait = self._heap[0][0] - time.monotonic() if self._heap else None
                if wait is not None and wait <= 0:
                    return heapq.heappop(self._heap)[2]
                self._wake.wait(wait)


DEADLINES = Deadlines()
