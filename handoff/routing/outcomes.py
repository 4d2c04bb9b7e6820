"""Outcomes: what a routing operation changed, as plain immutable values.

The engine decides and returns outcomes; it never touches the conversation
store or the event bus. `services/handoffs.py` turns each outcome into
transcript entries, handoff events and notifications.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeAlias

from handoff.domain import Pool

VIA_OFFER = "offer"
VIA_CLAIM = "claim"


@dataclass(frozen=True, slots=True)
class Offered:
    """The conversation is proposed to one agent until `expires_at` (epoch seconds)."""

    conversation_id: str
    agent_id: str
    expires_at: float


@dataclass(frozen=True, slots=True)
class Assigned:
    """The agent now holds the conversation; `via` is "offer" (accepted) or "claim"."""

    conversation_id: str
    agent_id: str
    via: str


@dataclass(frozen=True, slots=True)
class OfferExpired:
    """An offer ended unanswered: it timed out, or its agent went away or offline."""

    conversation_id: str
    agent_id: str


@dataclass(frozen=True, slots=True)
class Declined:
    """The agent turned the offer down; the conversation goes to the next agent."""

    conversation_id: str
    agent_id: str


@dataclass(frozen=True, slots=True)
class Overflowed:
    """A pre-sale conversation waited past the overflow time: advisors may take it too."""

    conversation_id: str


@dataclass(frozen=True, slots=True)
class Requeued:
    """The agent stayed disconnected past the grace period; the conversation is queued again at the head."""

    conversation_id: str
    agent_id: str


@dataclass(frozen=True, slots=True)
class AgentTimedOut:
    """No heartbeat from the agent for too long: the agent is now offline."""

    agent_id: str


@dataclass(frozen=True, slots=True)
class Enqueued:
    """A ticket entered the queue (a requeue is reported as `Requeued` only)."""

    conversation_id: str
    pool: Pool


@dataclass(frozen=True, slots=True)
class Withdrawn:
    """A ticket left the queue without being assigned (cancel; made by the caller of `cancel`)."""

    conversation_id: str


@dataclass(frozen=True, slots=True)
class WaitedTooLong:
    """The ticket has waited `max_wait_seconds`: fired once; it keeps its place."""

    conversation_id: str


@dataclass(frozen=True, slots=True)
class QueueChanged:
    """The waiting queue changed (positions, offers, new or removed conversations)."""


Outcome: TypeAlias = (
    Offered
    | Assigned
    | OfferExpired
    | Declined
    | Overflowed
    | Requeued
    | AgentTimedOut
    | Enqueued
    | Withdrawn
    | WaitedTooLong
    | QueueChanged
)
