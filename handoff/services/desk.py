"""What an agent (ambassador, advisor, admin) can do from the console, and the queue
each agent sees (`AgentQueueView`: the initial queue, then deltas)."""

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
    DomainError,
    Forbidden,
    HandoffEventType,
    Message,
    NotFound,
    Presence,
)
from handoff.events import (
    Event,
    PresenceChanged,
    QueueEntryAdded,
    QueueEntryRemoved,
    QueueEntryUpdated,
    QueueSnapshot,
    SessionEnded,
    Typing,
)
from handoff.realtime import AGENTS_CHANNEL, EventBus, agent_channel, conversation_channel
from handoff.services.handoffs import HandoffCoordinator
from handoff.services.privacy import sees_personal_data
from handoff.tokens import secret_hash

LIVE_STATUSES = (ConversationStatus.WAITING, ConversationStatus.ASSIGNED)
SUPERVISOR_QUEUE_LIMIT = 200  # supervisors see every waiting conversation, up to this many
TAKEABLE_LIMIT = 100
PREVIOUS_LIMIT = 20  # a visitor's previous conversations shown in the visitor panel
RATINGS_LIMIT = 20
VISIT_GAP_SECONDS = 30 * 60  # conversations closer than this belong to one visit (time on site)
SHORT_ID_LENGTH = 6


def short_visitor_id(visitor_id: str) -> str:
    """The short id a visitor goes by everywhere in the console (header, tabs, lists)."""
    return visitor_id[-SHORT_ID_LENGTH:]


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
        await self.bus.publish(AGENTS_CHANNEL, PresenceChanged())
        await self.handoffs.availability.publish()
        return presence

    async def logout(self, agent: Agent, token: str) -> None:
        """End this session: offline, token gone, and its sockets closed wherever they are."""
        await self.set_presence(agent, Presence.OFFLINE)
        await self.agents.logout(token)
        await self.bus.publish(agent_channel(agent.id), SessionEnded(agent.id, secret_hash(token)))

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
            await self.handoffs.entry_view(t.conversation_id, expires_at=t.offer_expires_at)
            for t in await self.engine.takeable(agent.id, self.clock(), limit=TAKEABLE_LIMIT)
            if t.offered_to == agent.id
        ]
        return mine, offers

    async def takeable_ids(self, agent: Agent) -> set[str]:
        """What `claim` accepts from this agent now (offers to it included)."""
        tickets = await self.engine.takeable(agent.id, self.clock(), limit=TAKEABLE_LIMIT)
        return {t.conversation_id for t in tickets}

    async def visible_ids(self, agent: Agent, takeable: set[str]) -> list[str]:
        """The queue this agent sees, in order: supervisors every waiting conversation
        (up to `SUPERVISOR_QUEUE_LIMIT`), others what they may take."""
        if is_supervisor(agent):
            return [t.conversation_id for t in await self.engine.waiting(limit=SUPERVISOR_QUEUE_LIMIT)]
        return [t.conversation_id for t in await self.engine.takeable(agent.id, self.clock(), limit=TAKEABLE_LIMIT)]

    async def queue(self, agent: Agent) -> list[dict[str, Any]]:
        """Queue entries, each with `takeable`: whether a Take button makes sense."""
        takeable = await self.takeable_ids(agent)
        return [
            {**await self.handoffs.entry_view(cid), "takeable": cid in takeable}
            for cid in await self.visible_ids(agent, takeable)
        ]

    async def readable(self, agent: Agent, conversation_id: str) -> Conversation:
        """The conversation, if this agent may read it: its holder, an agent it is
        offered to or that may claim it, or a supervisor."""
        conversation = await self.conversations.get(conversation_id)
        if is_supervisor(agent) or conversation.assigned_agent_id == agent.id:
            return conversation
        if conversation.status is ConversationStatus.WAITING and conversation_id in await self.takeable_ids(agent):
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
            conversation_channel(conversation_id), Typing(conversation_id, agent.role.sender_kind.value, typing)
        )

    async def live(self, agent: Agent) -> list[Conversation]:
        if not is_supervisor(agent):
            raise Forbidden("supervision is for advisors")
        return await self.conversations.list(statuses=LIVE_STATUSES)

    async def _with_visitor_panel(self, agent: Agent, conversation_id: str) -> Conversation:
        """The conversation, if this agent may see its visitor: its holder, or a supervisor."""
        conversation = await self.conversations.get(conversation_id)
        if is_supervisor(agent):
            return conversation
        if conversation.status is ConversationStatus.ASSIGNED and conversation.assigned_agent_id == agent.id:
            return conversation
        raise Forbidden("only the agent holding this conversation, or an advisor, can see its visitor")

    async def visitor_panel(self, agent: Agent, conversation_id: str) -> dict[str, Any]:
        """What the console's visitor panel shows beside a chat: pages seen in this
        conversation, language, when the visit began, the visitor's previous conversations
        (who answered, outcome, rating) and the offline messages they left."""
        conversation = await self._with_visitor_panel(agent, conversation_id)
        events = await self.conversations.events(conversation.id)
        pages = [
            {"url": str(e.data["url"]), "at": e.created_at.isoformat()}
            for e in events
            if e.type is HandoffEventType.PAGE_VIEWED and e.data.get("url")
        ]
        if not pages and conversation.page_url:  # a conversation started before pages were kept
            pages = [{"url": conversation.page_url, "at": conversation.created_at.isoformat()}]
        others = [
            c for c in await self.conversations.of_visitor(conversation.visitor_id, limit=PREVIOUS_LIMIT + 1)
            if c.id != conversation.id
        ][:PREVIOUS_LIMIT]
        visit_started = conversation.created_at
        for earlier in others:  # newest first: walk back while conversations follow each other closely
            if earlier.created_at >= visit_started:
                continue
            if (visit_started - earlier.updated_at).total_seconds() > VISIT_GAP_SECONDS:
                break
            visit_started = earlier.created_at
        names = {a.id: a for a in await self.agents.list()}
        previous = []
        for c in others:
            who = names.get(c.last_agent_id) if c.last_agent_id else None
            previous.append({
                "id": c.id,
                "created_at": c.created_at.isoformat(),
                "updated_at": c.updated_at.isoformat(),
                "status": c.status.value,
                "language": c.language,
                "skill": c.skill,
                "agent": {"id": who.id, "display_name": who.display_name, "role": who.role.value} if who else None,
                "outcome": c.outcome,
                "rating": c.rating,
                "rating_comment": c.rating_comment,
            })
        offline = []
        for c in [conversation, *others]:
            if c.offline_email is None:
                continue
            for m in await self.conversations.messages(c.id):
                if m.sender_kind.value == "visitor" and m.data.get("offline_message"):
                    item = {"conversation_id": c.id, "created_at": m.created_at.isoformat(),
                            "sender_kind": "visitor", "text": m.text}
                    if sees_personal_data(agent):
                        item["email"] = c.offline_email
                    offline.append(item)
        return {
            "conversation_id": conversation.id,
            "visitor": {"id": conversation.visitor_id, "short_id": short_visitor_id(conversation.visitor_id)},
            "language": conversation.language,
            "page_url": conversation.page_url,
            "pages": pages,
            "conversation_started_at": conversation.created_at.isoformat(),
            "visit_started_at": visit_started.isoformat(),
            "previous": previous,
            "offline_messages": offline,
        }

    async def previous_conversation(self, agent: Agent, conversation_id: str, previous_id: str) -> dict[str, Any]:
        """One of the visitor's previous conversations, read-only, from the visitor panel."""
        conversation = await self._with_visitor_panel(agent, conversation_id)
        previous = await self.conversations.get(previous_id)
        if previous.visitor_id != conversation.visitor_id or previous.id == conversation.id:
            raise NotFound("not a previous conversation of this visitor", conversation_id=previous_id)
        messages = await self.conversations.messages(previous.id)
        return {"conversation": previous.to_json(), "messages": [m.to_json() for m in messages]}

    async def ratings(self, agent: Agent) -> list[dict[str, Any]]:
        """The latest ratings (and comments) of the chats this agent answered last."""
        return [
            {"conversation_id": c.id, "visitor_id": c.visitor_id, "rating": c.rating,
             "rating_comment": c.rating_comment, "at": c.updated_at.isoformat()}
            for c in await self.conversations.rated_for(agent.id, limit=RATINGS_LIMIT)
        ]

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


class AgentQueueView:
    """The queue as one agent's socket shows it: the initial snapshot, then deltas.

    Queue deltas on the bus describe the queue for everyone; this keeps what this
    agent was sent and turns each delta (and each change of what the agent may take:
    its load, its presence) into the added / updated / removed entries of its own
    view, each with `takeable` (what `engine.takeable` returns for this agent).
    """

    def __init__(self, desk: AgentDesk, agent: Agent) -> None:
        self.desk = desk
        self.agent = agent
        self.sent: dict[str, dict[str, Any]] = {}

    async def snapshot(self) -> QueueSnapshot:
        entries = await self.desk.queue(self.agent)
        self.sent = {entry["conversation_id"]: entry for entry in entries}
        return QueueSnapshot(entries)

    async def on_delta(self, event: Event) -> list[Event]:
        """Turn a queue delta of the bus into this agent's frames (and bring the rest in line)."""
        takeable = await self.desk.takeable_ids(self.agent)
        frames: list[Event] = []
        if isinstance(event, QueueEntryRemoved):
            if self.sent.pop(event.conversation_id, None) is not None:
                frames.append(event)
        elif isinstance(event, QueueEntryAdded | QueueEntryUpdated):
            cid = event.conversation_id
            if is_supervisor(self.agent) or cid in takeable:
                entry = {**event.entry, "takeable": cid in takeable}
                kind = QueueEntryUpdated if cid in self.sent else QueueEntryAdded
                self.sent[cid] = entry
                frames.append(kind(cid, entry))
            elif self.sent.pop(cid, None) is not None:
                frames.append(QueueEntryRemoved(cid))
        return frames + await self._reconcile(takeable, skip=getattr(event, "conversation_id", None))

    async def refresh(self) -> list[Event]:
        """What the agent may take changed (load, presence): bring the view in line."""
        return await self._reconcile(await self.desk.takeable_ids(self.agent), skip=None)

    async def _reconcile(self, takeable: set[str], skip: str | None) -> list[Event]:
        frames: list[Event] = []
        for cid, entry in list(self.sent.items()):
            if cid == skip:
                continue
            if not is_supervisor(self.agent) and cid not in takeable:
                del self.sent[cid]
                frames.append(QueueEntryRemoved(cid))
            elif entry.get("takeable") != (cid in takeable):
                self.sent[cid] = {**entry, "takeable": cid in takeable}
                frames.append(QueueEntryUpdated(cid, self.sent[cid]))
        if not is_supervisor(self.agent):
            for cid in takeable - self.sent.keys() - {skip}:
                try:
                    entry = {**await self.desk.handoffs.entry_view(cid), "takeable": True}
                except DomainError:
                    continue
                self.sent[cid] = entry
                frames.append(QueueEntryAdded(cid, entry))
        return frames
