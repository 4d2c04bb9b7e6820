"""The routing entities: agents, waiting tickets and held chats, as plain data.

Each entity is stored on its own (one Redis key each, or one dict entry in
memory) and round-trips through JSON. Every index the rules look things up in
(available agents, queues, timers, positions) is *derived* from these entities by
`routing/indexes.py`, so no index can disagree with the entity it lists.
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
    brand: str = DEFAULT_BRAND
    presence: Presence = Presence.OFFLINE
    active: tuple[str, ...] = ()
    offered: tuple[str, ...] = ()
    last_assigned_at: float | None = None
    # When the agent last said it was there (a presence change, or a heartbeat seen
    # by a sweep); heartbeats themselves are kept apart and never rewrite the agent.
    last_seen: float | None = None
    disconnected_at: float | None = None
    # Set when a heartbeat timeout (not the agent) put the agent offline: the
    # presence a later heartbeat restores.
    resume_presence: Presence | None = None

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
            "brand": self.brand,
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
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> AgentState:
        resume = data.get("resume_presence")
        return cls(
            agent_id=str(data["agent_id"]),
            brand=str(data.get("brand", DEFAULT_BRAND)),
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
        )

    def copy(self) -> AgentState:
        # Positional construction: several times cheaper than dataclasses.replace on a hot path.
        return AgentState(
            self.agent_id, self.pool, self.languages, self.skills, self.capacity, self.brand, self.presence,
            self.active, self.offered, self.last_assigned_at, self.last_seen, self.disconnected_at,
            self.resume_presence,
        )


@dataclass(slots=True)
class Ticket:
    """A conversation waiting for a person, possibly offered to one agent right now.

    `order` places it in the queue: tail arrivals get increasing positive numbers,
    arrivals at the head decreasing negative ones, so the queue is "by order".
    """

    conversation_id: str
    pool: Pool
    language: str
    skill: str | None
    enqueued_at: float
    reason: str
    brand: str = DEFAULT_BRAND
    order: float = 0.0
    note: str | None = None
    preferred_agent_id: str | None = None
    target_agent_id: str | None = None
    offered_to: str | None = None
    offer_expires_at: float | None = None
    declines: int = 0
    overflowed: bool = False
    waited_too_long: bool = False
    # Agents who declined this ticket or let its offer expire, least recent first:
    # offered again only once every eligible agent has passed (going round again).
    passed_by: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "conversation_id": self.conversation_id,
            "brand": self.brand,
            "order": self.order,
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
            "waited_too_long": self.waited_too_long,
            "passed_by": list(self.passed_by),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Ticket:
        return cls(
            conversation_id=str(data["conversation_id"]),
            brand=str(data.get("brand", DEFAULT_BRAND)),
            order=float(data.get("order", 0.0)),
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
            waited_too_long=bool(data.get("waited_too_long", False)),
            passed_by=tuple(data.get("passed_by", ())),
        )

    def copy(self) -> Ticket:
        return Ticket(
            self.conversation_id, self.pool, self.language, self.skill, self.enqueued_at, self.reason, self.brand,
            self.order, self.note, self.preferred_agent_id, self.target_agent_id, self.offered_to,
            self.offer_expires_at, self.declines, self.overflowed, self.waited_too_long, self.passed_by,
        )


@dataclass(slots=True)
class Chat:
    """A conversation an agent holds, with the ticket it came from (to requeue it)."""

    ticket: Ticket
    agent_id: str
    assigned_at: float

    @property
    def conversation_id(self) -> str:
        return self.ticket.conversation_id

    @property
    def brand(self) -> str:
        return self.ticket.brand

    def to_json(self) -> dict[str, Any]:
        return {"ticket": self.ticket.to_json(), "agent_id": self.agent_id, "assigned_at": self.assigned_at}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Chat:
        return cls(Ticket.from_json(data["ticket"]), str(data["agent_id"]), float(data["assigned_at"]))

    def copy(self) -> Chat:
        return Chat(self.ticket.copy(), self.agent_id, self.assigned_at)


@dataclass(slots=True)
class RoutingState:
    """A whole snapshot (every agent, ticket in queue order, chat) — for tests and tools.

    Operations never build one: it costs O(everything), which is what the indexed
    state exists to avoid.
    """

    agents: dict[str, AgentState] = field(default_factory=dict)
    tickets: list[Ticket] = field(default_factory=list)
    chats: dict[str, Chat] = field(default_factory=dict)

    def ticket(self, conversation_id: str) -> Ticket | None:
        return next((t for t in self.tickets if t.conversation_id == conversation_id), None)


def requeued_ticket(chat: Chat, now: float, order: float) -> Ticket:
    """A fresh ticket for a chat whose agent was lost: same conversation, new wait."""
    return replace(
        chat.ticket,
        order=order,
        enqueued_at=now,
        reason=REQUEUED_REASON,
        preferred_agent_id=None,
        target_agent_id=None,
        offered_to=None,
        offer_expires_at=None,
        declines=0,
        overflowed=False,
        waited_too_long=False,
        passed_by=(),
    )
