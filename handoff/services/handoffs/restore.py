"""Start-up: give the router back what the store knows.

Agents are registered; conversations the store says are WAITING are queued
again in the order they were queued; ASSIGNED ones are adopted by their agent
(`engine.adopt`), so loads are right and an agent who does not come back is in
its grace period, after which its chats are requeued. On a shared (Redis) router
that already knows them, every step is a no-op.

While the service is up, `recover` (run by the sweeper before each sweep) does
it again when needed:

- the shared state was lost (Redis restarted empty or was flushed; the backend
  notices its epoch key is gone): restored as at start-up, and agents are also
  expected back (`engine.resume_on_heartbeat`): their consoles are still open,
  and their next heartbeat brings them back online within the grace period, so
  their chats stay theirs;
- a dependency failed since the last sweep (an outage): a use case may have
  changed one side and not the other (a close stored whose release did not reach
  Redis, a router decision whose store half failed), so the router is brought in
  line with the store — chats it holds that the store does not say are assigned
  to that agent are released, tickets of conversations the store does not say
  are waiting are dropped — then restored (what the store has that it lacks).
  A use case in flight at that very moment may be seen half done; the next
  outage's reconciliation, or a restart, sets it right.
"""

from __future__ import annotations

import logging

from handoff.domain import ConversationStatus, HandoffEventType, HandoffReason, NotFound
from handoff.routing import indexes
from handoff.routing import outcomes as out
from handoff.services.handoffs.apply import apply
from handoff.services.handoffs.context import HandoffContext

log = logging.getLogger(__name__)
QUEUED_EVENTS = (HandoffEventType.QUEUED, HandoffEventType.REQUEUED, HandoffEventType.TRANSFERRED)
ASSIGNED_EVENTS = (HandoffEventType.ACCEPTED, HandoffEventType.CLAIMED)


async def recover(ctx: HandoffContext, *, after_outage: bool = False) -> bool:
    """Restore the routing state if it was lost since it was last restored, or bring it
    in line with the store after an outage; True if either was done."""
    if await ctx.engine.backend.state_lost():
        log.warning("routing state lost (Redis restarted empty or flushed): restoring it from the store")
        await restore(ctx, after_loss=True)
        log.warning("routing state restored from the store")
        return True
    if not after_outage:
        return False
    await reconcile(ctx)
    await restore(ctx)
    return True


async def reconcile(ctx: HandoffContext) -> None:
    """Drop from the router what the store says is no longer so (see the module's docstring)."""
    engine, now = ctx.engine, ctx.clock()
    assigned = {c.id: c.assigned_agent_id for c in await ctx.conversations.list(statuses=[ConversationStatus.ASSIGNED])}
    waiting = {c.id for c in await ctx.conversations.list(statuses=[ConversationStatus.WAITING])}
    outcomes: list[out.Outcome] = []
    for brand in await engine.backend.brands():
        for agent in await engine.backend.agents(brand):
            for conversation_id in agent.active:
                if assigned.get(conversation_id) != agent.agent_id:
                    log.warning("after an outage: %s no longer holds %s; released", agent.agent_id, conversation_id)
                    outcomes += await engine.release(conversation_id, agent.agent_id, now)
        for conversation_id, _ in await engine.backend.members(brand, indexes.WAITING):
            if conversation_id not in waiting:
                log.warning("after an outage: %s no longer waits; dropped from the queue", conversation_id)
                outcomes += await engine.cancel(conversation_id, now)
    await apply(ctx, outcomes)


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
