"""An agent answers an offer or picks from the queue: accept, decline, claim.

The router decides (one atomic change); `apply` then makes the outcome true in
the store as one unit of work and tells the people concerned after the commit.
A claim of a conversation another agent holds is a take-over (`transfer.py`).
"""

from __future__ import annotations

from handoff.domain import Agent, AgentRole, Conflict, Conversation, ConversationStatus
from handoff.services.handoffs.apply import apply
from handoff.services.handoffs.context import HandoffContext
from handoff.services.handoffs.transfer import take_over


async def accept(ctx: HandoffContext, conversation_id: str, agent: Agent) -> Conversation:
    outcome = await ctx.engine.accept(conversation_id, agent.id, ctx.clock())
    await apply(ctx, [outcome])
    return await ctx.conversations.get(conversation_id)


async def decline(ctx: HandoffContext, conversation_id: str, agent: Agent) -> None:
    await apply(ctx, await ctx.engine.decline(conversation_id, agent.id, ctx.clock()))


async def claim(ctx: HandoffContext, conversation_id: str, agent: Agent) -> Conversation:
    """Take a waiting conversation (what `engine.takeable` lists), or — advisors only —
    take over a conversation another agent holds (supervision)."""
    conversation = await ctx.conversations.get(conversation_id)
    if conversation.status is ConversationStatus.ASSIGNED:
        if conversation.assigned_agent_id == agent.id:
            return conversation
        if agent.role is AgentRole.AMBASSADOR:
            raise Conflict("this conversation is already taken")
        return await take_over(ctx, conversation, agent)
    if conversation.status is not ConversationStatus.WAITING:
        raise Conflict("this conversation is not waiting for a person")
    outcome = await ctx.engine.claim(conversation_id, agent.id, ctx.clock())
    await apply(ctx, [outcome])
    return await ctx.conversations.get(conversation_id)
