"""The service while its dependencies go away and come back (loopback only).

- Redis restarted empty in the middle of routing (a Redis of the test's own, with
  nothing kept on disk): while it is gone, what needs routing answers 503
  `unavailable` and what does not (a visitor's message, an agent's reply, a bot
  turn) is still stored and answered — a bot turn that asks for a person offers
  the offline form; once it is back the service notices the state is gone,
  restores it from the store by itself, and routing, presence and the sockets'
  events work again — nothing acknowledged is lost, nothing is held twice.
- PostgreSQL cut off (a TCP proxy between the service and the database): requests
  answer 503 `unavailable`, a message answered 503 is not stored, and once the
  proxy is back the service serves again without a restart; the sweeper, whose
  steps fail while the database is away, fires timers again after it.

These run on the production stack only (PostgreSQL + Redis); the rule that tells
an outage from a bug, and the background loops' logging of one, are checked
without a service.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis
import redis.exceptions
import sqlalchemy.exc
from sqlalchemy.engine import make_url

from handoff.api.context import SERVICES
from handoff.background import Loop
from handoff.config import RoutingSettings, Settings
from handoff.domain import DEFAULT_BRAND, ConversationStatus
from handoff.services.container import Services
from handoff.unavailable import unavailable_dependency
from tests.faults.deps_support import CuttableProxy, OwnRedis
from tests.support.misbehaving_rasa import MisbehavingRasa, bot_reply
from tests.support.service import (
    PRODUCTION_STACK,
    RunningService,
    ServiceFactory,
    add_agent,
    agent_socket,
    visitor_socket,
    wait_for,
)

production_stack = pytest.mark.parametrize("stack", ["postgresql-redis"] if PRODUCTION_STACK else [])


def services_of(service: RunningService) -> Services:
    assert service.server is not None
    return service.server.app[SERVICES]


def no_tracebacks(caplog: pytest.LogCaptureFixture) -> list[str]:
    """Log records of the service that carry a traceback or are errors."""
    return [f"{r.name}: {r.getMessage()}" for r in caplog.records
            if r.name.startswith("handoff") and (r.exc_info or r.levelno >= logging.ERROR)]


def assert_unavailable(status: int, body: Any, dependency: str) -> None:
    assert status == 503, body
    assert body["error"]["code"] == "unavailable" and body["error"]["details"] == {"dependency": dependency}


async def held_by(service: RunningService, token: str) -> set[str]:
    status, body = await service.call("GET", "/api/agents/me/conversations", token=token)
    assert status == 200, body
    return {c["id"] for c in body["conversations"] if c["status"] == "assigned"}


async def accept(service: RunningService, token: str, conversation_id: str) -> None:
    await service.await_offer(token, conversation_id)
    status, body = await service.call("POST", f"/api/conversations/{conversation_id}/accept", token=token)
    assert status == 200, body


async def assert_held_once(service: RunningService) -> None:
    """The router holds exactly the chats the store says are assigned, each by its agent, once."""
    svc = services_of(service)
    state = await svc.engine.backend.snapshot(DEFAULT_BRAND)
    held = [(cid, agent.agent_id) for agent in state.agents.values() for cid in agent.active]
    assert len(held) == len({cid for cid, _ in held}), f"a conversation is held twice: {held}"
    assigned = await svc.conversations.list(statuses=[ConversationStatus.ASSIGNED])
    assert sorted(held) == sorted((c.id, c.assigned_agent_id) for c in assigned)
    assert not {cid for cid, _ in held} & {t.conversation_id for t in state.tickets}


@pytest.fixture
async def own_redis(tmp_path: Path) -> AsyncIterator[OwnRedis]:
    server = OwnRedis(tmp_path)
    await server.start()
    yield server
    await server.stop()


@production_stack
async def test_redis_restarted_empty_during_routing(
    service_factory: ServiceFactory, own_redis: OwnRedis, misbehaving_rasa: MisbehavingRasa,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING)
    service = await service_factory(redis_url=own_redis.url, rasa_url=misbehaving_rasa.url,
                                    routing=RoutingSettings(sweep_interval_seconds=0.1))
    for name in ("alice", "bob"):
        await add_agent(service.settings, name, capacity=1)
    tokens = [await service.go_online("alice"), await service.go_online("bob")]
    visitors = [await service.start_conversation("en") for _ in range(4)]
    ids = [v["conversation_id"] for v in visitors]
    for visitor in visitors:
        await service.say(visitor, "hello")
        await service.ask_human(visitor)
    # The first two are offered one to each agent (which to whom depends on idle times).
    offered: dict[str, str] = {}

    async def both_offered() -> bool:
        for token in tokens:
            offered.update({o["conversation_id"]: token for o in await service.offers(token)})
        return set(offered) == set(ids[:2])

    await wait_for(both_offered)
    alice, bob = offered[ids[0]], offered[ids[1]]  # alice: whoever holds the first one
    await accept(service, alice, ids[0])
    await accept(service, bob, ids[1])
    assert [await services_of(service).engine.queue_position(c) for c in ids[2:]] == [1, 2]
    alice_socket = await agent_socket(service, alice)
    await alice_socket.next_of("queue")  # the socket is set up (its subscriptions made)
    waiting_socket = await visitor_socket(service, visitors[2])
    await waiting_socket.next_of("availability")  # the last frame sent when it opens

    await own_redis.stop()

    # Gone: what needs routing is a clear 503 ...
    late = await service.start_conversation("en")  # the store alone: still served
    status, body = await service.call("POST", f"/api/visitor/conversations/{late['conversation_id']}/handoff",
                                      token=late["visitor_token"], json={"pool": "ambassador"})
    assert_unavailable(status, body, "redis")
    status, body = await service.call("POST", "/api/agents/me/heartbeat", token=bob)
    assert_unavailable(status, body, "redis")
    # ... what does not is stored and answered: a visitor's message to the person holding
    # the chat, the agent's reply, a turn with the bot ...
    during = await service.say(visitors[0], "are you still there?")
    status, reply = await service.call("POST", f"/api/conversations/{ids[0]}/messages", token=alice,
                                       json={"text": "Yes, still here."})
    assert status == 201, reply
    bot_turn = await service.say(late, "what about delivery?")
    assert [r["text"] for r in bot_turn["replies"]] == [bot_reply("what about delivery?")]
    # ... and a bot turn that asks for a person degrades to "nobody can answer now" and
    # the offline form, rather than failing after the turn was stored.
    misbehaving_rasa.handoff = {"pool": "ambassador", "reason": "intent"}
    asked = await service.say(late, "I would like to talk to someone")
    misbehaving_rasa.handoff = None
    assert asked["replies"][-1]["data"]["event"] == "no_agent" and asked["replies"][-1]["data"]["offline_form"]

    await own_redis.start()  # the same port, nothing in it

    # Back: the service notices the empty state and restores it from the store by itself.
    engine = services_of(service).engine

    async def restored() -> bool:
        return [await engine.queue_position(c) for c in ids[2:]] == [1, 2]

    await wait_for(restored)
    await assert_held_once(service)
    # The agents' consoles are still open: their next heartbeat brings them back online,
    # holding their chats.
    for token in (alice, bob):
        status, _ = await service.call("POST", "/api/agents/me/heartbeat", token=token)
        assert status in (200, 204)
    assert await held_by(service, alice) == {ids[0]} and await held_by(service, bob) == {ids[1]}
    status, me = await service.call("GET", "/api/agents/me", token=alice)
    assert status == 200 and me["presence"] == "online"

    # The bus listens again (redis-py resubscribed the sockets' channels on reconnect).
    probe = aioredis.from_url(own_redis.url)
    try:
        prefix = service.settings.redis_prefix + "bus:"

        async def resubscribed() -> bool:
            counts = dict(await probe.pubsub_numsub(prefix + f"agent:{me['agent']['id']}",
                                                    prefix + f"conversation:{ids[2]}"))
            return all(int(n) > 0 for n in counts.values())

        await wait_for(resubscribed)
    finally:
        await probe.aclose()

    # Routing works again, in the order of the queue, and the sockets hear of it.
    status, _ = await service.call("POST", f"/api/conversations/{ids[0]}/close", token=alice, json={"outcome": "resolved"})
    assert status == 200
    await alice_socket.next_of("offer", seconds=30)
    await accept(service, alice, ids[2])
    changed = await waiting_socket.next_of("conversation", seconds=30)
    while changed["conversation"]["status"] != "assigned":
        changed = await waiting_socket.next_of("conversation", seconds=30)
    status, body = await service.call("POST", f"/api/visitor/conversations/{late['conversation_id']}/handoff",
                                      token=late["visitor_token"], json={"pool": "ambassador"})
    assert status == 200 and body["position"] == 2, body  # behind the one that waited through the outage
    await assert_held_once(service)

    # Nothing acknowledged was lost.
    texts = [m["text"] for m in await service.messages(visitors[0])]
    assert during["message"]["text"] in texts and "Yes, still here." in texts
    assert no_tracebacks(caplog) == []
    await alice_socket.close()
    await waiting_socket.close()


@production_stack
async def test_postgresql_unreachable_then_back(
    service_factory: ServiceFactory, stack_settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    url = make_url(stack_settings.database_url)
    proxy = CuttableProxy(url.host or "127.0.0.1", url.port or 5432)
    await proxy.start()
    try:
        await add_agent(stack_settings, "alice", capacity=1)
        proxied = url.set(port=proxy.port).render_as_string(hide_password=False)
        service = await service_factory(
            database_url=proxied, routing=RoutingSettings(sweep_interval_seconds=0.1, offer_timeout_seconds=2.0),
        )
        alice = await service.go_online("alice")
        alice_socket = await agent_socket(service, alice)
        visitor = await service.start_conversation("en")
        cid = visitor["conversation_id"]
        await service.say(visitor, "hello")
        await service.ask_human(visitor)
        await alice_socket.next_of("offer", seconds=30)  # 2-s offers: the sweeper expires them

        await proxy.cut()

        lost_id = uuid.uuid4().hex
        status, body = await service.call(
            "POST", f"/api/visitor/conversations/{cid}/messages", token=visitor["visitor_token"],
            json={"text": "did this arrive?", "client_msg_id": lost_id},
        )
        assert_unavailable(status, body, "database")
        status, body = await service.call("POST", "/api/visitor/conversations", json={"language": "en"})
        assert_unavailable(status, body, "database")
        status, body = await service.call("GET", "/api/agents/me/conversations", token=alice)
        assert_unavailable(status, body, "database")

        # The sweeper's steps fail (bringing the router in line with the store needs it):
        # logged once, the loop goes on.
        async def sweeper_hit() -> bool:
            return any(r.getMessage().startswith("relais-sweeper: database unavailable") for r in caplog.records)

        await wait_for(sweeper_hit)

        await proxy.restore()

        # Served again, no restart: the pool drops its dead connections (pre-ping).
        async def served() -> bool:
            status, _ = await service.call("GET", "/api/agents/me/conversations", token=alice)
            return status == 200

        await wait_for(served)
        texts = [m["text"] for m in await service.messages(visitor)]
        assert "did this arrive?" not in texts  # answered 503: not stored
        kept = await service.say(visitor, "did this arrive?", client_msg_id=lost_id)  # the widget's retry
        assert kept["message"]["seq"] == len(texts) + 1
        # The sweeper fires timers again: the offer made again to alice expires and she is told.
        await alice_socket.next_of("offer_revoked", seconds=30, conversation_id=cid)
        await accept(service, alice, cid)
        assert await held_by(service, alice) == {cid}
        await assert_held_once(service)
        sweeper_lines = [r for r in caplog.records if r.getMessage().startswith("relais-sweeper: database unavailable")]
        assert len(sweeper_lines) == 1  # once per outage, not once per step
        await alice_socket.close()
        assert no_tracebacks(caplog) == []
    finally:
        await proxy.close()


@production_stack
async def test_redis_unreachable_for_a_while_keeps_no_stale_routing(
    service_factory: ServiceFactory, own_redis: OwnRedis, caplog: pytest.LogCaptureFixture
) -> None:
    """Redis cut off (its data kept) while an agent closes a chat: the close is stored but
    the router's release cannot be; once Redis is reachable the router is brought in line
    with the store, so the agent's slot is free again and the next visitor reaches her."""
    caplog.set_level(logging.WARNING)
    proxy = CuttableProxy("127.0.0.1", own_redis.port)
    await proxy.start()
    try:
        service = await service_factory(redis_url=f"redis://127.0.0.1:{proxy.port}/0",
                                        routing=RoutingSettings(sweep_interval_seconds=0.1))
        agent = await add_agent(service.settings, "alice", capacity=1)
        alice = await service.go_online("alice")
        first = await service.start_conversation("en")
        await service.ask_human(first)
        await accept(service, alice, first["conversation_id"])

        await proxy.cut()
        status, body = await service.call("POST", f"/api/conversations/{first['conversation_id']}/close",
                                          token=alice, json={"outcome": "resolved"})
        assert_unavailable(status, body, "redis")  # stored, but the router could not be told
        await proxy.restore()

        async def slot_free() -> bool:
            state = await services_of(service).engine.agent_state(agent.id)
            return state is not None and state.active == ()

        await wait_for(slot_free)
        await assert_held_once(service)
        second = await service.start_conversation("en")
        asked = await service.ask_human(second)
        assert asked["conversation"]["status"] == "waiting", asked
        await accept(service, alice, second["conversation_id"])
        assert await held_by(service, alice) == {second["conversation_id"]}
        assert no_tracebacks(caplog) == []
    finally:
        await proxy.close()


def test_an_outage_is_told_from_a_bug() -> None:
    dropped = sqlalchemy.exc.DBAPIError("SELECT 1", {}, Exception("connection was closed"), connection_invalidated=True)
    assert unavailable_dependency(redis.exceptions.ConnectionError("refused")) == "redis"
    assert unavailable_dependency(redis.exceptions.BusyLoadingError("loading")) == "redis"
    assert unavailable_dependency(dropped) == "database"
    assert unavailable_dependency(sqlalchemy.exc.OperationalError("SELECT 1", {}, Exception("gone"))) == "database"
    assert unavailable_dependency(ConnectionRefusedError(111, "refused")) == "database"
    assert unavailable_dependency(sqlalchemy.exc.IntegrityError("INSERT", {}, Exception("duplicate"))) is None
    assert unavailable_dependency(KeyError("bug")) is None
    assert unavailable_dependency(redis.exceptions.ResponseError("WRONGTYPE")) is None


async def test_a_loop_logs_an_outage_once_and_its_end_once(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="handoff.background")
    steps = 0
    recovered = asyncio.Event()

    async def step() -> None:
        nonlocal steps
        steps += 1
        if steps <= 20:
            raise redis.exceptions.ConnectionError("Connection refused")
        recovered.set()

    loop = Loop("probe", step, interval=0.01)
    loop.start()
    await asyncio.wait_for(recovered.wait(), 30)
    await loop.stop()
    lines = [r.getMessage() for r in caplog.records if r.name == "handoff.background"]
    assert lines == ["probe: redis unavailable (ConnectionError: Connection refused); retrying every 0.0 s",
                     "probe: recovered (20 steps had failed)"]
    assert not any(r.exc_info for r in caplog.records)


async def test_a_woken_loop_tries_a_failed_step_again_without_a_new_wake_up() -> None:
    steps = 0
    done = asyncio.Event()

    async def step() -> None:
        nonlocal steps
        steps += 1
        if steps < 3:
            raise redis.exceptions.ConnectionError("Connection refused")
        done.set()

    loop = Loop("woken", step, interval=0.01, on_wake=True)
    loop.start()
    loop.wake()  # one wake-up only
    await asyncio.wait_for(done.wait(), 30)
    await loop.stop()
    assert steps == 3
