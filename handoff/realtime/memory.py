"""In-process event bus: the embedded default, for a single service instance."""

from __future__ import annotations

from handoff.realtime.bus import Event, EventBus, Subscription
from handoff.realtime.fanout import Fanout


class MemoryBus(EventBus):
    def __init__(self) -> None:
        self._fanout = Fanout()

    async def publish(self, channel: str, event: Event) -> None:
        self._fanout.deliver(channel, event)

    async def subscribe(self, *channels: str) -> Subscription:
        subscription = self._fanout.new_subscription()
        await subscription.add(*channels)
        return subscription
