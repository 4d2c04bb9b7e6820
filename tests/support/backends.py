"""Routing backend fixtures: every routing test runs in memory and, with TEST_REDIS_URL, on Redis.

- `routing_backend_kind` — "memory", plus "redis" when TEST_REDIS_URL is set;
- `routing_backend_maker` — a `BackendMaker` for that kind: `maker(name)` returns a
  backend, not started, on the state called `name`; two calls with one name share
  one state (memory: the same object; Redis: two clients on one key prefix, as two
  service instances would). Usable from any event loop, hence from hypothesis
  state machines that run their own loop. Every Redis key a test created (they all
  start with a per-test prefix) is deleted afterwards;
- `routing_backend` — a started backend on a fresh state, closed afterwards.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator

import pytest
import redis

from handoff.routing.backend import RoutingBackend
from handoff.routing.memory import MemoryRoutingBackend
from handoff.routing.redis import RedisRoutingBackend

REDIS_URL = os.environ.get("TEST_REDIS_URL")
BACKEND_KINDS = ["memory"] + (["redis"] if REDIS_URL else [])


class BackendMaker:
    """Makes routing backends of one kind under one per-test key prefix."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.prefix = f"test:routing:{uuid.uuid4().hex}:"
        self._memory: dict[str, MemoryRoutingBackend] = {}

    def __call__(self, name: str = "main") -> RoutingBackend:
        if self.kind == "memory":
            return self._memory.setdefault(name, MemoryRoutingBackend())
        assert REDIS_URL, "TEST_REDIS_URL is not set"
        return RedisRoutingBackend(REDIS_URL, key_prefix=f"{self.prefix}{name}:")

    def cleanup(self) -> None:
        self._memory.clear()
        if self.kind != "redis" or not REDIS_URL:
            return
        client = redis.Redis.from_url(REDIS_URL)
        try:
            keys = list(client.scan_iter(match=self.prefix + "*"))
            if keys:
                client.delete(*keys)
        finally:
            client.close()


@pytest.fixture(params=BACKEND_KINDS)
def routing_backend_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def routing_backend_maker(routing_backend_kind: str) -> Iterator[BackendMaker]:
    maker = BackendMaker(routing_backend_kind)
    yield maker
    maker.cleanup()


@pytest.fixture
async def routing_backend(routing_backend_maker: BackendMaker) -> AsyncIterator[RoutingBackend]:
    backend = routing_backend_maker(uuid.uuid4().hex)
    await backend.start()
    yield backend
    await backend.close()
