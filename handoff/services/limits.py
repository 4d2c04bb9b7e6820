"""Abuse limits: how often one key (an address, an account, a conversation, a socket) may do one thing.

Counted by the `limits` library over a moving window, in Redis when the backend is
Redis (so every instance shares the counters; keys under `<redis_prefix>limits:`),
in memory otherwise. The limits themselves are settings (`config.LimitSettings`);
one of several tiers ("5/minute;20/hour") exceeded is enough to refuse, and the
refusal says how long until the oldest counted attempt leaves the window, and comes
after `refusal_delay_seconds` (a tarpit: a flooding client is slowed at no CPU cost). Callers
count before they act, so an attempt over a limit changes nothing. A socket's
frames are always counted in this process's memory: a socket lives on one instance,
and so are the WebSockets an address holds open (`open_socket`, at most
`sockets_per_ip` at once on each instance).

While Redis is unreachable, each instance counts alone in its memory (logged once
per outage): the limits still hold, per instance, and what the store alone can
serve (starting a conversation, chatting with the bot) is still served.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections import Counter
from collections.abc import Iterator
from typing import Literal, get_args

import redis.asyncio as aioredis
from limits import RateLimitItem, parse_many
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter

from handoff.config import LIMIT_NAMES, LimitSettings
from handoff.domain import RateLimited
from handoff.redis_client import connect
from handoff.unavailable import REDIS, describe, unavailable_dependency

log = logging.getLogger(__name__)
MAX_BLOCKED = 100_000  # keys remembered as refused (expired ones are dropped first)

LimitName = Literal[
    "login_per_ip", "login_per_username", "conversations_per_ip", "messages_per_conversation",
    "messages_per_agent", "socket_frames", "socket_flood", "bot_per_conversation", "socket_opens_per_ip",
]
_LOCAL = frozenset({"socket_frames", "socket_flood"})
MESSAGES = {
    "login_per_ip": "too many login attempts from this address",
    "login_per_username": "too many login attempts for this account",
    "conversations_per_ip": "too many new conversations from this address",
    "messages_per_conversation": "too many messages in this conversation",
    "messages_per_agent": "too many messages from this agent",
    "sockets_per_ip": "too many open connections from this address",
    "socket_opens_per_ip": "too many new connections from this address",
}


class RateLimits:
    """Counts attempts per limit and key; `hit` says whether one more is allowed."""

    def __init__(self, settings: LimitSettings, shared: Storage, client: aioredis.Redis | None = None) -> None:
        assert set(LIMIT_NAMES) == set(get_args(LimitName)), "LimitName and LimitSettings differ"
        self._items: dict[str, tuple[RateLimitItem, ...]] = {
            name: tuple(parse_many(getattr(settings, name))) for name in LIMIT_NAMES
        }
        self._shared = MovingWindowRateLimiter(shared)
        self._local = MovingWindowRateLimiter(MemoryStorage())
        self._client = client
        self._outage = False
        self._blocked: dict[tuple[str, str], float] = {}  # (limit, key) -> refused until (monotonic)
        self._sockets_per_ip = settings.sockets_per_ip
        self._refusal_delay = settings.refusal_delay_seconds
        self._open_sockets: Counter[str] = Counter()

    @classmethod
    def in_memory(cls, settings: LimitSettings) -> RateLimits:
        return cls(settings, MemoryStorage())

    @classmethod
    def on_redis(cls, settings: LimitSettings, url: str, key_prefix: str) -> RateLimits:
        """Counters in Redis under `key_prefix` (e.g. `relais:limits:`), through the service's own client."""
        client = connect(url)
        uri = "async+redis+unix://" + url.removeprefix("unix://") if url.startswith("unix://") else "async+" + url
        # Its options are typed as scalars, but redis-py's `connection_pool` is passed through as is.
        storage = RedisStorage(uri, implementation="redispy", key_prefix=key_prefix.rstrip(":"),
                               connection_pool=client.connection_pool)  # type: ignore[arg-type]
        return cls(settings, storage, client)

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()

    async def hit(self, name: LimitName, key: str) -> float | None:
        """Count one attempt; None when allowed, else the seconds until one would be."""
        blocked = self._still_blocked(name, key)
        if blocked is not None:
            return blocked
        wait = await self._count(name, key)
        if wait:
            self._block(name, key, wait)
        return wait

    def _still_blocked(self, name: str, key: str) -> float | None:
        """A key refused a moment ago stays refused until its window frees a place: refusing
        it again needs no count (a refused attempt is not counted) and no round trip to Redis,
        so a flooder costs next to nothing once it is over its limit."""
        until = self._blocked.get((name, key))
        if until is None:
            return None
        left = until - time.monotonic()
        if left > 0:
            return left
        del self._blocked[(name, key)]
        return None

    def _block(self, name: str, key: str, wait: float) -> None:
        now = time.monotonic()
        if len(self._blocked) >= MAX_BLOCKED:
            self._blocked = {k: until for k, until in self._blocked.items() if until > now}
        if len(self._blocked) < MAX_BLOCKED:
            self._blocked[(name, key)] = now + wait

    async def _count(self, name: LimitName, key: str) -> float | None:
        if name in _LOCAL:
            return await self._hit(self._local, name, key)
        try:
            wait = await self._hit(self._shared, name, key)
        except Exception as exc:
            if unavailable_dependency(exc) != REDIS:
                raise
            if not self._outage:
                log.warning("limits counted in memory while Redis is unreachable (%s)", describe(exc))
                self._outage = True
            return await self._hit(self._local, name, key)
        self._outage = False
        return wait

    async def _hit(self, limiter: MovingWindowRateLimiter, name: str, key: str) -> float | None:
        for item in self._items[name]:
            if not await limiter.hit(item, name, key):
                stats = await limiter.get_window_stats(item, name, key)
                return max(stats.reset_time - time.time(), 0.0)
        return None

    async def check(self, name: LimitName, key: str) -> None:
        """Count one attempt; raise `RateLimited` (429 with Retry-After) when over the limit."""
        wait = await self.hit(name, key)
        if wait is not None:
            # A tarpit: the refusal itself is slow, so a client that floods with a bounded number
            # of requests in flight is slowed down to that many per delay, at the cost of a timer.
            await asyncio.sleep(min(self._refusal_delay, wait))
            raise RateLimited(MESSAGES.get(name, "too many requests") + "; try again later",
                              retry_after=max(1, math.ceil(wait)))

    @contextlib.contextmanager
    def open_socket(self, address: str) -> Iterator[None]:
        """Hold one of `address`'s WebSocket slots while the block runs; `RateLimited` when
        it already holds `sockets_per_ip` (the client may retry once one of them closes)."""
        if self._open_sockets[address] >= self._sockets_per_ip:
            raise RateLimited(MESSAGES["sockets_per_ip"] + "; close one first", retry_after=5)
        self._open_sockets[address] += 1
        try:
            yield
        finally:
            self._open_sockets[address] -= 1
            if self._open_sockets[address] <= 0:
                del self._open_sockets[address]

    async def forget(self, name: LimitName, key: str) -> None:
        """Start counting afresh (e.g. an account's failed logins, after a success)."""
        self._blocked.pop((name, key), None)
        for limiter in (self._local, self._shared) if name not in _LOCAL else (self._local,):
            for item in self._items[name]:
                try:
                    await limiter.clear(item, name, key)
                except Exception as exc:
                    if unavailable_dependency(exc) != REDIS:
                        raise
                    log.warning("limit %s not cleared for now (%s)", name, describe(exc))
