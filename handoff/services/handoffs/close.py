"""The human part ends: close (by its agent, or a supervisor) and cancel (the visitor
no longer waits, e.g. left a message).

Close is one unit of work — ASSIGNED → BOT by compare-and-set, `closed` and
`released` handoff events, the visitor's notice with the rating invitation, and
`unassigned` to the holder when someone else closed — then the router frees the
agent's slot, and whatever that slot is offered to is announced (`apply`).
"""

from __future__ import annotations

from handoff.domain import (
    Agent,
    AgentRole,
    Conflict,
    Conversation,
    ConversationStatus,
    Forbidden,
    HandoffEventType,
    SenderKind,
)
from handoff.events import Unassigned
from handoff.realtime import agent_channel
from handoff.services import texts
from handoff.services.handoffs.apply import apply
from handoff.services.handoffs.context import HandoffContext, agent_card


async def close(ctx: HandoffContext, conversation_id: str, agent: Agent, outcome: str | None) -> Conversation:
    """End the human part: the conversation returns to the bot and the visitor may rate it."""
    conversation = await ctx.conversations.get(conversation_id)
    holder_id = conversation.assigned_agent_id
    if conversation.status is not ConversationStatus.ASSIGNED or holder_id is None:
        raise Conflict("this conversation is not held by a person")
    if holder_id != agent.id and agent.role is AgentRole.AMBASSADOR:
        raise Forbidden("only the agent holding this conversation can close it")
    holder = agent if holder_id == agent.id else await ctx.agents.get(holder_id)
    async with ctx.conversations.unit_of_work() as unit:
        closed = await unit.transition(
            conversation_id, {ConversationStatus.ASSIGNED}, status=ConversationStatus.BOT,
            assigned_agent_id=None, outcome=outcome,
        )
        await unit.record_event(conversation_id, HandoffEventType.CLOSED, agent_id=agent.id, data={"outcome": outcome})
        await unit.record_event(conversation_id, HandoffEventType.RELEASED)
        await unit.append(
            conversation_id, SenderKind.SYSTEM,
            texts.say("closed", conversation.language, name=holder.display_name),
            data={"event": "closed", "agent": agent_card(holder), "rate": True},
        )
        if holder_id != agent.id:
            unit.publish(agent_channel(holder_id), Unassigned(conversation_id, "closed"))
    await apply(ctx, await ctx.engine.release(conversation_id, holder_id, ctx.clock()))
    return closed


async def cancel(ctx: HandoffContext, conversation_id: str) -> None:
    """The conversation no longer waits for a person; its place and any offer are dropped."""
    await apply(ctx, await ctx.engine.cancel(conversation_id, ctx.clock()))
