"""The moves of a conversation inside one `Change`, and dispatch.

The moves (`offer`, `withdraw_offer`, `assign`, `unassign`) are the only code that
moves a conversation between "waiting" and "held", so the bookkeeping stays
consistent: a conversation is one ticket or one chat, and an agent's
`offered`/`active` lists mirror the tickets and chats that name it.

`dispatch` offers waiting tickets to available agents, oldest ticket first, looking
only at what a change touched: the tickets it made offerable and the agents it gave
room to. Everything else was already served before the change (dispatch runs
after every change that can add a ticket or free capacity), so this equals a full
pass over the queue, at the cost of a few index reads.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable

from handoff.routing import policy
from handoff.routing.change import Change, StaleRead
from handoff.routing.outcomes import Offered, Outcome
from handoff.routing.state import AgentState, Chat, Ticket


def offer(change: Change, ticket: Ticket, agent: AgentState, now: float, out: list[Outcome]) -> None:
    expires_at = now + change.settings.offer_timeout_seconds
    ticket.offered_to, ticket.offer_expires_at = agent.agent_id, expires_at
    agent.offered = (*agent.offered, ticket.conversation_id)
    change.put_ticket(ticket)
    change.put_agent(agent)
    out.append(Offered(ticket.conversation_id, agent.agent_id, expires_at))


async def withdraw_offer(change: Change, ticket: Ticket, *, passed: bool) -> AgentState | None:
    """End the ticket's pending offer; the agent counts as having passed when `passed`.
    Returns the agent it was offered to (its slot is free again)."""
    agent_id = ticket.offered_to
    if agent_id is None:
        return None
    ticket.offered_to = ticket.offer_expires_at = None
    if passed:
        ticket.passed_by = (*(a for a in ticket.passed_by if a != agent_id), agent_id)
    change.put_ticket(ticket)
    agent = await change.agent(agent_id)
    if agent is not None:
        agent.offered = tuple(c for c in agent.offered if c != ticket.conversation_id)
        change.put_agent(agent)
    return agent


def assign(change: Change, ticket: Ticket, agent: AgentState, now: float) -> Chat:
    """The agent takes the ticket: it leaves the queue and becomes one of its chats."""
    cid = ticket.conversation_id
    agent.offered = tuple(c for c in agent.offered if c != cid)
    agent.active = (*agent.active, cid)
    agent.last_assigned_at = now
    ticket.offered_to = ticket.offer_expires_at = None
    chat = Chat(ticket=ticket, agent_id=agent.agent_id, assigned_at=now)
    change.delete_ticket(cid)
    change.put_chat(chat)
    change.put_agent(agent)
    return chat


async def unassign(change: Change, chat: Chat) -> AgentState | None:
    """The chat ends (closed, transferred, requeued); returns its agent, whose slot is free."""
    change.delete_chat(chat.conversation_id)
    agent = await change.agent(chat.agent_id)
    if agent is not None:
        agent.active = tuple(c for c in agent.active if c != chat.conversation_id)
        change.put_agent(agent)
    return agent


# --- dispatch ----------------------------------------------------------------------------------


def _auto(change: Change, ticket: Ticket) -> bool:
    return policy.mode(ticket.pool, change.settings) == policy.AUTO


async def best_agent(change: Change, ticket: Ticket) -> AgentState | None:
    """Who gets the ticket's offer now (`policy.pick`), found in the indexes: the first
    available agent of the ticket's indexes who has not passed on it; else, once all
    have passed, the one who passed longest ago and is still available."""
    if ticket.target_agent_id is not None:
        named = await change.agent(ticket.target_agent_id)
        return named if named is not None and policy.eligible(named, ticket) else None
    passed = set(ticket.passed_by)
    if ticket.preferred_agent_id is not None and ticket.preferred_agent_id not in passed:
        preferred = await change.agent(ticket.preferred_agent_id)
        if preferred is not None and policy.eligible(preferred, ticket):
            return preferred
    firsts: list[str] = []
    heads = await change.firsts(policy.candidate_index_keys(ticket), len(passed) + 1)
    for members in heads.values():
        for member, _ in members:
            if policy.agent_of_rank(member) not in passed:
                firsts.append(member)
                break
    if firsts:
        best = min(firsts)
        agent = await change.agent(policy.agent_of_rank(best))
        if agent is None or not policy.eligible(agent, ticket) or policy.rank(agent) != best:
            raise StaleRead(f"index entry {best!r} no longer matches its agent")
        return agent
    await change.prefetch(agents=ticket.passed_by)
    for agent_id in ticket.passed_by:
        again = await change.agent(agent_id)
        if again is not None and policy.eligible(again, ticket):
            return again
    return None


async def _oldest_for(change: Change, agent: AgentState, skip: set[str]) -> tuple[float, str] | None:
    """The oldest unoffered auto-mode ticket the agent fits, among its queues' heads."""
    oldest: tuple[float, str] | None = None
    keys = policy.served_queue_keys(agent, await change.skills() if policy.generalist(agent) else ())
    # Named queues (`q:to:`) mix pools: their tickets' own pools are checked one by one.
    auto = [key for key in keys if policy.queue_mode(key, change.settings) in (None, policy.AUTO)]
    heads = await change.firsts(auto, len(skip) + 1)
    for members in heads.values():
        for member, order in members:
            if member in skip:
                continue
            if oldest is None or (order, member) < oldest:
                oldest = (order, member)
            break
    return oldest


async def dispatch(
    change: Change,
    now: float,
    out: list[Outcome],
    *,
    tickets: Iterable[Ticket] = (),
    agents: Iterable[AgentState | None] = (),
) -> None:
    """Offer what the change made offerable, oldest ticket first.

    `tickets`: tickets that may now be offered (new, requeued, no longer offered,
    overflowed); `agents`: agents that may now take something (online, a slot freed).
    Each step takes the oldest candidate ticket — an affected ticket, or the oldest
    ticket a freed agent fits — and offers it to its best agent (who may be another
    one): exactly what a pass over the whole queue, oldest first, would do.
    """
    candidates: list[tuple[float, str]] = []
    seen: set[str] = set()  # tickets already decided in this dispatch
    for ticket in tickets:
        if ticket.offered_to is None and _auto(change, ticket):
            heapq.heappush(candidates, (ticket.order, ticket.conversation_id))
    freed = {a.agent_id: a for a in agents if a is not None}
    proposed: dict[str, tuple[float, str] | None] = {}

    async def propose(agent: AgentState) -> None:
        if not policy.available(agent):
            proposed[agent.agent_id] = None
            return
        found = await _oldest_for(change, agent, seen)
        proposed[agent.agent_id] = found
        if found is not None:
            heapq.heappush(candidates, found)

    for agent in freed.values():
        await propose(agent)
    while candidates:
        order, cid = heapq.heappop(candidates)
        if cid in seen:
            continue
        seen.add(cid)
        waiting = await change.ticket(cid)
        chosen = None
        if waiting is not None and waiting.offered_to is None and _auto(change, waiting):
            chosen = await best_agent(change, waiting)
            if chosen is not None:
                offer(change, waiting, chosen, now, out)
        # Agents whose proposal was this ticket (or who just took it) look again.
        for agent_id, proposal in list(proposed.items()):
            if proposal == (order, cid) or (chosen is not None and agent_id == chosen.agent_id):
                current = await change.agent(agent_id)
                if current is not None:
                    await propose(current)
