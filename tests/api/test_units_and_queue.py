"""Issue 10 through the HTTP and WebSocket API, on each stack: outcomes never dropped,
a restart keeps assigned chats, queue deltas for consoles, positions for visitors,
and the two routing rules that live in the services."""

from __future__ import annotations

import asyncio
from typing import Any

from handoff.config import LimitSettings, RoutingSettings
from handoff.conversations import ConversationService
from handoff.domain import AgentRole, ConversationStatus, Pool
from handoff.realtime.memory import MemoryBus
from handoff.store import open_store
from tests.support.service import (
    RunningService,
    ServiceFactory,
    add_agent,
    agent_socket,
    visitor_socket,
    wait_for,
)

# Timers that never fire during a test: what a use case announces is announced by it, not by a sweep.
NO_SWEEP = RoutingSettings(sweep_interval_seconds=3600, position_interval_seconds=0.05)


async def _hold(service: RunningService, conversation: dict[str, Any], token: str) -> None:
    cid = conversation["conversation_id"]
    await service.ask_human(conversation)
    await service.await_offer(token, cid)
    status, body = await service.call("POST", f"/api/conversations/{cid}/accept", token=token)
    assert status == 200, body


async def _events(service: RunningService, advisor_token: str, cid: str) -> list[tuple[str, str | None]]:
    status, body = await service.call("GET", f"/api/conversations/{cid}/transcript", token=advisor_token)
    assert status == 200, body
    return [(e["type"], e["agent_id"]) for e in body["events"]]


async def test_the_offer_freed_by_a_take_over_is_announced_by_the_take_over(service_factory: ServiceFactory) -> None:
    service = await service_factory(routing=NO_SWEEP)
    amy_agent = await add_agent(service.settings, "amy", capacity=1)
    await add_agent(service.settings, "sam", role=AgentRole.ADVISOR)
    amy, sam = await service.go_online("amy"), await service.go_online("sam")
    first, second = await service.start_conversation(), await service.start_conversation()
    await _hold(service, first, amy)
    await service.ask_human(second, pool="ambassador")  # amy is full: it waits
    socket = await agent_socket(service, amy)
    await socket.next_of("queue")
    status, _ = await service.call("POST", f"/api/conversations/{first['conversation_id']}/claim", token=sam)
    assert status == 200
    # amy's slot is free: the second conversation is offered to her, and she is told — by the take-over.
    await socket.next_of("unassigned", conversation_id=first["conversation_id"], reason="taken_over")
    offer = await socket.next_of("offer")
    assert offer["offer"]["conversation_id"] == second["conversation_id"]
    assert ("offered", amy_agent.id) in await _events(service, sam, second["conversation_id"])
    await socket.close()


async def test_the_offer_freed_by_a_close_is_announced_by_the_close(service_factory: ServiceFactory) -> None:
    service = await service_factory(routing=NO_SWEEP)
    await add_agent(service.settings, "solo", capacity=1)
    solo = await service.go_online("solo")
    first, second = await service.start_conversation(), await service.start_conversation()
    await _hold(service, first, solo)
    await service.ask_human(second)
    socket = await agent_socket(service, solo)
    await socket.next_of("queue")
    await service.call("POST", f"/api/conversations/{first['conversation_id']}/close", token=solo, json={})
    offer = await socket.next_of("offer")
    assert offer["offer"]["conversation_id"] == second["conversation_id"]
    await socket.close()


async def test_an_offer_made_before_the_console_connects_reaches_its_socket(service_factory: ServiceFactory) -> None:
    # The console reads its offers over HTTP, then opens its socket: an offer made in
    # between must still arrive, or the agent never sees it until a reload.
    service = await service_factory(routing=NO_SWEEP)
    await add_agent(service.settings, "solo")
    solo = await service.go_online("solo")
    visitor = await service.start_conversation()
    await service.ask_human(visitor)
    await service.await_offer(solo, visitor["conversation_id"])
    socket = await agent_socket(service, solo)
    offer = await socket.next_of("offer")
    assert offer["offer"]["conversation_id"] == visitor["conversation_id"]
    assert offer["offer"]["expires_in_seconds"] > 0
    await socket.close()


def _heartbeats(service: RunningService, *tokens: str) -> asyncio.Task[None]:
    """A console's pings, in the background, until cancelled."""

    async def beat() -> None:
        while True:
            for token in tokens:
                await service.call("POST", "/api/agents/me/heartbeat", token=token)
            await asyncio.sleep(0.3)

    return asyncio.create_task(beat())


async def test_a_restart_keeps_assigned_chats_loads_and_grace_periods(service_factory: ServiceFactory) -> None:
    routing = RoutingSettings(sweep_interval_seconds=0.1, grace_period_seconds=3, heartbeat_timeout_seconds=3)
    service = await service_factory(routing=routing)
    await add_agent(service.settings, "ann", capacity=1)
    await add_agent(service.settings, "bob", capacity=1)
    kept, lost = await service.start_conversation(), await service.start_conversation()
    ann = await service.go_online("ann")
    await _hold(service, kept, ann)
    bob = await service.go_online("bob")  # after ann is full, so that each holds one chat
    beating = _heartbeats(service, ann, bob)
    await _hold(service, lost, bob)
    beating.cancel()
    await service.stop()  # for real: an in-memory router loses everything (a Redis one keeps it)

    restarted = await service_factory(routing=routing)
    ann = await restarted.go_online("ann")  # ann is back within the grace period, bob never is
    beating = _heartbeats(restarted, ann)
    try:
        status, online = await restarted.call("GET", "/api/agents/online", token=ann)
        assert {a["agent"]["username"]: a["load"] for a in online["agents"]}["ann"] == 1
        status, mine = await restarted.call("GET", "/api/agents/me/conversations", token=ann)
        assert [c["id"] for c in mine["conversations"]] == [kept["conversation_id"]]
        # Her load counts it: capacity 1, so a new conversation waits instead of being offered to her.
        newcomer = await restarted.start_conversation()
        assert (await restarted.ask_human(newcomer))["position"] == 1

        async def requeued() -> bool:
            return any(m["data"].get("event") == "requeued" for m in await restarted.messages(lost))

        await wait_for(requeued, seconds=20)
        status, body = await restarted.call("POST", f"/api/conversations/{kept['conversation_id']}/messages",
                                            token=ann, json={"text": "still with you"})
        assert status == 201, body
        assert not any(m["data"].get("event") == "requeued" for m in await restarted.messages(kept))
    finally:
        beating.cancel()


async def test_consoles_get_the_queue_then_deltas_with_takeable_entries(service_factory: ServiceFactory) -> None:
    routing = RoutingSettings(sweep_interval_seconds=0.1, modes={Pool.AMBASSADOR: "manual", Pool.ADVISOR: "auto"})
    # The long chat below is said at once: the bot's limit (its turns spaced by a second) and the
    # bridge's retries of the unreachable bot (about a second a turn) would stretch it past the
    # sockets' heartbeat, which the test reads only afterwards. A short bot timeout: no retry.
    service = await service_factory(routing=routing, limits=LimitSettings(bot_per_conversation="100/second"),
                                    rasa_timeout_seconds=0.1)
    await add_agent(service.settings, "cara")
    await add_agent(service.settings, "dan", languages=("fr",))
    await add_agent(service.settings, "vera", role=AgentRole.ADVISOR)
    cara, dan, vera = [await service.go_online(name) for name in ("cara", "dan", "vera")]
    sockets = {name: await agent_socket(service, token) for name, token in (("cara", cara), ("dan", dan), ("vera", vera))}
    for socket in sockets.values():
        assert (await socket.next_of("queue"))["waiting"] == []

    visitor = await service.start_conversation("en")
    cid = visitor["conversation_id"]
    # A long chat: the preview is its end, not its beginning. Said together: with Rasa
    # unreachable each turn waits for the bridge's retries (about a second).
    await asyncio.gather(*(service.say(visitor, f"line {n}") for n in range(40)))
    await service.ask_human(visitor, pool="ambassador")
    added = await sockets["cara"].next_of("queue_entry_added", conversation_id=cid)
    assert added["entry"]["takeable"] is True
    preview = added["entry"]["preview"]
    assert len(preview) == 30 and preview[-1]["data"].get("event") == "queued"
    assert [m["seq"] for m in preview] == list(range(preview[0]["seq"], preview[0]["seq"] + 30))
    assert preview[0]["seq"] > 40
    # The supervisor sees it, without a Take button: an advisor cannot claim a manual ambassador ticket.
    supervised = await sockets["vera"].next_of("queue_entry_added", conversation_id=cid)
    assert supervised["entry"]["takeable"] is False
    status, queue = await service.call("GET", "/api/queue", token=vera)
    assert [(e["conversation_id"], e["takeable"]) for e in queue["waiting"]] == [(cid, False)]
    status, refused = await service.call("POST", f"/api/conversations/{cid}/claim", token=vera)
    assert status == 409, refused

    status, _ = await service.call("POST", f"/api/conversations/{cid}/claim", token=cara)
    assert status == 200
    await sockets["cara"].next_of("queue_entry_removed", conversation_id=cid)
    await sockets["vera"].next_of("queue_entry_removed", conversation_id=cid)
    # dan (French only) could never take it: he never saw it come or go, and never got the whole queue again.
    other = await service.start_conversation("fr")
    await service.ask_human(other, pool="ambassador")
    await sockets["dan"].next_of("queue_entry_added", conversation_id=other["conversation_id"])
    assert [f["type"] for f in sockets["dan"].seen if f.get("conversation_id") == cid] == []
    assert [f["type"] for f in sockets["dan"].seen].count("queue") == 1
    for socket in sockets.values():
        await socket.close()


async def test_visitors_are_told_their_position_when_it_changes(service_factory: ServiceFactory) -> None:
    service = await service_factory()
    await add_agent(service.settings, "solo", capacity=1)
    solo = await service.go_online("solo")
    first, second, third = [await service.start_conversation() for _ in range(3)]
    await service.ask_human(first)
    await service.await_offer(solo, first["conversation_id"])
    assert (await service.ask_human(second))["position"] == 1
    assert (await service.ask_human(third))["position"] == 2
    socket = await visitor_socket(service, third)
    assert (await socket.next_of("queue_position"))["position"] == 2
    await service.call("POST", f"/api/conversations/{first['conversation_id']}/accept", token=solo)
    await service.call("POST", f"/api/conversations/{first['conversation_id']}/close", token=solo, json={})
    # The second is offered (served now), so the third moves up.
    await socket.next_of("queue_position", position=1)
    await socket.close()


async def test_a_request_for_a_person_goes_to_the_pool_that_can_answer_now(service_factory: ServiceFactory) -> None:
    service = await service_factory()
    await add_agent(service.settings, "amb")  # exists, offline
    await add_agent(service.settings, "adv", role=AgentRole.ADVISOR)
    adv = await service.go_online("adv")
    conversation = await service.start_conversation()
    status, body = await service.call(
        "POST", f"/api/visitor/conversations/{conversation['conversation_id']}/handoff",
        token=conversation["visitor_token"], json={},
    )
    assert status == 200 and body["conversation"]["pool"] == "advisor"
    await service.await_offer(adv, conversation["conversation_id"])
    # A pool the visitor names is the pool they get.
    named = await service.start_conversation()
    body = await service.ask_human(named, pool="advisor")
    assert body["conversation"]["pool"] == "advisor"


async def test_nobody_at_all_is_said_once_with_the_offline_form(service_factory: ServiceFactory) -> None:
    service = await service_factory()
    conversation = await service.start_conversation("fr")
    status, body = await service.call(
        "POST", f"/api/visitor/conversations/{conversation['conversation_id']}/handoff",
        token=conversation["visitor_token"], json={},
    )
    assert status == 200 and body["position"] is None and body["conversation"]["status"] == "bot"
    notices = [m for m in await service.messages(conversation) if m["sender_kind"] == "system"]
    assert [(m["data"]["event"], m["data"]["offline_form"]) for m in notices] == [("no_agent", True)]
    assert "Personne" in notices[0]["text"]


async def test_a_long_wait_is_told_once_with_the_offline_form_and_the_place_is_kept(
    service_factory: ServiceFactory,
) -> None:
    service = await service_factory(routing=RoutingSettings(sweep_interval_seconds=0.1, max_wait_seconds=1))
    await add_agent(service.settings, "zoe")
    zoe = await service.go_online("zoe")
    await service.call("POST", "/api/agents/me/presence", token=zoe, json={"status": "away"})  # present, not answering
    first = await service.start_conversation("fr")
    assert (await service.ask_human(first))["position"] == 1
    second = await service.start_conversation("en")
    assert (await service.ask_human(second))["position"] == 2

    def long_waits(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [m for m in messages if m["data"].get("event") == "waited_too_long"]

    async def both_told() -> bool:
        return all([long_waits(await service.messages(c)) for c in (first, second)])

    await wait_for(both_told)
    [told] = long_waits(await service.messages(first))
    assert told["data"]["offline_form"] is True and "attente" in told["text"]
    assert "wait" in long_waits(await service.messages(second))[0]["text"]
    # More sweeps ran (the second was told after the first): still once each, and still in line.
    status, body = await service.call(
        "GET", f"/api/visitor/conversations/{first['conversation_id']}/messages", token=first["visitor_token"]
    )
    assert body["conversation"]["status"] == "waiting" and len(long_waits(body["messages"])) == 1
    await service.call("POST", "/api/agents/me/presence", token=zoe, json={"status": "online"})
    await service.await_offer(zoe, first["conversation_id"])  # the first in line is served first


async def test_a_slot_given_back_when_the_visitor_left_is_offered_at_once(service_factory: ServiceFactory) -> None:
    service = await service_factory(routing=NO_SWEEP)
    await add_agent(service.settings, "solo", capacity=1)
    solo = await service.go_online("solo")
    gone, next_in_line = await service.start_conversation(), await service.start_conversation()
    await service.ask_human(gone)
    await service.await_offer(solo, gone["conversation_id"])
    await service.ask_human(next_in_line)
    # The visitor leaves between the offer and its acceptance, as seen by another instance: the store
    # moved on while the router still offers the conversation.
    store = await open_store(service.settings.database_url)
    try:
        await ConversationService(store, MemoryBus()).update(
            gone["conversation_id"], status=ConversationStatus.OFFLINE_MESSAGE
        )
    finally:
        await store.close()
    socket = await agent_socket(service, solo)
    await socket.next_of("queue")
    pending = await socket.next_of("offer")  # the socket opens with the offers already made
    assert pending["offer"]["conversation_id"] == gone["conversation_id"]
    status, body = await service.call("POST", f"/api/conversations/{gone['conversation_id']}/accept", token=solo)
    assert status == 200 and body["conversation"]["status"] == "offline_message"
    # The router's slot went back, and what it freed was announced right away (no sweep runs here).
    offer = await socket.next_of("offer")
    assert offer["offer"]["conversation_id"] == next_in_line["conversation_id"]
    status, mine = await service.call("GET", "/api/agents/me/conversations", token=solo)
    assert mine["conversations"] == []
    await socket.close()
