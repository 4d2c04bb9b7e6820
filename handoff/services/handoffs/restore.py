"""Start-up: give the router back what the store knows.

Agents are registered; conversations the store says are WAITING are queued
again in the order they were queued; ASSIGNED ones are adopted by their agent
(`engine.adopt`), so loads are right and an agent who does not come back is in
its grace period, after which its chats are requeued. On a shared (Redis) router
that already knows them, every step is a no-op.

The same runs again while the service is up when the shared state was lost
(`recover`: Redis restarted empty or was flushed; the backend notices its epoch
key is gone). Then agents are also expected back (`engine.resume_on_heartbeat`):
their consoles are still open, and their next heartbeat brings them back online
within the grace period, so their chats stay theirs.
"""

from __future__ import annotations

import logging

from handoff.domain import ConversationStatus, HandoffEventType, HandoffReason, NotFound
from handoff.routing import outcomes as out
from handoff.services.handoffs.apply import apply
from handoff.services.handoffs.context import HandoffContext

log = logging.getLogger(__name__)
QUEUED_EVENTS = (HandoffEventType.QUEUED, HandoffEventType.REQUEUED, HandoffEventType.TRANSFERRED)
ASSIGNED_EVENTS = (HandoffEventType.ACCEPTED, HandoffEventType.CLAIMED)


async def recover(ctx: HandoffContext) -> bool:
    """Restore the routing state if it was lost since it was last restored; True if it was."""
    if not await ctx.engine.backend.state_lost():
        return False
    log.warning("routing state lost (Redis restarted empty or flushed): restoring it from the store")
    await restore(ctx, after_loss=True)
    log.warning("routing state restored from the store")
    return True


async def restore(ctx: HandoffContext, *, after_loss: bool = False) -> None:
    engine, conversations = ctx.engine, ctx.conversations
    now = ctx.clock()
    for agent in await ctx.agents.list():
        await engine.register_agent(agent.id, agent.pool, agent.languages, agent.skills, agent.capacity)
        if after_loss:
            await engine.resume_on_heartbeat(agent.id, now)
    outcomes: list[out.Outcome] = []

    assigned = await conversations.list(statuses=[ConversationStatus.ASSIGNED])
    assigned_at = await conversations.last_event_times([c.id for c in assigned], ASSIGNED_EVENTS)
    for conversation in assigned:
        if conversation.assigned_agent_id is None or conversation.pool is None:
            continue
        since = assigned_at.get(conversation.id, conversation.updated_at).timestamp()
        try:
            await engine.adopt(
                conversation.id, conversation.assigned_agent_id, conversation.pool, conversation.language,
                conversation.skill, since, brand=conversation.brand, now=now,
            )
        except NotFound:
            log.warning("conversation %s is held by an unknown agent; left as it is", conversation.id)

    waiting = [c for c in await conversations.list(statuses=[ConversationStatus.WAITING]) if c.pool is not None]
    queued_at = await conversations.last_event_times([c.id for c in waiting], QUEUED_EVENTS)
    for conversation in sorted(waiting, key=lambda c: queued_at.get(c.id, c.created_at)):
        assert conversation.pool is not None
        outcomes += await engine.enqueue(
            conversation.id, conversation.pool, conversation.language, conversation.skill, now,
            reason=HandoffReason.REQUESTED.value, brand=conversation.brand,
        )
    await apply(ctx, outcomes)
    await engine.backend.mark_restored()
