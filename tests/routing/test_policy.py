"""The pure routing rules: eligibility, choice order, index keys, queue positions, serialisation."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from handoff.config import RoutingSettings
from handoff.domain import Pool, Presence
from handoff.routing import policy
from handoff.routing.state import AgentState, Chat, Ticket

SETTINGS = RoutingSettings()
NOW = 1000.0


def agent(agent_id: str = "a", pool: Pool = Pool.AMBASSADOR, **fields: object) -> AgentState:
    base = AgentState(agent_id, pool, ("en",), (), 3, presence=Presence.ONLINE)
    return replace(base, **fields)  # type: ignore[arg-type]


def ticket(conversation_id: str = "c", pool: Pool = Pool.AMBASSADOR, **fields: object) -> Ticket:
    base = Ticket(conversation_id, pool, "en", None, NOW, "requested")
    return replace(base, **fields)  # type: ignore[arg-type]


def test_eligible_needs_online_presence() -> None:
    assert policy.eligible(agent(), ticket())
    for presence in (Presence.AWAY, Presence.OFFLINE):
        assert not policy.eligible(agent(presence=presence), ticket())


def test_eligible_needs_the_language() -> None:
    assert not policy.eligible(agent(languages=("fr",)), ticket())
    assert policy.eligible(agent(languages=("fr", "en")), ticket())


def test_eligible_counts_chats_and_offers_against_capacity() -> None:
    assert policy.eligible(agent(active=("x",), offered=("y",)), ticket())
    assert not policy.eligible(agent(active=("x", "z"), offered=("y",)), ticket())
    assert not policy.eligible(agent(capacity=1, offered=("y",)), ticket())


def test_skill_rule_ambassadors_must_list_it_advisors_without_skills_are_generalists() -> None:
    solar = ticket(skill="solar")
    assert not policy.eligible(agent(skills=()), solar)
    assert not policy.eligible(agent(skills=("awning",)), solar)
    assert policy.eligible(agent(skills=("awning", "solar")), solar)
    advisor_ticket = ticket(pool=Pool.ADVISOR, skill="solar")
    assert policy.eligible(agent(pool=Pool.ADVISOR), advisor_ticket)
    assert policy.eligible(agent(pool=Pool.ADVISOR, skills=("solar",)), advisor_ticket)
    assert not policy.eligible(agent(pool=Pool.ADVISOR, skills=("heating",)), advisor_ticket)
    # No skill asked: anyone.
    assert policy.eligible(agent(skills=("heating",)), ticket())


def test_pool_is_respected_until_a_presale_ticket_overflows() -> None:
    advisor = agent(pool=Pool.ADVISOR)
    fresh = ticket(enqueued_at=NOW)
    assert not policy.eligible(advisor, fresh)
    assert not policy.overflow_due(fresh, NOW + SETTINGS.overflow_after_seconds - 1, SETTINGS)
    assert policy.overflow_due(fresh, NOW + SETTINGS.overflow_after_seconds, SETTINGS)
    assert policy.overflow_at(fresh, SETTINGS) == NOW + SETTINGS.overflow_after_seconds
    assert policy.eligible(advisor, ticket(overflowed=True))
    assert policy.overflow_at(ticket(overflowed=True), SETTINGS) is None
    # Never the other way round: an advisor ticket stays with advisors.
    assert not policy.eligible(agent(), ticket(pool=Pool.ADVISOR, enqueued_at=0.0))


def test_an_agent_who_passed_gets_the_ticket_again_only_once_everyone_eligible_has_passed() -> None:
    a, b, c = agent("a"), agent("b"), agent("c")
    assert policy.pick([a, b], ticket(passed_by=("a",))) is b
    # Everyone passed: round again, the one who passed longest ago first.
    assert policy.pick([a, b], ticket(passed_by=("b", "a"))) is b
    assert policy.pick([a, b, c], ticket(passed_by=("b", "a"))) is c
    assert policy.pick([a], ticket(passed_by=("a",))) is a
    assert policy.pick([], ticket(passed_by=("a",))) is None


def test_a_ticket_for_a_named_agent_fits_that_agent_only_whatever_pool_language_skill() -> None:
    named = ticket(pool=Pool.ADVISOR, skill="solar", target_agent_id="v", language="fr")
    assert policy.eligible(agent("v", pool=Pool.ADVISOR, skills=("heating",)), named)
    assert not policy.eligible(agent("w", pool=Pool.ADVISOR, languages=("fr",)), named)
    assert not policy.eligible(agent("v", pool=Pool.ADVISOR, capacity=1, active=("x",)), named)
    assert not policy.overflow_due(ticket(target_agent_id="v", enqueued_at=0.0), NOW, SETTINGS)


def test_choose_lowest_load_ratio_then_longest_idle_then_id() -> None:
    busy = agent("a", capacity=2, active=("x",))  # 0.5
    light = agent("b", capacity=4, active=("y",))  # 0.25
    assert policy.choose([busy, light]) is light
    early = agent("c", last_assigned_at=10.0)
    late = agent("d", last_assigned_at=20.0)
    never = agent("e")
    assert policy.choose([late, early]) is early
    assert policy.choose([late, early, never]) is never
    assert policy.choose([agent("z"), agent("y")]).agent_id == "y"  # type: ignore[union-attr]
    assert policy.choose([]) is None


def test_pick_prefers_the_returning_visitors_agent_when_eligible() -> None:
    loaded = agent("prev", active=("x", "y"))
    idle = agent("other")
    assert policy.pick([loaded, idle], ticket(preferred_agent_id="prev")) is loaded
    assert policy.pick([idle], ticket(preferred_agent_id="prev")) is idle


def test_could_ever_take_ignores_presence_and_load_and_includes_overflow() -> None:
    full = agent(capacity=1, active=("x",), presence=Presence.AWAY, skills=("solar",))
    assert policy.could_ever_take(full, Pool.AMBASSADOR, "en", "solar")
    assert not policy.could_ever_take(full, Pool.AMBASSADOR, "fr", "solar")
    advisor = agent(pool=Pool.ADVISOR)
    assert policy.could_ever_take(advisor, Pool.AMBASSADOR, "en", "solar")
    assert not policy.could_ever_take(full, Pool.ADVISOR, "en", None)


def test_queue_position_counts_unoffered_tickets_of_the_same_pool_ahead() -> None:
    tickets = [
        ticket("offered", offered_to="a", order=1),
        ticket("adv", pool=Pool.ADVISOR, order=2),
        ticket("first", order=3),
        ticket("second", order=4),
        ticket("late-offer", offered_to="b", order=5),
    ]
    positions = {t.conversation_id: policy.queue_position(tickets, t.conversation_id) for t in tickets}
    assert positions == {"offered": 1, "adv": 1, "first": 1, "second": 2, "late-offer": 1}
    assert policy.queue_position(tickets, "unknown") is None


@pytest.mark.parametrize("manual", [Pool.AMBASSADOR, Pool.ADVISOR])
def test_mode_reads_the_pools_setting(manual: Pool) -> None:
    settings = RoutingSettings(modes={manual: "manual"})
    other = Pool.ADVISOR if manual is Pool.AMBASSADOR else Pool.AMBASSADOR
    assert policy.mode(manual, settings) == "manual"
    assert policy.mode(other, settings) == "auto"


def test_entities_round_trip_through_json() -> None:
    held = ticket("held", skill="solar", note="n", overflowed=True, passed_by=("b",), brand="shop", order=-3.0)
    advisor = agent("a", pool=Pool.ADVISOR, presence=Presence.OFFLINE, resume_presence=Presence.AWAY, brand="shop",
                    active=("held",), offered=("w",), last_assigned_at=5.0, last_seen=6.0, disconnected_at=7.0)
    waiting = ticket("w", offered_to="a", offer_expires_at=9.0, declines=2, target_agent_id="a", waited_too_long=True)
    chat = Chat(held, "a", 5.0)
    assert AgentState.from_json(advisor.to_json()) == advisor
    assert Ticket.from_json(waiting.to_json()) == waiting
    assert Chat.from_json(chat.to_json()) == chat
    assert chat.copy() == chat and chat.copy().ticket is not chat.ticket


def test_takeable_is_the_offer_the_named_ticket_or_manual_eligibility() -> None:
    manual = RoutingSettings(modes={Pool.AMBASSADOR: "manual", Pool.ADVISOR: "auto"})
    a = agent("a")
    assert policy.takeable(a, ticket(offered_to="a", offer_expires_at=NOW + 1), NOW, SETTINGS)
    assert not policy.takeable(a, ticket(offered_to="a", offer_expires_at=NOW), NOW, SETTINGS)  # expired
    assert not policy.takeable(a, ticket(offered_to="b", offer_expires_at=NOW + 1), NOW, manual)
    assert not policy.takeable(a, ticket(), NOW, SETTINGS)  # auto pool: wait for the offer
    assert policy.takeable(a, ticket(), NOW, manual)
    assert not policy.takeable(a, ticket(language="fr"), NOW, manual)
    assert not policy.takeable(agent("a", presence=Presence.AWAY), ticket(), NOW, manual)
    assert policy.takeable(a, ticket(pool=Pool.ADVISOR, target_agent_id="a"), NOW, SETTINGS)
    assert not policy.takeable(agent("a", capacity=1, active=("x",)), ticket(target_agent_id="a"), NOW, SETTINGS)


profiles = st.builds(
    lambda agent_id, pool, languages, skills, capacity, load, last, presence: AgentState(
        agent_id, pool, tuple(sorted(languages)), tuple(sorted(skills)), capacity,
        presence=presence, active=tuple(f"x{i}" for i in range(min(load, capacity))), last_assigned_at=last,
    ),
    st.sampled_from(["a", "b", "c", "d"]),
    st.sampled_from(list(Pool)),
    st.sets(st.sampled_from(["en", "fr"]), min_size=1),
    st.sets(st.sampled_from(["solar", "awning", "fridge"])),
    st.integers(1, 4),
    st.integers(0, 4),
    st.none() | st.floats(0, 2e9, allow_nan=False),
    st.sampled_from([Presence.ONLINE, Presence.ONLINE, Presence.AWAY]),
)
tickets = st.builds(
    lambda pool, language, skill, overflowed, named: Ticket(
        "t", pool, language, skill, NOW, "requested", overflowed=overflowed, target_agent_id=named
    ),
    st.sampled_from(list(Pool)),
    st.sampled_from(["en", "fr"]),
    st.sampled_from([None, "solar", "awning", "heating"]),
    st.booleans(),
    st.sampled_from([None, None, "a", "b"]),
)


@given(profiles, tickets)
def test_an_available_agent_is_in_an_index_the_ticket_searches_exactly_when_it_fits(
    someone: AgentState, waiting: Ticket
) -> None:
    if waiting.target_agent_id is None:
        listed = set(policy.agent_index_keys(someone)) & set(policy.candidate_index_keys(waiting))
        assert bool(listed) == policy.fits(someone, waiting)
    served = set(policy.served_queue_keys(someone, ["solar", "awning", "heating", "fridge"]))
    assert bool(served & set(policy.queue_keys(waiting))) == policy.fits(someone, waiting)


@given(st.lists(profiles, min_size=1, max_size=4, unique_by=lambda a: a.agent_id))
def test_the_index_rank_orders_agents_as_choose_does(agents: list[AgentState]) -> None:
    by_rank = min(agents, key=policy.rank)
    by_rule = min(agents, key=lambda a: (a.load_ratio, -1 if a.last_assigned_at is None else a.last_assigned_at, a.agent_id))
    assert by_rank is by_rule
    assert policy.agent_of_rank(policy.rank(by_rank)) == by_rank.agent_id
