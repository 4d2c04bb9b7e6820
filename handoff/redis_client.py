"""How the service connects to Redis, for the routing backend and the event bus alike.

A connect is bounded (a Redis that does not answer is an outage, not a hang), and
a command that finds its pooled connection dead is tried once more on a fresh one:
after an outage the pool still holds the connections Redis dropped, and without
this each of them would fail one request once Redis is back. Trying again
cannot apply a change twice: the routing backend's commit checks versions, so a
commit whose reply was lost with its connection is seen as a conflict on the
retry, and the operation runs again on the state it left (its outcomes are then
those of a no-op, as they would be lost without the retry); the other commands
set, add or publish (a message published twice is dropped by sequence number).
"""

from __future__ import annotations

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

CONNECT_TIMEOUT_SECONDS = 5.0


def connect(url: str, *, decode_responses: bool = False) -> aioredis.Redis:
    return aioredis.from_url(
        url, decode_responses=decode_responses, socket_connect_timeout=CONNECT_TIMEOUT_SECONDS,
        retry=Retry(NoBackoff(), 1),
    )
