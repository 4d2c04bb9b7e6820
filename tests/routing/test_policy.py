"""The pure routing rules: eligibility, choice order, queue positions, serialisation."""

from __future__ import annotations

from dataclasses import replace

import pytest

from handoff.config import RoutingSettings
from handoff.domain import Pool, Presence
from handoff.routing import policy
from handoff.routing.state import AgentState, Chat, RoutingState, Ticket

SETTINGS = RoutingSettings()
NOW = 1000.0


def agent(agent_id: str = "a", pool: Pool = Pool.AMBASSADOR, **fields: object) -> AgentState:
    base = AgentState(agent_id, pool, ("en",), (), 3, presence=Presence.ONLINE)
    return replace(base, **fields)  # type: ignore[arg-type]


def ticket(conversation_id: str = "c", pool: Pool = Pool.AMBASSADOR, **fields: object) -> Ticket:
    base = Ticket(conversation_id, pool, "en", None, NOW, "requested")
    return replace(base, **fields)  # type: ignore[arg-type]


def test_eligible_needs_online_presence() -> None:
    assert policy.eligible(agent(), ticket(), NOW, SETTINGS)
    for presence in (Presence.AWAY, Presence.OFFLINE):
        assert not policy.eligible(agent(presence=presence), ticket(), NOW, SETTINGS)


def test_eligible_needs_the_language() -> None:
    assert not policy.eligible(agent(languages=("fr",)), ticket(), NOW, SETTINGS)
    assert policy.eligible(agent(languages=("fr", "en")), ticket(), NOW, SETTINGS)


def test_eligible_counts_chats_and_offers_against_capacity() -> None:
    assert policy.eligible(agent(active=("x",), offered=("y",)), ticket(), NOW, SETTINGS)
    assert not policy.eligible(agent(active=("x", "z"), offered=("y",)), ticket(), NOW, SETTINGS)
    assert not policy.eligible(agent(capacity=1, offered=("y",)), ticket(), NOW, SETTINGS)


def test_skill_rule_ambassadors_must_list_it_advisors_without_skills_are_generalists() -> None:
    solar = ticket(skill="solar")
    assert not policy.eligible(agent(skills=()), solar, NOW, SETTINGS)
    assert not policy.eligible(agent(skills=("awning",)), solar, NOW, SETTINGS)
    assert policy.eligible(agent(skills=("awning", "solar")), solar, NOW, SETTINGS)
    advisor_ticket = ticket(pool=Pool.ADVISOR, skill="solar")
    assert policy.eligible(agent(pool=Pool.ADVISOR), advisor_ticket, NOW, SETTINGS)
    assert policy.eligible(agent(pool=Pool.ADVISOR, skills=("solar",)), advisor_ticket, NOW, SETTINGS)
    assert not policy.eligible(agent(pool=Pool.ADVISOR, skills=("heating",)), advisor_ticket, NOW, SETTINGS)
    # No skill asked: anyone.
    assert policy.eligible(agent(skills=("heating",)), ticket(), NOW, SETTINGS)


def test_pool_is_respected_until_a_presale_ticket_overflows() -> None:
    advisor = agent(pool=Pool.ADVISOR)
    fresh = ticket(enqueued_at=NOW)
    assert not policy.eligible(advisor, fresh, NOW, SETTINGS)
    assert not policy.eligible(advisor, fresh, NOW + SETTINGS.overflow_after_seconds - 1, SETTINGS)
    assert policy.eligible(advisor, fresh, NOW + SETTINGS.overflow_after_seconds, SETTINGS)
    assert policy.eligible(advisor, ticket(overflowed=True), NOW, SETTINGS)
    # Never the other way round: an advisor ticket stays with advisors.
    assert not policy.eligible(agent(), ticket(pool=Pool.ADVISOR, enqueued_at=0.0), NOW, SETTINGS)


def test_an_agent_who_passed_on_a_ticket_is_not_eligible_for_it() -> None:
    assert not policy.eligible(agent("a"), ticket(passed_by=("a",)), NOW, SETTINGS)
    assert policy.eligible(agent("b"), ticket(passed_by=("a",)), NOW, SETTINGS)


def test_a_ticket_for_a_named_agent_fits_that_agent_only_whatever_pool_language_skill() -> None:
    named = ticket(pool=Pool.ADVISOR, skill="solar", target_agent_id="v", language="fr")
    assert policy.eligible(agent("v", pool=Pool.ADVISOR, skills=("heating",)), named, NOW, SETTINGS)
    assert not policy.eligible(agent("w", pool=Pool.ADVISOR, languages=("fr",)), named, NOW, SETTINGS)
    assert not policy.eligible(agent("v", pool=Pool.ADVISOR, capacity=1, active=("x",)), named, NOW, SETTINGS)
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
        ticket("offered", offered_to="a"),
        ticket("adv", pool=Pool.ADVISOR),
        ticket("first"),
        ticket("second"),
        ticket("late-offer", offered_to="b"),
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


def test_state_round_trips_through_json() -> None:
    state = RoutingState()
    held = ticket("held", skill="solar", note="n", overflowed=True, passed_by=("b",))
    state.agents["a"] = agent("a", pool=Pool.ADVISOR, presence=Presence.OFFLINE, resume_presence=Presence.AWAY,
                              active=("held",), offered=("w",), last_assigned_at=5.0, last_seen=6.0, disconnected_at=7.0)
    state.tickets.append(ticket("w", offered_to="a", offer_expires_at=9.0, declines=2, target_agent_id="a"))
    state.chats["held"] = Chat(held, "a", 5.0)
    assert RoutingState.from_json(state.to_json()) == state
    assert state.copy() is not state and state.copy() == state
