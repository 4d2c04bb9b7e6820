"""In-process fan-out of events to local subscriptions; shared by both bus backends.

Each subscription owns a bounded queue. A subscriber that falls too far behind is
closed rather than allowed to grow memory without bound: its client reconnects and
catches up from the store, which holds every committed event anyway.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable

from handoff.realtime.bus import Event, Subscription

QUEUE_LIMIT = 1000
_CLOSED = object()  # ends a subscription's feed

ChannelHook = Callable[[str], Awaitable[None]]


async def _no_hook(channel: str) -> None:
    return None


class LocalSubscription(Subscription):
    def __init__(self, fanout: Fanout) -> None:
        self._fanout = fanout
        self._queue: asyncio.Queue[Event | object] = asyncio.Queue()
        self.channels: set[str] = set()
        self.closed = False

    async def add(self, *channels: str) -> None:
        new = [c for c in channels if c not in self.channels]
        self.channels.update(new)
        for channel in new:
            await self._fanout.attach(channel, self)

    async def remove(self, *channels: str) -> None:
        gone = [c for c in channels if c in self.channels]
        self.channels.difference_update(gone)
        for channel in gone:
            await self._fanout.detach(channel, self)

    def deliver(self, event: Event) -> None:
        if self.closed:
            return
        if self._queue.qsize() >= QUEUE_LIMIT:
            # Too slow: end the feed; the client resumes from the store.
            self.closed = True
            self._queue.put_nowait(_CLOSED)
            return
        self._queue.put_nowait(event)

    async def __anext__(self) -> Event:
        if self.closed and self._queue.empty():
            raise StopAsyncIteration
        event = await self._queue.get()
        if not isinstance(event, Event):
            raise StopAsyncIteration
        return event

    def __aiter__(self) -> AsyncIterator[Event]:
        return self

    async def close(self) -> None:
        if not self.closed:
            self.closed = True
            self._queue.put_nowait(_CLOSED)
        await self.remove(*list(self.channels))


class Fanout:
    """Maps channels to local subscriptions; hooks run when a channel gains its first
    or loses its last local subscriber (the Redis bus (un)subscribes there)."""

    def __init__(self, on_first: ChannelHook = _no_hook, on_last: ChannelHook = _no_hook) -> None:
        self._subscribers: defaultdict[str, set[LocalSubscription]] = defaultdict(set)
        self._ready: dict[str, asyncio.Task[None]] = {}
        self._on_first = on_first
        self._on_last = on_last

    def new_subscription(self) -> LocalSubscription:
        return LocalSubscription(self)

    async def attach(self, channel: str, subscription: LocalSubscription) -> None:
        ready = self._ready.get(channel)
        if not self._subscribers[channel] or ready is None or _failed(ready):
            # First subscriber, or the first one's hook failed (Redis was down): try again.
            self._ready[channel] = asyncio.ensure_future(self._on_first(channel))
        self._subscribers[channel].add(subscription)
        # Every subscriber, not only the first, waits until the channel is live.
        await asyncio.shield(self._ready[channel])

    async def detach(self, channel: str, subscription: LocalSubscription) -> None:
        subscribers = self._subscribers.get(channel)
        if not subscribers:
            return
        subscribers.discard(subscription)
        if not subscribers:
            del self._subscribers[channel]
            self._ready.pop(channel, None)
            await self._on_last(channel)

    def deliver(self, channel: str, event: Event) -> None:
        for subscription in list(self._subscribers.get(channel, ())):
            subscription.deliver(event)

    def channels(self) -> list[str]:
        return list(self._subscribers)


def _failed(task: asyncio.Future[None]) -> bool:
    return task.done() and (task.cancelled() or task.exception() is not None)
