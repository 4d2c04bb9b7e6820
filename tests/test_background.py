"""Background loops stop, even when a step swallows its cancellation (as redis-py's
asyncio client sometimes does), and a failing step does not end the loop."""

from __future__ import annotations

import asyncio
import contextlib

from handoff.background import Loop


async def test_a_loop_whose_step_swallows_cancellation_still_stops() -> None:
    steps = 0
    entered = asyncio.Event()

    async def stubborn() -> None:
        nonlocal steps
        steps += 1
        entered.set()
        with contextlib.suppress(asyncio.CancelledError):  # swallowed, as a buggy client library would
            await asyncio.sleep(0.05)

    loop = Loop("stubborn", stubborn, interval=0.01)
    loop.start()
    await asyncio.wait_for(entered.wait(), 30)
    await asyncio.wait_for(loop.stop(), 30)  # returns: the stop flag ends the loop
    after = steps
    await asyncio.sleep(0.1)
    assert steps == after  # nothing runs after stop


async def test_a_failing_step_is_logged_and_the_loop_goes_on() -> None:
    calls = 0
    twice = asyncio.Event()

    async def flaky() -> None:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("one bad sweep")
        twice.set()

    loop = Loop("flaky", flaky, interval=0.01)
    loop.start()
    await asyncio.wait_for(twice.wait(), 30)
    await loop.stop()
    assert calls >= 2


async def test_a_woken_loop_runs_its_step_once_per_wake_and_stops_while_idle() -> None:
    ran = asyncio.Queue[int]()
    count = 0

    async def step() -> None:
        nonlocal count
        count += 1
        await ran.put(count)

    loop = Loop("woken", step, interval=0.0, on_wake=True)
    loop.start()
    await asyncio.sleep(0.05)
    assert ran.empty()  # nothing until woken
    loop.wake()
    assert await asyncio.wait_for(ran.get(), 30) == 1
    await asyncio.wait_for(loop.stop(), 30)  # idle, waiting for a wake: stops at once
