"""Who can answer now, per pool, as the widget reads it: `GET /api/availability`, and the
`availability` event pushed to every visitor socket when an agent's presence changes.

The push is computed once per change by the instance where it happened (one read of
the router) and published on the bus's `availability` channel; the sockets only
forward it, so a thousand open widgets cost one computation, not a thousand.
"""

from __future__ import annotations

from collections.abc import Mapping

from handoff.domain import Pool
from handoff.events import AvailabilityChanged, JsonObject
from handoff.realtime import AVAILABILITY_CHANNEL, EventBus
from handoff.routing.engine import RoutingEngine

DEFAULT_MIN_AVAILABLE: Mapping[Pool, int] = {Pool.AMBASSADOR: 1, Pool.ADVISOR: 1}


class Availability:
    def __init__(self, engine: RoutingEngine, bus: EventBus, min_available: Mapping[Pool, int] | None = None) -> None:
        self._engine = engine
        self._bus = bus
        self.min_available = dict(min_available or DEFAULT_MIN_AVAILABLE)

    async def pools(self) -> JsonObject:
        """Per pool: agents online, agents online with room, and whether that is `enough`."""
        counts = await self._engine.availability()
        pools: JsonObject = {}
        for pool in Pool:
            online, available = counts.get(pool, (0, 0))
            pools[pool.value] = {"online": online, "available": available, "enough": available >= self.min_available[pool]}
        return pools

    async def publish(self) -> None:
        """Tell every open widget (presence changed)."""
        await self._bus.publish(AVAILABILITY_CHANNEL, AvailabilityChanged(await self.pools()))
