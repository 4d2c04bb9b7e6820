"""The event bus, in memory and on a real Redis: delivery, isolation, relay between instances."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator

import pytest

from handoff.events import Event, QueuePosition, Typing
from handoff.realtime import EventBus, Subscription
from handoff.realtime.fanout import QUEUE_LIMIT
from handoff.realtime.memory import MemoryBus
from handoff.realtime.redis import RedisBus

REDIS_URL = os.environ.get("TEST_REDIS_URL")
KINDS = ["memory"] + (["redis"] if REDIS_URL else [])


def _at(seq: int) -> QueuePosition:
    return QueuePosition("c", seq)


async def _next(subscription: Subscription, within: float = 30.0) -> Event:
    """The next event; `within` only bounds a broken run."""
    return await asyncio.wait_for(anext(aiter(subscription)), within)


@pytest.fixture(params=KINDS)
async def bus_pair(request: pytest.FixtureRequest) -> AsyncIterator[tuple[EventBus, EventBus]]:
    """Two buses that must behave as one: the same object in memory, two instances on Redis."""
    if request.param == "memory":
        bus = MemoryBus()
        yield bus, bus
        return
    assert REDIS_URL
    prefix = f"test:{uuid.uuid4().hex}:"
    first, second = RedisBus(REDIS_URL, prefix=prefix), RedisBus(REDIS_URL, prefix=prefix)
    await first.start()
    await second.start()
    yield first, second
    await first.close()
    await second.close()


async def test_event_reaches_subscribers_of_its_channel_only(bus_pair: tuple[EventBus, EventBus]) -> None:
    publisher, listener = bus_pair
    mine = await listener.subscribe("conversation:a")
    other = await listener.subscribe("conversation:b")
    await publisher.publish("conversation:a", _at(1))
    await publisher.publish("conversation:b", QueuePosition("marker", 0))  # published after, so delivered after
    assert await _next(mine) == _at(1)
    assert await _next(other) == QueuePosition("marker", 0)  # not the event of conversation:a
    await mine.close()
    await other.close()


async def test_order_is_kept_and_channels_can_be_added_and_removed(bus_pair: tuple[EventBus, EventBus]) -> None:
    publisher, listener = bus_pair
    subscription = await listener.subscribe("agent:1")
    await subscription.add("conversation:x")
    for seq in range(20):
        await publisher.publish("conversation:x", _at(seq))
    assert [await _next(subscription) for _ in range(20)] == [_at(seq) for seq in range(20)]
    await subscription.remove("conversation:x")
    await publisher.publish("conversation:x", _at(99))
    await publisher.publish("agent:1", _at(100))
    assert await _next(subscription) == _at(100)
    await subscription.close()


async def test_closed_subscription_ends_iteration(bus_pair: tuple[EventBus, EventBus]) -> None:
    _, listener = bus_pair
    subscription = await listener.subscribe("agents")
    await subscription.close()
    with pytest.raises(StopAsyncIteration):
        await _next(subscription)


async def test_slow_subscriber_is_cut_off_instead_of_growing_without_bound() -> None:
    bus = MemoryBus()
    slow = await bus.subscribe("agents")
    for n in range(QUEUE_LIMIT + 5):
        await bus.publish("agents", _at(n))
    received = [event async for event in slow]
    assert len(received) < QUEUE_LIMIT + 5
    assert received == [_at(n) for n in range(QUEUE_LIMIT)]


async def test_concurrent_subscribers_on_both_instances_all_receive(
    bus_pair: tuple[EventBus, EventBus],
) -> None:
    subscriptions = await asyncio.gather(*(bus_pair[i % 2].subscribe("conversation:c") for i in range(10)))
    await bus_pair[0].publish("conversation:c", Typing("c", "visitor", True))
    events = await asyncio.gather(*(_next(s) for s in subscriptions))
    assert events == [Typing("c", "visitor", True)] * 10
    for subscription in subscriptions:
        await subscription.close()
