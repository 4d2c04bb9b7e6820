"""Each routing rule through the engine, on every backend (memory, and Redis when configured)."""

from __future__ import annotations

import asyncio

import pytest

from handoff.domain import Conflict, NotFound, Pool, Presence
from handoff.routing import outcomes as out
from handoff.routing.engine import RoutingEngine
from tests.routing.conftest import T0, EngineFactory, adv, amb, online


def offers(outcomes: list[out.Outcome]) -> list[tuple[str, str]]:
    return [(o.conversation_id, o.agent_id) for o in outcomes if isinstance(o, out.Offered)]


async def ask(engine: RoutingEngine, cid: str, now: float = T0, pool: Pool = Pool.AMBASSADOR,
              language: str = "en", skill: str | None = None, **kwargs: object) -> list[out.Outcome]:
    return await engine.enqueue(cid, pool, language, skill, now, reason="requested", **kwargs)  # type: ignore[arg-type]


async def holder(engine: RoutingEngine, cid: str) -> str | None:
    for state in await engine.online_agents():
        if cid in state.active:
            return state.agent_id
    return None


# --- eligibility and choice ------------------------------------------------------------


async def test_offer_goes_to_an_online_agent_speaking_the_language_with_the_skill(engine: RoutingEngine) -> None:
    await online(engine, amb("fr-only", ("fr",), ("solar",)), amb("no-skill", ("en",), ("awning",)),
                 amb("right", ("en", "fr"), ("solar",)), adv("advisor", ("en",)))
    await engine.register_agent("offline", Pool.AMBASSADOR, ["en"], ["solar"], 3)
    result = await ask(engine, "c1", skill="solar")
    assert offers(result) == [("c1", "right")]
    assert out.QueueChanged() in result


async def test_away_agents_get_no_offer(engine: RoutingEngine) -> None:
    await online(engine, amb("a"))
    await engine.set_presence("a", Presence.AWAY, T0)
    assert offers(await ask(engine, "c1")) == []
    assert await engine.queue_position("c1") == 1
    assert offers(await engine.set_presence("a", Presence.ONLINE, T0 + 1)) == [("c1", "a")]


async def test_choice_prefers_lowest_load_ratio_then_longest_idle(engine: RoutingEngine) -> None:
    await online(engine, amb("big", capacity=4), amb("small", capacity=2))
    assert offers(await ask(engine, "c1")) == [("c1", "big")]  # 0 and 0, never assigned: by id
    await engine.accept("c1", "big", T0 + 1)
    assert offers(await ask(engine, "c2", T0 + 2)) == [("c2", "small")]  # 0/2 < 1/4
    await engine.accept("c2", "small", T0 + 3)
    # 1/4 < 1/2
    assert offers(await ask(engine, "c3", T0 + 4)) == [("c3", "big")]


async def test_equal_load_goes_to_the_longest_idle(engine: RoutingEngine) -> None:
    await online(engine, amb("a"), amb("b"))
    await ask(engine, "c1")
    await engine.accept("c1", "a", T0 + 1)
    await ask(engine, "c2", T0 + 2)  # b: load 0
    await engine.accept("c2", "b", T0 + 3)
    await engine.release("c1", "a", T0 + 4)
    await engine.release("c2", "b", T0 + 5)
    # Both empty again; a was assigned longest ago.
    assert offers(await ask(engine, "c3", T0 + 6)) == [("c3", "a")]


async def test_capacity_is_never_exceeded_and_offers_count(engine: RoutingEngine) -> None:
    await online(engine, amb("solo", capacity=2))
    assert offers(await ask(engine, "c1")) == [("c1", "solo")]
    assert offers(await ask(engine, "c2", T0 + 1)) == [("c2", "solo")]
    assert offers(await ask(engine, "c3", T0 + 2)) == []
    state = await engine.agent_state("solo")
    assert state is not None and len(state.offered) == 2
    await engine.accept("c1", "solo", T0 + 3)
    assert offers(await engine.dispatch(T0 + 4)) == []
    assert await engine.queue_position("c3") == 1


# --- FIFO -----------------------------------------------------------------------------


async def test_fifo_oldest_waiting_conversation_is_served_first(engine: RoutingEngine) -> None:
    await online(engine, amb("solo", capacity=1))
    await ask(engine, "c1")
    await engine.accept("c1", "solo", T0 + 1)
    for i, cid in enumerate(("c2", "c3", "c4")):
        assert offers(await ask(engine, cid, T0 + 2 + i)) == []
    assert [await engine.queue_position(c) for c in ("c2", "c3", "c4")] == [1, 2, 3]
    assert [t.conversation_id for t in await engine.waiting()] == ["c2", "c3", "c4"]
    assert offers(await engine.release("c1", "solo", T0 + 10)) == [("c2", "solo")]
    # The offered one counts as being served: the others move up.
    assert [await engine.queue_position(c) for c in ("c2", "c3", "c4")] == [1, 1, 2]


async def test_a_conversation_nobody_fits_does_not_block_those_behind(engine: RoutingEngine) -> None:
    await online(engine, amb("en", ("en",), capacity=1))
    await ask(engine, "french", language="fr")
    assert offers(await ask(engine, "english", T0 + 1)) == [("english", "en")]
    assert await engine.queue_position("french") == 1


async def test_an_agent_coming_online_takes_the_oldest_conversation_that_fits(engine: RoutingEngine) -> None:
    await engine.register_agent("a", Pool.AMBASSADOR, ["en"], [], 1)
    await ask(engine, "c1", T0)
    await ask(engine, "c2", T0 + 1)
    assert offers(await engine.set_presence("a", Presence.ONLINE, T0 + 2)) == [("c1", "a")]


async def test_queue_positions_are_per_pool(engine: RoutingEngine) -> None:
    await ask(engine, "a1")
    await ask(engine, "v1", pool=Pool.ADVISOR)
    await ask(engine, "a2")
    assert [await engine.queue_position(c) for c in ("a1", "v1", "a2")] == [1, 1, 2]
    assert await engine.queue_position("nope") is None


# --- offers: accept, timeout, decline ---------------------------------------------------


async def test_accept_assigns_once_and_only_to_the_agent_offered(engine: RoutingEngine) -> None:
    await online(engine, amb("a"), amb("b"))
    assert offers(await ask(engine, "c1")) == [("c1", "a")]
    with pytest.raises(Conflict):
        await engine.accept("c1", "b", T0 + 1)
    assert await engine.accept("c1", "a", T0 + 1) == out.Assigned("c1", "a", "offer")
    with pytest.raises(Conflict):
        await engine.accept("c1", "a", T0 + 2)
    assert await engine.waiting() == []
    assert await holder(engine, "c1") == "a"


async def test_offer_timeout_passes_it_to_the_next_agent(make_engine: EngineFactory) -> None:
    engine = make_engine(offer_timeout_seconds=30)
    await online(engine, amb("a"), amb("b"))
    [offered] = [o for o in await ask(engine, "c1") if isinstance(o, out.Offered)]
    assert offered == out.Offered("c1", "a", T0 + 30)
    assert offers(await engine.sweep(T0 + 29)) == []
    with pytest.raises(Conflict):
        await engine.accept("c1", "a", T0 + 30)  # expired, even before the sweep saw it
    result = await engine.sweep(T0 + 30)
    assert out.OfferExpired("c1", "a") in result and offers(result) == [("c1", "b")]
    # The same expiry never fires twice.
    assert await engine.sweep(T0 + 31) == []
    # a let it expire: it is not offered to a again, even once b lets it expire too.
    result = await engine.sweep(T0 + 60)
    assert out.OfferExpired("c1", "b") in result and offers(result) == []
    [ticket] = await engine.waiting()
    assert ticket.offered_to is None and set(ticket.passed_by) == {"a", "b"} and ticket.declines == 0


async def test_decline_counts_and_goes_to_the_next_agent_never_back(engine: RoutingEngine) -> None:
    await online(engine, amb("a"), amb("b"))
    await ask(engine, "c1")
    with pytest.raises(Conflict):
        await engine.decline("c1", "b", T0 + 1)
    result = await engine.decline("c1", "a", T0 + 1)
    assert result[0] == out.Declined("c1", "a") and offers(result) == [("c1", "b")]
    result = await engine.decline("c1", "b", T0 + 2)
    assert offers(result) == []
    [ticket] = await engine.waiting()
    assert ticket.declines == 2 and ticket.offered_to is None
    # Still waiting, not dropped: a newcomer gets it.
    await engine.register_agent("c", Pool.AMBASSADOR, ["en"], [], 3)
    assert offers(await engine.set_presence("c", Presence.ONLINE, T0 + 3)) == [("c1", "c")]


async def test_going_away_withdraws_pending_offers_and_keeps_chats(engine: RoutingEngine) -> None:
    await online(engine, amb("a"), amb("b", capacity=1))
    await ask(engine, "held")
    await engine.accept("held", "a", T0 + 1)
    await engine.set_presence("b", Presence.AWAY, T0 + 1)
    assert offers(await ask(engine, "c2", T0 + 2)) == [("c2", "a")]
    await engine.set_presence("b", Presence.ONLINE, T0 + 2)
    result = await engine.set_presence("a", Presence.AWAY, T0 + 3)
    assert out.OfferExpired("c2", "a") in result and offers(result) == [("c2", "b")]
    assert await holder(engine, "held") == "a"
    # Withdrawn is not declined: a may get it again later.
    [ticket] = await engine.waiting()
    assert ticket.passed_by == () and ticket.declines == 0


# --- overflow -----------------------------------------------------------------------------


async def test_presale_conversation_overflows_to_advisors_after_the_delay(make_engine: EngineFactory) -> None:
    engine = make_engine(overflow_after_seconds=120)
    await online(engine, amb("busy", capacity=1), adv("v", ("en",)))
    await ask(engine, "c0")
    await engine.accept("c0", "busy", T0)
    assert offers(await ask(engine, "c1", T0)) == []
    assert await engine.sweep(T0 + 119) == []
    result = await engine.sweep(T0 + 120)
    assert result[0] == out.Overflowed("c1") and offers(result) == [("c1", "v")]
    [ticket] = await engine.waiting()
    assert ticket.overflowed
    assert await engine.accept("c1", "v", T0 + 121) == out.Assigned("c1", "v", "offer")


async def test_advisor_conversations_never_overflow_to_ambassadors(engine: RoutingEngine) -> None:
    await online(engine, amb("a"))
    await ask(engine, "v1", pool=Pool.ADVISOR)
    assert not [o for o in await engine.sweep(T0 + 1000) if isinstance(o, out.Overflowed | out.Offered)]
    [ticket] = await engine.waiting()
    assert not ticket.overflowed and ticket.offered_to is None


# --- manual mode ------------------------------------------------------------------------


async def test_manual_mode_shows_the_queue_to_eligible_agents_and_first_claim_wins(
    make_engine: EngineFactory,
) -> None:
    engine = make_engine(modes={Pool.AMBASSADOR: "manual", Pool.ADVISOR: "auto"})
    await online(engine, amb("a"), amb("b"), amb("c"), amb("fr", ("fr",)))
    result = await ask(engine, "c1")
    assert offers(result) == [] and out.QueueChanged() in result
    for agent_id in ("a", "b", "c"):
        assert [t.conversation_id for t in await engine.waiting_for(agent_id, T0)] == ["c1"]
    assert await engine.waiting_for("fr", T0) == []
    claims = await asyncio.gather(
        *(engine.claim("c1", agent_id, T0 + 1) for agent_id in ("a", "b", "c")), return_exceptions=True
    )
    won = [c for c in claims if isinstance(c, out.Assigned)]
    assert len(won) == 1 and won[0].via == "claim"
    assert sum(isinstance(c, Conflict) for c in claims) == 2
    assert await holder(engine, "c1") == won[0].agent_id
    assert await engine.waiting_for("a", T0 + 2) == []


async def test_manual_claim_needs_eligibility(make_engine: EngineFactory) -> None:
    engine = make_engine(modes={Pool.AMBASSADOR: "manual", Pool.ADVISOR: "manual"})
    await online(engine, amb("fr", ("fr",)), amb("full", capacity=1), adv("v"))
    await ask(engine, "c0")
    await engine.claim("c0", "full", T0)
    await ask(engine, "c1", T0)
    for agent_id in ("fr", "full", "v", "ghost"):
        with pytest.raises(Conflict):
            await engine.claim("c1", agent_id, T0 + 1)
    # After the overflow time, advisors may claim a pre-sale conversation too.
    assert [t.conversation_id for t in await engine.waiting_for("v", T0 + 120)] == ["c1"]
    assert await engine.claim("c1", "v", T0 + 120) == out.Assigned("c1", "v", "claim")


async def test_auto_mode_does_not_allow_claiming_someone_elses_offer(engine: RoutingEngine) -> None:
    await online(engine, amb("a"), amb("b"))
    await ask(engine, "c1")
    with pytest.raises(Conflict):
        await engine.claim("c1", "b", T0 + 1)
    assert await engine.waiting_for("b", T0 + 1) == []
    assert await engine.claim("c1", "a", T0 + 1) == out.Assigned("c1", "a", "claim")


# --- transfers and returning visitors -------------------------------------------------------


async def test_transfer_to_a_named_agent_with_a_note(engine: RoutingEngine) -> None:
    await online(engine, amb("a"), adv("v1", ("en",)), adv("v2", ("en",)))
    await ask(engine, "c1")
    await engine.accept("c1", "a", T0)
    await engine.release("c1", "a", T0 + 1)
    result = await engine.enqueue("c1", Pool.ADVISOR, "en", "solar", T0 + 1, reason="transfer",
                                  note="order #1234", target_agent_id="v2", at_head=True)
    assert offers(result) == [("c1", "v2")]
    [ticket] = await engine.waiting()
    assert ticket.note == "order #1234" and ticket.target_agent_id == "v2" and ticket.reason == "transfer"
    assert await engine.accept("c1", "v2", T0 + 2) == out.Assigned("c1", "v2", "offer")


async def test_named_target_waits_for_that_agent_only_and_may_claim_in_any_mode(engine: RoutingEngine) -> None:
    await online(engine, adv("v1", capacity=1), adv("v2"))
    await ask(engine, "c0", pool=Pool.ADVISOR)
    await engine.accept("c0", "v1", T0)
    result = await engine.enqueue("c1", Pool.ADVISOR, "en", None, T0, reason="transfer", target_agent_id="v1")
    assert offers(result) == []  # v1 is full; v2 may not have it
    assert await engine.waiting_for("v2", T0) == []
    with pytest.raises(Conflict):
        await engine.claim("c1", "v2", T0)
    await engine.release("c0", "v1", T0 + 1)  # offered to v1 on release, in auto mode
    assert await engine.claim("c1", "v1", T0 + 2) == out.Assigned("c1", "v1", "claim")


async def test_transfer_to_the_advisor_pool(engine: RoutingEngine) -> None:
    await online(engine, amb("a"), adv("v"))
    await ask(engine, "c1")
    await engine.accept("c1", "a", T0)
    await engine.release("c1", "a", T0 + 1)
    result = await engine.enqueue("c1", Pool.ADVISOR, "en", None, T0 + 1, reason="transfer", note="n", at_head=True)
    assert offers(result) == [("c1", "v")]


async def test_returning_visitor_is_offered_to_their_previous_agent_if_eligible(engine: RoutingEngine) -> None:
    await online(engine, amb("a"), amb("b"))
    await ask(engine, "c0")
    await engine.accept("c0", "a", T0)
    # a is busier than b, yet gets the returning visitor.
    assert offers(await ask(engine, "c1", T0 + 1, preferred_agent_id="a")) == [("c1", "a")]
    await engine.set_presence("a", Presence.AWAY, T0 + 2)
    assert offers(await ask(engine, "c2", T0 + 3, preferred_agent_id="a")) == [("c2", "b")]


# --- presence, heartbeats, grace period ----------------------------------------------------------


async def test_disconnected_agent_keeps_chats_for_the_grace_period_then_they_go_to_the_head(
    make_engine: EngineFactory,
) -> None:
    engine = make_engine(grace_period_seconds=60, heartbeat_timeout_seconds=45)
    await online(engine, amb("gone"))
    for i, cid in enumerate(("first", "second")):
        await ask(engine, cid, T0 + i)
        await engine.accept(cid, "gone", T0 + i)
    await ask(engine, "waiting-1", T0 + 5)
    await engine.decline("waiting-1", "gone", T0 + 5)
    await ask(engine, "waiting-2", T0 + 6)
    await engine.decline("waiting-2", "gone", T0 + 6)
    result = await engine.set_presence("gone", Presence.OFFLINE, T0 + 10)
    state = await engine.agent_state("gone")
    assert state is not None and state.disconnected_at == T0 + 10 and set(state.active) == {"first", "second"}
    assert not [o for o in await engine.sweep(T0 + 69) if isinstance(o, out.Requeued)]
    result = await engine.sweep(T0 + 70)
    assert [o for o in result if isinstance(o, out.Requeued)] == [
        out.Requeued("first", "gone"), out.Requeued("second", "gone")
    ]
    assert [t.conversation_id for t in await engine.waiting()] == ["first", "second", "waiting-1", "waiting-2"]
    assert [await engine.queue_position(c) for c in ("first", "second", "waiting-1")] == [1, 2, 3]
    state = await engine.agent_state("gone")
    assert state is not None and state.active == () and state.disconnected_at is None
    assert (await engine.waiting())[0].reason == "requeued"
    # The next agent online takes the requeued conversations first.
    await online(engine, amb("next", capacity=1), now=T0 + 71)
    assert [t.offered_to for t in await engine.waiting()] == ["next", None, None, None]


async def test_coming_back_within_the_grace_period_keeps_the_chats(engine: RoutingEngine) -> None:
    await online(engine, amb("a"))
    await ask(engine, "c1")
    await engine.accept("c1", "a", T0)
    await engine.set_presence("a", Presence.OFFLINE, T0 + 1)
    await engine.set_presence("a", Presence.ONLINE, T0 + 30)
    assert [o for o in await engine.sweep(T0 + 100) if isinstance(o, out.Requeued)] == []
    assert await holder(engine, "c1") == "a"


async def test_silent_agent_times_out_and_a_heartbeat_brings_it_back(make_engine: EngineFactory) -> None:
    engine = make_engine(heartbeat_timeout_seconds=45, grace_period_seconds=60)
    await online(engine, amb("a"), amb("b"))
    await ask(engine, "held")
    await engine.accept("held", "a", T0)
    await ask(engine, "pending", T0)  # offered to b (lower load)
    await engine.set_presence("b", Presence.AWAY, T0)  # away … but still heartbeating
    await engine.heartbeat("b", T0 + 40)
    await ask(engine, "c3", T0 + 41)
    result = await engine.sweep(T0 + 46)
    assert out.AgentTimedOut("a") in result and out.AgentTimedOut("b") not in result
    state = await engine.agent_state("a")
    assert state is not None and state.presence is Presence.OFFLINE and state.active == ("held",)
    assert await engine.availability() == {Pool.AMBASSADOR: (0, 0), Pool.ADVISOR: (0, 0)}
    await engine.heartbeat("a", T0 + 50)
    state = await engine.agent_state("a")
    assert state is not None and state.presence is Presence.ONLINE and state.disconnected_at is None
    # The sweep dispatches to the revived agent, and the chat is no longer in a grace period.
    assert offers(await engine.sweep(T0 + 51)) == [("pending", "a"), ("c3", "a")]
    await engine.heartbeat("a", T0 + 90)
    await engine.heartbeat("b", T0 + 90)
    assert [o for o in await engine.sweep(T0 + 120) if isinstance(o, out.Requeued)] == []
    assert await holder(engine, "held") == "a"


async def test_heartbeat_does_not_undo_an_explicit_offline(engine: RoutingEngine) -> None:
    await online(engine, amb("a"))
    await engine.set_presence("a", Presence.OFFLINE, T0)
    await engine.heartbeat("a", T0 + 1)
    state = await engine.agent_state("a")
    assert state is not None and state.presence is Presence.OFFLINE
    await engine.heartbeat("ghost", T0)  # unknown agents are ignored


async def test_register_is_idempotent_and_keeps_presence_and_load(engine: RoutingEngine) -> None:
    await online(engine, amb("a", skills=("solar",)))
    await ask(engine, "c1")
    await engine.accept("c1", "a", T0)
    await engine.register_agent("a", Pool.AMBASSADOR, ["en", "fr"], ["awning"], 5)
    state = await engine.agent_state("a")
    assert state is not None
    assert (state.presence, state.active, state.languages, state.skills, state.capacity) == (
        Presence.ONLINE, ("c1",), ("en", "fr"), ("awning",), 5
    )
    await engine.register_agent("d", Pool.ADVISOR, ["en"], [], 0)
    assert (await engine.agent_state("d")).capacity == 3  # type: ignore[union-attr]
    with pytest.raises(NotFound):
        await engine.set_presence("ghost", Presence.ONLINE, T0)


# --- availability and the rest of the read side ------------------------------------------------------


async def test_availability_counts_online_and_free_agents_per_pool(engine: RoutingEngine) -> None:
    assert await engine.availability() == {Pool.AMBASSADOR: (0, 0), Pool.ADVISOR: (0, 0)}
    await online(engine, amb("a", capacity=1), amb("b"), adv("v"))
    await engine.register_agent("off", Pool.ADVISOR, ["en"], [], 3)
    await engine.register_agent("away", Pool.ADVISOR, ["en"], [], 3)
    await engine.set_presence("away", Presence.AWAY, T0)
    assert await engine.availability() == {Pool.AMBASSADOR: (2, 2), Pool.ADVISOR: (1, 1)}
    await ask(engine, "c1")  # offered to a (a < b)
    assert await engine.availability() == {Pool.AMBASSADOR: (2, 1), Pool.ADVISOR: (1, 1)}
    assert [a.agent_id for a in await engine.online_agents()] == ["a", "away", "b", "v"]


async def test_anyone_online_ignores_capacity_and_includes_overflow_and_away(make_engine: EngineFactory) -> None:
    engine = make_engine(heartbeat_timeout_seconds=45)
    assert not await engine.anyone_online(Pool.AMBASSADOR, "en", None, T0)
    await online(engine, amb("a", ("fr",), ("solar",), capacity=1))
    await ask(engine, "c0", language="fr", skill="solar")
    assert await engine.anyone_online(Pool.AMBASSADOR, "fr", "solar", T0)  # full, still there
    assert not await engine.anyone_online(Pool.AMBASSADOR, "fr", "heating", T0)
    assert not await engine.anyone_online(Pool.ADVISOR, "fr", None, T0)
    await online(engine, adv("v", ("en",)))
    await engine.set_presence("v", Presence.AWAY, T0)
    assert await engine.anyone_online(Pool.AMBASSADOR, "en", "heating", T0)  # via overflow, away counts
    assert not await engine.anyone_online(Pool.AMBASSADOR, "en", "heating", T0 + 1000)  # silent too long


async def test_cancel_drops_the_ticket_and_its_offer(engine: RoutingEngine) -> None:
    await online(engine, amb("a", capacity=1))
    await ask(engine, "c1")
    await ask(engine, "c2", T0 + 1)
    assert await engine.cancel("c1") is True
    assert await engine.cancel("c1") is False
    assert (await engine.agent_state("a")).offered == ()  # type: ignore[union-attr]
    with pytest.raises(Conflict):
        await engine.accept("c1", "a", T0 + 2)
    assert offers(await engine.dispatch(T0 + 2)) == [("c2", "a")]


async def test_enqueue_is_idempotent_for_waiting_and_held_conversations(engine: RoutingEngine) -> None:
    await online(engine, amb("a"))
    await ask(engine, "c1")
    assert await ask(engine, "c1", T0 + 1) == []
    await engine.accept("c1", "a", T0 + 1)
    assert await ask(engine, "c1", T0 + 2) == []
    assert await engine.waiting() == [] and await holder(engine, "c1") == "a"


async def test_release_by_someone_else_changes_nothing(engine: RoutingEngine) -> None:
    await online(engine, amb("a"), amb("b"))
    await ask(engine, "c1")
    await engine.accept("c1", "a", T0)
    await engine.release("c1", "b", T0 + 1)
    assert await holder(engine, "c1") == "a"
