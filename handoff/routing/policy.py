"""The routing rules as pure functions: who may take a ticket, and who is chosen.

No I/O and no clock: `now` is always passed in, so the rules are tested with
plain data and a fake time. The engine applies them inside one atomic backend
transaction; the property tests re-derive them independently.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from handoff.config import RoutingSettings
from handoff.domain import Pool, Presence
from handoff.routing.state import AgentState, Ticket

AUTO = "auto"
MANUAL = "manual"


def mode(pool: Pool, settings: RoutingSettings) -> str:
    """"auto" (offers pushed to one agent) or "manual" (agents claim from the queue)."""
    return MANUAL if settings.modes.get(pool, AUTO) == MANUAL else AUTO


def overflow_due(ticket: Ticket, now: float, settings: RoutingSettings) -> bool:
    """A pre-sale ticket for nobody in particular that waited past the overflow time."""
    return (
        ticket.pool is Pool.AMBASSADOR
        and ticket.target_agent_id is None
        and now - ticket.enqueued_at >= settings.overflow_after_seconds
    )


def has_skill(agent: AgentState, skill: str | None) -> bool:
    """No skill asked: anyone. Ambassadors must list it; an advisor listing no skill is a generalist."""
    if skill is None:
        return True
    if agent.pool is Pool.ADVISOR and not agent.skills:
        return True
    return skill in agent.skills


def serves_pool(agent: AgentState, pool: Pool, *, overflowed: bool) -> bool:
    """The ticket's own pool, or advisors for an overflowed pre-sale ticket."""
    return agent.pool is pool or (overflowed and pool is Pool.AMBASSADOR and agent.pool is Pool.ADVISOR)


def fits(agent: AgentState, ticket: Ticket, now: float, settings: RoutingSettings) -> bool:
    """Whether the agent is the right person for the ticket, whatever their presence and load.

    A ticket for a named agent (a transfer, a take-over) fits that agent only, who was
    chosen by a person: pool, language and skill are not second-guessed.
    """
    if ticket.target_agent_id is not None:
        return agent.agent_id == ticket.target_agent_id
    overflowed = ticket.overflowed or overflow_due(ticket, now, settings)
    return (
        serves_pool(agent, ticket.pool, overflowed=overflowed)
        and ticket.language in agent.languages
        and has_skill(agent, ticket.skill)
    )


def eligible(agent: AgentState, ticket: Ticket, now: float, settings: RoutingSettings) -> bool:
    """May the ticket be offered to (or claimed by) this agent right now?

    Online, below capacity (held chats + pending offers), has not passed on this
    ticket (declined it or let its offer expire), and fits it (see `fits`).
    """
    return (
        agent.presence is Presence.ONLINE
        and agent.has_room
        and agent.agent_id not in ticket.passed_by
        and fits(agent, ticket, now, settings)
    )


def could_ever_take(agent: AgentState, pool: Pool, language: str, skill: str | None) -> bool:
    """Could this agent take such a conversation at some point (overflow included)?

    Presence and load are ignored: `anyone_online` uses it to tell whether waiting
    makes sense at all.
    """
    return (
        serves_pool(agent, pool, overflowed=True)
        and language in agent.languages
        and has_skill(agent, skill)
    )


def _idle_key(agent: AgentState) -> float:
    # Never assigned counts as idle the longest.
    return agent.last_assigned_at if agent.last_assigned_at is not None else float("-inf")


def choose(candidates: Iterable[AgentState]) -> AgentState | None:
    """Lowest load ratio, then longest idle since the last assignment, then agent id."""
    return min(candidates, key=lambda a: (a.load_ratio, _idle_key(a), a.agent_id), default=None)


def pick(candidates: Sequence[AgentState], ticket: Ticket) -> AgentState | None:
    """The returning visitor's previous agent when among the candidates, else `choose`."""
    preferred = next((a for a in candidates if a.agent_id == ticket.preferred_agent_id), None)
    return preferred or choose(candidates)


def queue_position(tickets: Sequence[Ticket], conversation_id: str) -> int | None:
    """1-based position of a waiting conversation within its pool, None if not waiting.

    A ticket being offered is served now: its position is 1, and it does not count
    for the tickets behind it. Others count the tickets of their pool ahead of them
    that are not being offered.
    """
    target = next((t for t in tickets if t.conversation_id == conversation_id), None)
    if target is None:
        return None
    if target.offered_to is not None:
        return 1
    ahead = 0
    for ticket in tickets:
        if ticket is target:
            break
        if ticket.pool is target.pool and ticket.offered_to is None:
            ahead += 1
    return ahead + 1
