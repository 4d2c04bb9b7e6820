"""What a routing backend offers: atomic changes of one brand's state, and reads.

`run(brand, settings, operation)` gives `operation` a fresh `Change` (see
`change.py`), awaits it, and commits what it wrote atomically — or nothing when
it raises. A backend shared between processes may run `operation` more than once
(another instance committed a change to an entity it read), so an operation has
no effect outside its `Change`; its result is the one of the attempt that
committed. Reads outside `run` see committed state only.

Heartbeats are the exception that keeps them cheap: `heartbeat()` records a
time apart from the agent (an expiring key on Redis), read by the sweep when the
agent's heartbeat timer is due; it never rewrites shared state.

The engine only ever talks to this interface, so it never knows which backend it
has: in-memory (`memory.py`) or Redis (`redis.py`).
"""

from __future__ import annotations

import abc
from collections.abc import Awaitable, Callable
from typing import TypeVar

from handoff.config import RoutingSettings
from handoff.routing.change import Change, Scored
from handoff.routing.state import AgentState, RoutingState, Ticket

T = TypeVar("T")
Operation = Callable[[Change], Awaitable[T]]


class RoutingBackend(abc.ABC):
    """Atomic storage of the live routing state, one brand at a time."""

    async def start(self) -> None:  # noqa: B027 - optional hook, nothing to do by default
        """Connect; called once before any other method."""

    async def close(self) -> None:  # noqa: B027 - optional hook, nothing to do by default
        """Release connections; the state itself is kept (Redis) or dropped (memory)."""

    async def state_lost(self) -> bool:
        """True when the shared state vanished since it was last restored (a Redis
        restarted empty or flushed): the caller gives it back from the store, then
        calls `mark_restored()`. Never true in memory, where the state lives as long
        as the process."""
        return False

    async def mark_restored(self) -> None:  # noqa: B027 - optional hook, nothing to do by default
        """Record that the state holds what the store knows (after `restore`)."""

    @abc.abstractmethod
    async def run(self, brand: str, settings: RoutingSettings, operation: Operation[T]) -> T:
        """Run `operation` on a new change of `brand`'s state and commit it atomically."""

    # --- which brand an agent or a conversation belongs to ------------------------------

    @abc.abstractmethod
    async def remember_brand(self, *, agent_id: str | None = None, conversation_id: str | None = None,
                             brand: str) -> None:
        """Record the brand of a new agent or conversation (before its first change)."""

    @abc.abstractmethod
    async def brand_of(self, *, agent_id: str | None = None, conversation_id: str | None = None) -> str | None:
        """The brand recorded for this agent or conversation, None if unknown."""

    @abc.abstractmethod
    async def brands(self) -> list[str]:
        """Every brand that has agents or conversations."""

    # --- heartbeats -----------------------------------------------------------------------

    @abc.abstractmethod
    async def heartbeat(self, agent_id: str, now: float, ttl: float) -> None:
        """Record that the agent's console is alive at `now` (forgotten after `ttl` s)."""

    # --- committed reads ------------------------------------------------------------------

    @abc.abstractmethod
    async def agents(self, brand: str, agent_ids: list[str] | None = None) -> list[AgentState]:
        """These agents of the brand (all of them when None), unknown ones left out."""

    @abc.abstractmethod
    async def tickets(self, brand: str, conversation_ids: list[str]) -> list[Ticket]:
        """These waiting tickets, in the order asked, unknown ones left out."""

    @abc.abstractmethod
    async def members(self, brand: str, key: str, count: int | None = None,
                      *, max_score: float | None = None) -> list[Scored]:
        """The first members of an index (all when `count` is None), in order; with
        `max_score`, only those scored at most that."""

    @abc.abstractmethod
    async def rank(self, brand: str, key: str, member: str) -> int | None:
        """0-based rank of `member` in the index `key`, None if absent."""

    @abc.abstractmethod
    async def snapshot(self, brand: str) -> RoutingState:
        """Everything of the brand at once — O(everything): tests and tools only."""
