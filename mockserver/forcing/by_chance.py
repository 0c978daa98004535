"""Simulated bad networks and servers for the whole mock: latency (`--latency 200` or `200-800` ms), an
error rate (`--error-rate 0.1`: that share of requests gets a 5xx the operation declares, its named
example) and a transport-fault rate (`--fault-rate 0.05`: a connection cut mid-answer, a truncated
body or malformed JSON, in equal shares).

One random generator, seeded with `--chaos-seed` (the data seed by default), draws for each request
in the order requests arrive: the same seed gives the same sequence of delays, errors and faults. A
request a rule or a `Prefer` already answered draws nothing. Registered only when something is on, so
the plain request path pays nothing otherwise.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable
from dataclasses import dataclass

from flask import Response

from mockserver.contract.validation import valid_request
from mockserver.core.channels import ANSWERED_BY_KEY, DELAY_KEY, FAULT_KEY
from mockserver.core.context import current_globals, current_request
from mockserver.core.settings import Settings
from mockserver.forcing.by_rule import MALFORMED
from mockserver.forcing.spec_answers import declared_statuses, spec_answer

FAULTS = ("close", "truncate", "malformed")


def parse_latency(text: str) -> tuple[int, int]:
    """ "200" or "200-800" (milliseconds, up to 60000) as (lowest, highest); ValueError otherwise."""
    low, _, high = text.strip().partition("-")
    bounds = (int(low), int(high or low))
    if not 0 <= bounds[0] <= bounds[1] <= 60_000:
        raise ValueError(f"{text!r} is not N or N-M milliseconds with 0 <= N <= M <= 60000")
    return bounds


@dataclass
class Draw:
    delay: float
    error: bool
    fault: str | None


class Chaos:
    def __init__(
        self, latency: tuple[int, int] | None, error_rate: float, fault_rate: float, seed: int
    ) -> None:
        self.latency = latency
        self.error_rate = error_rate
        self.fault_rate = fault_rate
        self._random = random.Random(seed)
        self._lock = threading.Lock()

    def draw(self) -> Draw:
        """This request's delay, error and fault; three draws each time, so sequences stay aligned."""
        with self._lock:
            spread, error, fault = self._random.random(), self._random.random(), self._random.random()
            kind = self._random.choice(FAULTS)
        delay = 0.0
        if self.latency is not None:
            low, high = self.latency
            delay = (low + spread * (high - low)) / 1000
        return Draw(delay, error < self.error_rate, kind if fault < self.fault_rate else None)


def apply_chaos(chaos: Chaos) -> Response | None:
    request = current_request()
    g = current_globals()
    if "valid_request" not in g or ANSWERED_BY_KEY in request.environ or request.path.startswith("/__admin"):
        return None
    drawn = chaos.draw()
    environ = request.environ
    if drawn.delay:
        environ[DELAY_KEY] = drawn.delay
    if drawn.fault is not None:
        environ[ANSWERED_BY_KEY] = f"simulated {drawn.fault}"
        g.contract_violation = True
        if drawn.fault == "malformed":
            return Response(MALFORMED, status=200, mimetype="application/json")
        environ[FAULT_KEY] = drawn.fault
        return None
    if drawn.error:
        operation = valid_request().operation
        errors = [code for code in declared_statuses(operation) if code.startswith("5")]
        if errors:
            environ[ANSWERED_BY_KEY] = "simulated error"
            return spec_answer(operation, int(errors[0]))
    return None


def chaos_hook(settings: Settings) -> Callable[[], Response | None] | None:
    """The before-request hook that draws latency, errors and faults; None when none is asked for."""
    latency = parse_latency(settings.latency) if settings.latency else None
    if latency is None and not settings.error_rate and not settings.fault_rate:
        return None
    seed = settings.seed if settings.chaos_seed is None else settings.chaos_seed
    chaos = Chaos(latency, settings.error_rate, settings.fault_rate, seed)
    return lambda: apply_chaos(chaos)
