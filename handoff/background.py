"""Background loops of a running instance (routing timers, queue positions) that
always stop.

A loop is stopped by an event it checks, not only by cancellation: a client library
that swallows a `CancelledError` (redis-py's asyncio client does, now and then)
would otherwise keep a cancelled loop running and hang the shutdown. `stop()`
waits a bounded time, cancels as a last resort, and never waits forever.

A loop outlives its dependencies' outages: while the database or Redis is
unreachable (`handoff.unavailable`) its steps fail; the first failure is logged as
one line, the next ones are not, and the first step that succeeds again logs the
recovery. A loop run on wake-ups tries a failed step again after its interval
without waiting for another wake-up.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from handoff.unavailable import describe, unavailable_dependency

log = logging.getLogger(__name__)
STOP_TIMEOUT_SECONDS = 5.0


class Loop:
    """Runs `step` every `interval` seconds (or as soon as `wake()` is called, when
    `on_wake` is set) until `stop()`; an exception in a step is logged, not fatal."""

    def __init__(self, name: str, step: Callable[[], Awaitable[object]], interval: float,
                 *, on_wake: bool = False) -> None:
        self.name = name
        self._step = step
        self._interval = interval
        self._on_wake = on_wake
        self._stopping = asyncio.Event()
        self._woken = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._failing = 0  # steps failed in a row because a dependency was unreachable

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=self.name)

    def wake(self) -> None:
        self._woken.set()

    async def _pause(self, event: asyncio.Event, seconds: float | None) -> None:
        """Until `event` is set, `seconds` pass, or the loop is stopped."""
        waits = {asyncio.ensure_future(event.wait()), asyncio.ensure_future(self._stopping.wait())}
        try:
            await asyncio.wait(waits, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for wait in waits:
                wait.cancel()

    async def _run(self) -> None:
        while not self._stopping.is_set():
            if self._on_wake:
                await self._pause(self._woken, None)
                self._woken.clear()
                if self._stopping.is_set():
                    return
            try:
                await self._step()
            except Exception as exc:
                self._failed(exc)
            else:
                if self._failing:
                    log.warning("%s: recovered (%d steps had failed)", self.name, self._failing)
                    self._failing = 0
            await self._pause(self._stopping, self._interval)

    def _failed(self, exc: Exception) -> None:
        if self._on_wake:
            self._woken.set()  # the work is still to do: try again after the interval
        dependency = unavailable_dependency(exc)
        if dependency is None:
            log.exception("%s: a step failed", self.name)
            return
        if not self._failing:
            log.warning("%s: %s unavailable (%s); retrying every %.1f s", self.name, dependency, describe(exc),
                        self._interval)
        self._failing += 1

    async def stop(self) -> None:
        if self._task is not None:
            self._stopping.set()
            await finish(self._task)


async def finish(task: asyncio.Task[None]) -> None:
    """Wait for a task told to stop (by a flag it checks); cancel it as a last resort;
    never wait more than twice `STOP_TIMEOUT_SECONDS`."""
    timeout = STOP_TIMEOUT_SECONDS
    done, _ = await asyncio.wait({task}, timeout=timeout)
    if not done:
        task.cancel()
        done, _ = await asyncio.wait({task}, timeout=timeout)
    if not done:
        log.warning("%s did not stop within %.0f s; left behind", task.get_name(), 2 * timeout)
        return
    with contextlib.suppress(asyncio.CancelledError):
        exception = task.exception()
        if exception is not None:
            log.error("%s ended with %r", task.get_name(), exception)
