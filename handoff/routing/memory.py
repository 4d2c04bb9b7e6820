"""In-process routing backend: the state lives in this process, guarded by a lock.

One process only (the embedded stack). `change` runs on a copy that replaces the
state once it returns, so a change that raises leaves nothing half done, exactly
as on Redis.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TypeVar

from handoff.routing.backend import RoutingBackend
from handoff.routing.state import RoutingState

T = TypeVar("T")


class MemoryRoutingBackend(RoutingBackend):
    def __init__(self) -> None:
        self._state = RoutingState()
        self._lock = asyncio.Lock()

    async def read(self) -> RoutingState:
        return self._state.copy()

    async def update(self, change: Callable[[RoutingState], T]) -> T:
        async with self._lock:
            draft = self._state.copy()
            result = change(draft)
            self._state = draft
            return result
