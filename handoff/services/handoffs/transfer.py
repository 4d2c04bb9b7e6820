"""A held conversation changes hands: transfer (by its agent) and take-over (by an advisor).

Each is one unit of work in the store — the status goes ASSIGNED → WAITING by
compare-and-set, with its handoff event, the visitor's notice and the previous
agent's `unassigned` published after the commit — then the router releases the
previous agent (whatever that frees is offered: the outcomes are applied, never
dropped) and queues the conversation at the head, for the named agent if any.
"""

from __future__ import annotations

from handoff.domain import (
    Agent,
    Conflict,
    Conversation,
    ConversationStatus,
    Forbidden,
    HandoffEventType,
    HandoffReason,
    Pool,
    Presence,
    SenderKind,
)
from handoff.events import Unassigned
from handoff.realtime import agent_channel
from handoff.services import texts
from handoff.services.handoffs.apply import apply
from handoff.services.handoffs.context import HandoffContext


async def held_by(ctx: HandoffContext, conversation_id: str, agent: Agent) -> Conversation:
    conversation = await ctx.conversations.get(conversation_id)
    if conversation.status is not ConversationStatus.ASSIGNED:
        raise Conflict("this conversation is not held by a person")
    if conversation.assigned_agent_id != agent.id:
        raise Forbidden("this conversation is held by another agent")
    return conversation


async def transfer(
    ctx: HandoffContext,
    conversation_id: str,
    agent: Agent,
    *,
    pool: Pool | None,
    target_agent_id: str | None,
    note: str | None,
) -> Conversation:
    conversation = await held_by(ctx, conversation_id, agent)
    target: Agent | None = None
    if target_agent_id:
        target = await ctx.agents.get(target_agent_id)
        if target.id == agent.id:
            raise Conflict("you already hold this conversation")
    new_pool = target.pool if target else (pool or Pool.ADVISOR)
    async with ctx.conversations.unit_of_work() as unit:
        await unit.transition(
            conversation_id, {ConversationStatus.ASSIGNED}, status=ConversationStatus.WAITING,
            assigned_agent_id=None, pool=new_pool,
        )
        await unit.record_event(
            conversation_id, HandoffEventType.TRANSFERRED, agent_id=agent.id,
            data={"pool": new_pool.value, "to": target.id if target else None, "note": note},
        )
        await unit.append(
            conversation_id, SenderKind.SYSTEM,
            texts.say("transferred", conversation.language, who=texts.who(new_pool, conversation.language)),
            data={"event": "transferred", "pool": new_pool.value},
        )
        if note:  # kept for the agents who take it next, after the offer is gone (never the visitor's)
            await unit.add_note(conversation_id, note, author_id=agent.id, author_name=agent.display_name, kind="transfer")
        unit.publish(agent_channel(agent.id), Unassigned(conversation_id, "transferred"))
    await _requeue_at_head(
        ctx, conversation, agent.id, new_pool, note=note, target_agent_id=target.id if target else None
    )
    return await ctx.conversations.get(conversation_id)


async def take_over(ctx: HandoffContext, conversation: Conversation, advisor: Agent) -> Conversation:
    """An advisor takes a conversation another agent holds; it joins the advisor's chats."""
    state = await ctx.engine.agent_state(advisor.id)
    if state is None or state.presence is not Presence.ONLINE or not state.has_room:
        # Checked before anything moves: a failed take-over leaves the chat where it was.
        raise Conflict("go online with a free slot to take over a conversation")
    previous = conversation.assigned_agent_id
    async with ctx.conversations.unit_of_work() as unit:
        await unit.transition(
            conversation.id, {ConversationStatus.ASSIGNED}, status=ConversationStatus.WAITING,
            assigned_agent_id=None, pool=Pool.ADVISOR,
        )
        await unit.record_event(
            conversation.id, HandoffEventType.TRANSFERRED, agent_id=advisor.id,
            data={"from": previous, "takeover": True},
        )
        if previous:
            unit.publish(agent_channel(previous), Unassigned(conversation.id, "taken_over"))
    await _requeue_at_head(
        ctx, conversation, previous, Pool.ADVISOR, note="taken over by an advisor", target_agent_id=advisor.id
    )
    if (await ctx.conversations.get(conversation.id)).status is ConversationStatus.WAITING:
        await apply(ctx, [await ctx.engine.claim(conversation.id, advisor.id, ctx.clock())])
    return await ctx.conversations.get(conversation.id)


async def _requeue_at_head(
    ctx: HandoffContext,
    conversation: Conversation,
    previous_agent_id: str | None,
    pool: Pool,
    *,
    note: str | None,
    target_agent_id: str | None,
) -> None:
    now = ctx.clock()
    outcomes = await ctx.engine.release(conversation.id, previous_agent_id, now) if previous_agent_id else []
    outcomes += await ctx.engine.enqueue(
        conversation.id, pool, conversation.language, conversation.skill, now,
        reason=HandoffReason.TRANSFER.value, note=note, target_agent_id=target_agent_id, at_head=True,
        brand=conversation.brand,
    )
    await apply(ctx, outcomes)
