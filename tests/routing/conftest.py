"""Engines for the routing tests, on the backend of `routing_backend` (memory, Redis)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import pytest

from handoff.config import RoutingSettings
from handoff.domain import Pool, Presence
from handoff.routing.backend import RoutingBackend
from handoff.routing.engine import RoutingEngine

T0 = 1_000_000.0  # the fake clock starts here; every test passes `now` explicitly

EngineFactory = Callable[..., RoutingEngine]


@pytest.fixture
def make_engine(routing_backend: RoutingBackend) -> EngineFactory:
    """`make_engine(**settings)`: an engine on the test's backend with these routing settings.

    Heartbeats time out after an hour unless a test says otherwise, so that tests
    about other timers need not send heartbeats.
    """

    def make(**overrides: Any) -> RoutingEngine:
        return RoutingEngine(routing_backend, RoutingSettings(**{"heartbeat_timeout_seconds": 3600.0, **overrides}))

    return make


@pytest.fixture
def engine(make_engine: EngineFactory) -> RoutingEngine:
    return make_engine()


AgentSpec = tuple[str, Pool, Iterable[str], Iterable[str], int]


async def online(engine: RoutingEngine, *agents: AgentSpec, now: float = T0) -> None:
    """Register these agents and put them online."""
    for agent_id, pool, languages, skills, capacity in agents:
        await engine.register_agent(agent_id, pool, languages, skills, capacity)
        await engine.set_presence(agent_id, Presence.ONLINE, now)


def amb(agent_id: str, languages: Iterable[str] = ("en",), skills: Iterable[str] = (), capacity: int = 3) -> AgentSpec:
    return (agent_id, Pool.AMBASSADOR, languages, skills, capacity)


def adv(agent_id: str, languages: Iterable[str] = ("en",), skills: Iterable[str] = (), capacity: int = 3) -> AgentSpec:
    return (agent_id, Pool.ADVISOR, languages, skills, capacity)

