"""A slow reference model of the routing rules: the whole state, scanned on every step.

It keeps everything in one `RoutingState` and, after every change, walks the whole
queue oldest first and offers each unoffered auto-mode ticket to `policy.pick` of
every eligible agent — the obvious O(tickets × agents) reading of docs/routing.md,
as the first version of the engine did. Timers are found by scanning every entity.
`test_reference.py` drives it and the indexed engine with the same operations and
requires the same outcomes and the same state: the indexes, the incremental
dispatch and the per-timer sweep must change nothing the rules decide.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from handoff.config import RoutingSettings
from handoff.domain import Conflict, NotFound, Pool, Presence
from handoff.routing import indexes, policy
from handoff.routing import outcomes as out
from handoff.routing.state import AgentState, Chat, RoutingState, Ticket, requeued_ticket


@dataclass
class ReferenceRouter:
    settings: RoutingSettings
    state: RoutingState = field(default_factory=RoutingState)
    heartbeats: dict[str, float] = field(default_factory=dict)
    tail: int = 0
    head: int = 0

    # --- helpers -----------------------------------------------------------------

    def _queue(self) -> list[Ticket]:
        return sorted(self.state.tickets, key=lambda t: t.order)

    def _offer(self, ticket: Ticket, agent: AgentState, now: float, result: list[out.Outcome]) -> None:
        ticket.offered_to, ticket.offer_expires_at = agent.agent_id, now + self.settings.offer_timeout_seconds
        agent.offered = (*agent.offered, ticket.conversation_id)
        result.append(out.Offered(ticket.conversation_id, agent.agent_id, ticket.offer_expires_at))

    def _withdraw(self, ticket: Ticket, *, passed: bool) -> None:
        agent_id = ticket.offered_to
        if agent_id is None:
            return
        ticket.offered_to = ticket.offer_expires_at = None
        if passed:
            ticket.passed_by = (*(a for a in ticket.passed_by if a != agent_id), agent_id)
        agent = self.state.agents[agent_id]
        agent.offered = tuple(c for c in agent.offered if c != ticket.conversation_id)

    def _assign(self, ticket: Ticket, agent: AgentState, now: float) -> None:
        self.state.tickets.remove(ticket)
        agent.offered = tuple(c for c in agent.offered if c != ticket.conversation_id)
        ticket.offered_to = ticket.offer_expires_at = None
        self.state.chats[ticket.conversation_id] = Chat(ticket, agent.agent_id, now)
        agent.active = (*agent.active, ticket.conversation_id)
        agent.last_assigned_at = now

    def _dispatch(self, now: float, result: list[out.Outcome]) -> None:
        for ticket in self._queue():
            if ticket.offered_to is not None or policy.mode(ticket.pool, self.settings) != policy.AUTO:
                continue
            candidates = [a for a in self.state.agents.values() if policy.eligible(a, ticket)]
            agent = policy.pick(candidates, ticket)
            if agent is not None:
                self._offer(ticket, agent, now, result)

    def _withdraw_offers_to(self, agent: AgentState, result: list[out.Outcome]) -> None:
        for ticket in self._queue():
            if ticket.offered_to == agent.agent_id:
                self._withdraw(ticket, passed=False)
                result.append(out.OfferExpired(ticket.conversation_id, agent.agent_id))

    # --- operations ------------------------------------------------------------------

    def register_agent(self, agent_id: str, pool: Pool, languages: tuple[str, ...], skills: tuple[str, ...],
                       capacity: int) -> None:
        self.state.agents[agent_id] = AgentState(agent_id, pool, languages, skills, capacity)

    def set_presence(self, agent_id: str, presence: Presence, now: float) -> list[out.Outcome]:
        agent = self.state.agents.get(agent_id)
        if agent is None:
            raise NotFound("unknown agent")
        self.heartbeats[agent_id] = now
        result: list[out.Outcome] = []
        agent.last_seen, agent.resume_presence = now, None
        if presence is Presence.OFFLINE:
            if agent.presence is not Presence.OFFLINE or agent.disconnected_at is None:
                agent.disconnected_at = now
        else:
            agent.disconnected_at = None
        agent.presence = presence
        if presence is not Presence.ONLINE:
            self._withdraw_offers_to(agent, result)
        self._dispatch(now, result)
        return result

    def heartbeat(self, agent_id: str, now: float) -> list[out.Outcome]:
        agent = self.state.agents.get(agent_id)
        if agent is None:
            return []
        self.heartbeats[agent_id] = now
        result: list[out.Outcome] = []
        if agent.presence is Presence.OFFLINE and agent.resume_presence is not None:
            agent.presence, agent.resume_presence = agent.resume_presence, None
            agent.disconnected_at, agent.last_seen = None, now
            self._dispatch(now, result)
        return result

    def enqueue(self, cid: str, pool: Pool, language: str, skill: str | None, now: float, *, reason: str = "requested",
                preferred_agent_id: str | None, target_agent_id: str | None, at_head: bool) -> list[out.Outcome]:
        if self.state.ticket(cid) is not None or cid in self.state.chats:
            return []
        if at_head:
            self.head -= 1
        else:
            self.tail += 1
        self.state.tickets.append(Ticket(
            cid, pool, language, skill, now, reason, order=float(self.head if at_head else self.tail),
            preferred_agent_id=preferred_agent_id, target_agent_id=target_agent_id,
        ))
        result: list[out.Outcome] = [out.Enqueued(cid, pool)]
        self._dispatch(now, result)
        return result

    def accept(self, cid: str, agent_id: str, now: float) -> list[out.Outcome]:
        ticket = self.state.ticket(cid)
        if ticket is None or ticket.offered_to != agent_id:
            raise Conflict("not offered to you")
        if ticket.offer_expires_at is not None and now >= ticket.offer_expires_at:
            raise Conflict("expired")
        self._assign(ticket, self.state.agents[agent_id], now)
        return [out.Assigned(cid, agent_id, out.VIA_OFFER)]

    def claim(self, cid: str, agent_id: str, now: float) -> list[out.Outcome]:
        ticket = self.state.ticket(cid)
        agent = self.state.agents.get(agent_id)
        if ticket is None or agent is None or not policy.takeable(agent, ticket, now, self.settings):
            raise Conflict("cannot take it")
        self._assign(ticket, agent, now)
        return [out.Assigned(cid, agent_id, out.VIA_CLAIM)]

    def decline(self, cid: str, agent_id: str, now: float) -> list[out.Outcome]:
        ticket = self.state.ticket(cid)
        if ticket is None or ticket.offered_to != agent_id:
            raise Conflict("not offered to you")
        self._withdraw(ticket, passed=True)
        ticket.declines += 1
        result: list[out.Outcome] = [out.Declined(cid, agent_id)]
        self._dispatch(now, result)
        return result

    def release(self, cid: str, agent_id: str, now: float) -> list[out.Outcome]:
        chat = self.state.chats.get(cid)
        if chat is None or chat.agent_id != agent_id:
            return []
        del self.state.chats[cid]
        agent = self.state.agents[agent_id]
        agent.active = tuple(c for c in agent.active if c != cid)
        result: list[out.Outcome] = []
        self._dispatch(now, result)
        return result

    def cancel(self, cid: str, now: float) -> list[out.Outcome]:
        ticket = self.state.ticket(cid)
        if ticket is None:
            return []
        self._withdraw(ticket, passed=False)
        self.state.tickets.remove(ticket)
        result: list[out.Outcome] = [out.Withdrawn(cid)]
        self._dispatch(now, result)
        return result

    # --- timers ------------------------------------------------------------------------

    def _due(self, now: float) -> list[tuple[float, str, str]]:
        settings, due = self.settings, []
        for t in self.state.tickets:
            if t.offered_to is not None and t.offer_expires_at is not None:
                due.append((t.offer_expires_at, indexes.OFFER_TIMER, t.conversation_id))
            overflow_at = policy.overflow_at(t, settings) if t.offered_to is None else None
            if overflow_at is not None:
                due.append((overflow_at, indexes.OVERFLOW_TIMER, t.conversation_id))
            if not t.waited_too_long:
                due.append((t.enqueued_at + settings.max_wait_seconds, indexes.MAX_WAIT_TIMER, t.conversation_id))
        for a in self.state.agents.values():
            if a.presence is not Presence.OFFLINE and a.last_seen is not None:
                due.append((a.last_seen + settings.heartbeat_timeout_seconds, indexes.HEARTBEAT_TIMER, a.agent_id))
            if a.presence is Presence.OFFLINE and a.disconnected_at is not None and a.active:
                due.append((a.disconnected_at + settings.grace_period_seconds, indexes.GRACE_TIMER, a.agent_id))
        return sorted(
            (d for d in due if d[0] <= now),
            key=lambda d: (d[0], indexes.TIMER_ORDER[d[1]], f"{d[1]}:{d[2]}"),
        )

    def sweep(self, now: float) -> list[out.Outcome]:
        result: list[out.Outcome] = []
        for _, kind, ident in self._due(now):
            self._fire(kind, ident, now, result)
        return result

    def _fire(self, kind: str, ident: str, now: float, result: list[out.Outcome]) -> None:
        settings = self.settings
        if kind == indexes.HEARTBEAT_TIMER:
            agent = self.state.agents[ident]
            if agent.presence is Presence.OFFLINE:
                return
            heard = max(agent.last_seen or 0.0, self.heartbeats.get(ident, 0.0))
            if now - heard <= settings.heartbeat_timeout_seconds:
                agent.last_seen = heard
                return
            agent.resume_presence, agent.presence, agent.disconnected_at = agent.presence, Presence.OFFLINE, now
            self._withdraw_offers_to(agent, result)
            result.append(out.AgentTimedOut(ident))
        elif kind == indexes.GRACE_TIMER:
            agent = self.state.agents[ident]
            if agent.presence is not Presence.OFFLINE or agent.disconnected_at is None:
                return
            if now - agent.disconnected_at < settings.grace_period_seconds:
                return
            agent.disconnected_at = None
            lost = sorted((self.state.chats[c] for c in agent.active), key=lambda chat: chat.assigned_at)
            orders = {}
            for chat in reversed(lost):
                self.head -= 1
                orders[chat.conversation_id] = float(self.head)
            for chat in lost:
                del self.state.chats[chat.conversation_id]
                agent.active = tuple(c for c in agent.active if c != chat.conversation_id)
                self.state.tickets.append(requeued_ticket(chat, now, orders[chat.conversation_id]))
                result.append(out.Requeued(chat.conversation_id, ident))
        else:
            ticket = self.state.ticket(ident)
            if ticket is None:
                return
            if kind == indexes.OFFER_TIMER:
                if ticket.offer_expires_at is None or ticket.offer_expires_at > now:
                    return
                agent_id = ticket.offered_to
                self._withdraw(ticket, passed=True)
                assert agent_id is not None
                result.append(out.OfferExpired(ident, agent_id))
            elif kind == indexes.OVERFLOW_TIMER:
                if ticket.offered_to is not None or ticket.overflowed or not policy.overflow_due(ticket, now, settings):
                    return
                ticket.overflowed = True
                result.append(out.Overflowed(ident))
            elif kind == indexes.MAX_WAIT_TIMER:
                if ticket.waited_too_long or now - ticket.enqueued_at < settings.max_wait_seconds:
                    return
                ticket.waited_too_long = True
                result.append(out.WaitedTooLong(ident))
                return
        self._dispatch(now, result)
