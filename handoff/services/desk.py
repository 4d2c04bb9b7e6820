"""What an agent (ambassador, advisor, admin) can do from the console."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from handoff.agents import AgentService
from handoff.conversations import ConversationService
from handoff.domain import (
    Agent,
    AgentRole,
    Conversation,
    ConversationStatus,
    Forbidden,
    Message,
    Presence,
)
from handoff.realtime import EventBus, conversation_channel
from handoff.services.handoffs import HandoffCoordinator

LIVE_STATUSES = (ConversationStatus.WAITING, ConversationStatus.ASSIGNED)


def is_supervisor(agent: Agent) -> bool:
    return agent.role in (AgentRole.ADVISOR, AgentRole.ADMIN)


class AgentDesk:
    def __init__(
        self,
        agents: AgentService,
        conversations: ConversationService,
        handoffs: HandoffCoordinator,
        bus: EventBus,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.agents = agents
        self.conversations = conversations
        self.handoffs = handoffs
        self.engine = handoffs.engine
        self.bus = bus
        self.clock = clock

    async def set_presence(self, agent: Agent, presence: Presence) -> Presence:
        await self.engine.register_agent(agent.id, agent.pool, agent.languages, agent.skills, agent.capacity)
        outcomes = await self.engine.set_presence(agent.id, presence, self.clock())
        await self.handoffs.apply(outcomes)
        await self.handoffs.publish_presence()
        return presence

    async def presence(self, agent: Agent) -> str:
        state = await self.engine.agent_state(agent.id)
        return state.presence.value if state else Presence.OFFLINE.value

    async def heartbeat(self, agent: Agent) -> None:
        await self.handoffs.apply(await self.engine.heartbeat(agent.id, self.clock()))

    async def online(self) -> list[dict[str, Any]]:
        known = {agent.id: agent for agent in await self.agents.list()}
        result = []
        for state in await self.engine.online_agents():
            agent = known.get(state.agent_id)
            if agent is None:
                continue
            result.append(
                {
                    "agent": agent.to_json(),
                    "presence": state.presence.value,
                    "load": len(state.active) + len(state.offered),
                    "capacity": state.capacity,
                }
            )
        return result

    async def my_conversations(self, agent: Agent) -> tuple[list[Conversation], list[dict[str, Any]]]:
        mine = await self.conversations.list(statuses=[ConversationStatus.ASSIGNED], agent_id=agent.id)
        offers = [
            await self.handoffs.ticket_view(t.conversation_id, expires_at=t.offer_expires_at)
            for t in await self.engine.waiting()
            if t.offered_to == agent.id
        ]
        return mine, offers

    async def queue(self, agent: Agent) -> list[dict[str, Any]]:
        tickets = await (self.engine.waiting() if is_supervisor(agent) else self.engine.waiting_for(agent.id, self.clock()))
        return [await self.handoffs.ticket_view(t.conversation_id, expires_at=t.offer_expires_at) for t in tickets]

    async def readable(self, agent: Agent, conversation_id: str) -> Conversation:
        """The conversation, if this agent may read it: its holder, an agent it is
        offered to or that may claim it, or a supervisor."""
        conversation = await self.conversations.get(conversation_id)
        if is_supervisor(agent) or conversation.assigned_agent_id == agent.id:
            return conversation
        if conversation.status is ConversationStatus.WAITING:
            if any(t.conversation_id == conversation_id for t in await self.engine.waiting_for(agent.id, self.clock())):
                return conversation
            if any(t.conversation_id == conversation_id and t.offered_to == agent.id for t in await self.engine.waiting()):
                return conversation
        raise Forbidden("you cannot read this conversation")

    async def send(self, agent: Agent, conversation_id: str, text: str, client_msg_id: str | None) -> tuple[Message, bool]:
        conversation = await self.conversations.get(conversation_id)
        if conversation.status is not ConversationStatus.ASSIGNED or conversation.assigned_agent_id != agent.id:
            raise Forbidden("only the agent holding this conversation can write in it")
        return await self.conversations.append(
            conversation_id,
            agent.role.sender_kind,
            text,
            sender_id=agent.id,
            client_msg_id=client_msg_id,
            data={"display_name": agent.display_name, "role": agent.role.value},
        )

    async def typing(self, agent: Agent, conversation_id: str, typing: bool) -> None:
        conversation = await self.conversations.get(conversation_id)
        if conversation.assigned_agent_id != agent.id:
            raise Forbidden("only the agent holding this conversation can type in it")
        await self.bus.publish(
            conversation_channel(conversation_id),
            {
                "type": "typing",
                "conversation_id": conversation_id,
                "sender_kind": agent.role.sender_kind.value,
                "typing": typing,
            },
        )

    async def live(self, agent: Agent) -> list[Conversation]:
        if not is_supervisor(agent):
            raise Forbidden("supervision is for advisors")
        return await self.conversations.list(statuses=LIVE_STATUSES)

    async def transcript(self, agent: Agent, conversation_id: str) -> dict[str, Any]:
        if not is_supervisor(agent):
            raise Forbidden("transcripts are for advisors and admins")
        conversation = await self.conversations.get(conversation_id)
        messages = await self.conversations.messages(conversation_id, limit=100_000)
        events = await self.conversations.events(conversation_id)
        return {
            "conversation": conversation.to_json(),
            "messages": [m.to_json() for m in messages],
            "events": [e.to_json() for e in events],
        }
