"""Visitors' queue positions: published when they change, coalesced, from one read per pool."""

from __future__ import annotations

import asyncio

from handoff.config import RoutingSettings
from handoff.domain import Pool, Presence
from handoff.events import QueuePosition
from handoff.realtime import conversation_channel
from handoff.realtime.memory import MemoryBus
from handoff.routing.engine import RoutingEngine
from handoff.routing.memory import MemoryRoutingBackend
from handoff.services.handoffs.positions import PositionPublisher
from tests.support.bus import delivered

T0 = 1_000_000.0


class CountingEngine(RoutingEngine):
    """The real engine, counting how often positions are read."""

    reads = 0

    async def queue_positions(self, pool: Pool | None = None, *, brand: str = "default") -> dict[str, int]:
        self.reads += 1
        return await super().queue_positions(pool, brand=brand)


async def test_only_changed_positions_are_published_from_one_read_per_dirty_pool() -> None:
    engine = CountingEngine(MemoryRoutingBackend(), RoutingSettings())
    bus = MemoryBus()
    publisher = PositionPublisher(engine, bus, interval_seconds=0.5)
    ids = [f"c{n}" for n in range(5)]
    subscription = await bus.subscribe(*(conversation_channel(cid) for cid in ids))
    for cid in ids:
        await engine.enqueue(cid, Pool.AMBASSADOR, "en", None, T0, reason="r")
        publisher.mark_dirty(Pool.AMBASSADOR)  # a burst of changes …
    assert await publisher.flush() == 5  # … is one read and one event per visitor
    assert engine.reads == 1
    assert await delivered(subscription) == [QueuePosition(cid, n + 1) for n, cid in enumerate(ids)]

    publisher.mark_dirty(Pool.AMBASSADOR)
    assert await publisher.flush() == 0  # nothing moved: nothing said
    assert await publisher.flush() == 0 and engine.reads == 2  # nothing dirty: nothing read

    await engine.register_agent("a", Pool.AMBASSADOR, ["en"], [], 1)
    await engine.set_presence("a", Presence.ONLINE, T0)  # c0 is offered: served now, the others move up
    publisher.mark_dirty(None)
    await publisher.flush()
    # c0 stays number 1 (not told again); each of the others moves up by one.
    assert await delivered(subscription) == [QueuePosition(cid, n) for n, cid in enumerate(ids[1:], start=1)]
    assert engine.reads == 4  # one per pool marked


async def test_the_background_task_coalesces_a_burst() -> None:
    engine = CountingEngine(MemoryRoutingBackend(), RoutingSettings())
    bus = MemoryBus()
    publisher = PositionPublisher(engine, bus, interval_seconds=0.3)
    subscription = await bus.subscribe(conversation_channel("c49"))
    publisher.start()
    try:
        for n in range(50):
            await engine.enqueue(f"c{n}", Pool.ADVISOR, "en", None, T0, reason="r")
            publisher.mark_dirty(Pool.ADVISOR)
        assert await asyncio.wait_for(anext(aiter(subscription)), timeout=5) == QueuePosition("c49", 50)
        assert engine.reads <= 2  # the first mark, then at most one more for the rest of the burst
    finally:
        await publisher.stop()
