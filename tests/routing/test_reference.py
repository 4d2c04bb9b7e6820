"""The indexed engine decides exactly what the slow reference model decides.

Random sequences of operations (arrivals, presence, heartbeats, accepts, claims,
declines, releases, cancels, time passing, sweeps) are played on the engine — on
every backend — and on `reference.ReferenceRouter`, which scans the whole state on
every step. After each operation both must have returned the same outcomes and
hold the same state: same queue order, same offers and passes, same chats, same
agents' loads and presence.
"""

from __future__ import annotations

import asyncio
import functools
import uuid
from collections import Counter
from typing import Any, TypeVar

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from handoff.config import RoutingSettings
from handoff.domain import DEFAULT_BRAND, Conflict, Pool, Presence
from handoff.routing import outcomes as out
from handoff.routing.engine import RoutingEngine
from handoff.routing.state import RoutingState
from tests.routing.reference import ReferenceRouter
from tests.routing.strategies import arrival_strategy, modes_strategy, profiles_strategy
from tests.support.backends import BackendMaker

T = TypeVar("T")
T0 = 1_000_000.0

op_strategy = st.one_of(
    st.tuples(st.just("enqueue"), arrival_strategy),
    st.tuples(st.just("enqueue"), arrival_strategy),
    st.tuples(st.just("presence"), st.integers(0, 3), st.sampled_from([Presence.ONLINE, Presence.ONLINE, Presence.AWAY, Presence.OFFLINE])),
    st.tuples(st.just("heartbeat"), st.integers(0, 3)),
    st.tuples(st.just("accept"), st.integers(0, 30)),
    st.tuples(st.just("accept"), st.integers(0, 30)),
    st.tuples(st.just("claim"), st.integers(0, 30), st.integers(0, 3)),
    st.tuples(st.just("decline"), st.integers(0, 30)),
    st.tuples(st.just("release"), st.integers(0, 30)),
    st.tuples(st.just("release"), st.integers(0, 30)),
    st.tuples(st.just("cancel"), st.integers(0, 30)),
    st.tuples(st.just("tick"), st.sampled_from([1.0, 20.0, 31.0, 46.0, 61.0, 125.0, 200.0])),
    st.tuples(st.just("sweep")),
)


def comparable(state: RoutingState) -> dict[str, Any]:
    """The state the rules decide, without the queue order numbers themselves."""
    queue = sorted(state.tickets, key=lambda t: t.order)
    return {
        "queue": [
            (t.conversation_id, t.offered_to, t.offer_expires_at, t.passed_by, t.declines, t.overflowed,
             t.waited_too_long, t.enqueued_at, t.reason)
            for t in queue
        ],
        "chats": {cid: (chat.agent_id, chat.assigned_at) for cid, chat in state.chats.items()},
        "agents": {
            a.agent_id: (a.presence, sorted(a.active), sorted(a.offered), a.last_assigned_at, a.disconnected_at,
                         a.resume_presence, a.last_seen)
            for a in state.agents.values()
        },
    }


def decided(outcomes: list[out.Outcome]) -> Counter[out.Outcome]:
    return Counter(o for o in outcomes if not isinstance(o, out.QueueChanged))


def run_both(engine: RoutingEngine, reference: ReferenceRouter, loop: asyncio.AbstractEventLoop, name: str,
             *args: Any, **kwargs: Any) -> tuple[Any, Any]:
    """Call `name` on both with the same arguments: (engine's result, reference's result),
    "conflict" for a refusal. The engine's accept and claim return one outcome: listed."""
    try:
        expected = getattr(reference, name)(*args, **kwargs)
    except Conflict:
        expected = "conflict"
    try:
        got = loop.run_until_complete(getattr(engine, name)(*args, **kwargs))
    except Conflict:
        got = "conflict"
    if name in ("accept", "claim") and got != "conflict":
        got = [got]
    return got, expected


@given(
    raw_profiles=profiles_strategy,
    presences=st.lists(st.sampled_from([Presence.ONLINE] * 4 + [Presence.AWAY, Presence.OFFLINE]),
                       min_size=4, max_size=4),
    ambassador_mode=modes_strategy,
    advisor_mode=modes_strategy,
    heartbeat_timeout=st.sampled_from([45.0, 3600.0]),
    ops=st.lists(op_strategy, min_size=10, max_size=60),
)
@settings(max_examples=300, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
def test_the_engine_decides_as_the_reference_model(
    routing_backend_maker: BackendMaker,
    raw_profiles: list[tuple[Pool, set[str], set[str], int]],
    presences: list[Presence],
    ambassador_mode: str,
    advisor_mode: str,
    heartbeat_timeout: float,
    ops: list[tuple[Any, ...]],
) -> None:
    routing = RoutingSettings(modes={Pool.AMBASSADOR: ambassador_mode, Pool.ADVISOR: advisor_mode},
                              heartbeat_timeout_seconds=heartbeat_timeout)
    loop = asyncio.new_event_loop()
    backend = routing_backend_maker(uuid.uuid4().hex)
    loop.run_until_complete(backend.start())
    engine = RoutingEngine(backend, routing)
    reference = ReferenceRouter(routing)
    agents = [f"a{i}" for i in range(len(raw_profiles))]
    now = T0
    counter = 0
    try:
        for agent_id, (pool, languages, skills, capacity), presence in zip(agents, raw_profiles, presences, strict=False):
            speaks, knows = tuple(sorted(languages)), tuple(sorted(skills))
            loop.run_until_complete(engine.register_agent(agent_id, pool, speaks, knows, capacity))
            reference.register_agent(agent_id, pool, speaks, knows, capacity)
            started, expected_start = run_both(engine, reference, loop, "set_presence", agent_id, presence, now)
            assert decided(started) == decided(expected_start)
        for step, op in enumerate(ops):
            kind = op[0]
            waiting = sorted(reference.state.tickets, key=lambda t: t.order)
            held = sorted(reference.state.chats)
            got: Any = None
            expected: Any = None
            both = functools.partial(run_both, engine, reference, loop)
            if kind == "enqueue":
                pool, language, skill, preferred, named, at_head = op[1]
                counter += 1
                got, expected = both(
                    "enqueue", f"c{counter}", pool, language, skill, now, reason="requested", at_head=at_head,
                    preferred_agent_id=None if preferred is None else agents[preferred % len(agents)],
                    target_agent_id=None if named is None else agents[named % len(agents)],
                )
            elif kind == "presence":
                got, expected = both("set_presence", agents[op[1] % len(agents)], op[2], now)
            elif kind == "heartbeat":
                got, expected = both("heartbeat", agents[op[1] % len(agents)], now)
            elif kind in ("accept", "decline") and waiting:
                ticket = waiting[op[1] % len(waiting)]
                who = ticket.offered_to or agents[op[1] % len(agents)]
                got, expected = both(kind, ticket.conversation_id, who, now)
            elif kind == "claim" and waiting:
                got, expected = both("claim", waiting[op[1] % len(waiting)].conversation_id,
                                     agents[op[2] % len(agents)], now)
            elif kind == "release" and held:
                cid = held[op[1] % len(held)]
                got, expected = both("release", cid, reference.state.chats[cid].agent_id, now)
            elif kind == "cancel" and waiting:
                got, expected = both("cancel", waiting[op[1] % len(waiting)].conversation_id, now)
            elif kind == "tick":
                now += op[1]
            elif kind == "sweep":
                got, expected = both("sweep", now)
            if expected == "conflict" or got == "conflict":
                assert got == expected, f"step {step} {op}: engine {got}, reference {expected}"
            elif expected is not None:
                assert decided(got) == decided(expected), f"step {step} {op}"
            state = loop.run_until_complete(backend.snapshot(DEFAULT_BRAND))
            assert comparable(state) == comparable(reference.state), f"state differs after step {step} {op}"
    finally:
        loop.run_until_complete(backend.close())
        loop.close()
