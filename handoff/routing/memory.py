"""In-process routing backend: entities in dicts, indexes in sorted lists.

One process only (the embedded stack). Changes run one at a time under a lock; a
change's writes are applied only once its operation returns, so an operation that
raises leaves nothing half done, exactly as on Redis. Each index is a
`sortedcontainers.SortedList` of (score, member) beside a dict of each member's
score: adding, removing and ranking cost O(log n).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

from sortedcontainers import SortedList

from handoff.config import RoutingSettings
from handoff.routing import indexes
from handoff.routing.backend import Operation, RoutingBackend, T
from handoff.routing.change import Change, Scored
from handoff.routing.state import AgentState, Chat, RoutingState, Ticket


class SortedIndex:
    """A sorted set: members ordered by (score, member)."""

    __slots__ = ("_order", "_scores")

    def __init__(self) -> None:
        self._order: SortedList = SortedList()
        self._scores: dict[str, float] = {}

    def add(self, member: str, score: float) -> None:
        old = self._scores.get(member)
        if old is not None:
            self._order.remove((old, member))
        self._scores[member] = score
        self._order.add((score, member))

    def remove(self, member: str) -> None:
        old = self._scores.pop(member, None)
        if old is not None:
            self._order.remove((old, member))

    def first(self, count: int | None, max_score: float | None = None) -> list[Scored]:
        items = self._order if count is None else self._order.islice(0, count)
        result = [(member, score) for score, member in items]
        if max_score is not None:
            result = [(member, score) for member, score in result if score <= max_score]
        return result

    def rank(self, member: str) -> int | None:
        score = self._scores.get(member)
        return None if score is None else int(self._order.index((score, member)))


class _BrandState:
    def __init__(self) -> None:
        self.agents: dict[str, AgentState] = {}
        self.tickets: dict[str, Ticket] = {}
        self.chats: dict[str, Chat] = {}
        self.indexes: dict[str, SortedIndex] = {}
        self.tail = 0
        self.head = 0

    def index(self, key: str) -> SortedIndex:
        found = self.indexes.get(key)
        if found is None:
            found = self.indexes[key] = SortedIndex()
        return found


class MemoryChange(Change):
    def __init__(self, brand: str, settings: RoutingSettings, state: _BrandState, heartbeats: dict[str, float]) -> None:
        super().__init__(brand, settings)
        self._state = state
        self._heartbeats = heartbeats

    async def _load(
        self, agents: Iterable[str], tickets: Iterable[str], chats: Iterable[str]
    ) -> tuple[dict[str, AgentState | None], dict[str, Ticket | None], dict[str, Chat | None]]:
        state = self._state
        return (
            {a: state.agents.get(a) for a in agents},
            {t: state.tickets.get(t) for t in tickets},
            {c: state.chats.get(c) for c in chats},
        )

    async def _first(self, key: str, count: int) -> list[Scored]:
        index = self._state.indexes.get(key)
        return index.first(count) if index is not None else []

    async def skills(self) -> list[str]:
        return [member for member, _ in await self.first(indexes.SKILLS, 10_000)]

    async def next_order(self, *, at_head: bool) -> float:
        # Orders taken by a change that then fails are skipped: gaps do not matter.
        if at_head:
            self._state.head -= 1
            return float(self._state.head)
        self._state.tail += 1
        return float(self._state.tail)

    async def last_heartbeat(self, agent_id: str) -> float | None:
        return self._heartbeats.get(agent_id)

    def commit(self) -> list[str]:
        """Apply the change; return the conversations it forgot (neither waiting nor held)."""
        state = self._state
        forgotten = []
        for kind, ident, value in self.written_entities():
            # The working copies are private to this change: stored as they are.
            if kind == "agent":
                assert value is None or isinstance(value, AgentState)
                if value is not None:
                    state.agents[ident] = value
                continue
            table: dict[str, Ticket] | dict[str, Chat] = state.tickets if kind == "ticket" else state.chats
            if value is None:
                table.pop(ident, None)
                forgotten.append(ident)
            else:
                table[ident] = value  # type: ignore[assignment]
        for op in self.index_ops():
            if op.score is None:
                state.index(op.key).remove(op.member)
            else:
                state.index(op.key).add(op.member, op.score)
        return [c for c in forgotten if c not in state.tickets and c not in state.chats]


class MemoryRoutingBackend(RoutingBackend):
    def __init__(self) -> None:
        self._brands: dict[str, _BrandState] = {}
        self._brand_of_agent: dict[str, str] = {}
        self._brand_of_conversation: dict[str, str] = {}
        self._heartbeats: dict[str, float] = {}
        self._lock = asyncio.Lock()

    def _state(self, brand: str) -> _BrandState:
        found = self._brands.get(brand)
        if found is None:
            found = self._brands[brand] = _BrandState()
        return found

    async def run(self, brand: str, settings: RoutingSettings, operation: Operation[T]) -> T:
        async with self._lock:
            change = MemoryChange(brand, settings, self._state(brand), self._heartbeats)
            result = await operation(change)
            if change.changed:
                for conversation_id in change.commit():
                    self._brand_of_conversation.pop(conversation_id, None)
            return result

    async def remember_brand(self, *, agent_id: str | None = None, conversation_id: str | None = None,
                             brand: str) -> None:
        self._state(brand)
        if agent_id is not None:
            self._brand_of_agent.setdefault(agent_id, brand)
        if conversation_id is not None:
            self._brand_of_conversation.setdefault(conversation_id, brand)

    async def brand_of(self, *, agent_id: str | None = None, conversation_id: str | None = None) -> str | None:
        if agent_id is not None:
            return self._brand_of_agent.get(agent_id)
        return self._brand_of_conversation.get(conversation_id or "")

    async def brands(self) -> list[str]:
        return sorted(self._brands)

    async def heartbeat(self, agent_id: str, now: float, ttl: float) -> None:
        self._heartbeats[agent_id] = now

    async def agents(self, brand: str, agent_ids: list[str] | None = None) -> list[AgentState]:
        known = self._state(brand).agents
        wanted = known if agent_ids is None else agent_ids
        return [known[a].copy() for a in wanted if a in known]

    async def tickets(self, brand: str, conversation_ids: list[str]) -> list[Ticket]:
        known = self._state(brand).tickets
        return [known[c].copy() for c in conversation_ids if c in known]

    async def members(self, brand: str, key: str, count: int | None = None,
                      *, max_score: float | None = None) -> list[Scored]:
        index = self._state(brand).indexes.get(key)
        return index.first(count, max_score) if index is not None else []

    async def rank(self, brand: str, key: str, member: str) -> int | None:
        index = self._state(brand).indexes.get(key)
        return index.rank(member) if index is not None else None

    async def snapshot(self, brand: str) -> RoutingState:
        state = self._state(brand)
        tickets = sorted(state.tickets.values(), key=lambda t: (t.order, t.conversation_id))
        return RoutingState(
            agents={a: agent.copy() for a, agent in state.agents.items()},
            tickets=[t.copy() for t in tickets],
            chats={c: chat.copy() for c, chat in state.chats.items()},
        )
