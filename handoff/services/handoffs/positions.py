"""Queue positions for waiting visitors, published when they change, coalesced.

Use cases mark a pool dirty when an outcome may have moved its queue; a background
task publishes at most every `routing.position_interval_seconds`, for each dirty
pool, only the positions that changed since it last published them, from one
`engine.queue_positions(pool)` read. A burst of a hundred arrivals costs one read
per pool, not a hundred recomputations of every position; the estimated wait that goes
with each position is one read of the pool's recent waits per publication.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from handoff.background import Loop
from handoff.domain import Pool
from handoff.events import QueuePosition
from handoff.realtime import EventBus, conversation_channel
from handoff.routing.engine import RoutingEngine
from handoff.services.handoffs.waits import estimated_wait

log = logging.getLogger(__name__)


class PositionPublisher:
    def __init__(
        self,
        engine: RoutingEngine,
        bus: EventBus,
        interval_seconds: float,
        typical_wait: Callable[[Pool], Awaitable[float | None]] | None = None,
    ) -> None:
        self._engine = engine
        self._typical_wait = typical_wait
        self._bus = bus
        self._dirty: set[Pool] = set()
        self._published: dict[Pool, dict[str, int]] = {pool: {} for pool in Pool}
        self._loop = Loop("relais-queue-positions", self.flush, interval_seconds, on_wake=True)

    def mark_dirty(self, pool: Pool | None = None) -> None:
        """The queue of `pool` (None: of every pool) may have moved."""
        self._dirty.update(Pool if pool is None else (pool,))
        self._loop.wake()

    async def flush(self) -> int:
        """Publish the changed positions of the dirty pools now; return how many."""
        pools, self._dirty = self._dirty, set()
        sent = 0
        for pool in sorted(pools):
            before = self._published[pool]
            try:
                positions = await self._engine.queue_positions(pool)
                moved = {cid: position for cid, position in positions.items() if before.get(cid) != position}
                typical = await self._typical_wait(pool) if moved and self._typical_wait else None
            except Exception:
                self._dirty.update(pools)  # tried again at the next tick
                raise
            for conversation_id, position in moved.items():
                await self._bus.publish(
                    conversation_channel(conversation_id),
                    QueuePosition(conversation_id, position, estimated_wait(typical, position)),
                )
                sent += 1
            self._published[pool] = positions
        return sent

    def start(self) -> None:
        self._loop.start()

    async def stop(self) -> None:
        await self._loop.stop()
