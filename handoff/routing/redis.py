"""Redis routing backend: the state shared by every service instance, changed atomically.

The whole routing state is one JSON document in one hash, `<key_prefix>state`,
next to a version number. `update(change)` is optimistic concurrency control:

1. read `version` and `data` (HMGET, one consistent read);
2. run `change` on the decoded state, in this process;
3. commit with a Lua script that writes the new document and `version + 1`
   only if the stored version is still the one read (compare-and-set; a script
   runs atomically in Redis, so no other write can slip in between);
4. if another instance committed first, the script writes nothing and `change`
   runs again on the fresh state, after a short random pause.

Every committed change is thus based on the state it replaced: two instances can
never both offer, assign or claim the same conversation, nor both fire one timer.
A change that changes nothing writes nothing. Every key starts with `key_prefix`.
"""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import Callable
from typing import Any, TypeVar

import redis.asyncio as aioredis

from handoff.routing.backend import RoutingBackend
from handoff.routing.state import RoutingState

T = TypeVar("T")

MAX_ATTEMPTS = 200
BACKOFF_SECONDS = 0.002

# KEYS[1] = state hash; ARGV[1] = version read ("0" if none), ARGV[2] = new document.
COMPARE_AND_SET = """
local current = redis.call('HGET', KEYS[1], 'version') or '0'
if current ~= ARGV[1] then
  return 0
end
redis.call('HSET', KEYS[1], 'version', tostring(tonumber(current) + 1), 'data', ARGV[2])
return 1
"""


class StateContended(RuntimeError):
    """The state kept changing under an update: too many instances writing at once."""


class RedisRoutingBackend(RoutingBackend):
    def __init__(self, url: str, key_prefix: str) -> None:
        self._url = url
        self.key_prefix = key_prefix
        self._key = key_prefix + "state"
        self._redis: aioredis.Redis | None = None
        self._compare_and_set: Any = None

    async def start(self) -> None:
        self._redis = aioredis.from_url(self._url, decode_responses=True)
        await self._redis.ping()
        self._compare_and_set = self._redis.register_script(COMPARE_AND_SET)

    async def close(self) -> None:
        if self._redis is not None:
            await self._redis.aclose()
            self._redis = None

    @property
    def redis(self) -> aioredis.Redis:
        assert self._redis is not None, "RedisRoutingBackend.start() was not called"
        return self._redis

    async def _load(self) -> tuple[str, str | None]:
        version, data = await self.redis.hmget(self._key, ["version", "data"])
        if isinstance(data, bytes):
            data = data.decode()
        return str(version or "0"), data

    @staticmethod
    def _decode(data: str | None) -> RoutingState:
        return RoutingState.from_json(json.loads(data)) if data else RoutingState()

    async def read(self) -> RoutingState:
        _, data = await self._load()
        return self._decode(data)

    async def update(self, change: Callable[[RoutingState], T]) -> T:
        for attempt in range(MAX_ATTEMPTS):
            version, data = await self._load()
            state = self._decode(data)
            result = change(state)
            document = json.dumps(state.to_json(), separators=(",", ":"))
            if document == (data or json.dumps(RoutingState().to_json(), separators=(",", ":"))):
                return result  # nothing changed: the snapshot read is the answer
            committed = await self._compare_and_set(keys=[self._key], args=[version, document])
            if int(committed) == 1:
                return result
            await asyncio.sleep(random.uniform(0, BACKOFF_SECONDS * min(attempt + 1, 10)))
        raise StateContended(f"routing state {self._key!r} changed under {MAX_ATTEMPTS} attempts")
