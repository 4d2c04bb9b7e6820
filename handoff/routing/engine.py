"""The routing engine: queue, offers, claims, presence and timers, as outcomes.

Every public operation is one atomic `backend.update()` of the shared state,
built from the pure rules of `policy.py`; the engine keeps no state of its own,
so any number of engines on one Redis behave as one. Time is always passed in
(`now`, epoch seconds): timers fire when someone calls `sweep(now)`, and since
a sweep is itself one atomic change, each expiry fires once whichever instance
sweeps. Operations return outcomes (`outcomes.py`) for the caller to apply.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from handoff.config import RoutingSettings
from handoff.domain import DEFAULT_BRAND, Conflict, NotFound, Pool, Presence
from handoff.routing import policy
from handoff.routing.backend import RoutingBackend
from handoff.routing.outcomes import (
    VIA_CLAIM,
    VIA_OFFER,
    AgentTimedOut,
    Assigned,
    Declined,
    Enqueued,
    Offered,
    OfferExpired,
    Outcome,
    Overflowed,
    QueueChanged,
    Requeued,
    WaitedTooLong,
)
from handoff.routing.state import AgentState, Chat, RoutingState, Ticket, requeued_ticket

Change = Callable[[RoutingState, list[Outcome]], None]
PRESENT = (Presence.ONLINE, Presence.AWAY)


class RoutingEngine:
    def __init__(self, backend: RoutingBackend, settings: RoutingSettings) -> None:
        self.backend = backend
        self.settings = settings

    # --- agents ----------------------------------------------------------------------

    async def register_agent(
        self,
        agent_id: str,
        pool: Pool,
        languages: Iterable[str],
        skills: Iterable[str],
        capacity: int | None = None,
        *,
        brand: str = DEFAULT_BRAND,
    ) -> None:
        """Make the agent known, or update its profile; presence and load are kept."""
        speaks, knows = tuple(languages), tuple(skills)
        size = capacity if capacity and capacity > 0 else self.settings.default_capacity

        def change(state: RoutingState) -> None:
            agent = state.agents.get(agent_id)
            if agent is None:
                state.agents[agent_id] = AgentState(agent_id, pool, speaks, knows, size, brand=brand)
                return
            agent.pool, agent.languages, agent.skills, agent.capacity = pool, speaks, knows, size
            agent.brand = brand

        await self.backend.update(change)

    async def set_presence(self, agent_id: str, presence: Presence, now: float) -> list[Outcome]:
        """Online: dispatch to it. Away: no new offers, chats kept. Offline: chats kept
        for the grace period. Pending offers to an agent leaving "online" are withdrawn
        and offered to someone else."""

        def change(state: RoutingState, out: list[Outcome]) -> None:
            agent = _agent(state, agent_id)
            agent.last_seen = now
            agent.resume_presence = None
            if presence is Presence.OFFLINE:
                if agent.presence is not Presence.OFFLINE or agent.disconnected_at is None:
                    agent.disconnected_at = now
            else:
                agent.disconnected_at = None
            agent.presence = presence
            if presence is not Presence.ONLINE:
                _withdraw_offers_to(state, agent, out)
            self._dispatch(state, now, out)

        return await self._change(change)

    async def heartbeat(self, agent_id: str, now: float) -> None:
        """The agent's console is alive. After a heartbeat timeout, this brings the agent
        back (chats still in their grace period are kept); the next sweep dispatches."""

        def change(state: RoutingState) -> None:
            agent = state.agents.get(agent_id)
            if agent is None:
                return
            agent.last_seen = now
            if agent.presence is Presence.OFFLINE and agent.resume_presence is not None:
                agent.presence = agent.resume_presence
                agent.resume_presence = None
                agent.disconnected_at = None

        await self.backend.update(change)

    # --- conversations ---------------------------------------------------------------

    async def enqueue(
        self,
        conversation_id: str,
        pool: Pool,
        language: str,
        skill: str | None,
        now: float,
        *,
        reason: str,
        note: str | None = None,
        preferred_agent_id: str | None = None,
        target_agent_id: str | None = None,
        at_head: bool = False,
        brand: str = DEFAULT_BRAND,
    ) -> list[Outcome]:
        """Queue the conversation (at the tail, or the head) and dispatch.

        Idempotent: a conversation already waiting or held is left as it is.
        """

        def change(state: RoutingState, out: list[Outcome]) -> None:
            if state.knows(conversation_id):
                return
            ticket = Ticket(
                conversation_id=conversation_id,
                pool=pool,
                language=language,
                skill=skill,
                enqueued_at=now,
                reason=reason,
                note=note,
                preferred_agent_id=preferred_agent_id,
                target_agent_id=target_agent_id,
                brand=brand,
            )
            state.add_ticket(ticket, index=0 if at_head else None)
            out.append(Enqueued(conversation_id, pool))
            self._dispatch(state, now, out)

        return await self._change(change)

    async def accept(self, conversation_id: str, agent_id: str, now: float) -> Outcome:
        """The agent takes the conversation offered to it (Conflict if not, or expired)."""

        def change(state: RoutingState) -> Outcome:
            ticket = state.ticket(conversation_id)
            if ticket is None or ticket.offered_to != agent_id:
                raise Conflict("this conversation is not offered to you")
            _check_not_expired(ticket, now)
            state.assign(ticket, _agent(state, agent_id), now)
            return Assigned(conversation_id, agent_id, VIA_OFFER)

        return await self.backend.update(change)

    async def claim(self, conversation_id: str, agent_id: str, now: float) -> Outcome:
        """Take a waiting conversation: any eligible agent in manual mode; in any mode,
        its named target or the agent it is offered to. Of concurrent claims, one wins."""

        def change(state: RoutingState) -> Outcome:
            ticket = state.ticket(conversation_id)
            if ticket is None:
                raise Conflict("this conversation is not waiting (already taken?)")
            agent = state.agents.get(agent_id)
            if agent is None:
                raise Conflict("you cannot take this conversation now")
            if ticket.offered_to == agent_id:
                _check_not_expired(ticket, now)
            elif ticket.offered_to is not None:
                raise Conflict("this conversation is being offered to another agent")
            elif not self._claimable(agent, ticket, now):
                raise Conflict("you cannot take this conversation now")
            state.assign(ticket, agent, now)
            return Assigned(conversation_id, agent_id, VIA_CLAIM)

        return await self.backend.update(change)

    async def decline(self, conversation_id: str, agent_id: str, now: float) -> list[Outcome]:
        """The agent turns the offer down: never offered this conversation again; next agent."""

        def change(state: RoutingState, out: list[Outcome]) -> None:
            ticket = state.ticket(conversation_id)
            if ticket is None or ticket.offered_to != agent_id:
                raise Conflict("this conversation is not offered to you")
            state.withdraw_offer(ticket)
            ticket.declines += 1
            ticket.passed_by = (*ticket.passed_by, agent_id)
            out.append(Declined(conversation_id, agent_id))
            self._dispatch(state, now, out)

        return await self._change(change)

    async def release(self, conversation_id: str, agent_id: str, now: float) -> list[Outcome]:
        """The agent no longer holds the conversation (closed, transferred): its capacity
        is free, so waiting conversations are dispatched."""

        def change(state: RoutingState, out: list[Outcome]) -> None:
            chat = state.chats.get(conversation_id)
            if chat is not None and chat.agent_id == agent_id:
                state.unassign(conversation_id)
            self._dispatch(state, now, out)

        return await self._change(change)

    async def cancel(self, conversation_id: str) -> bool:
        """Drop a waiting conversation and its pending offer; True if it was waiting."""

        def change(state: RoutingState) -> bool:
            ticket = state.ticket(conversation_id)
            if ticket is None:
                return False
            state.remove_ticket(ticket)
            return True

        return await self.backend.update(change)

    async def adopt(
        self,
        conversation_id: str,
        agent_id: str,
        pool: Pool,
        language: str,
        skill: str | None,
        assigned_at: float,
        *,
        brand: str = DEFAULT_BRAND,
        now: float,
    ) -> None:
        """Hold again a chat the store says the agent held before a restart.

        Idempotent (a conversation already waiting or held is left alone). The agent,
        registered first, counts it in its load; an agent not online is in its grace
        period from `now`, after which its chats are requeued as usual.
        """

        def change(state: RoutingState) -> None:
            if state.knows(conversation_id):
                return
            agent = _agent(state, agent_id)
            ticket = Ticket(conversation_id, pool, language, skill, assigned_at, reason="restored", brand=brand)
            state.chats[conversation_id] = Chat(ticket=ticket, agent_id=agent_id, assigned_at=assigned_at)
            agent.active = (*agent.active, conversation_id)
            agent.last_assigned_at = max(agent.last_assigned_at or assigned_at, assigned_at)
            if agent.presence is Presence.OFFLINE and agent.disconnected_at is None:
                agent.disconnected_at = now

        await self.backend.update(change)

    async def dispatch(self, now: float) -> list[Outcome]:
        return await self._change(lambda state, out: self._dispatch(state, now, out))

    async def sweep(self, now: float) -> list[Outcome]:
        """Fire every timer due at `now`, then dispatch: silent agents go offline, offers
        expire, chats of agents lost past the grace period are requeued at the head,
        pre-sale conversations overflow to advisors."""

        def change(state: RoutingState, out: list[Outcome]) -> None:
            self._time_out_silent_agents(state, now, out)
            self._expire_offers(state, now, out)
            self._requeue_lost_chats(state, now, out)
            self._dispatch(state, now, out)
            self._report_long_waits(state, now, out)

        return await self._change(change)

    # --- reading ---------------------------------------------------------------------

    async def ticket(self, conversation_id: str) -> Ticket | None:
        """The waiting ticket of this conversation, if it is waiting."""
        return (await self.backend.read()).ticket(conversation_id)

    async def queue_position(self, conversation_id: str) -> int | None:
        return policy.queue_position((await self.backend.read()).tickets, conversation_id)

    async def queue_positions(self, pool: Pool | None = None, *, brand: str = DEFAULT_BRAND) -> dict[str, int]:
        """The position of every waiting conversation (of `pool`), from one read, in one pass."""
        positions: dict[str, int] = {}
        unoffered_ahead: dict[Pool, int] = {}
        for ticket in (await self.backend.read()).tickets:
            if ticket.brand != brand:
                continue
            ahead = unoffered_ahead.get(ticket.pool, 0)
            if ticket.offered_to is None:
                unoffered_ahead[ticket.pool] = ahead + 1
            if pool is None or ticket.pool is pool:
                positions[ticket.conversation_id] = 1 if ticket.offered_to is not None else ahead + 1
        return positions

    async def waiting(self, *, brand: str = DEFAULT_BRAND, limit: int | None = None) -> list[Ticket]:
        """Every waiting conversation (offered or not), in queue order."""
        tickets = [t for t in (await self.backend.read()).tickets if t.brand == brand]
        return tickets if limit is None else tickets[:limit]

    async def takeable(self, agent_id: str, now: float, *, limit: int = 100) -> list[Ticket]:
        """Exactly what `claim` accepts from this agent now, in queue order: the tickets
        offered to it (not expired), and the unoffered ones it may claim (manual pool, or
        named for it)."""
        state = await self.backend.read()
        agent = state.agents.get(agent_id)
        if agent is None:
            return []
        found: list[Ticket] = []
        for ticket in state.tickets:
            if len(found) >= limit:
                break
            if ticket.offered_to == agent_id:
                if ticket.offer_expires_at is None or now < ticket.offer_expires_at:
                    found.append(ticket)
            elif ticket.offered_to is None and self._claimable(agent, ticket, now):
                found.append(ticket)
        return found

    async def waiting_for(self, agent_id: str, now: float) -> list[Ticket]:
        """= `takeable` (kept for older callers)."""
        return await self.takeable(agent_id, now)

    async def availability(self) -> dict[Pool, tuple[int, int]]:
        """Per pool: agents online, and agents online with free capacity."""
        agents = (await self.backend.read()).agents.values()
        online = [a for a in agents if a.presence is Presence.ONLINE]
        return {
            pool: (
                sum(1 for a in online if a.pool is pool),
                sum(1 for a in online if a.pool is pool and a.has_room),
            )
            for pool in Pool
        }

    async def online_agents(self) -> list[AgentState]:
        """Agents online or away, by id."""
        agents = (await self.backend.read()).agents.values()
        return sorted((a for a in agents if a.presence in PRESENT), key=lambda a: a.agent_id)

    async def anyone_online(self, pool: Pool, language: str, skill: str | None, now: float) -> bool:
        """Is someone present (online or away, heartbeat fresh) who could ever take such a
        conversation, overflow included? Capacity is ignored: being full is a wait."""
        agents = (await self.backend.read()).agents.values()
        return any(
            a.presence in PRESENT
            and (a.last_seen is None or now - a.last_seen <= self.settings.heartbeat_timeout_seconds)
            and policy.could_ever_take(a, pool, language, skill)
            for a in agents
        )

    async def agent_state(self, agent_id: str) -> AgentState | None:
        return (await self.backend.read()).agents.get(agent_id)

    # --- the steps, inside one change ----------------------------------------------------

    async def _change(self, change: Change) -> list[Outcome]:
        """Run `change` atomically; add QueueChanged when the queue moved."""

        def run(state: RoutingState) -> list[Outcome]:
            before = [t.to_json() for t in state.tickets]
            out: list[Outcome] = []
            change(state, out)
            if [t.to_json() for t in state.tickets] != before and QueueChanged() not in out:
                out.append(QueueChanged())
            return out

        return await self.backend.update(run)

    def _report_long_waits(self, state: RoutingState, now: float, out: list[Outcome]) -> None:
        for ticket in state.tickets:
            if not ticket.told_waited and now - ticket.enqueued_at >= self.settings.max_wait_seconds:
                ticket.told_waited = True
                out.append(WaitedTooLong(ticket.conversation_id))

    def _claimable(self, agent: AgentState, ticket: Ticket, now: float) -> bool:
        manual = policy.mode(ticket.pool, self.settings) == policy.MANUAL
        named = ticket.target_agent_id == agent.agent_id
        return (manual or named) and policy.eligible(agent, ticket, now, self.settings)

    def _dispatch(self, state: RoutingState, now: float, out: list[Outcome]) -> None:
        """Overflow what is due, then offer each waiting ticket, oldest first, to the
        best eligible agent (auto mode only). Loads grow as offers are made, so an
        older ticket always has the first pick of the free capacity."""
        for ticket in state.tickets:
            if ticket.offered_to is None and not ticket.overflowed and policy.overflow_due(ticket, now, self.settings):
                ticket.overflowed = True
                out.append(Overflowed(ticket.conversation_id))
        agents = list(state.agents.values())
        expires_at = now + self.settings.offer_timeout_seconds
        for ticket in state.tickets:
            if ticket.offered_to is not None or policy.mode(ticket.pool, self.settings) == policy.MANUAL:
                continue
            candidates = [a for a in agents if policy.eligible(a, ticket, now, self.settings)]
            agent = policy.pick(candidates, ticket)
            if agent is not None:
                state.offer(ticket, agent, expires_at)
                out.append(Offered(ticket.conversation_id, agent.agent_id, expires_at))

    def _time_out_silent_agents(self, state: RoutingState, now: float, out: list[Outcome]) -> None:
        for agent in state.agents.values():
            if agent.presence is Presence.OFFLINE or agent.last_seen is None:
                continue
            if now - agent.last_seen > self.settings.heartbeat_timeout_seconds:
                agent.resume_presence = agent.presence
                agent.presence = Presence.OFFLINE
                agent.disconnected_at = now
                _withdraw_offers_to(state, agent, out)
                out.append(AgentTimedOut(agent.agent_id))

    def _expire_offers(self, state: RoutingState, now: float, out: list[Outcome]) -> None:
        for ticket in state.tickets:
            if ticket.offer_expires_at is not None and ticket.offer_expires_at <= now:
                agent_id = state.withdraw_offer(ticket)
                if agent_id is not None:
                    ticket.passed_by = (*ticket.passed_by, agent_id)
                    out.append(OfferExpired(ticket.conversation_id, agent_id))

    def _requeue_lost_chats(self, state: RoutingState, now: float, out: list[Outcome]) -> None:
        head = 0
        for agent in state.agents.values():
            if agent.presence is not Presence.OFFLINE or agent.disconnected_at is None:
                continue
            if now - agent.disconnected_at < self.settings.grace_period_seconds:
                continue
            agent.disconnected_at = None
            lost = sorted((state.chats[c] for c in agent.active), key=lambda chat: chat.assigned_at)
            for chat in lost:
                state.unassign(chat.ticket.conversation_id)
                state.add_ticket(requeued_ticket(chat, now), index=head)
                head += 1
                out.append(Requeued(chat.ticket.conversation_id, agent.agent_id))


def _agent(state: RoutingState, agent_id: str) -> AgentState:
    agent = state.agents.get(agent_id)
    if agent is None:
        raise NotFound("unknown agent", agent_id=agent_id)
    return agent


def _check_not_expired(ticket: Ticket, now: float) -> None:
    if ticket.offer_expires_at is not None and now >= ticket.offer_expires_at:
        raise Conflict("the offer has expired")


def _withdraw_offers_to(state: RoutingState, agent: AgentState, out: list[Outcome]) -> None:
    """The agent can no longer answer its offers: they end, without counting as a pass."""
    for ticket in state.tickets:
        if ticket.offered_to == agent.agent_id:
            state.withdraw_offer(ticket)
            out.append(OfferExpired(ticket.conversation_id, agent.agent_id))
