"""Background loops of a running instance (routing timers, queue positions) that
always stop.

A loop is stopped by an event it checks, not only by cancellation: a client library
that swallows a `CancelledError` (redis-py's asyncio client does, now and then)
would otherwise keep a cancelled loop running and hang the shutdown. `stop()`
waits a bounded time, cancels as a last resort, and never waits forever.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

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
            except Exception:
                log.exception("%s: a step failed", self.name)
            await self._pause(self._stopping, self._interval)

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
