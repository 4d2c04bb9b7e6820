"""The routing rules as pure functions: who may take a ticket, who is chosen, and
the index keys under which agents and tickets are looked up.

No I/O and no clock: `now` is always passed in, so the rules are tested with
plain data and a fake time. The index keys are rules too: an available agent is
listed under every key a ticket it fits would search (`agent_index_keys` and
`candidate_index_keys` agree by construction, which `test_policy.py` checks
against `fits`), and the rank it is listed with orders agents exactly as
`choose` does, so "the best eligible agent" is the first one of the index that
has not passed on the ticket.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from handoff.config import RoutingSettings
from handoff.domain import Pool, Presence
from handoff.routing.state import AgentState, Ticket

AUTO = "auto"
MANUAL = "manual"
POOL_KEY = {Pool.AMBASSADOR: "amb", Pool.ADVISOR: "adv"}
OVERFLOW_KEY = "ovf"
GENERALIST = "*"


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


def overflow_at(ticket: Ticket, settings: RoutingSettings) -> float | None:
    """When the ticket overflows to advisors, or None if it never will (or did)."""
    if ticket.pool is not Pool.AMBASSADOR or ticket.target_agent_id is not None or ticket.overflowed:
        return None
    return ticket.enqueued_at + settings.overflow_after_seconds


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


def fits(agent: AgentState, ticket: Ticket) -> bool:
    """Whether the agent is the right person for the ticket, whatever their presence and load.

    A ticket for a named agent (a transfer, a take-over) fits that agent only, who was
    chosen by a person: pool, language and skill are not second-guessed. Advisors fit
    a pre-sale ticket once it has overflowed (a timer sets `overflowed`).
    """
    if ticket.target_agent_id is not None:
        return agent.agent_id == ticket.target_agent_id
    return (
        agent.brand == ticket.brand
        and serves_pool(agent, ticket.pool, overflowed=ticket.overflowed)
        and ticket.language in agent.languages
        and has_skill(agent, ticket.skill)
    )


def available(agent: AgentState) -> bool:
    """Online with a free slot: may be offered or claim something now."""
    return agent.presence is Presence.ONLINE and agent.has_room


def eligible(agent: AgentState, ticket: Ticket) -> bool:
    """May the ticket go to this agent now, passes aside (see `pick`)?"""
    return available(agent) and fits(agent, ticket)


def could_ever_take(agent: AgentState, pool: Pool, language: str, skill: str | None) -> bool:
    """Could this agent take such a conversation at some point (overflow included)?

    Presence and load are ignored: `anyone_online` uses it to tell whether waiting
    makes sense at all.
    """
    return serves_pool(agent, pool, overflowed=True) and language in agent.languages and has_skill(agent, skill)


def rank(agent: AgentState) -> str:
    """The agent's place in an index, as a string whose order is `choose`'s order:
    lowest load ratio, then longest idle since the last assignment (never assigned
    first), then agent id. Fixed-width numbers, so strings compare like the tuple."""
    ratio = agent.load * 10**9 // agent.capacity if agent.capacity > 0 else 10**10 - 1
    idle = 0 if agent.last_assigned_at is None else 1 + round(agent.last_assigned_at * 1e6)
    return f"{ratio:010d}|{idle:017d}|{agent.agent_id}"


def agent_of_rank(member: str) -> str:
    return member.split("|", 2)[2]


def choose(candidates: Iterable[AgentState]) -> AgentState | None:
    """Lowest load ratio, then longest idle since the last assignment, then agent id."""
    return min(candidates, key=rank, default=None)


def pick(candidates: Sequence[AgentState], ticket: Ticket) -> AgentState | None:
    """Who, among eligible agents, gets the ticket's offer.

    The returning visitor's previous agent when among them and it has not passed;
    else the best (`choose`) of those who have not passed; once every eligible agent
    has passed, the ticket goes round again: the one who passed longest ago.
    """
    fresh = [a for a in candidates if a.agent_id not in ticket.passed_by]
    preferred = next((a for a in fresh if a.agent_id == ticket.preferred_agent_id), None)
    if preferred is not None:
        return preferred
    if fresh:
        return choose(fresh)
    again = {a.agent_id: a for a in candidates}
    return next((again[agent_id] for agent_id in ticket.passed_by if agent_id in again), None)


def takeable(agent: AgentState, ticket: Ticket, now: float, settings: RoutingSettings) -> bool:
    """The one rule for what an agent may take itself (`claim`), and what the console
    shows with a Take button: the ticket offered to the agent (until it expires); a
    ticket named for the agent; any ticket the agent is eligible for in a manual pool."""
    if ticket.offered_to is not None:
        return ticket.offered_to == agent.agent_id and (
            ticket.offer_expires_at is None or now < ticket.offer_expires_at
        )
    if not eligible(agent, ticket):
        return False
    manual = mode(ticket.pool, settings) == MANUAL
    return manual or ticket.target_agent_id == agent.agent_id


# --- index keys (within one brand) ------------------------------------------------


def _skill_part(skill: str | None) -> str:
    return skill or ""


def agent_index_keys(agent: AgentState) -> tuple[str, ...]:
    """The indexes an available agent is listed in, one per (pool, language, skill) it
    can answer; "" for tickets asking no skill, "*" for a generalist advisor."""
    pool = POOL_KEY[agent.pool]
    keys: list[str] = []
    for language in agent.languages:
        keys.append(f"ix:{pool}:{language}:")
        if agent.pool is Pool.ADVISOR and not agent.skills:
            keys.append(f"ix:{pool}:{language}:{GENERALIST}")
        keys.extend(f"ix:{pool}:{language}:{skill}" for skill in agent.skills)
    return tuple(keys)


def candidate_index_keys(ticket: Ticket) -> tuple[str, ...]:
    """The indexes holding every available agent that fits the (unnamed) ticket."""
    language, skill = ticket.language, _skill_part(ticket.skill)
    pools = [ticket.pool]
    if ticket.pool is Pool.AMBASSADOR and ticket.overflowed:
        pools.append(Pool.ADVISOR)
    keys: list[str] = []
    for pool in pools:
        keys.append(f"ix:{POOL_KEY[pool]}:{language}:{skill}")
        if pool is Pool.ADVISOR and skill:
            keys.append(f"ix:{POOL_KEY[pool]}:{language}:{GENERALIST}")
    return tuple(keys)


def queue_keys(ticket: Ticket) -> tuple[str, ...]:
    """The queues an unoffered ticket waits in: its agent's own queue when named,
    else its (pool, language, skill) queue, plus the overflow queue once overflowed."""
    if ticket.target_agent_id is not None:
        return (f"q:to:{ticket.target_agent_id}",)
    language, skill = ticket.language, _skill_part(ticket.skill)
    keys = [f"q:{POOL_KEY[ticket.pool]}:{language}:{skill}"]
    if ticket.pool is Pool.AMBASSADOR and ticket.overflowed:
        keys.append(f"q:{OVERFLOW_KEY}:{language}:{skill}")
    return tuple(keys)


def generalist(agent: AgentState) -> bool:
    """An advisor listing no skill: serves every skill (the queues of all skills asked)."""
    return agent.pool is Pool.ADVISOR and not agent.skills


def queue_mode(key: str, settings: RoutingSettings) -> str | None:
    """The mode of the pool whose queue `key` is; None for an agent's own queue
    (`q:to:`), which holds tickets of either pool."""
    pool_part = key.split(":", 2)[1]
    if pool_part == "to":
        return None
    return mode(Pool.ADVISOR if pool_part == POOL_KEY[Pool.ADVISOR] else Pool.AMBASSADOR, settings)


def served_queue_keys(agent: AgentState, known_skills: Iterable[str]) -> tuple[str, ...]:
    """The queues holding every ticket the agent fits: its own, and per language the
    (pool, language, skill) queues — for advisors the overflow queues too. A
    generalist advisor serves every skill asked so far (`known_skills`)."""
    keys = [f"q:to:{agent.agent_id}"]
    pool = POOL_KEY[agent.pool]
    skills = tuple(known_skills) if generalist(agent) else agent.skills
    for language in agent.languages:
        for skill in ("", *skills):
            keys.append(f"q:{pool}:{language}:{skill}")
            if agent.pool is Pool.ADVISOR:
                keys.append(f"q:{OVERFLOW_KEY}:{language}:{skill}")
    return tuple(keys)


def position_key(pool: Pool) -> str:
    """The index of a pool's unoffered tickets, whose rank is a visitor's place in line."""
    return f"pos:{POOL_KEY[pool]}"


def queue_position(tickets: Sequence[Ticket], conversation_id: str) -> int | None:
    """Reference rule (tests, tools): 1-based position of a waiting conversation
    within its pool, None if not waiting. A ticket being offered is served now: its
    position is 1, and it does not count for the tickets behind it. Others count the
    unoffered tickets of their pool ahead of them. The backends get the same answer
    from an ordered index of unoffered tickets (`position_key`)."""
    target = next((t for t in tickets if t.conversation_id == conversation_id), None)
    if target is None:
        return None
    if target.offered_to is not None:
        return 1
    ahead = sum(
        1
        for t in tickets
        if t.pool is target.pool and t.brand == target.brand and t.offered_to is None and t.order < target.order
    )
    return ahead + 1
