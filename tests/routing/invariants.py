"""The router's invariants, checked on a state snapshot, with the rules re-derived
from the issue text (not imported from `handoff.routing.policy`).

- never over capacity (held chats + pending offers);
- offers only to online agents who fit the conversation, and only in auto-mode
  pools; an agent who passed on a conversation is offered it again only once
  every agent who could take it has passed too (`check_fresh_first`); every chat
  fits the agent holding it (language, skill, pool or overflow, or the named agent);
- a conversation is queued once or held once, never both, never twice; the
  agents' `active`/`offered` lists mirror the chats and offers;
- nothing dropped: what is queued or held is exactly what the test expects live;
- work conserving and FIFO after a dispatch: no unoffered auto-mode ticket has an
  agent who could take it, and no offer was made to an agent who could have taken
  an older waiting ticket.

Overflow is a timer: a pre-sale ticket is open to advisors once the sweep has
marked it `overflowed` (the tests check separately that it happens when due).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from handoff.config import RoutingSettings
from handoff.domain import Pool, Presence
from handoff.routing import outcomes as out
from handoff.routing.state import AgentState, RoutingState, Ticket


@dataclass(frozen=True)
class Profile:
    agent_id: str
    pool: Pool
    languages: tuple[str, ...]
    skills: tuple[str, ...]
    capacity: int


def fits(profile: Profile, ticket: Ticket, at: float, settings: RoutingSettings) -> bool:
    """Language, skill and pool (or overflow), or the named agent of a transfer."""
    if ticket.target_agent_id is not None:
        return profile.agent_id == ticket.target_agent_id
    overflow = ticket.pool is Pool.AMBASSADOR and ticket.overflowed
    if profile.pool is not ticket.pool and not (overflow and profile.pool is Pool.ADVISOR):
        return False
    if ticket.language not in profile.languages:
        return False
    generalist = profile.pool is Pool.ADVISOR and not profile.skills
    return ticket.skill is None or generalist or ticket.skill in profile.skills


def could_take(profile: Profile, agent: AgentState, ticket: Ticket, load: int, now: float,
               settings: RoutingSettings) -> bool:
    """Online, room, fits — whether or not it passed (a ticket goes round again)."""
    return agent.presence is Presence.ONLINE and load < profile.capacity and fits(profile, ticket, now, settings)


def check_fresh_first(state: RoutingState, offered: Iterable[out.Offered], profiles: Mapping[str, Profile],
                      now: float, settings: RoutingSettings) -> None:
    """An offer to an agent who passed on the ticket is made only when no agent who has
    not passed could take it."""
    for offer in offered:
        ticket = state.ticket(offer.conversation_id)
        if ticket is None or ticket.offered_to != offer.agent_id or offer.agent_id not in ticket.passed_by:
            continue
        for agent in state.agents.values():
            if agent.agent_id in ticket.passed_by:
                continue
            assert not could_take(profiles[agent.agent_id], agent, ticket, agent.load, now, settings), (
                f"{offer.conversation_id} went round again to {offer.agent_id} while {agent.agent_id} never passed"
            )


def is_auto(pool: Pool, settings: RoutingSettings) -> bool:
    return settings.modes.get(pool, "auto") != "manual"


def check_state(state: RoutingState, profiles: Mapping[str, Profile], live: set[str],
                settings: RoutingSettings) -> None:
    tickets = state.tickets
    queued = [t.conversation_id for t in tickets]
    assert len(queued) == len(set(queued)), f"a conversation is queued twice: {queued}"
    assert not set(queued) & set(state.chats), "a conversation is both queued and held"
    assert set(queued) | set(state.chats) == live, (
        f"dropped {live - set(queued) - set(state.chats)}, unexpected {set(queued) | set(state.chats) - live}"
    )
    for agent in state.agents.values():
        assert agent.load <= profiles[agent.agent_id].capacity, f"{agent.agent_id} over capacity"
        held = {cid for cid, chat in state.chats.items() if chat.agent_id == agent.agent_id}
        assert sorted(agent.active) == sorted(held), f"{agent.agent_id} active {agent.active} != chats {held}"
        mine = [t.conversation_id for t in tickets if t.offered_to == agent.agent_id]
        assert sorted(agent.offered) == sorted(mine), f"{agent.agent_id} offered {agent.offered} != {mine}"
    for ticket in tickets:
        if ticket.offered_to is None:
            assert ticket.offer_expires_at is None
            continue
        agent = state.agents[ticket.offered_to]
        assert agent.presence is Presence.ONLINE, f"offer to {agent.agent_id} who is {agent.presence}"
        assert is_auto(ticket.pool, settings), "an offer in a manual pool"
        assert ticket.offer_expires_at is not None
        offered_at = ticket.offer_expires_at - settings.offer_timeout_seconds
        assert fits(profiles[agent.agent_id], ticket, offered_at, settings), f"offer does not fit: {ticket}"
    for chat in state.chats.values():
        assert fits(profiles[chat.agent_id], chat.ticket, chat.assigned_at, settings), f"chat does not fit: {chat}"


def check_work_conserving(state: RoutingState, profiles: Mapping[str, Profile], now: float,
                          settings: RoutingSettings) -> None:
    """After a dispatch, no waiting auto-mode ticket is left while someone could take it."""
    for ticket in state.tickets:
        if ticket.offered_to is not None or not is_auto(ticket.pool, settings):
            continue
        for agent in state.agents.values():
            profile = profiles[agent.agent_id]
            assert not could_take(profile, agent, ticket, agent.load, now, settings), (
                f"{ticket.conversation_id} waits while {agent.agent_id} could take it"
            )


def check_fifo(state: RoutingState, offered: Iterable[out.Offered], profiles: Mapping[str, Profile],
               now: float, settings: RoutingSettings) -> None:
    """No offer made by one operation went to an agent who could have taken an older,
    still waiting ticket (counting only the load it had when that ticket's turn came)."""
    order = {t.conversation_id: i for i, t in enumerate(state.tickets)}
    new = [o for o in offered if o.conversation_id in order]
    for older in state.tickets:
        if older.offered_to is not None or not is_auto(older.pool, settings):
            continue
        for offer in new:
            if order[offer.conversation_id] < order[older.conversation_id]:
                continue
            agent = state.agents[offer.agent_id]
            later = sum(
                1 for o in new if o.agent_id == agent.agent_id and order[o.conversation_id] > order[older.conversation_id]
            )
            load_then = agent.load - later
            assert not could_take(profiles[agent.agent_id], agent, older, load_then, now, settings), (
                f"{offer.conversation_id} offered to {agent.agent_id} before the older {older.conversation_id}"
            )
