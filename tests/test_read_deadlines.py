"""`serving.front.ReadDeadlines`: one timer bounds every body read in flight."""

from __future__ import annotations

import asyncio

import pytest

from mockserver.serving.front import ReadDeadlines

pytestmark = pytest.mark.unit


async def read(deadlines: ReadDeadlines, takes: float) -> str:
    """A body read that takes `takes` seconds: "whole" or "timeout", as the front tells them apart."""
    with deadlines.bound() as bounded:
        await asyncio.sleep(takes)
    return "timeout" if bounded.timed_out else "whole"


def test_each_read_gets_its_own_time_from_when_it_began() -> None:
    async def scenario() -> list[tuple[str, float]]:
        deadlines = ReadDeadlines(0.3)
        loop = asyncio.get_running_loop()

        async def timed(delay: float, takes: float) -> tuple[str, float]:
            await asyncio.sleep(delay)
            began = loop.time()
            outcome = await read(deadlines, takes)
            return outcome, loop.time() - began

        results = await asyncio.gather(timed(0, 5), timed(0.1, 5), timed(0.1, 0.1), timed(0.2, 5))
        assert deadlines.reading == {} and deadlines.expired == {} and deadlines.timer is None
        return list(results)

    results = asyncio.run(scenario())
    assert [outcome for outcome, _ in results] == ["timeout", "timeout", "whole", "timeout"]
    for outcome, took in results:
        if outcome == "timeout":  # its own 0.3 s, not sooner, and not held up by the others
            assert 0.29 <= took < 1.0, results
        else:
            assert took < 0.29, results


def test_a_read_that_timed_out_leaves_its_task_free_to_wait_again() -> None:
    """The cancellation the deadline made is taken back: the request goes on (to its 408, a delay…)."""

    async def scenario() -> tuple[str, int, str]:
        deadlines = ReadDeadlines(0.05)
        outcome = await read(deadlines, 5)
        task = asyncio.current_task()
        assert task is not None
        async with asyncio.timeout(1):
            await asyncio.sleep(0.01)
        return outcome, task.cancelling(), "went on"

    assert asyncio.run(scenario()) == ("timeout", 0, "went on")


def test_a_cancellation_from_elsewhere_is_not_taken_for_a_timeout() -> None:
    async def scenario() -> bool:
        deadlines = ReadDeadlines(5)
        reading = asyncio.create_task(read(deadlines, 10))
        await asyncio.sleep(0.01)
        reading.cancel()
        with pytest.raises(asyncio.CancelledError):
            await reading
        return deadlines.reading == {}

    assert asyncio.run(scenario())


def test_a_cancellation_from_elsewhere_at_the_deadline_still_goes_through() -> None:
    """A stop that cancels the request as its read times out is not swallowed as a mere timeout."""

    async def scenario() -> tuple[bool, dict[asyncio.Task[object], int]]:
        deadlines = ReadDeadlines(0.05)
        loop = asyncio.get_running_loop()
        reading = asyncio.create_task(read(deadlines, 10))
        await asyncio.sleep(0)  # the read has begun: its deadline timer is set
        loop.call_at(deadlines.reading[reading][0], reading.cancel)  # the same tick, after the timer
        try:
            await reading
        except asyncio.CancelledError:
            return True, deadlines.expired
        return False, deadlines.expired

    assert asyncio.run(scenario()) == (True, {})
