"""The bot on a leash: the kill switch and the per-intent switches (docs/bot.md).

`BotSwitch` is the state an admin sets: whether the bot answers at all, and the
intents it hands off instead of answering. It lives in memory with the memory
backend (one instance) and in Redis, under `{redis_prefix}bot:switch`, with the
Redis backend, where it outlives restarts. A change is written first, then
announced on the bus (`bot` channel, `BotSwitched`); every instance keeps the
state in memory and reads it again from Redis when told, so a visitor's turn
reads it without a round trip and no instance polls. Reading it again (rather
than trusting the announcement) keeps two admins' concurrent changes from
leaving instances on different states: the last write wins everywhere.
"""

from __future__ import annotations

import abc
import asyncio
import json
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import redis.asyncio as aioredis

from handoff.background import finish
from handoff.domain import InvalidInput
from handoff.events import BotSwitched
from handoff.realtime import BOT_CHANNEL, EventBus, Subscription
from handoff.redis_client import connect
from handoff.unavailable import unavailable_dependency

log = logging.getLogger(__name__)
INTENT_NAME = re.compile(r"^[A-Za-z0-9_\-]{1,64}$")
MAX_DISABLED_INTENTS = 200
REDIS_KEY = "bot:switch"


@dataclass(frozen=True, slots=True)
class BotSwitch:
    """Whether the bot answers, and which intents it hands off instead of answering."""

    enabled: bool = True
    disabled_intents: frozenset[str] = field(default_factory=frozenset)

    def answers(self, intent: str | None) -> bool:
        """Whether the bot's replies to a message read as `intent` may reach the visitor."""
        return self.enabled and (intent is None or intent not in self.disabled_intents)

    def to_json(self) -> dict[str, Any]:
        return {"enabled": self.enabled, "disabled_intents": sorted(self.disabled_intents)}

    @classmethod
    def from_json(cls, data: Any) -> BotSwitch:
        """The switch `data` describes; InvalidInput (naming the field) when it is not one."""
        if not isinstance(data, dict):
            raise InvalidInput("body must be a JSON object")
        enabled = data.get("enabled", True)
        if not isinstance(enabled, bool):
            raise InvalidInput("enabled must be true or false", field="enabled")
        return cls(enabled, intents(data.get("disabled_intents", [])))


def intents(value: Any) -> frozenset[str]:
    """A validated set of intent names (a list of short names of letters, digits, `_`, `-`)."""
    if not isinstance(value, list) or len(value) > MAX_DISABLED_INTENTS:
        raise InvalidInput(f"disabled_intents must be a list of at most {MAX_DISABLED_INTENTS} intent names",
                           field="disabled_intents")
    for name in value:
        if not isinstance(name, str) or not INTENT_NAME.match(name):
            raise InvalidInput(f"not an intent name: {str(name)[:70]!r}", field="disabled_intents")
    return frozenset(value)


class SwitchStore(abc.ABC):
    """Where the switch is kept."""

    @abc.abstractmethod
    async def load(self) -> BotSwitch: ...

    @abc.abstractmethod
    async def save(self, switch: BotSwitch) -> None: ...

    async def start(self) -> None:  # noqa: B027 - optional hook
        """Connect."""

    async def close(self) -> None:  # noqa: B027 - optional hook
        """Disconnect."""


class MemorySwitchStore(SwitchStore):
    def __init__(self) -> None:
        self._switch = BotSwitch()

    async def load(self) -> BotSwitch:
        return self._switch

    async def save(self, switch: BotSwitch) -> None:
        self._switch = switch


class RedisSwitchStore(SwitchStore):
    """One JSON value under `key`; absent means the default (the bot answers everything)."""

    def __init__(self, url: str, key: str) -> None:
        self._url = url
        self._key = key
        self._redis: aioredis.Redis | None = None

    @property
    def redis(self) -> aioredis.Redis:
        assert self._redis is not None, "RedisSwitchStore.start() was not called"
        return self._redis

    async def start(self) -> None:
        self._redis = connect(self._url)

    async def close(self) -> None:
        if self._redis is not None:
            await self._redis.aclose()

    async def load(self) -> BotSwitch:
        raw = await self.redis.get(self._key)
        if raw is None:
            return BotSwitch()
        try:
            return BotSwitch.from_json(json.loads(raw))
        except (ValueError, InvalidInput):
            log.error("bot switch: unreadable value under %s; the bot is kept off until an admin sets it", self._key)
            return BotSwitch(enabled=False)

    async def save(self, switch: BotSwitch) -> None:
        await self.redis.set(self._key, json.dumps(switch.to_json()))


class BotLeash:
    """This instance's view of the switch, kept current by the bus."""

    def __init__(self, store: SwitchStore, bus: EventBus) -> None:
        self._store = store
        self._bus = bus
        self.current = BotSwitch()
        self._subscription: Subscription | None = None
        self._listener: asyncio.Task[None] | None = None

    async def start(self) -> None:
        # Subscribed before reading: a change made in between is announced after it.
        self._subscription = await self._bus.subscribe(BOT_CHANNEL)
        self.current = await self._store.load()
        self._listener = asyncio.create_task(self._listen(self._subscription), name="relais-bot-switch")

    async def close(self) -> None:
        if self._subscription is not None:
            await self._subscription.close()
        if self._listener is not None:
            await finish(self._listener)

    async def stored(self) -> BotSwitch:
        """The switch as stored now (what every instance reads when told)."""
        return await self._store.load()

    async def set(self, switch: BotSwitch) -> BotSwitch:
        """Store the switch and tell every instance (this one at once)."""
        await self._store.save(switch)
        self.current = switch
        await self._bus.publish(BOT_CHANNEL, BotSwitched(switch.enabled, sorted(switch.disabled_intents)))
        log.warning("bot switch set: %s", switch.to_json())
        return switch

    async def change(self, *, enabled: bool | None = None, disabled_intents: frozenset[str] | None = None,
                     disable: Iterable[str] = (), enable: Iterable[str] = ()) -> BotSwitch:
        """Change part of the switch; what is not given stays as stored now."""
        now = await self.stored()
        disabled = now.disabled_intents if disabled_intents is None else disabled_intents
        disabled = (disabled | frozenset(disable)) - frozenset(enable)
        return await self.set(BotSwitch(now.enabled if enabled is None else enabled, disabled))

    async def _listen(self, subscription: Subscription) -> None:
        async for event in subscription:
            if not isinstance(event, BotSwitched):
                continue
            try:
                self.current = await self._store.load()
            except Exception as exc:
                # Redis went away after announcing: the announcement is the newest state known.
                log.warning("bot switch: could not read it again (%s); using the announced one",
                            unavailable_dependency(exc) or repr(exc))
                self.current = BotSwitch(event.enabled, frozenset(event.disabled_intents))
