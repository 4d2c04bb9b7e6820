"""The one primitive a routing backend offers: an atomic read-modify-write of the state.

`update(change)` runs `change` on a private copy of the current `RoutingState`
and commits the copy only if `change` returns normally; if it raises, nothing is
written and the exception propagates. A backend shared between processes may run
`change` more than once (optimistic concurrency: the state moved under it, so it
is retried on the new state); `change` must therefore be a pure, synchronous
function of the state it is given, with no effects outside it. Its return value
(the outcomes of the operation) is the one of the attempt that committed.

The engine only ever talks to this interface, so it never knows which backend it
has: in-memory (`memory.py`) or Redis (`redis.py`).
"""

from __future__ import annotations

import abc
from collections.abc import Callable
from typing import TypeVar

from handoff.routing.state import RoutingState

T = TypeVar("T")


class RoutingBackend(abc.ABC):
    """Atomic storage of the live routing state."""

    async def start(self) -> None:  # noqa: B027 - optional hook, nothing to do by default
        """Connect; called once before any other method."""

    async def close(self) -> None:  # noqa: B027 - optional hook, nothing to do by default
        """Release connections; the state itself is kept (Redis) or dropped (memory)."""

    @abc.abstractmethod
    async def read(self) -> RoutingState:
        """A consistent snapshot of the state (a copy: changing it changes nothing)."""

    @abc.abstractmethod
    async def update(self, change: Callable[[RoutingState], T]) -> T:
        """Apply `change` atomically (see the module docstring) and return its result."""
