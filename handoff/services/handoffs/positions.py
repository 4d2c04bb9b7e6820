"""Queue positions for waiting visitors, published when they change, coalesced.

Use cases mark a pool dirty when an outcome may have moved its queue; a background
task publishes at most every `routing.position_interval_seconds`, for each dirty
pool, only the positions that changed since it last published them, from one
`engine.queue_positions(pool)` read. A burst of a hundred arrivals costs one read
per pool, not a hundred recomputations of every position.
"""

from __future__ import annotations

import logging

from handoff.background import Loop
from handoff.domain import Pool
from handoff.events import QueuePosition
from handoff.realtime import EventBus, conversation_channel
from handoff.routing.engine import RoutingEngine

log = logging.getLogger(__name__)


class PositionPublisher:
    def __init__(self, engine: RoutingEngine, bus: EventBus, interval_seconds: float) -> None:
        self._engine = engine
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
            try:
                positions = await self._engine.queue_positions(pool)
            except Exception:
                self._dirty.update(pools)  # tried again at the next tick
                raise
            before = self._published[pool]
            for conversation_id, position in positions.items():
                if before.get(conversation_id) != position:
                    await self._bus.publish(
                        conversation_channel(conversation_id), QueuePosition(conversation_id, position)
                    )
                    sent += 1
            self._published[pool] = positions
        return sent

    def start(self) -> None:
        self._loop.start()

    async def stop(self) -> None:
        await self._loop.stop()
