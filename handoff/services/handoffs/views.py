"""Offers and queue entries as the console shows them, and the queue deltas consoles get.

An entry is built once per change (one conversation read, the router's ticket and
the last `PREVIEW_LENGTH` messages) and published on the agents' channel; each
agent's socket then decides whether the entry is in that agent's view
(`services/desk.py::AgentQueueView`).
"""

from __future__ import annotations

import enum
from typing import Any

from handoff.events import QueueEntryAdded, QueueEntryRemoved, QueueEntryUpdated
from handoff.realtime import AGENTS_CHANNEL
from handoff.routing import outcomes as out
from handoff.routing.state import Ticket
from handoff.services.handoffs.context import HandoffContext

PREVIEW_LENGTH = 30


async def entry_view(
    ctx: HandoffContext, conversation_id: str, *, ticket: Ticket | None = None, expires_at: float | None = None
) -> dict[str, Any]:
    """An offer or queue entry: the conversation's context and the last turns of its transcript."""
    conversation = await ctx.conversations.get(conversation_id)
    ticket = ticket or await ctx.engine.ticket(conversation_id)
    now = ctx.clock()
    messages = await ctx.conversations.last_messages(conversation_id, PREVIEW_LENGTH)
    enqueued_at = ticket.enqueued_at if ticket else now
    pool = ticket.pool if ticket else conversation.pool
    return {
        "conversation_id": conversation_id,
        "pool": pool.value if pool else None,
        "language": conversation.language,
        "skill": conversation.skill,
        "page_url": conversation.page_url,
        "waited_seconds": round(max(0.0, now - enqueued_at), 1),
        "expires_in_seconds": round(max(0.0, expires_at - now), 1) if expires_at else None,
        "reason": ticket.reason if ticket else None,
        "note": ticket.note if ticket else None,
        "offered": bool(ticket and ticket.offered_to),
        "preview": [m.to_json() for m in messages],
    }


class Delta(enum.Enum):
    ADDED = "added"
    UPDATED = "updated"
    REMOVED = "removed"


def delta_of(outcome: out.Outcome) -> tuple[str, Delta] | None:
    """How an outcome changes the queue consoles see (None: it does not)."""
    if isinstance(outcome, out.Enqueued | out.Requeued):
        return outcome.conversation_id, Delta.ADDED
    if isinstance(outcome, out.Offered | out.OfferExpired | out.Declined | out.Overflowed):
        return outcome.conversation_id, Delta.UPDATED
    if isinstance(outcome, out.Assigned | out.Withdrawn):
        return outcome.conversation_id, Delta.REMOVED
    return None


class QueueDeltas:
    """The queue changes of one batch of outcomes, one per conversation, published together."""

    def __init__(self) -> None:
        self._changes: dict[str, Delta] = {}

    def add(self, conversation_id: str, delta: Delta) -> None:
        before = self._changes.get(conversation_id)
        # An entry added then updated in one batch is still new to the consoles.
        self._changes[conversation_id] = Delta.ADDED if before is Delta.ADDED and delta is Delta.UPDATED else delta

    async def publish(self, ctx: HandoffContext) -> None:
        for conversation_id, delta in self._changes.items():
            if delta is Delta.REMOVED or await ctx.engine.ticket(conversation_id) is None:
                await ctx.bus.publish(AGENTS_CHANNEL, QueueEntryRemoved(conversation_id))
                continue
            entry = await entry_view(ctx, conversation_id)
            event = QueueEntryAdded if delta is Delta.ADDED else QueueEntryUpdated
            await ctx.bus.publish(AGENTS_CHANNEL, event(conversation_id, entry))
        self._changes.clear()
