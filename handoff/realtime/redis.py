"""Redis pub/sub event bus: relays events between service instances.

One Redis connection per process listens for every channel that has at least one
local subscriber; events fan out locally from there. `subscribe()` returns only
once Redis has confirmed the subscription, so a caller that subscribes and then
reads the store cannot miss an event committed in between.

While Redis is unreachable the bus degrades instead of failing its callers: a
publish is dropped (what it told is committed in the store, and clients catch up
from there when they reconnect), the listener keeps trying, and redis-py's
pub/sub connection, once it reconnects, subscribes again to every channel it had,
so open sockets receive events again without reconnecting. Each outage is logged
once, when it starts, and once when it ends.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import redis.asyncio as aioredis
import redis.exceptions

from handoff.background import finish
from handoff.events import event_from_json
from handoff.realtime.bus import Event, EventBus, Subscription
from handoff.realtime.fanout import Fanout
from handoff.redis_client import connect

log = logging.getLogger(__name__)


class RedisBus(EventBus):
    def __init__(self, url: str, *, prefix: str = "relais:bus:") -> None:
        self._url = url
        self._prefix = prefix
        self._redis: aioredis.Redis | None = None
        self._pubsub: Any = None
        self._listener: asyncio.Task[None] | None = None
        self._closing = False
        self._confirmations: dict[str, asyncio.Future[None]] = {}
        self._lock = asyncio.Lock()
        self._fanout = Fanout(on_first=self._redis_subscribe, on_last=self._redis_unsubscribe)
        self._down: set[str] = set()  # what is failing now ("publish", "listen"): logged once per outage

    async def start(self) -> None:
        self._redis = connect(self._url)
        await self._redis.ping()
        self._pubsub = self._redis.pubsub()
        # A pub/sub connection needs one subscription before it can be read.
        await self._redis_subscribe(self._prefix + "__keepalive__", local=False)
        self._listener = asyncio.create_task(self._listen(), name="relais-redis-bus")

    async def close(self) -> None:
        # A flag, not only a cancellation: redis-py may swallow the CancelledError of a
        # read, and the loop then notices the flag within its 1-s read timeout.
        self._closing = True
        if self._listener is not None:
            await finish(self._listener)
        if self._pubsub is not None:
            await self._pubsub.aclose()
        if self._redis is not None:
            await self._redis.aclose()

    async def publish(self, channel: str, event: Event) -> None:
        assert self._redis is not None, "RedisBus.start() was not called"
        try:
            await self._redis.publish(self._prefix + channel, json.dumps(event.to_json()))
        except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError) as exc:
            self._outage("publish", exc)  # dropped: the store holds what it told
            return
        self._recovered("publish")

    async def subscribe(self, *channels: str) -> Subscription:
        subscription = self._fanout.new_subscription()
        await subscription.add(*channels)
        return subscription

    async def _redis_subscribe(self, channel: str, *, local: bool = True) -> None:
        name = self._prefix + channel if local else channel
        confirmed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._confirmations[name] = confirmed
        async with self._lock:
            await self._pubsub.subscribe(name)
        if self._listener is None:
            # Before the listener runs (start-up), read the confirmation ourselves.
            await self._pubsub.get_message(timeout=5)
            confirmed.set_result(None)
        await asyncio.wait_for(confirmed, timeout=5)

    async def _redis_unsubscribe(self, channel: str) -> None:
        async with self._lock:
            try:
                await self._pubsub.unsubscribe(self._prefix + channel)
            except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError) as exc:
                # Still listed by redis-py: subscribed again on reconnect, its events then dropped.
                self._outage("unsubscribe", exc)

    def _outage(self, what: str, exc: Exception) -> None:
        if what not in self._down:
            self._down.add(what)
            log.warning("redis bus: %s failed, Redis unreachable (%s); degrading until it is back", what, exc)

    def _recovered(self, what: str) -> None:
        if what in self._down:
            self._down.discard(what)
            log.warning("redis bus: %s works again", what)

    async def _listen(self) -> None:
        while not self._closing:
            try:
                message = await self._pubsub.get_message(timeout=1.0)
            except asyncio.CancelledError:
                raise
            except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError) as exc:
                # redis-py reconnects on a later read and subscribes again to every channel.
                self._outage("listen", exc)
                await asyncio.sleep(0.5)
                continue
            except Exception:
                log.exception("redis bus: read failed; retrying")
                await asyncio.sleep(0.5)
                continue
            self._recovered("listen")
            if message is None:
                continue
            self._handle(message)

    def _handle(self, message: dict[str, Any]) -> None:
        name = message["channel"]
        name = name.decode() if isinstance(name, bytes) else name
        if message["type"] == "subscribe":
            future = self._confirmations.pop(name, None)
            if future is not None and not future.done():
                future.set_result(None)
            return
        if message["type"] != "message" or not name.startswith(self._prefix):
            return
        try:
            event = event_from_json(json.loads(message["data"]))
        except (TypeError, ValueError):
            log.warning("redis bus: dropped a malformed event on %s", name)
            return
        self._fanout.deliver(name[len(self._prefix) :], event)
