"""The live routing state: agents, the waiting queue and the chats agents hold.

`RoutingState` is plain data that round-trips through JSON (the Redis backend
stores it as one document). Its methods are the only code that moves a
conversation between "waiting" and "held", so the bookkeeping stays consistent:
a conversation is either one ticket of the queue or one chat of one agent, and an
agent's `offered`/`active` lists mirror the tickets and chats that name it.
No rule lives here (see `policy.py`), and no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from handoff.domain import DEFAULT_BRAND, Pool, Presence

REQUEUED_REASON = "requeued"


@dataclass(slots=True)
class AgentState:
    """One agent as the router sees it; `load` counts held chats and pending offers."""

    agent_id: str
    pool: Pool
    languages: tuple[str, ...]
    skills: tuple[str, ...]
    capacity: int
    presence: Presence = Presence.OFFLINE
    active: tuple[str, ...] = ()
    offered: tuple[str, ...] = ()
    last_assigned_at: float | None = None
    last_seen: float | None = None
    disconnected_at: float | None = None
    # Set when a heartbeat timeout (not the agent) put the agent offline: the
    # presence a later heartbeat restores.
    resume_presence: Presence | None = None
    brand: str = DEFAULT_BRAND

    @property
    def load(self) -> int:
        return len(self.active) + len(self.offered)

    @property
    def load_ratio(self) -> float:
        return self.load / self.capacity if self.capacity > 0 else float("inf")

    @property
    def has_room(self) -> bool:
        return self.load < self.capacity

    def to_json(self) -> dict[str, Any]:
        return {
            "agent_id": self.agent_id,
            "pool": self.pool.value,
            "languages": list(self.languages),
            "skills": list(self.skills),
            "capacity": self.capacity,
            "presence": self.presence.value,
            "active": list(self.active),
            "offered": list(self.offered),
            "last_assigned_at": self.last_assigned_at,
            "last_seen": self.last_seen,
            "disconnected_at": self.disconnected_at,
            "resume_presence": self.resume_presence.value if self.resume_presence else None,
            "brand": self.brand,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> AgentState:
        resume = data.get("resume_presence")
        return cls(
            agent_id=str(data["agent_id"]),
            pool=Pool(data["pool"]),
            languages=tuple(data["languages"]),
            skills=tuple(data["skills"]),
            capacity=int(data["capacity"]),
            presence=Presence(data["presence"]),
            active=tuple(data["active"]),
            offered=tuple(data["offered"]),
            last_assigned_at=data.get("last_assigned_at"),
            last_seen=data.get("last_seen"),
            disconnected_at=data.get("disconnected_at"),
            resume_presence=Presence(resume) if resume else None,
            brand=str(data.get("brand", DEFAULT_BRAND)),
        )


@dataclass(slots=True)
class Ticket:
    """A conversation waiting for a person, possibly offered to one agent right now."""

    conversation_id: str
    pool: Pool
    language: str
    skill: str | None
    enqueued_at: float
    reason: str
    note: str | None = None
    preferred_agent_id: str | None = None
    target_agent_id: str | None = None
    offered_to: str | None = None
    offer_expires_at: float | None = None
    declines: int = 0
    overflowed: bool = False
    # Agents who declined this ticket or let its offer expire: never offered it again.
    passed_by: tuple[str, ...] = ()
    brand: str = DEFAULT_BRAND
    # WaitedTooLong was reported for this wait (fired once per ticket).
    told_waited: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "conversation_id": self.conversation_id,
            "pool": self.pool.value,
            "language": self.language,
            "skill": self.skill,
            "enqueued_at": self.enqueued_at,
            "reason": self.reason,
            "note": self.note,
            "preferred_agent_id": self.preferred_agent_id,
            "target_agent_id": self.target_agent_id,
            "offered_to": self.offered_to,
            "offer_expires_at": self.offer_expires_at,
            "declines": self.declines,
            "overflowed": self.overflowed,
            "passed_by": list(self.passed_by),
            "brand": self.brand,
            "told_waited": self.told_waited,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Ticket:
        return cls(
            conversation_id=str(data["conversation_id"]),
            pool=Pool(data["pool"]),
            language=str(data["language"]),
            skill=data.get("skill"),
            enqueued_at=float(data["enqueued_at"]),
            reason=str(data["reason"]),
            note=data.get("note"),
            preferred_agent_id=data.get("preferred_agent_id"),
            target_agent_id=data.get("target_agent_id"),
            offered_to=data.get("offered_to"),
            offer_expires_at=data.get("offer_expires_at"),
            declines=int(data.get("declines", 0)),
            overflowed=bool(data.get("overflowed", False)),
            passed_by=tuple(data.get("passed_by", ())),
            brand=str(data.get("brand", DEFAULT_BRAND)),
            told_waited=bool(data.get("told_waited", False)),
        )


@dataclass(slots=True)
class Chat:
    """A conversation an agent holds, with the ticket it came from (to requeue it)."""

    ticket: Ticket
    agent_id: str
    assigned_at: float

    def to_json(self) -> dict[str, Any]:
        return {"ticket": self.ticket.to_json(), "agent_id": self.agent_id, "assigned_at": self.assigned_at}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Chat:
        return cls(Ticket.from_json(data["ticket"]), str(data["agent_id"]), float(data["assigned_at"]))


@dataclass(slots=True)
class RoutingState:
    """Everything the router knows; the queue order is the order of `tickets`."""

    agents: dict[str, AgentState] = field(default_factory=dict)
    tickets: list[Ticket] = field(default_factory=list)
    chats: dict[str, Chat] = field(default_factory=dict)

    # --- serialisation ---------------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        return {
            "agents": [agent.to_json() for agent in self.agents.values()],
            "tickets": [ticket.to_json() for ticket in self.tickets],
            "chats": [chat.to_json() for chat in self.chats.values()],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RoutingState:
        agents = (AgentState.from_json(item) for item in data.get("agents", ()))
        chats = (Chat.from_json(item) for item in data.get("chats", ()))
        return cls(
            agents={agent.agent_id: agent for agent in agents},
            tickets=[Ticket.from_json(item) for item in data.get("tickets", ())],
            chats={chat.ticket.conversation_id: chat for chat in chats},
        )

    def copy(self) -> RoutingState:
        """A deep copy (through the JSON form, which also proves it serialises)."""
        return RoutingState.from_json(self.to_json())

    # --- lookups ---------------------------------------------------------------------

    def ticket(self, conversation_id: str) -> Ticket | None:
        return next((t for t in self.tickets if t.conversation_id == conversation_id), None)

    def knows(self, conversation_id: str) -> bool:
        """True when the conversation is waiting or held."""
        return conversation_id in self.chats or self.ticket(conversation_id) is not None

    # --- the moves of a conversation ----------------------------------------------------

    def add_ticket(self, ticket: Ticket, *, index: int | None = None) -> None:
        """Queue a conversation at `index` (None: at the tail)."""
        assert not self.knows(ticket.conversation_id), "a conversation is queued or held once"
        if index is None:
            self.tickets.append(ticket)
        else:
            self.tickets.insert(index, ticket)

    def offer(self, ticket: Ticket, agent: AgentState, expires_at: float) -> None:
        assert ticket.offered_to is None, "a ticket is offered to one agent at a time"
        ticket.offered_to = agent.agent_id
        ticket.offer_expires_at = expires_at
        agent.offered = (*agent.offered, ticket.conversation_id)

    def withdraw_offer(self, ticket: Ticket) -> str | None:
        """End the ticket's pending offer, if any; return the agent it was offered to."""
        agent_id = ticket.offered_to
        if agent_id is None:
            return None
        agent = self.agents.get(agent_id)
        if agent is not None:
            agent.offered = tuple(c for c in agent.offered if c != ticket.conversation_id)
        ticket.offered_to = None
        ticket.offer_expires_at = None
        return agent_id

    def remove_ticket(self, ticket: Ticket) -> None:
        self.withdraw_offer(ticket)
        self.tickets.remove(ticket)

    def assign(self, ticket: Ticket, agent: AgentState, now: float) -> Chat:
        """The agent takes the ticket: it leaves the queue and becomes one of its chats."""
        self.remove_ticket(ticket)
        chat = Chat(ticket=ticket, agent_id=agent.agent_id, assigned_at=now)
        self.chats[ticket.conversation_id] = chat
        agent.active = (*agent.active, ticket.conversation_id)
        agent.last_assigned_at = now
        return chat

    def unassign(self, conversation_id: str) -> Chat | None:
        """The chat ends (closed, transferred, requeued); return it, or None if not held."""
        chat = self.chats.pop(conversation_id, None)
        if chat is None:
            return None
        agent = self.agents.get(chat.agent_id)
        if agent is not None:
            agent.active = tuple(c for c in agent.active if c != conversation_id)
        return chat


def requeued_ticket(chat: Chat, now: float) -> Ticket:
    """A fresh ticket for a chat whose agent was lost: same conversation, new wait."""
    return replace(
        chat.ticket,
        enqueued_at=now,
        reason=REQUEUED_REASON,
        preferred_agent_id=None,
        target_agent_id=None,
        offered_to=None,
        offer_expires_at=None,
        declines=0,
        passed_by=(),
        told_waited=False,
    )
