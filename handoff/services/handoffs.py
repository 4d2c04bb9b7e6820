"""Moves conversations between the bot and humans.

The routing engine decides who gets what and returns outcomes; this coordinator
makes each outcome true in the conversation store (status, transcript, handoff
events) and tells the people concerned through the bus. It is the only place
where routing and the store meet.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from typing import Any

from handoff.agents import AgentService
from handoff.conversations import ConversationService
from handoff.domain import (
    Agent,
    AgentRole,
    Conflict,
    Conversation,
    ConversationStatus,
    Forbidden,
    HandoffEventType,
    HandoffReason,
    HandoffRequest,
    NotFound,
    Pool,
    Presence,
    SenderKind,
)
from handoff.realtime import AGENTS_CHANNEL, EventBus, agent_channel, conversation_channel
from handoff.routing import outcomes as out
from handoff.routing.engine import RoutingEngine
from handoff.services import texts

log = logging.getLogger(__name__)
PREVIEW_LENGTH = 30
OPEN_FOR_HANDOFF = {ConversationStatus.BOT, ConversationStatus.CLOSED, ConversationStatus.OFFLINE_MESSAGE}


class HandoffCoordinator:
    def __init__(
        self,
        conversations: ConversationService,
        agents: AgentService,
        engine: RoutingEngine,
        bus: EventBus,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.conversations = conversations
        self.agents = agents
        self.engine = engine
        self.bus = bus
        self.clock = clock

    # --- starting a handoff -------------------------------------------------

    async def request(self, conversation: Conversation, request: HandoffRequest) -> int | None:
        """Queue the conversation for a human; return its position, or None when
        nobody at all can take it (the visitor is then offered the offline form)."""
        if conversation.status in (ConversationStatus.WAITING, ConversationStatus.ASSIGNED):
            return await self.engine.queue_position(conversation.id)
        now = self.clock()
        await self.conversations.record_event(
            conversation.id,
            HandoffEventType.REQUESTED,
            data={"pool": request.pool.value, "skill": request.skill, "reason": request.reason.value},
        )
        if not await self.engine.anyone_online(request.pool, request.language, request.skill, now):
            await self.conversations.record_event(conversation.id, HandoffEventType.NO_AGENT)
            await self.conversations.append(
                conversation.id,
                SenderKind.SYSTEM,
                texts.say("no_agent", conversation.language),
                data={"event": "no_agent", "offline_form": True, "pool": request.pool.value},
            )
            return None
        await self.conversations.transition(
            conversation.id,
            OPEN_FOR_HANDOFF,
            status=ConversationStatus.WAITING,
            pool=request.pool,
            skill=request.skill,
        )
        preferred = await self.conversations.previous_agent(
            conversation.visitor_id, exclude_conversation=None
        )
        outcomes = await self.engine.enqueue(
            conversation.id,
            request.pool,
            request.language,
            request.skill,
            now,
            reason=request.reason.value,
            note=request.note,
            preferred_agent_id=preferred,
            target_agent_id=request.target_agent_id,
        )
        await self.conversations.record_event(
            conversation.id, HandoffEventType.QUEUED, data={"pool": request.pool.value}
        )
        position = await self.engine.queue_position(conversation.id)
        if position is not None:
            await self.conversations.append(
                conversation.id,
                SenderKind.SYSTEM,
                texts.say(
                    "queued",
                    conversation.language,
                    who=texts.who(request.pool, conversation.language),
                    position=position,
                ),
                data={"event": "queued", "position": position, "pool": request.pool.value},
            )
        await self.apply(outcomes)
        return position

    # --- agent actions ---------------------------------------------------------

    async def accept(self, conversation_id: str, agent: Agent) -> Conversation:
        outcome = await self.engine.accept(conversation_id, agent.id, self.clock())
        await self.apply([outcome])
        return await self.conversations.get(conversation_id)

    async def decline(self, conversation_id: str, agent: Agent) -> None:
        await self.apply(await self.engine.decline(conversation_id, agent.id, self.clock()))

    async def claim(self, conversation_id: str, agent: Agent) -> Conversation:
        """Take a waiting conversation (manual pick), or — advisors only — take over a
        conversation another agent holds (supervision)."""
        conversation = await self.conversations.get(conversation_id)
        if conversation.status is ConversationStatus.ASSIGNED:
            if conversation.assigned_agent_id == agent.id:
                return conversation
            if agent.role is AgentRole.AMBASSADOR:
                raise Conflict("this conversation is already taken")
            return await self._take_over(conversation, agent)
        if conversation.status is not ConversationStatus.WAITING:
            raise Conflict("this conversation is not waiting for a person")
        outcome = await self.engine.claim(conversation_id, agent.id, self.clock())
        await self.apply([outcome])
        return await self.conversations.get(conversation_id)

    async def _take_over(self, conversation: Conversation, advisor: Agent) -> Conversation:
        previous = conversation.assigned_agent_id
        now = self.clock()
        state = await self.engine.agent_state(advisor.id)
        if state is None or state.presence is not Presence.ONLINE or not state.has_room:
            # Checked before anything moves: a failed take-over leaves the chat where it was.
            raise Conflict("go online with a free slot to take over a conversation")
        if previous:
            await self.apply(await self.engine.release(conversation.id, previous, now))
            await self.bus.publish(
                agent_channel(previous),
                {"type": "unassigned", "conversation_id": conversation.id, "reason": "taken_over"},
            )
        await self.conversations.transition(
            conversation.id,
            {ConversationStatus.ASSIGNED},
            status=ConversationStatus.WAITING,
            assigned_agent_id=None,
            pool=Pool.ADVISOR,
        )
        await self.apply(
            await self.engine.enqueue(
                conversation.id,
                Pool.ADVISOR,
                conversation.language,
                conversation.skill,
                now,
                reason=HandoffReason.TRANSFER.value,
                note="taken over by an advisor",
                target_agent_id=advisor.id,
                at_head=True,
            )
        )
        await self.conversations.record_event(
            conversation.id, HandoffEventType.TRANSFERRED, agent_id=advisor.id, data={"from": previous, "takeover": True}
        )
        current = await self.conversations.get(conversation.id)
        if current.status is ConversationStatus.WAITING:
            await self.apply([await self.engine.claim(conversation.id, advisor.id, now)])
        return await self.conversations.get(conversation.id)

    async def transfer(
        self,
        conversation_id: str,
        agent: Agent,
        *,
        pool: Pool | None,
        target_agent_id: str | None,
        note: str | None,
    ) -> Conversation:
        conversation = await self._held_by(conversation_id, agent)
        target: Agent | None = None
        if target_agent_id:
            target = await self.agents.get(target_agent_id)
            if target.id == agent.id:
                raise Conflict("you already hold this conversation")
        new_pool = target.pool if target else (pool or Pool.ADVISOR)
        now = self.clock()
        await self.apply(await self.engine.release(conversation_id, agent.id, now))
        await self.conversations.transition(
            conversation_id,
            {ConversationStatus.ASSIGNED},
            status=ConversationStatus.WAITING,
            assigned_agent_id=None,
            pool=new_pool,
        )
        await self.conversations.record_event(
            conversation_id,
            HandoffEventType.TRANSFERRED,
            agent_id=agent.id,
            data={"pool": new_pool.value, "to": target.id if target else None, "note": note},
        )
        await self.conversations.append(
            conversation_id,
            SenderKind.SYSTEM,
            texts.say("transferred", conversation.language, who=texts.who(new_pool, conversation.language)),
            data={"event": "transferred", "pool": new_pool.value},
        )
        await self.bus.publish(
            agent_channel(agent.id), {"type": "unassigned", "conversation_id": conversation_id, "reason": "transferred"}
        )
        await self.apply(
            await self.engine.enqueue(
                conversation_id,
                new_pool,
                conversation.language,
                conversation.skill,
                now,
                reason=HandoffReason.TRANSFER.value,
                note=note,
                target_agent_id=target.id if target else None,
                at_head=True,
            )
        )
        return await self.conversations.get(conversation_id)

    async def close(self, conversation_id: str, agent: Agent, outcome: str | None) -> Conversation:
        """End the human part: the conversation returns to the bot and the visitor may rate it."""
        conversation = await self.conversations.get(conversation_id)
        holder = conversation.assigned_agent_id
        if conversation.status is not ConversationStatus.ASSIGNED or holder is None:
            raise Conflict("this conversation is not held by a person")
        if holder != agent.id and agent.role is AgentRole.AMBASSADOR:
            raise Forbidden("only the agent holding this conversation can close it")
        await self.apply(await self.engine.release(conversation_id, holder, self.clock()))
        closed = await self.conversations.transition(
            conversation_id,
            {ConversationStatus.ASSIGNED},
            status=ConversationStatus.BOT,
            assigned_agent_id=None,
            outcome=outcome,
        )
        await self.conversations.record_event(
            conversation_id, HandoffEventType.CLOSED, agent_id=agent.id, data={"outcome": outcome}
        )
        await self.conversations.record_event(conversation_id, HandoffEventType.RELEASED)
        holder_agent = await self.agents.get(holder)
        await self.conversations.append(
            conversation_id,
            SenderKind.SYSTEM,
            texts.say("closed", conversation.language, name=holder_agent.display_name),
            data={"event": "closed", "agent": _agent_card(holder_agent), "rate": True},
        )
        if holder != agent.id:
            await self.bus.publish(
                agent_channel(holder), {"type": "unassigned", "conversation_id": conversation_id, "reason": "closed"}
            )
        return closed

    async def cancel(self, conversation_id: str) -> None:
        """The conversation no longer needs a human (e.g. the visitor left a message)."""
        outcomes = await self.engine.cancel(conversation_id, self.clock())
        if outcomes:
            await self.apply(outcomes)

    async def _held_by(self, conversation_id: str, agent: Agent) -> Conversation:
        conversation = await self.conversations.get(conversation_id)
        if conversation.status is not ConversationStatus.ASSIGNED:
            raise Conflict("this conversation is not held by a person")
        if conversation.assigned_agent_id != agent.id:
            raise Forbidden("this conversation is held by another agent")
        return conversation

    # --- timers and start-up ------------------------------------------------------

    async def sweep(self) -> None:
        await self.apply(await self.engine.sweep(self.clock()))

    async def restore(self) -> None:
        """Give the routing backend back what the store knows: agents, and the
        conversations that were waiting (an in-memory backend starts empty)."""
        for agent in await self.agents.list():
            await self.engine.register_agent(agent.id, agent.pool, agent.languages, agent.skills, agent.capacity)
        waiting = await self.conversations.list(statuses=[ConversationStatus.WAITING])
        known = {ticket.conversation_id for ticket in await self.engine.waiting()}
        now = self.clock()
        for conversation in sorted(waiting, key=lambda c: c.updated_at):
            if conversation.id in known or conversation.pool is None:
                continue
            await self.engine.enqueue(
                conversation.id,
                conversation.pool,
                conversation.language,
                conversation.skill,
                now,
                reason=HandoffReason.REQUESTED.value,
            )

    # --- outcomes → store + notifications ------------------------------------------

    async def apply(self, outcomes: Iterable[out.Outcome]) -> None:
        queue_changed = False
        for outcome in outcomes:
            try:
                queue_changed |= await self._apply_one(outcome)
            except (NotFound, Conflict):
                log.warning("outcome %r no longer fits its conversation", outcome, exc_info=True)
        if queue_changed:
            await self.publish_queue()

    async def _apply_one(self, outcome: out.Outcome) -> bool:
        """Apply one outcome; True when queue positions may have changed."""
        if isinstance(outcome, out.Offered):
            await self.conversations.record_event(outcome.conversation_id, HandoffEventType.OFFERED, agent_id=outcome.agent_id)
            await self.bus.publish(
                agent_channel(outcome.agent_id),
                {"type": "offer", "offer": await self.ticket_view(outcome.conversation_id, expires_at=outcome.expires_at)},
            )
            return False
        if isinstance(outcome, out.Assigned):
            await self._assigned(outcome.conversation_id, outcome.agent_id, outcome.via)
            return True
        if isinstance(outcome, out.OfferExpired):
            await self.conversations.record_event(outcome.conversation_id, HandoffEventType.TIMED_OUT, agent_id=outcome.agent_id)
            await self.bus.publish(
                agent_channel(outcome.agent_id),
                {"type": "offer_revoked", "conversation_id": outcome.conversation_id, "reason": "timeout"},
            )
            return False
        if isinstance(outcome, out.Declined):
            await self.conversations.record_event(outcome.conversation_id, HandoffEventType.DECLINED, agent_id=outcome.agent_id)
            return False
        if isinstance(outcome, out.Overflowed):
            await self.conversations.record_event(outcome.conversation_id, HandoffEventType.OVERFLOWED)
            return True
        if isinstance(outcome, out.Requeued):
            await self._requeued(outcome.conversation_id, outcome.agent_id)
            return True
        if isinstance(outcome, out.AgentTimedOut):
            await self.publish_presence()
            return False
        return isinstance(outcome, out.QueueChanged)

    async def _assigned(self, conversation_id: str, agent_id: str, via: str) -> None:
        agent = await self.agents.get(agent_id)
        try:
            conversation = await self.conversations.transition(
                conversation_id,
                {ConversationStatus.WAITING},
                status=ConversationStatus.ASSIGNED,
                assigned_agent_id=agent.id,
                last_agent_id=agent.id,
            )
        except Conflict:
            # The visitor left (offline message, closed tab) between queue and assignment.
            await self.engine.release(conversation_id, agent_id, self.clock())
            raise
        event = HandoffEventType.CLAIMED if via == "claim" else HandoffEventType.ACCEPTED
        await self.conversations.record_event(conversation_id, event, agent_id=agent.id)
        await self.conversations.append(
            conversation_id,
            SenderKind.SYSTEM,
            texts.assigned_text(agent.role, agent.display_name, conversation.language),
            data={"event": "assigned", "agent": _agent_card(agent)},
        )
        await self.bus.publish(agent_channel(agent.id), {"type": "assigned", "conversation": conversation.to_json()})

    async def _requeued(self, conversation_id: str, agent_id: str) -> None:
        conversation = await self.conversations.transition(
            conversation_id, {ConversationStatus.ASSIGNED}, status=ConversationStatus.WAITING, assigned_agent_id=None
        )
        await self.conversations.record_event(conversation_id, HandoffEventType.REQUEUED, agent_id=agent_id)
        await self.conversations.append(
            conversation_id,
            SenderKind.SYSTEM,
            texts.say("requeued", conversation.language),
            data={"event": "requeued"},
        )
        await self.bus.publish(
            agent_channel(agent_id), {"type": "unassigned", "conversation_id": conversation_id, "reason": "disconnected"}
        )

    async def publish_queue(self) -> None:
        """Tell waiting visitors their new position, and every console the queue."""
        for conversation_id, position in (await self.engine.queue_positions()).items():
            await self.bus.publish(
                conversation_channel(conversation_id),
                {"type": "queue_position", "conversation_id": conversation_id, "position": position},
            )
        await self.bus.publish(AGENTS_CHANNEL, {"type": "queue_changed"})

    async def publish_presence(self) -> None:
        await self.bus.publish(AGENTS_CHANNEL, {"type": "presence_changed"})

    # --- views shared by the API and the bus -------------------------------------

    async def ticket_view(self, conversation_id: str, *, expires_at: float | None = None) -> dict[str, Any]:
        """An offer or queue entry as the console shows it, with the bot transcript."""
        conversation = await self.conversations.get(conversation_id)
        ticket = next((t for t in await self.engine.waiting() if t.conversation_id == conversation_id), None)
        now = self.clock()
        messages = await self.conversations.messages(conversation_id)
        enqueued_at = ticket.enqueued_at if ticket else now
        return {
            "conversation_id": conversation_id,
            "pool": (ticket.pool.value if ticket else conversation.pool.value if conversation.pool else None),
            "language": conversation.language,
            "skill": conversation.skill,
            "page_url": conversation.page_url,
            "waited_seconds": round(max(0.0, now - enqueued_at), 1),
            "expires_in_seconds": round(max(0.0, expires_at - now), 1) if expires_at else None,
            "reason": ticket.reason if ticket else None,
            "note": ticket.note if ticket else None,
            "preview": [m.to_json() for m in messages[-PREVIEW_LENGTH:]],
        }


def _agent_card(agent: Agent) -> dict[str, str]:
    """What a visitor may know of an agent: a display name and a role, nothing else."""
    return {"display_name": agent.display_name, "role": agent.role.value}
