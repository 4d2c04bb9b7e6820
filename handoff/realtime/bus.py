"""The event bus interface: publish typed events (`handoff/events.py`) on named
channels, subscribe to them.

Only committed facts are published (see `conversations.ConversationService`), so a
subscriber that misses events can always catch up by reading the store.
Channels: `conversation:{id}` (transcript and status of one conversation),
`agent:{id}` (offers and assignments for one agent), `agents` (queue and presence,
for every console), `bot` (the bot's switches, between instances only),
`availability` (who can answer, for every visitor socket), `supervision` (every change of a
live conversation, for advisors' and admins' consoles), `notes:{id}` (one conversation's
internal notes, for agents' sockets only).
"""

from __future__ import annotations

import abc
from collections.abc import AsyncIterator

from handoff.events import Event as Event  # re-exported: what the bus carries

AGENTS_CHANNEL = "agents"
BOT_CHANNEL = "bot"
AVAILABILITY_CHANNEL = "availability"  # who can answer, for every visitor socket
SUPERVISION_CHANNEL = "supervision"  # live conversations' changes, for supervisors' consoles


def conversation_channel(conversation_id: str) -> str:
    return f"conversation:{conversation_id}"


def notes_channel(conversation_id: str) -> str:
    """One conversation's internal notes: agents' sockets only, never a visitor's."""
    return f"notes:{conversation_id}"


def agent_channel(agent_id: str) -> str:
    return f"agent:{agent_id}"


class Subscription(abc.ABC):
    """A live feed of events from a changing set of channels."""

    @abc.abstractmethod
    async def add(self, *channels: str) -> None: ...

    @abc.abstractmethod
    async def remove(self, *channels: str) -> None: ...

    @abc.abstractmethod
    def __aiter__(self) -> AsyncIterator[Event]: ...

    @abc.abstractmethod
    async def close(self) -> None: ...

    async def __aenter__(self) -> Subscription:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()


class EventBus(abc.ABC):
    """Publish/subscribe between the service's components and instances."""

    @abc.abstractmethod
    async def publish(self, channel: str, event: Event) -> None: ...

    @abc.abstractmethod
    async def subscribe(self, *channels: str) -> Subscription: ...

    async def start(self) -> None:  # noqa: B027 - optional hook
        """Connect; called once by the application at start-up."""

    async def close(self) -> None:  # noqa: B027 - optional hook
        """Disconnect; called once at shutdown."""
