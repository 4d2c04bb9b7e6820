"""Two engines on one state behave as one: races between them never assign twice.

On Redis the two engines are two clients on one key prefix, as two service
instances would be; in memory they share one backend object. Operations are
raced with `asyncio.gather`, so on Redis their reads and commits interleave.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Coroutine
from dataclasses import dataclass, field
from typing import Any, TypeVar

import pytest
from hypothesis import HealthCheck, example, given, settings, target
from hypothesis import strategies as st

from handoff.config import RoutingSettings
from handoff.domain import DEFAULT_BRAND, Conflict, Pool, Presence
from handoff.routing import outcomes as out
from handoff.routing.engine import RoutingEngine
from handoff.routing.state import RoutingState
from tests.routing.conftest import T0
from tests.routing.invariants import Profile, check_state
from tests.routing.strategies import (
    arrival_strategy,
    modes_strategy,
    presence_strategy,
    profiles_strategy,
)
from tests.support.backends import BackendMaker

T = TypeVar("T")
MANUAL = {Pool.AMBASSADOR: "manual", Pool.ADVISOR: "manual"}


async def attempt(call: Awaitable[T]) -> T | None:
    """The call's result, or None when it lost a race (Conflict)."""
    try:
        return await call
    except Conflict:
        return None


@pytest.fixture
async def engine_pair(routing_backend_maker: BackendMaker) -> AsyncIterator[tuple[RoutingEngine, RoutingEngine]]:
    name = uuid.uuid4().hex
    first, second = routing_backend_maker(name), routing_backend_maker(name)
    await first.start()
    await second.start()
    yield RoutingEngine(first, RoutingSettings()), RoutingEngine(second, RoutingSettings())
    await first.close()
    await second.close()


def with_settings(pair: tuple[RoutingEngine, RoutingEngine], **overrides: Any) -> tuple[RoutingEngine, RoutingEngine]:
    routing = RoutingSettings(**{"heartbeat_timeout_seconds": 3600.0, **overrides})
    return RoutingEngine(pair[0].backend, routing), RoutingEngine(pair[1].backend, routing)


async def test_racing_claims_on_two_engines_assign_each_conversation_once(
    engine_pair: tuple[RoutingEngine, RoutingEngine],
) -> None:
    one, two = with_settings(engine_pair, modes=MANUAL)
    agents = [f"a{i}" for i in range(4)]
    for agent_id in agents:
        await one.register_agent(agent_id, Pool.AMBASSADOR, ["en"], [], 2)
        await two.set_presence(agent_id, Presence.ONLINE, T0)
    conversations = [f"c{i}" for i in range(10)]
    for cid in conversations:
        await one.enqueue(cid, Pool.AMBASSADOR, "en", None, T0, reason="requested")
    results = await asyncio.gather(*(
        attempt(engine.claim(cid, agent_id, T0 + 1))
        for cid in conversations for agent_id in agents for engine in (one, two)
    ))
    won = [r for r in results if isinstance(r, out.Assigned)]
    assert len({r.conversation_id for r in won}) == len(won) == 8  # 4 agents x capacity 2, each once
    for agent_id in agents:
        state = await two.agent_state(agent_id)
        assert state is not None and len(state.active) == 2
    assert len(await one.waiting()) == 2


async def test_racing_accepts_of_one_offer_on_two_engines_assign_once(
    engine_pair: tuple[RoutingEngine, RoutingEngine],
) -> None:
    one, two = with_settings(engine_pair)
    for agent_id in ("gil", "hal"):
        await one.register_agent(agent_id, Pool.AMBASSADOR, ["en"], [], 2)
        await one.set_presence(agent_id, Presence.ONLINE, T0)
    offers: dict[str, str] = {}
    for i in range(4):
        for outcome in await two.enqueue(f"c{i}", Pool.AMBASSADOR, "en", None, T0, reason="requested"):
            if isinstance(outcome, out.Offered):
                offers[outcome.conversation_id] = outcome.agent_id
    assert len(offers) == 4
    # Every agent tries every conversation, twice on each engine, all at once.
    results = await asyncio.gather(*(
        attempt(engine.accept(cid, agent_id, T0 + 1))
        for cid in offers for agent_id in ("gil", "hal") for engine in (one, two, two, one)
    ))
    won = [r for r in results if isinstance(r, out.Assigned)]
    assert sorted((r.conversation_id, r.agent_id) for r in won) == sorted(offers.items())
    assert await one.waiting() == []


async def test_concurrent_sweeps_fire_each_timer_once(engine_pair: tuple[RoutingEngine, RoutingEngine]) -> None:
    one, two = with_settings(engine_pair, offer_timeout_seconds=30, grace_period_seconds=60)
    await one.register_agent("gone", Pool.AMBASSADOR, ["en"], [], 3)
    await one.register_agent("slow", Pool.AMBASSADOR, ["en"], [], 3)
    await one.set_presence("gone", Presence.ONLINE, T0)
    for cid in ("held-1", "held-2"):
        await one.enqueue(cid, Pool.AMBASSADOR, "en", None, T0, reason="requested")
        await one.accept(cid, "gone", T0)
    await one.set_presence("slow", Presence.ONLINE, T0)
    for cid in ("w-1", "w-2"):
        await two.enqueue(cid, Pool.AMBASSADOR, "en", None, T0, reason="requested")  # offered to slow
    await two.set_presence("gone", Presence.OFFLINE, T0)
    results = await asyncio.gather(*(engine.sweep(T0 + 60) for engine in (one, two, one, two)))
    fired = Counter(o for result in results for o in result if not isinstance(o, out.QueueChanged))
    assert fired == Counter({
        out.OfferExpired("w-1", "slow"): 1, out.OfferExpired("w-2", "slow"): 1,
        out.Requeued("held-1", "gone"): 1, out.Requeued("held-2", "gone"): 1,
        # Timers fire in due order: slow let w-1 and w-2 expire (T0 + 30) and, nobody
        # else being there, they go round again to slow; then the grace period ends
        # (T0 + 60) and slow's last free slot goes to the oldest requeued chat.
        out.Offered("w-1", "slow", T0 + 90): 1, out.Offered("w-2", "slow", T0 + 90): 1,
        out.Offered("held-1", "slow", T0 + 90): 1,
    })
    assert [t.conversation_id for t in await one.waiting()] == ["held-1", "held-2", "w-1", "w-2"]


async def test_concurrent_arrivals_and_releases_never_exceed_capacity(
    engine_pair: tuple[RoutingEngine, RoutingEngine],
) -> None:
    one, two = with_settings(engine_pair)
    for agent_id in ("x", "y"):
        await one.register_agent(agent_id, Pool.AMBASSADOR, ["en"], [], 2)
        await two.set_presence(agent_id, Presence.ONLINE, T0)
    engines = (one, two)
    results = await asyncio.gather(*(
        engines[i % 2].enqueue(f"c{i}", Pool.AMBASSADOR, "en", None, T0 + i, reason="requested") for i in range(12)
    ))
    offered = [o for result in results for o in result if isinstance(o, out.Offered)]
    assert len(offered) == 4 and len({o.conversation_id for o in offered}) == 4
    # The queue order is the commit order; the first four conversations queued were offered.
    assert [t.offered_to is not None for t in await one.waiting()] == [True] * 4 + [False] * 8
    accepted = await asyncio.gather(*(engines[i % 2].accept(o.conversation_id, o.agent_id, T0 + 20)
                                      for i, o in enumerate(offered)))
    assert all(isinstance(a, out.Assigned) for a in accepted)
    released = await asyncio.gather(*(engines[i % 2].release(o.conversation_id, o.agent_id, T0 + 21)
                                      for i, o in enumerate(offered)))
    again = [o for result in released for o in result if isinstance(o, out.Offered)]
    assert len(again) == 4 and len({o.conversation_id for o in again}) == 4
    assert [t.offered_to is not None for t in await two.waiting()] == [True] * 4 + [False] * 4
    for agent_id in ("x", "y"):
        state = await one.agent_state(agent_id)
        assert state is not None and state.load == state.capacity == 2


# --- property: random concurrent rounds on two engines ---------------------------------------------

arrival_op = st.tuples(st.just("enqueue"), arrival_strategy)
race_accept_op = st.tuples(st.just("race_accept"), st.integers(0, 50))
race_claim_op = st.tuples(st.just("race_claim"), st.integers(0, 50), st.integers(0, 3), st.integers(0, 3))
op_strategy = st.one_of(
    arrival_op,
    arrival_op,
    race_accept_op,
    race_accept_op,
    race_claim_op,
    st.tuples(st.just("accept"), st.integers(0, 50)),
    st.tuples(st.just("claim"), st.integers(0, 50), st.integers(0, 3)),
    st.tuples(st.just("presence"), st.integers(0, 3), presence_strategy),
    st.tuples(st.just("heartbeat"), st.integers(0, 3)),
    st.tuples(st.just("decline"), st.integers(0, 50)),
    st.tuples(st.just("cancel"), st.integers(0, 50)),
    st.tuples(st.just("sweep")),
)
round_strategy = st.tuples(
    st.lists(st.tuples(st.integers(0, 1), op_strategy), min_size=2, max_size=6),
    st.lists(st.integers(0, 50), max_size=2),  # conversations closed after the round
    st.sampled_from([0.0, 0.0, 5.0, 31.0, 61.0, 125.0]),  # then time passes
    st.booleans(),  # and every agent's console sends a heartbeat
)


ARRIVALS = frozenset({"enqueue", "presence", "heartbeat"})
ACTS = frozenset({"accept", "race_accept", "claim", "race_claim", "decline", "cancel", "sweep"})


@dataclass
class PhaseLog:
    """What one phase's operations aimed at, to tell which accepts had to succeed."""

    cancelled: list[str] = field(default_factory=list)
    accepted_in_time: set[str] = field(default_factory=set)  # offers accepted before they expired
    contested: set[str] = field(default_factory=set)  # declined or cancelled in the same phase
    swept: bool = False  # a sweep may time the agent out: no accept is then owed


class ConcurrentRun:
    """Plays rounds of concurrent operations split over two engines and checks each round."""

    def __init__(self, maker: BackendMaker, profiles: list[Profile], routing: RoutingSettings) -> None:
        name = uuid.uuid4().hex
        self.backends = (maker(name), maker(name))
        self.engines = (RoutingEngine(self.backends[0], routing), RoutingEngine(self.backends[1], routing))
        self.routing = routing
        self.profiles = {p.agent_id: p for p in profiles}
        self.agent_ids = sorted(self.profiles)
        self.now = T0
        self.live: set[str] = set()
        self.held: dict[str, str] = {}
        self.counter = 0
        self.work: Counter[str] = Counter()

    def agent(self, pick: int) -> str:
        return self.agent_ids[pick % len(self.agent_ids)]

    async def start(self, presences: list[Presence]) -> None:
        for backend in self.backends:
            await backend.start()
        for i, profile in enumerate(self.profiles.values()):
            engine = self.engines[i % 2]
            await engine.register_agent(profile.agent_id, profile.pool, profile.languages, profile.skills,
                                        profile.capacity)
            await engine.set_presence(profile.agent_id, presences[i], self.now)

    async def close(self) -> None:
        for backend in self.backends:
            await backend.close()

    def calls(self, engine: RoutingEngine, op: tuple[Any, ...], snapshot: RoutingState,
              log: PhaseLog) -> list[Coroutine[Any, Any, list[out.Outcome]]]:
        """The coroutines one generated operation stands for, its picks resolved on `snapshot`."""
        kind, now = op[0], self.now
        offered = [t for t in snapshot.tickets if t.offered_to is not None]
        waiting = snapshot.tickets

        async def listed(call: Awaitable[out.Outcome]) -> list[out.Outcome]:
            result = await attempt(call)
            return [] if result is None else [result]

        async def outcomes(call: Awaitable[list[out.Outcome]]) -> list[out.Outcome]:
            return await attempt(call) or []

        async def cancel(cid: str) -> list[out.Outcome]:
            result = await engine.cancel(cid, now)
            if out.Withdrawn(cid) in result:
                log.cancelled.append(cid)
            return result

        if kind == "enqueue":
            pool, language, skill, preferred, named, at_head = op[1]
            self.counter += 1
            cid = f"c{self.counter}"
            self.live.add(cid)
            return [engine.enqueue(
                cid, pool, language, skill, now, reason="requested",
                preferred_agent_id=None if preferred is None else self.agent(preferred),
                target_agent_id=None if named is None else self.agent(named), at_head=at_head,
            )]
        if kind == "presence":
            return [outcomes(engine.set_presence(self.agent(op[1]), op[2], now))]
        if kind == "heartbeat":
            return [engine.heartbeat(self.agent(op[1]), now)]
        if kind in ("accept", "race_accept") and offered:
            ticket = offered[op[1] % len(offered)]
            assert ticket.offered_to is not None
            if ticket.offer_expires_at is None or now < ticket.offer_expires_at:
                log.accepted_in_time.add(ticket.conversation_id)
            both = self.engines if kind == "race_accept" else (engine,)
            return [listed(e.accept(ticket.conversation_id, ticket.offered_to, now)) for e in both]
        if kind == "claim" and waiting:
            return [listed(engine.claim(waiting[op[1] % len(waiting)].conversation_id, self.agent(op[2]), now))]
        if kind == "race_claim" and waiting:
            cid = waiting[op[1] % len(waiting)].conversation_id
            return [listed(self.engines[0].claim(cid, self.agent(op[2]), now)),
                    listed(self.engines[1].claim(cid, self.agent(op[3]), now))]
        if kind == "decline" and offered:
            ticket = offered[op[1] % len(offered)]
            assert ticket.offered_to is not None
            log.contested.add(ticket.conversation_id)
            return [outcomes(engine.decline(ticket.conversation_id, ticket.offered_to, now))]
        if kind == "cancel" and waiting:
            cid = waiting[op[1] % len(waiting)].conversation_id
            log.contested.add(cid)
            return [cancel(cid)]
        if kind == "sweep":
            log.swept = True
            return [engine.sweep(now)]
        return []

    async def play(self, ops: list[tuple[int, tuple[Any, ...]]], closes: list[int], seconds: float,
                   beat: bool) -> None:
        # Two concurrent phases: arrivals and presence changes, then what agents and
        # timers do about the queue they produce (picks resolved on a fresh snapshot).
        cancelled: list[str] = []
        results: list[out.Outcome] = []
        for phase in (ARRIVALS, ACTS):
            snapshot = await self.backends[0].snapshot(DEFAULT_BRAND)
            log = PhaseLog()
            calls = [c for index, op in ops if op[0] in phase
                     for c in self.calls(self.engines[index], op, snapshot, log)]
            phase_results = [o for result in await asyncio.gather(*calls) for o in result]
            self.check_accepts_succeeded(log, phase_results)
            cancelled += log.cancelled
            results += phase_results
        for cid in cancelled:
            self.live.discard(cid)
        # Within one round (one `now`) a chat can be requeued then assigned again, never
        # assigned then requeued (a grace period is longer than no time at all).
        for outcome in results:
            if isinstance(outcome, out.Requeued):
                assert self.held.pop(outcome.conversation_id) == outcome.agent_id
        for outcome in results:
            if isinstance(outcome, out.Assigned):
                assert outcome.conversation_id not in self.held, f"{outcome.conversation_id} assigned twice"
                self.held[outcome.conversation_id] = outcome.agent_id
        await self.check()
        for pick in closes:
            if self.held:
                cid = sorted(self.held)[pick % len(self.held)]
                agent_id = self.held.pop(cid)
                self.live.discard(cid)
                await self.engines[pick % 2].release(cid, agent_id, self.now)
        await self.check()
        self.now += seconds
        if beat:
            for i, agent_id in enumerate(self.agent_ids):
                await self.engines[i % 2].heartbeat(agent_id, self.now)

    def check_accepts_succeeded(self, log: PhaseLog, results: list[out.Outcome]) -> None:
        """An offer accepted in time, that nothing else in the phase could end, was assigned:
        losing a race to another accept or claim is fine, every accept failing is not."""
        assigned = {o.conversation_id for o in results if isinstance(o, out.Assigned)}
        self.work["assigned"] += len(assigned)
        if log.swept:
            return
        owed = log.accepted_in_time - log.contested
        assert owed <= assigned, f"accepted in time, yet not assigned: {sorted(owed - assigned)}"
        self.work["accepts owed"] += len(owed)

    async def check(self) -> None:
        for backend in self.backends:
            state = await backend.snapshot(DEFAULT_BRAND)
            check_state(state, self.profiles, self.live, self.routing)
            assert {cid: chat.agent_id for cid, chat in state.chats.items()} == self.held


def test_two_engines_keep_the_invariants_under_concurrent_operations(routing_backend_maker: BackendMaker) -> None:
    work: Counter[str] = Counter()

    @given(
        raw_profiles=profiles_strategy,
        presences=st.lists(st.sampled_from([Presence.ONLINE, Presence.ONLINE, Presence.ONLINE, Presence.AWAY]),
                           min_size=4, max_size=4),
        ambassador_mode=modes_strategy,
        advisor_mode=modes_strategy,
        rounds=st.lists(round_strategy, min_size=1, max_size=15),
    )
    # One run that must owe an accept whatever the seed: an offer raced by both engines.
    @example(
        raw_profiles=[(Pool.AMBASSADOR, {"en"}, set(), 2)],
        presences=[Presence.ONLINE] * 4,
        ambassador_mode="auto",
        advisor_mode="auto",
        rounds=[([(0, ("enqueue", (Pool.AMBASSADOR, "en", None, None, None, False))), (1, ("race_accept", 0))],
                 [], 0.0, False)],
    )
    @settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    def concurrent_rounds(
        raw_profiles: list[tuple[Pool, set[str], set[str], int]],
        presences: list[Presence],
        ambassador_mode: str,
        advisor_mode: str,
        rounds: list[tuple[list[tuple[int, tuple[Any, ...]]], list[int], float, bool]],
    ) -> None:
        profiles = [
            Profile(f"a{i}", pool, tuple(sorted(languages)), tuple(sorted(skills)), capacity)
            for i, (pool, languages, skills, capacity) in enumerate(raw_profiles)
        ]
        routing = RoutingSettings(modes={Pool.AMBASSADOR: ambassador_mode, Pool.ADVISOR: advisor_mode})
        run = ConcurrentRun(routing_backend_maker, profiles, routing)

        async def scenario() -> None:
            await run.start(presences)
            try:
                for ops, closes, seconds, beat in rounds:
                    await run.play(ops, closes, seconds, beat)
            finally:
                await run.close()

        loop = asyncio.new_event_loop()
        try:
            loop.run_until_complete(scenario())
        finally:
            loop.close()
        work.update(run.work)
        # Steer generation towards rounds where accepts had to succeed (a random run makes few).
        target(float(run.work["accepts owed"]), label="accepts owed")

    concurrent_rounds()
    # Not vacuous: the rounds assigned chats, and checked accepts that had to succeed
    # (the explicit example owes one on every seed; generated runs add more).
    assert work["assigned"] > 0 and work["accepts owed"] > 0, work
