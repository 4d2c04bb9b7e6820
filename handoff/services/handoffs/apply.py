"""Outcomes of the router made true: each outcome is one unit of work (status,
transcript, handoff events, and what to tell whom, published after the commit).

Nothing is dropped: the outcomes an outcome causes (a slot given back when the
visitor left before the assignment was stored) are applied in turn, and every
batch ends with its queue deltas for consoles and dirty pools for positions.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import UTC, datetime

from handoff.domain import (
    Conflict,
    Conversation,
    ConversationStatus,
    HandoffEventType,
    NotFound,
    SenderKind,
)
from handoff.events import AssignedToAgent, OfferMade, OfferRevoked, PresenceChanged, Unassigned
from handoff.realtime import AGENTS_CHANNEL, agent_channel
from handoff.routing import outcomes as out
from handoff.services import texts
from handoff.services.handoffs.context import HandoffContext, agent_card
from handoff.services.handoffs.views import QueueDeltas, delta_of, entry_view

log = logging.getLogger(__name__)
MOVES_THE_QUEUE = (out.Requeued, out.Offered, out.OfferExpired, out.Declined, out.Assigned, out.Withdrawn)


async def apply(ctx: HandoffContext, outcomes: Iterable[out.Outcome]) -> None:
    deltas = QueueDeltas()
    pending = list(outcomes)
    while pending:
        outcome = pending.pop(0)
        _count(ctx, outcome)
        try:
            pending.extend(await _apply_one(ctx, outcome))
        except (NotFound, Conflict):
            log.warning("outcome %r no longer fits its conversation", outcome, exc_info=True)
        if (change := delta_of(outcome)) is not None:
            deltas.add(*change)
        if isinstance(outcome, out.Enqueued):
            ctx.positions.mark_dirty(outcome.pool)
        elif isinstance(outcome, MOVES_THE_QUEUE):
            ctx.positions.mark_dirty()
    await deltas.publish(ctx)


def _count(ctx: HandoffContext, outcome: out.Outcome) -> None:
    """The router's decisions as metrics (docs/operations.md)."""
    if isinstance(outcome, out.Offered):
        ctx.metrics.offer_made()
    elif isinstance(outcome, out.Assigned):
        (ctx.metrics.offer_accepted if outcome.via == out.VIA_OFFER else ctx.metrics.claimed)()
    elif isinstance(outcome, out.OfferExpired):
        ctx.metrics.offer_expired()
    elif isinstance(outcome, out.Declined):
        ctx.metrics.offer_declined()


async def _apply_one(ctx: HandoffContext, outcome: out.Outcome) -> list[out.Outcome]:
    """Apply one outcome; return the outcomes that doing so caused."""
    if isinstance(outcome, out.Offered):
        await _offered(ctx, outcome)
    elif isinstance(outcome, out.Assigned):
        return await _assigned(ctx, outcome)
    elif isinstance(outcome, out.OfferExpired):
        async with ctx.conversations.unit_of_work() as unit:
            await unit.record_event(outcome.conversation_id, HandoffEventType.TIMED_OUT, agent_id=outcome.agent_id)
            unit.publish(agent_channel(outcome.agent_id), OfferRevoked(outcome.conversation_id, "timeout"))
    elif isinstance(outcome, out.Declined):
        await ctx.conversations.record_event(outcome.conversation_id, HandoffEventType.DECLINED, agent_id=outcome.agent_id)
    elif isinstance(outcome, out.Overflowed):
        await ctx.conversations.record_event(outcome.conversation_id, HandoffEventType.OVERFLOWED)
    elif isinstance(outcome, out.Requeued):
        await _requeued(ctx, outcome)
    elif isinstance(outcome, out.WaitedTooLong):
        await _waited_too_long(ctx, outcome)
    elif isinstance(outcome, out.AgentTimedOut):
        await ctx.bus.publish(AGENTS_CHANNEL, PresenceChanged())
        await ctx.availability.publish()
    return []


async def _offered(ctx: HandoffContext, offered: out.Offered) -> None:
    """The offer: its handoff event, and the offer itself to the agent."""
    offer = await entry_view(ctx, offered.conversation_id, expires_at=offered.expires_at)
    async with ctx.conversations.unit_of_work() as unit:
        await unit.record_event(offered.conversation_id, HandoffEventType.OFFERED, agent_id=offered.agent_id)
        unit.publish(agent_channel(offered.agent_id), OfferMade(offer))


async def _assigned(ctx: HandoffContext, assigned: out.Assigned) -> list[out.Outcome]:
    """Accept or claim: the agent holds the conversation, the visitor is told who joined."""
    cid = assigned.conversation_id
    agent = await ctx.agents.get(assigned.agent_id)
    event = HandoffEventType.CLAIMED if assigned.via == out.VIA_CLAIM else HandoffEventType.ACCEPTED
    try:
        async with ctx.conversations.unit_of_work() as unit:
            conversation = await unit.transition(
                cid, {ConversationStatus.WAITING}, status=ConversationStatus.ASSIGNED,
                assigned_agent_id=agent.id, last_agent_id=agent.id,
            )
            await unit.record_event(cid, event, agent_id=agent.id)
            await unit.append(
                cid, SenderKind.SYSTEM, texts.assigned_text(agent.role, agent.display_name, conversation.language),
                data={"event": "assigned", "agent": agent_card(agent)},
            )
            unit.publish(agent_channel(agent.id), AssignedToAgent(conversation.to_json()))
    except Conflict:
        # The visitor left (offline message, closed tab) between queue and assignment:
        # the slot goes back, and what that frees is offered in turn.
        log.info("conversation %s left before its assignment to %s was stored", cid, agent.id)
        return await ctx.engine.release(cid, agent.id, ctx.clock())
    await _observe_wait(ctx, conversation)
    return []


async def _observe_wait(ctx: HandoffContext, conversation: Conversation) -> None:
    """How long the conversation waited for this person: since it was last (re)queued."""
    queued = await ctx.conversations.last_event_times(
        [conversation.id], (HandoffEventType.QUEUED, HandoffEventType.REQUEUED)
    )
    if conversation.id in queued and conversation.pool is not None:
        ctx.metrics.queue_waited(conversation.pool.value, (datetime.now(UTC) - queued[conversation.id]).total_seconds())


async def _requeued(ctx: HandoffContext, requeued: out.Requeued) -> None:
    """The agent was lost past the grace period: the chat waits again, at the head."""
    cid = requeued.conversation_id
    async with ctx.conversations.unit_of_work() as unit:
        conversation = await unit.transition(
            cid, {ConversationStatus.ASSIGNED}, status=ConversationStatus.WAITING, assigned_agent_id=None
        )
        await unit.record_event(cid, HandoffEventType.REQUEUED, agent_id=requeued.agent_id)
        await unit.append(cid, SenderKind.SYSTEM, texts.say("requeued", conversation.language), data={"event": "requeued"})
        unit.publish(agent_channel(requeued.agent_id), Unassigned(cid, "disconnected"))


async def _waited_too_long(ctx: HandoffContext, waited: out.WaitedTooLong) -> None:
    """Tell the visitor, once, and offer the offline form; the place in line is kept."""
    cid = waited.conversation_id
    async with ctx.conversations.unit_of_work() as unit:
        conversation = await unit.get(cid)
        if conversation.status is not ConversationStatus.WAITING:
            return
        await unit.record_event(cid, HandoffEventType.WAITED_TOO_LONG)
        await unit.append(
            cid, SenderKind.SYSTEM, texts.say("waited_too_long", conversation.language),
            data={"event": "waited_too_long", "offline_form": True},
        )
