"""A freshly migrated store on each database of the `database_url` fixture."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from handoff.agents import AgentService
from handoff.conversations import ConversationService
from handoff.realtime.memory import MemoryBus
from handoff.store import Store, open_store


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[Store]:
    opened = await open_store(database_url)
    yield opened
    await opened.close()


@pytest.fixture
async def bus() -> AsyncIterator[MemoryBus]:
    memory = MemoryBus()
    await memory.start()
    yield memory
    await memory.close()


@pytest.fixture
def conversations(store: Store, bus: MemoryBus) -> ConversationService:
    return ConversationService(store, bus)


@pytest.fixture
def agents(store: Store) -> AgentService:
    return AgentService(store)
