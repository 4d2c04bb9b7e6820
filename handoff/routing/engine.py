"""The routing engine: queue, offers, claims, presence and timers, as outcomes.

Every public operation is one atomic change of one brand's state
(`backend.run`), built from the pure rules of `policy.py` and the moves of
`dispatch.py`; the engine keeps no state of its own, so any number of engines on
one Redis behave as one. Each operation touches only the entities it names and
the few index entries they move: its cost does not grow with the queue.

Time is always passed in (`now`, epoch seconds). Timers fire when someone calls
`sweep(now)`, which reads only the timers due; each one fires in its own change,
so whichever instance sweeps first fires it, once. Operations return outcomes
(`outcomes.py`) for the caller to apply.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable

from handoff.config import RoutingSettings
from handoff.domain import DEFAULT_BRAND, Conflict, NotFound, Pool, Presence
from handoff.routing import indexes, policy
from handoff.routing.backend import RoutingBackend
from handoff.routing.change import Change
from handoff.routing.dispatch import assign, dispatch, unassign, withdraw_offer
from handoff.routing.outcomes import (
    VIA_CLAIM,
    VIA_OFFER,
    AgentTimedOut,
    Assigned,
    Declined,
    Enqueued,
    OfferExpired,
    Outcome,
    Overflowed,
    QueueChanged,
    Requeued,
    WaitedTooLong,
    Withdrawn,
)
from handoff.routing.state import AgentState, Chat, Ticket, requeued_ticket

PRESENT = (Presence.ONLINE, Presence.AWAY)
SWEEP_BATCH = 500  # timers fired per brand per sweep at most; the rest wait for the next one


class RoutingEngine:
    def __init__(self, backend: RoutingBackend, settings: RoutingSettings) -> None:
        self.backend = backend
        self.settings = settings

    # --- plumbing ----------------------------------------------------------------------------

    async def _run(self, brand: str, operation: Callable[[Change, list[Outcome]], Awaitable[None]]) -> list[Outcome]:
        """Run `operation` as one change; add QueueChanged when the queue moved."""

        async def run(change: Change) -> list[Outcome]:
            out: list[Outcome] = []
            await operation(change, out)
            return out

        out = await self.backend.run(brand, self.settings, run)
        if any(not isinstance(o, AgentTimedOut) for o in out):
            out.append(QueueChanged())  # every other outcome moved a ticket
        return out

    async def _agent_brand(self, agent_id: str) -> str:
        brand = await self.backend.brand_of(agent_id=agent_id)
        if brand is None:
            raise NotFound("unknown agent", agent_id=agent_id)
        return brand

    async def _conversation_brand(self, conversation_id: str) -> str | None:
        return await self.backend.brand_of(conversation_id=conversation_id)

    # --- agents ----------------------------------------------------------------------------

    async def register_agent(
        self,
        agent_id: str,
        pool: Pool,
        languages: Iterable[str],
        skills: Iterable[str],
        capacity: int | None = None,
        *,
        brand: str = DEFAULT_BRAND,
        now: float | None = None,
    ) -> list[Outcome]:
        """Make the agent known, or update its profile; presence and load are kept.
        A profile that lets it take more (capacity, languages, skills) is dispatched."""
        speaks, knows = tuple(languages), tuple(skills)
        size = capacity if capacity and capacity > 0 else self.settings.default_capacity
        await self.backend.remember_brand(agent_id=agent_id, brand=brand)
        brand = await self._agent_brand(agent_id)

        async def change(c: Change, out: list[Outcome]) -> None:
            agent = await c.agent(agent_id)
            if agent is None:
                agent = AgentState(agent_id, pool, speaks, knows, size, brand=brand)
            elif (agent.pool, agent.languages, agent.skills, agent.capacity) == (pool, speaks, knows, size):
                return
            else:
                agent.pool, agent.languages, agent.skills, agent.capacity = pool, speaks, knows, size
            c.put_agent(agent)
            if now is not None:
                await dispatch(c, now, out, agents=[agent])

        return await self._run(brand, change)

    async def set_presence(self, agent_id: str, presence: Presence, now: float) -> list[Outcome]:
        """Online: dispatch to it. Away: no new offers, chats kept. Offline: chats kept
        for the grace period. Pending offers to an agent leaving "online" are withdrawn
        and offered to someone else. Any presence set restarts the heartbeat timeout."""
        brand = await self._agent_brand(agent_id)
        await self.backend.heartbeat(agent_id, now, self.settings.heartbeat_timeout_seconds)

        async def change(c: Change, out: list[Outcome]) -> None:
            agent = await _agent(c, agent_id)
            agent.last_seen = now
            agent.resume_presence = None
            if presence is Presence.OFFLINE:
                if agent.presence is not Presence.OFFLINE or agent.disconnected_at is None:
                    agent.disconnected_at = now
            else:
                agent.disconnected_at = None
            agent.presence = presence
            c.put_agent(agent)
            if presence is Presence.ONLINE:
                await dispatch(c, now, out, agents=[agent])
            else:
                withdrawn = await _withdraw_offers_to(c, agent, out)
                await dispatch(c, now, out, tickets=withdrawn)

        return await self._run(brand, change)

    async def heartbeat(self, agent_id: str, now: float) -> list[Outcome]:
        """The agent's console is alive. After a heartbeat timeout, this brings the agent
        back (chats still in their grace period are kept) and dispatches to it; otherwise
        it only records the time, apart from the shared state."""
        brand = await self.backend.brand_of(agent_id=agent_id)
        if brand is None:
            return []
        await self.backend.heartbeat(agent_id, now, self.settings.heartbeat_timeout_seconds)
        known = await self.backend.agents(brand, [agent_id])
        if not known or known[0].presence is not Presence.OFFLINE or known[0].resume_presence is None:
            return []

        async def change(c: Change, out: list[Outcome]) -> None:
            agent = await c.agent(agent_id)
            if agent is None or agent.presence is not Presence.OFFLINE or agent.resume_presence is None:
                return
            agent.presence, agent.resume_presence = agent.resume_presence, None
            agent.disconnected_at = None
            agent.last_seen = now
            c.put_agent(agent)
            await dispatch(c, now, out, agents=[agent])

        return await self._run(brand, change)

    async def resume_on_heartbeat(self, agent_id: str, now: float) -> None:
        """After the live state was lost (Redis restarted empty), for an agent known again
        only from the store: as after a heartbeat timeout, it is offline, its chats kept
        for the grace period, and its console's next heartbeat brings it back online.
        An agent that set a presence since is left as it is."""
        brand = await self._agent_brand(agent_id)

        async def change(c: Change, out: list[Outcome]) -> None:
            agent = await _agent(c, agent_id)
            if agent.presence is not Presence.OFFLINE or agent.resume_presence is not None or agent.last_seen:
                return
            agent.resume_presence = Presence.ONLINE
            agent.disconnected_at = agent.disconnected_at or now
            c.put_agent(agent)

        await self._run(brand, change)

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
        """Queue the conversation (at the tail, or the head) and dispatch it.

        Idempotent: a conversation already waiting or held is left as it is.
        """
        await self.backend.remember_brand(conversation_id=conversation_id, brand=brand)
        brand = await self._conversation_brand(conversation_id) or brand

        async def change(c: Change, out: list[Outcome]) -> None:
            await c.prefetch(tickets=[conversation_id], chats=[conversation_id])
            if await c.ticket(conversation_id) is not None or await c.chat(conversation_id) is not None:
                return
            ticket = Ticket(
                conversation_id=conversation_id,
                brand=brand,
                order=await c.next_order(at_head=at_head),
                pool=pool,
                language=language,
                skill=skill,
                enqueued_at=now,
                reason=reason,
                note=note,
                preferred_agent_id=preferred_agent_id,
                target_agent_id=target_agent_id,
            )
            c.put_ticket(ticket)
            out.append(Enqueued(conversation_id, pool))
            await dispatch(c, now, out, tickets=[ticket])

        return await self._run(brand, change)

    async def accept(self, conversation_id: str, agent_id: str, now: float) -> Outcome:
        """The agent takes the conversation offered to it (Conflict if not, or expired)."""
        brand = await self._conversation_brand(conversation_id)
        if brand is None:
            raise Conflict("this conversation is not offered to you")

        async def change(c: Change, out: list[Outcome]) -> None:
            await c.prefetch(tickets=[conversation_id], agents=[agent_id])
            ticket = await c.ticket(conversation_id)
            if ticket is None or ticket.offered_to != agent_id:
                raise Conflict("this conversation is not offered to you")
            _check_not_expired(ticket, now)
            assign(c, ticket, await _agent(c, agent_id), now)
            out.append(Assigned(conversation_id, agent_id, VIA_OFFER))

        return (await self._run(brand, change))[0]

    async def claim(self, conversation_id: str, agent_id: str, now: float) -> Outcome:
        """Take a waiting conversation: exactly what `takeable` lists for the agent
        (`policy.takeable`). Of concurrent claims, one wins; the others get Conflict."""
        brand = await self._conversation_brand(conversation_id)
        if brand is None:
            raise Conflict("this conversation is not waiting (already taken?)")

        async def change(c: Change, out: list[Outcome]) -> None:
            await c.prefetch(tickets=[conversation_id], agents=[agent_id])
            ticket = await c.ticket(conversation_id)
            if ticket is None:
                raise Conflict("this conversation is not waiting (already taken?)")
            agent = await c.agent(agent_id)
            if agent is None:
                raise Conflict("you cannot take this conversation now")
            if ticket.offered_to == agent_id:
                _check_not_expired(ticket, now)
            elif ticket.offered_to is not None:
                raise Conflict("this conversation is being offered to another agent")
            elif not policy.takeable(agent, ticket, now, self.settings):
                raise Conflict("you cannot take this conversation now")
            assign(c, ticket, agent, now)
            out.append(Assigned(conversation_id, agent_id, VIA_CLAIM))

        return (await self._run(brand, change))[0]

    async def decline(self, conversation_id: str, agent_id: str, now: float) -> list[Outcome]:
        """The agent turns the offer down: the conversation goes to the next agent, and
        comes back to this one only after every eligible agent has passed."""
        brand = await self._conversation_brand(conversation_id)
        if brand is None:
            raise Conflict("this conversation is not offered to you")

        async def change(c: Change, out: list[Outcome]) -> None:
            await c.prefetch(tickets=[conversation_id], agents=[agent_id])
            ticket = await c.ticket(conversation_id)
            if ticket is None or ticket.offered_to != agent_id:
                raise Conflict("this conversation is not offered to you")
            agent = await withdraw_offer(c, ticket, passed=True)
            ticket.declines += 1
            c.put_ticket(ticket)
            out.append(Declined(conversation_id, agent_id))
            await dispatch(c, now, out, tickets=[ticket], agents=[agent])

        return await self._run(brand, change)

    async def release(self, conversation_id: str, agent_id: str, now: float) -> list[Outcome]:
        """The agent no longer holds the conversation (closed, transferred): its capacity
        is free, so what it can take is dispatched to it."""
        brand = await self._conversation_brand(conversation_id)
        if brand is None:
            return []

        async def change(c: Change, out: list[Outcome]) -> None:
            await c.prefetch(chats=[conversation_id], agents=[agent_id])
            chat = await c.chat(conversation_id)
            if chat is None or chat.agent_id != agent_id:
                return
            agent = await unassign(c, chat)
            await dispatch(c, now, out, agents=[agent])

        return await self._run(brand, change)

    async def cancel(self, conversation_id: str, now: float) -> list[Outcome]:
        """Drop a waiting conversation and its pending offer; the agent's freed slot is
        dispatched. Returns [] when it was not waiting."""
        brand = await self._conversation_brand(conversation_id)
        if brand is None:
            return []

        async def change(c: Change, out: list[Outcome]) -> None:
            ticket = await c.ticket(conversation_id)
            if ticket is None:
                return
            agent = await withdraw_offer(c, ticket, passed=False)
            c.delete_ticket(conversation_id)
            out.append(Withdrawn(conversation_id))
            await dispatch(c, now, out, agents=[agent])

        return await self._run(brand, change)

    async def adopt(
        self,
        conversation_id: str,
        agent_id: str,
        pool: Pool,
        language: str,
        skill: str | None,
        assigned_at: float,
        *,
        now: float,
        brand: str = DEFAULT_BRAND,
    ) -> None:
        """Give back a chat the store says the agent holds (after a restart). Idempotent.
        An agent who is not back is in its grace period from `now`."""
        brand = await self._agent_brand(agent_id)
        await self.backend.remember_brand(conversation_id=conversation_id, brand=brand)

        async def change(c: Change, out: list[Outcome]) -> None:
            await c.prefetch(tickets=[conversation_id], chats=[conversation_id], agents=[agent_id])
            if await c.ticket(conversation_id) is not None or await c.chat(conversation_id) is not None:
                return
            agent = await _agent(c, agent_id)
            ticket = Ticket(conversation_id, pool, language, skill, enqueued_at=assigned_at,
                            reason="restored", brand=brand)
            c.put_chat(Chat(ticket=ticket, agent_id=agent_id, assigned_at=assigned_at))
            agent.active = (*agent.active, conversation_id)
            if agent.presence is Presence.OFFLINE and agent.disconnected_at is None:
                agent.disconnected_at = now
            c.put_agent(agent)

        await self._run(brand, change)

    async def sweep(self, now: float) -> list[Outcome]:
        """Fire every timer due at `now`, each in its own change: silent agents go
        offline, offers expire, chats of agents lost past the grace period are requeued
        at the head, pre-sale conversations overflow to advisors, long waits are told."""
        out: list[Outcome] = []
        for brand in await self.backend.brands():
            due = await self.backend.members(brand, indexes.TIMERS, SWEEP_BATCH, max_score=now)
            # By due time, then agents lost before offers expire (not counted as passes).
            timers = [
                indexes.parse_timer(member)
                for member, _ in sorted(due, key=lambda d: (d[1], indexes.TIMER_ORDER.get(d[0].split(":")[0], 9), d[0]))
            ]
            for kind, ident in timers:
                out += await self._fire(brand, kind, ident, now)
        return out

    async def _fire(self, brand: str, kind: str, ident: str, now: float) -> list[Outcome]:
        settings = self.settings

        async def change(c: Change, out: list[Outcome]) -> None:
            if kind == indexes.HEARTBEAT_TIMER:
                await self._check_heartbeat(c, ident, now, out)
                return
            if kind == indexes.GRACE_TIMER:
                await self._requeue_lost_chats(c, ident, now, out)
                return
            ticket = await c.ticket(ident)
            if ticket is None:
                return
            if kind == indexes.OFFER_TIMER:
                if ticket.offer_expires_at is not None and ticket.offer_expires_at <= now:
                    agent = await withdraw_offer(c, ticket, passed=True)
                    if agent is not None:
                        out.append(OfferExpired(ident, agent.agent_id))
                    await dispatch(c, now, out, tickets=[ticket], agents=[agent])
            elif kind == indexes.OVERFLOW_TIMER:
                if ticket.offered_to is None and not ticket.overflowed and policy.overflow_due(ticket, now, settings):
                    ticket.overflowed = True
                    c.put_ticket(ticket)
                    out.append(Overflowed(ident))
                    await dispatch(c, now, out, tickets=[ticket])
            elif kind == indexes.MAX_WAIT_TIMER and _waited_too_long(ticket, now, settings):
                ticket.waited_too_long = True
                c.put_ticket(ticket)
                out.append(WaitedTooLong(ident))

        return await self._run(brand, change)

    async def _check_heartbeat(self, c: Change, agent_id: str, now: float, out: list[Outcome]) -> None:
        agent = await c.agent(agent_id)
        if agent is None or agent.presence is Presence.OFFLINE:
            return
        heard = max(agent.last_seen or 0.0, await c.last_heartbeat(agent_id) or 0.0)
        if now - heard <= self.settings.heartbeat_timeout_seconds:
            agent.last_seen = heard  # still there: the timer moves to the new deadline
            c.put_agent(agent)
            return
        agent.resume_presence, agent.presence = agent.presence, Presence.OFFLINE
        agent.disconnected_at = now
        c.put_agent(agent)
        withdrawn = await _withdraw_offers_to(c, agent, out)
        out.append(AgentTimedOut(agent_id))
        await dispatch(c, now, out, tickets=withdrawn)

    async def _requeue_lost_chats(self, c: Change, agent_id: str, now: float, out: list[Outcome]) -> None:
        agent = await c.agent(agent_id)
        if agent is None or agent.presence is not Presence.OFFLINE or agent.disconnected_at is None:
            return
        if now - agent.disconnected_at < self.settings.grace_period_seconds:
            return
        agent.disconnected_at = None
        c.put_agent(agent)
        await c.prefetch(chats=agent.active)
        lost = [chat for chat in [await c.chat(cid) for cid in agent.active] if chat is not None]
        lost.sort(key=lambda chat: chat.assigned_at)
        # Head orders decrease with each call: the newest chat first, so the oldest leads.
        orders = {chat.conversation_id: await c.next_order(at_head=True) for chat in reversed(lost)}
        requeued = []
        for chat in lost:
            await unassign(c, chat)
            ticket = requeued_ticket(chat, now, orders[chat.conversation_id])
            c.put_ticket(ticket)
            requeued.append(ticket)
            out.append(Requeued(chat.conversation_id, agent_id))
        await dispatch(c, now, out, tickets=requeued)

    # --- reading ---------------------------------------------------------------------

    async def ticket(self, conversation_id: str) -> Ticket | None:
        brand = await self._conversation_brand(conversation_id)
        if brand is None:
            return None
        found = await self.backend.tickets(brand, [conversation_id])
        return found[0] if found else None

    async def queue_position(self, conversation_id: str) -> int | None:
        ticket = await self.ticket(conversation_id)
        if ticket is None:
            return None
        if ticket.offered_to is not None:
            return 1
        rank = await self.backend.rank(ticket.brand, policy.position_key(ticket.pool), conversation_id)
        return None if rank is None else rank + 1

    async def queue_positions(self, pool: Pool | None = None, *, brand: str = DEFAULT_BRAND) -> dict[str, int]:
        """The position of every waiting conversation (of one pool), in one pass."""
        positions: dict[str, int] = {}
        for each in [pool] if pool else list(Pool):
            for rank, (cid, _) in enumerate(await self.backend.members(brand, policy.position_key(each))):
                positions[cid] = rank + 1
        unoffered = set(positions)
        for cid, _ in await self.backend.members(brand, indexes.WAITING):
            if cid not in unoffered:
                positions.setdefault(cid, 1)
        if pool is not None:  # offered tickets of other pools slipped in above
            tickets = await self.backend.tickets(brand, [c for c in positions if c not in unoffered])
            for ticket in tickets:
                if ticket.pool is not pool:
                    positions.pop(ticket.conversation_id, None)
        return positions

    async def waiting(self, *, brand: str = DEFAULT_BRAND, limit: int | None = None) -> list[Ticket]:
        """Waiting conversations (offered or not), in queue order."""
        members = await self.backend.members(brand, indexes.WAITING, limit)
        return await self.backend.tickets(brand, [cid for cid, _ in members])

    async def takeable(self, agent_id: str, now: float, *, limit: int = 100) -> list[Ticket]:
        """What the agent may take itself right now (`policy.takeable`, the rule `claim`
        applies), oldest first: offers to it, tickets named for it, and in manual pools
        the tickets it is eligible for."""
        brand = await self.backend.brand_of(agent_id=agent_id)
        if brand is None:
            return []
        found = await self.backend.agents(brand, [agent_id])
        if not found:
            return []
        agent = found[0]
        wanted: dict[str, None] = dict.fromkeys(agent.offered)
        skills = [m for m, _ in await self.backend.members(brand, indexes.SKILLS)] if policy.generalist(agent) else []
        for key in policy.served_queue_keys(agent, skills):
            if policy.queue_mode(key, self.settings) in (None, policy.MANUAL):
                wanted.update(dict.fromkeys(cid for cid, _ in await self.backend.members(brand, key, limit)))
        tickets = await self.backend.tickets(brand, list(wanted))
        allowed = [t for t in tickets if policy.takeable(agent, t, now, self.settings)]
        return sorted(allowed, key=lambda t: t.order)[:limit]

    async def waiting_for(self, agent_id: str, now: float) -> list[Ticket]:
        return await self.takeable(agent_id, now)

    async def availability(self, *, brand: str = DEFAULT_BRAND) -> dict[Pool, tuple[int, int]]:
        """Per pool: agents online, and agents online with free capacity."""
        online = [a for a in await self.backend.agents(brand) if a.presence is Presence.ONLINE]
        return {
            pool: (
                sum(1 for a in online if a.pool is pool),
                sum(1 for a in online if a.pool is pool and a.has_room),
            )
            for pool in Pool
        }

    async def online_agents(self, *, brand: str = DEFAULT_BRAND) -> list[AgentState]:
        """Agents online or away, by id."""
        agents = await self.backend.agents(brand)
        return sorted((a for a in agents if a.presence in PRESENT), key=lambda a: a.agent_id)

    async def anyone_online(
        self, pool: Pool, language: str, skill: str | None, now: float, *, brand: str = DEFAULT_BRAND
    ) -> bool:
        """Is someone present (online or away) who could ever take such a
        conversation, overflow included? Capacity is ignored: being full is a wait."""
        # A silent agent is put offline by the sweep's heartbeat timer: presence says enough.
        return any(
            a.presence in PRESENT and policy.could_ever_take(a, pool, language, skill)
            for a in await self.backend.agents(brand)
        )

    async def agent_state(self, agent_id: str) -> AgentState | None:
        brand = await self.backend.brand_of(agent_id=agent_id)
        if brand is None:
            return None
        found = await self.backend.agents(brand, [agent_id])
        return found[0] if found else None


async def _agent(change: Change, agent_id: str) -> AgentState:
    agent = await change.agent(agent_id)
    if agent is None:
        raise NotFound("unknown agent", agent_id=agent_id)
    return agent


def _check_not_expired(ticket: Ticket, now: float) -> None:
    if ticket.offer_expires_at is not None and now >= ticket.offer_expires_at:
        raise Conflict("the offer has expired")


def _waited_too_long(ticket: Ticket, now: float, settings: RoutingSettings) -> bool:
    return not ticket.waited_too_long and now - ticket.enqueued_at >= settings.max_wait_seconds


async def _withdraw_offers_to(change: Change, agent: AgentState, out: list[Outcome]) -> list[Ticket]:
    """The agent can no longer answer its offers: they end, without counting as a pass."""
    withdrawn = []
    await change.prefetch(tickets=agent.offered)
    for cid in agent.offered:
        ticket = await change.ticket(cid)
        if ticket is None or ticket.offered_to != agent.agent_id:
            continue
        await withdraw_offer(change, ticket, passed=False)
        withdrawn.append(ticket)
        out.append(OfferExpired(cid, agent.agent_id))
    agent.offered = ()
    change.put_agent(agent)
    return withdrawn
