"""One atomic change of one brand's routing state: reads, buffered writes, commit.

An engine operation reads the entities it needs through a `Change` (each read
is cached and returns a private working copy), modifies the copies, marks them
written, and the backend commits everything at once: the entity writes plus the
index operations `indexes.diff` derives from them. Nothing is visible before the
commit, and an operation that raises commits nothing.

The Redis backend commits with one Lua script that first checks that no entity
the change read has changed since (a version per entity key) and otherwise
writes nothing, so the operation runs again on fresh data; the in-memory
backend runs one change at a time. Either way, an operation must have no effect
outside its `Change`, since it may run more than once.
"""

from __future__ import annotations

import abc
from collections.abc import Iterable

from handoff.config import RoutingSettings
from handoff.routing import indexes
from handoff.routing.indexes import IndexOp
from handoff.routing.state import AgentState, Chat, Ticket

Scored = tuple[str, float]  # (member, score)


class StaleRead(Exception):
    """An index entry did not match its entity: another instance committed between the
    two reads. The operation is run again on fresh data (never happens in memory)."""


class Change(abc.ABC):
    """The working set of one operation on one brand's state."""

    def __init__(self, brand: str, settings: RoutingSettings) -> None:
        self.brand = brand
        self.settings = settings
        # entity id -> (as read, working copy); None where the entity does not exist
        self._agents: dict[str, tuple[AgentState | None, AgentState | None]] = {}
        self._tickets: dict[str, tuple[Ticket | None, Ticket | None]] = {}
        self._chats: dict[str, tuple[Chat | None, Chat | None]] = {}
        self._written: set[tuple[str, str]] = set()  # ("agent"|"ticket"|"chat", id)
        self._new_skills: set[str] = set()
        # What the writes so far do to the indexes (computed when first needed after a write).
        self._ops: list[IndexOp] | None = None
        self._overlay: dict[str, dict[str, float | None]] | None = None

    # --- loading (backend-specific) ---------------------------------------------------

    @abc.abstractmethod
    async def _load(
        self, agents: Iterable[str], tickets: Iterable[str], chats: Iterable[str]
    ) -> tuple[dict[str, AgentState | None], dict[str, Ticket | None], dict[str, Chat | None]]:
        """Read these entities as committed (one round trip on Redis)."""

    @abc.abstractmethod
    async def _first(self, key: str, count: int) -> list[Scored]:
        """The first `count` members of the committed index `key`, in order."""

    async def _firsts(self, wanted: dict[str, int]) -> dict[str, list[Scored]]:
        """`_first` of several indexes (Redis: in one round trip)."""
        return {key: await self._first(key, count) for key, count in wanted.items()}

    @abc.abstractmethod
    async def skills(self) -> list[str]:
        """Every skill a ticket of this brand has asked for."""

    @abc.abstractmethod
    async def next_order(self, *, at_head: bool) -> float:
        """A queue order behind every other (tail) or before every other (head)."""

    @abc.abstractmethod
    async def last_heartbeat(self, agent_id: str) -> float | None:
        """When the agent's console last sent a heartbeat (kept apart from the agent)."""

    # --- reads ----------------------------------------------------------------------------

    async def prefetch(
        self, *, agents: Iterable[str] = (), tickets: Iterable[str] = (), chats: Iterable[str] = ()
    ) -> None:
        """Load several entities in one go (the reads below then hit the cache)."""
        want_agents = [a for a in dict.fromkeys(agents) if a not in self._agents]
        want_tickets = [t for t in dict.fromkeys(tickets) if t not in self._tickets]
        want_chats = [c for c in dict.fromkeys(chats) if c not in self._chats]
        if not (want_agents or want_tickets or want_chats):
            return
        loaded_agents, loaded_tickets, loaded_chats = await self._load(want_agents, want_tickets, want_chats)
        for agent_id, agent in loaded_agents.items():
            self._agents[agent_id] = (agent, agent.copy() if agent else None)
        for cid, ticket in loaded_tickets.items():
            self._tickets[cid] = (ticket, ticket.copy() if ticket else None)
        for cid, chat in loaded_chats.items():
            self._chats[cid] = (chat, chat.copy() if chat else None)

    async def agent(self, agent_id: str) -> AgentState | None:
        if agent_id not in self._agents:
            await self.prefetch(agents=[agent_id])
        return self._agents[agent_id][1]

    async def ticket(self, conversation_id: str) -> Ticket | None:
        if conversation_id not in self._tickets:
            await self.prefetch(tickets=[conversation_id])
        return self._tickets[conversation_id][1]

    async def chat(self, conversation_id: str) -> Chat | None:
        if conversation_id not in self._chats:
            await self.prefetch(chats=[conversation_id])
        return self._chats[conversation_id][1]

    # --- writes ---------------------------------------------------------------------------

    def put_agent(self, agent: AgentState) -> None:
        before = self._agents.get(agent.agent_id, (None, None))[0]
        self._agents[agent.agent_id] = (before, agent)
        self._written.add(("agent", agent.agent_id))
        self._ops = self._overlay = None

    def put_ticket(self, ticket: Ticket) -> None:
        before = self._tickets.get(ticket.conversation_id, (None, None))[0]
        self._tickets[ticket.conversation_id] = (before, ticket)
        self._written.add(("ticket", ticket.conversation_id))
        self._ops = self._overlay = None
        if ticket.skill and before is None:
            self._new_skills.add(ticket.skill)

    def delete_ticket(self, conversation_id: str) -> None:
        before = self._tickets.get(conversation_id, (None, None))[0]
        self._tickets[conversation_id] = (before, None)
        self._written.add(("ticket", conversation_id))
        self._ops = self._overlay = None

    def put_chat(self, chat: Chat) -> None:
        before = self._chats.get(chat.conversation_id, (None, None))[0]
        self._chats[chat.conversation_id] = (before, chat)
        self._written.add(("chat", chat.conversation_id))

    def delete_chat(self, conversation_id: str) -> None:
        before = self._chats.get(conversation_id, (None, None))[0]
        self._chats[conversation_id] = (before, None)
        self._written.add(("chat", conversation_id))

    async def first(self, key: str, count: int) -> list[Scored]:
        """The first `count` members of the index `key` as this change leaves it."""
        return (await self.firsts([key], count))[key]

    async def firsts(self, keys: Iterable[str], count: int) -> dict[str, list[Scored]]:
        """The first `count` members of each index as this change leaves it: the
        committed index with this change's own index operations applied."""
        if self._overlay is None:
            self._overlay = {}
            for op in self.index_ops():
                self._overlay.setdefault(op.key, {})[op.member] = op.score
        overlay = self._overlay
        committed = await self._firsts({key: count + len(overlay.get(key, ())) for key in keys})
        result: dict[str, list[Scored]] = {}
        for key, members in committed.items():
            mine = overlay.get(key)
            if not mine:
                result[key] = members[:count]
                continue
            merged = {member: score for member, score in members if member not in mine}
            merged.update({member: score for member, score in mine.items() if score is not None})
            result[key] = sorted(merged.items(), key=lambda item: (item[1], item[0]))[:count]
        return result

    # --- what the commit writes ----------------------------------------------------------

    @property
    def changed(self) -> bool:
        return bool(self._written)

    def read_entities(self) -> dict[tuple[str, str], object]:
        """Every entity read or written, as read (None: absent): what a commit checks."""
        read: dict[tuple[str, str], object] = {}
        for agent_id, (before, _) in self._agents.items():
            read[("agent", agent_id)] = before
        for cid, (before_ticket, _) in self._tickets.items():
            read[("ticket", cid)] = before_ticket
        for cid, (before_chat, _) in self._chats.items():
            read[("chat", cid)] = before_chat
        return read

    def written_entities(self) -> list[tuple[str, str, AgentState | Ticket | Chat | None]]:
        """(kind, id, new value or None for a deletion) of every entity written."""
        out: list[tuple[str, str, AgentState | Ticket | Chat | None]] = []
        for kind, ident in sorted(self._written):
            value: AgentState | Ticket | Chat | None
            if kind == "agent":
                value = self._agents[ident][1]
            elif kind == "ticket":
                value = self._tickets[ident][1]
            else:
                value = self._chats[ident][1]
            out.append((kind, ident, value))
        return out

    def index_ops(self) -> list[IndexOp]:
        """The index operations that keep every index true to the written entities."""
        if self._ops is None:
            self._ops = self._derive_index_ops()
        return self._ops

    def _derive_index_ops(self) -> list[IndexOp]:
        ops: list[IndexOp] = []
        for kind, ident in sorted(self._written):
            if kind == "agent":
                before_agent, after_agent = self._agents[ident]
                ops += indexes.diff(
                    indexes.agent_listing(before_agent, self.settings),
                    indexes.agent_listing(after_agent, self.settings),
                )
            elif kind == "ticket":
                before_ticket, after_ticket = self._tickets[ident]
                ops += indexes.diff(
                    indexes.ticket_listing(before_ticket, self.settings),
                    indexes.ticket_listing(after_ticket, self.settings),
                )
        ops.extend(IndexOp(indexes.SKILLS, skill, 0.0) for skill in sorted(self._new_skills))
        return ops
