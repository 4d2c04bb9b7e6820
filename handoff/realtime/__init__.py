"""Realtime relay of committed, typed events (handoff/events.py): an event bus with in-memory
and Redis pub/sub backends."""

from handoff.realtime.bus import (
    AGENTS_CHANNEL,
    AVAILABILITY_CHANNEL,
    BOT_CHANNEL,
    SUPERVISION_CHANNEL,
    Event,
    EventBus,
    Subscription,
    agent_channel,
    conversation_channel,
    notes_channel,
)

__all__ = [
    "AGENTS_CHANNEL",
    "BOT_CHANNEL",
    "AVAILABILITY_CHANNEL",
    "SUPERVISION_CHANNEL",
    "Event",
    "EventBus",
    "Subscription",
    "agent_channel",
    "conversation_channel",
    "notes_channel",
]
