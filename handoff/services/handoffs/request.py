"""A conversation asks for a person: which pool, then one unit of work that queues it.

Two rules keep a visitor from being stranded (issue 10):
- a request for a person goes to the pool the visitor named (the widget's button,
  or "an advisor" / "un conseiller" in the message); with none named, to the pool
  that can answer now — the bot's pool first, else the other one;
- when nobody at all can answer, the visitor is told so once and offered the
  offline form; the caller then drops the bot's "I'm putting you in touch…"
  (see `services/visitors.py`).
"""

from __future__ import annotations

from collections.abc import Iterable

from handoff.domain import (
    Conversation,
    ConversationStatus,
    HandoffEventType,
    HandoffReason,
    HandoffRequest,
    Pool,
    Presence,
    SenderKind,
)
from handoff.routing.policy import has_skill
from handoff.routing.state import AgentState
from handoff.services import texts
from handoff.services.handoffs.apply import apply
from handoff.services.handoffs.context import HandoffContext
from handoff.services.handoffs.waits import estimated_wait

OPEN_FOR_HANDOFF = {ConversationStatus.BOT, ConversationStatus.CLOSED, ConversationStatus.OFFLINE_MESSAGE}
# The visitor wants a person, any person (with the bot switched off, any person answers instead).
FOR_ANY_PERSON = {HandoffReason.REQUESTED, HandoffReason.FALLBACK, HandoffReason.BOT_OFF, HandoffReason.INTENT_OFF}


async def choose_pool(ctx: HandoffContext, request: HandoffRequest, named: Pool | None = None) -> Pool | None:
    """The pool to queue `request` in, or None when nobody at all can answer it."""
    now = ctx.clock()
    engine = ctx.engine
    if named is not None or request.reason not in FOR_ANY_PERSON:
        pool = named or request.pool
        return pool if await engine.anyone_online(pool, request.language, request.skill, now) else None
    order = (request.pool, *(pool for pool in Pool if pool is not request.pool))
    present = await engine.online_agents()
    for presences in ((Presence.ONLINE,), (Presence.ONLINE, Presence.AWAY)):
        for pool in order:
            if any(_serves(agent, pool, request, presences) for agent in present):
                return pool
    # Nobody of either pool in person; an advisor may still take a pre-sale chat once it overflows.
    return request.pool if await engine.anyone_online(request.pool, request.language, request.skill, now) else None


def _serves(agent: AgentState, pool: Pool, request: HandoffRequest, presences: Iterable[Presence]) -> bool:
    return (
        agent.presence in presences
        and agent.pool is pool
        and request.language in agent.languages
        and has_skill(agent, request.skill)
    )


async def request(ctx: HandoffContext, conversation: Conversation, request: HandoffRequest) -> int | None:
    """Queue the conversation for a person of `request.pool`; return its position, or
    None when nobody at all can take it (the visitor is then offered the offline form)."""
    cid = conversation.id
    if conversation.status in (ConversationStatus.WAITING, ConversationStatus.ASSIGNED):
        return await ctx.engine.queue_position(cid)
    requested = {"pool": request.pool.value, "skill": request.skill, "reason": request.reason.value}
    now = ctx.clock()
    if not await ctx.engine.anyone_online(request.pool, request.language, request.skill, now):
        await nobody_available(ctx, conversation, request)
        return None
    preferred = await ctx.conversations.previous_agent(conversation.visitor_id)
    typical = await ctx.waits.typical_wait(request.pool)  # read before the unit of work holds the store
    enqueued = False
    try:
        async with ctx.conversations.unit_of_work() as unit:
            await unit.transition(
                cid, OPEN_FOR_HANDOFF, status=ConversationStatus.WAITING, pool=request.pool, skill=request.skill
            )
            await unit.record_event(cid, HandoffEventType.REQUESTED, data=requested)
            await unit.record_event(cid, HandoffEventType.QUEUED, data={"pool": request.pool.value})
            outcomes = await ctx.engine.enqueue(
                cid, request.pool, request.language, request.skill, now,
                reason=request.reason.value, note=request.note, preferred_agent_id=preferred,
                target_agent_id=request.target_agent_id, brand=conversation.brand,
            )
            enqueued = True
            position = await ctx.engine.queue_position(cid)
            if position is not None:
                who = texts.who(request.pool, conversation.language)
                await unit.append(
                    cid, SenderKind.SYSTEM, texts.say("queued", conversation.language, who=who, position=position),
                    data={"event": "queued", "position": position, "pool": request.pool.value,
                          "estimated_wait_seconds": estimated_wait(typical, position)},
                )
    except BaseException:
        if enqueued:  # the store said no (or failed): the router forgets it too, and offers the slot again
            await apply(ctx, await ctx.engine.cancel(cid, ctx.clock()))
        raise
    ctx.metrics.escalation(request.reason.value, request.pool.value, "queued")
    await apply(ctx, outcomes)
    return position


async def nobody_available(ctx: HandoffContext, conversation: Conversation, request: HandoffRequest) -> None:
    """Said once: nobody can answer; the widget shows the offline form."""
    requested = {"pool": request.pool.value, "skill": request.skill, "reason": request.reason.value}
    async with ctx.conversations.unit_of_work() as unit:
        await unit.record_event(conversation.id, HandoffEventType.REQUESTED, data=requested)
        await unit.record_event(conversation.id, HandoffEventType.NO_AGENT)
        await unit.append(
            conversation.id, SenderKind.SYSTEM, texts.say("no_agent", conversation.language),
            data={"event": "no_agent", "offline_form": True, "pool": request.pool.value},
        )
    ctx.metrics.escalation(request.reason.value, request.pool.value, "no_agent")
