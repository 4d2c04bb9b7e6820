"""Engine items the services need before the routing rebuild lands: `adopt`, `ticket`,
`takeable` (= what `claim` accepts), the outcomes `Enqueued` and `WaitedTooLong`, the
`brand` keyword and one-pass `queue_positions(pool)`; on every backend."""

from __future__ import annotations

from handoff.domain import DEFAULT_BRAND, Conflict, Pool, Presence
from handoff.routing import outcomes as out
from handoff.routing.engine import RoutingEngine
from tests.routing.conftest import T0, EngineFactory, adv, amb, online


async def test_enqueue_reports_the_new_ticket_and_keeps_its_brand(engine: RoutingEngine) -> None:
    result = await engine.enqueue("c1", Pool.ADVISOR, "en", None, T0, reason="requested")
    assert out.Enqueued("c1", Pool.ADVISOR) in result
    ticket = await engine.ticket("c1")
    assert ticket is not None and ticket.brand == DEFAULT_BRAND and ticket.pool is Pool.ADVISOR
    assert await engine.enqueue("c1", Pool.ADVISOR, "en", None, T0, reason="requested") == []  # idempotent
    assert await engine.ticket("nope") is None
    assert await engine.waiting(brand="other") == []


async def test_adopt_restores_a_held_chat_in_the_agents_load_and_its_grace_period(make_engine: EngineFactory) -> None:
    engine = make_engine(grace_period_seconds=60)
    await engine.register_agent("a", Pool.AMBASSADOR, ["en"], [], 2)
    await engine.adopt("c1", "a", Pool.AMBASSADOR, "en", None, T0 - 500, now=T0)
    await engine.adopt("c1", "a", Pool.AMBASSADOR, "en", None, T0 - 500, now=T0)  # idempotent
    state = await engine.agent_state("a")
    assert state is not None and state.active == ("c1",) and state.load == 1
    assert await engine.ticket("c1") is None
    assert await engine.enqueue("c1", Pool.AMBASSADOR, "en", None, T0, reason="requested") == []  # held: not queued
    assert await engine.sweep(T0 + 59) == []
    swept = await engine.sweep(T0 + 60)  # the agent never came back: requeued after the grace period
    assert out.Requeued("c1", "a") in swept
    assert await engine.queue_position("c1") == 1


async def test_an_adopted_chat_stays_with_an_agent_back_within_the_grace_period(engine: RoutingEngine) -> None:
    await engine.register_agent("a", Pool.AMBASSADOR, ["en"], [], 1)
    await engine.adopt("c1", "a", Pool.AMBASSADOR, "en", None, T0 - 5, now=T0)
    await engine.set_presence("a", Presence.ONLINE, T0 + 10)
    assert [o for o in await engine.sweep(T0 + 1000) if isinstance(o, out.Requeued)] == []
    # Full (capacity 1): a new ticket waits instead of being offered to it.
    assert [o for o in await engine.enqueue("c2", Pool.AMBASSADOR, "en", None, T0 + 1000, reason="r")
            if isinstance(o, out.Offered)] == []


async def test_takeable_is_exactly_what_claim_accepts(make_engine: EngineFactory) -> None:
    engine = make_engine(modes={Pool.AMBASSADOR: "manual", Pool.ADVISOR: "auto"}, offer_timeout_seconds=30)
    await online(engine, amb("a"), adv("v"), amb("fr", ("fr",)))
    await engine.enqueue("m1", Pool.AMBASSADOR, "en", None, T0, reason="r")          # manual: a may take it
    await engine.enqueue("o1", Pool.ADVISOR, "en", None, T0, reason="r")             # auto: offered to v
    await engine.enqueue("n1", Pool.ADVISOR, "en", None, T0, reason="r", target_agent_id="a")  # named for a
    assert [t.conversation_id for t in await engine.takeable("a", T0)] == ["m1", "n1"]
    assert [t.conversation_id for t in await engine.takeable("v", T0)] == ["o1"]
    assert await engine.takeable("fr", T0) == []
    assert await engine.takeable("v", T0 + 31) == []  # the offer expired: not takeable, and claim says so
    for agent_id, cid, now in (("fr", "m1", T0), ("v", "m1", T0), ("v", "o1", T0 + 31), ("a", "o1", T0)):
        try:
            await engine.claim(cid, agent_id, now)
        except Conflict:
            continue
        raise AssertionError(f"{agent_id} claimed {cid}, which takeable did not list")
    assert isinstance(await engine.claim("m1", "a", T0), out.Assigned)
    assert [t.conversation_id for t in await engine.takeable("a", T0, limit=1)] == ["n1"]


async def test_waited_too_long_fires_once_and_the_ticket_keeps_its_place(make_engine: EngineFactory) -> None:
    engine = make_engine(max_wait_seconds=180)
    await engine.enqueue("c1", Pool.AMBASSADOR, "en", None, T0, reason="r")
    await engine.enqueue("c2", Pool.AMBASSADOR, "en", None, T0 + 10, reason="r")
    assert not [o for o in await engine.sweep(T0 + 179) if isinstance(o, out.WaitedTooLong)]
    assert [o for o in await engine.sweep(T0 + 180) if isinstance(o, out.WaitedTooLong)] == [out.WaitedTooLong("c1")]
    assert [o for o in await engine.sweep(T0 + 200) if isinstance(o, out.WaitedTooLong)] == [out.WaitedTooLong("c2")]
    assert not [o for o in await engine.sweep(T0 + 400) if isinstance(o, out.WaitedTooLong)]
    assert await engine.queue_positions() == {"c1": 1, "c2": 2}


async def test_queue_positions_of_one_pool_match_the_single_reads(engine: RoutingEngine) -> None:
    await online(engine, adv("v", capacity=1))
    for cid, pool in (("a1", Pool.AMBASSADOR), ("v1", Pool.ADVISOR), ("a2", Pool.AMBASSADOR), ("v2", Pool.ADVISOR)):
        await engine.enqueue(cid, pool, "en", None, T0, reason="r")
    advisors = await engine.queue_positions(Pool.ADVISOR)
    assert advisors == {"v1": 1, "v2": 1}  # v1 is offered (served now), v2 is next
    everything = await engine.queue_positions()
    assert everything == {cid: await engine.queue_position(cid) for cid in ("a1", "v1", "a2", "v2")}
    assert await engine.queue_positions(Pool.AMBASSADOR) == {"a1": 1, "a2": 2}
