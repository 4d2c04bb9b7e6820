"""Handoffs through the HTTP and WebSocket API, on each stack, without the bot.

The bot is pointed at a closed port here, which also exercises degraded mode;
the flows with the real Rasa server live in tests/e2e/.
"""

from __future__ import annotations

import asyncio
import json

import aiohttp
import pytest

from handoff.config import RoutingSettings
from handoff.domain import AgentRole, Pool
from tests.support.service import (
    WAIT_SECONDS,
    RunningService,
    ServiceFactory,
    add_agent,
    visitor_socket,
    wait_for,
)


async def test_bot_down_keeps_the_message_and_offers_a_human(service_factory: ServiceFactory) -> None:
    service = await service_factory()
    conversation = await service.start_conversation("fr")
    answer = await service.say(conversation, "combien coûte la livraison ?")
    assert answer["message"]["text"] == "combien coûte la livraison ?"
    [reply] = answer["replies"]
    assert reply["sender_kind"] == "system"
    assert reply["data"]["event"] == "bot_unavailable" and reply["data"]["offer_handoff"] is True
    assert "indisponible" in reply["text"]
    status, ready = await service.call("GET", "/readyz")
    assert status == 200 and ready["degraded"] == ["rasa"] and ready["checks"]["store"] == "ok"
    assert [m["seq"] for m in await service.messages(conversation)] == [1, 2]


async def test_nobody_online_offers_the_offline_form_and_keeps_the_message(service_factory: ServiceFactory) -> None:
    service = await service_factory()
    await add_agent(service.settings, "olga")  # exists but offline
    conversation = await service.start_conversation("en")
    body = await service.ask_human(conversation)
    assert body["position"] is None and body["conversation"]["status"] == "bot"
    last = (await service.messages(conversation))[-1]
    assert last["data"]["event"] == "no_agent" and last["data"]["offline_form"] is True
    path = f"/api/visitor/conversations/{conversation['conversation_id']}/offline-message"
    status, error = await service.call("POST", path, token=conversation["visitor_token"], json={"email": "nope", "text": "hi"})
    assert status == 400 and "email" in error["error"]["message"]
    status, body = await service.call(
        "POST", path, token=conversation["visitor_token"],
        json={"email": "marie@example.org", "text": "Which awning fits a 2019 Trafic?"},
    )
    assert status == 201
    assert body["conversation"]["status"] == "offline_message"
    assert body["message"]["data"] == {"offline_message": True, "email": "marie@example.org"}


async def test_handoff_accept_relay_close_rate_and_transcript(service_factory: ServiceFactory) -> None:
    service = await service_factory()
    await add_agent(service.settings, "alice", skills=("awning",))
    await add_agent(service.settings, "victor", role=AgentRole.ADVISOR)
    alice = await service.go_online("alice")
    conversation = await service.start_conversation("en")
    cid = conversation["conversation_id"]
    await service.say(conversation, "hello")
    asked = await service.ask_human(conversation)
    assert asked["position"] == 1 and asked["conversation"]["status"] == "waiting"

    offer = await service.await_offer(alice, cid)
    assert offer["page_url"] == "https://shop.example/awnings" and offer["language"] == "en"
    assert [m["text"] for m in offer["preview"]][0] == "hello"
    status, body = await service.call("POST", f"/api/conversations/{cid}/accept", token=alice)
    assert status == 200 and body["conversation"]["status"] == "assigned"

    await service.say(conversation, "Which awning for a Trafic?")
    status, sent = await service.call("POST", f"/api/conversations/{cid}/messages", token=alice, json={"text": "The 2.6 m one."})
    assert status == 201 and sent["message"]["sender_kind"] == "ambassador"
    status, read = await service.call("GET", f"/api/conversations/{cid}/messages", token=alice)
    assert "Which awning for a Trafic?" in [m["text"] for m in read["messages"]]
    status, _ = await service.call("POST", f"/api/conversations/{cid}/close", token=alice, json={"outcome": "resolved"})
    assert status == 200
    status, rated = await service.call(
        "POST", f"/api/visitor/conversations/{cid}/rating", token=conversation["visitor_token"],
        json={"rating": 5, "comment": "great"},
    )
    assert status == 200 and rated["conversation"]["rating"] == 5
    # Back to the bot: the next message is answered by the (unavailable) bot path, not relayed.
    after = await service.say(conversation, "thanks")
    assert after["conversation"]["status"] == "bot" and after["replies"]

    victor = await service.login("victor")
    status, transcript = await service.call("GET", f"/api/conversations/{cid}/transcript", token=victor)
    assert status == 200
    seqs = [m["seq"] for m in transcript["messages"]]
    assert seqs == list(range(1, len(seqs) + 1))
    kinds = [m["sender_kind"] for m in transcript["messages"]]
    assert {"visitor", "system", "ambassador"} <= set(kinds)
    events = [e["type"] for e in transcript["events"]]
    for expected in ("requested", "queued", "offered", "accepted", "closed", "rated"):
        assert expected in events
    status, _ = await service.call("GET", f"/api/conversations/{cid}/transcript", token=alice)
    assert status == 403


async def test_retried_message_is_stored_once(service_factory: ServiceFactory) -> None:
    service = await service_factory()
    conversation = await service.start_conversation()
    first = await service.say(conversation, "hello", client_msg_id="m-1")
    again = await service.say(conversation, "hello", client_msg_id="m-1")
    assert again["message"] == first["message"]
    assert [r["seq"] for r in again["replies"]] == [r["seq"] for r in first["replies"]]
    visitor_turns = [m for m in await service.messages(conversation) if m["sender_kind"] == "visitor"]
    assert len(visitor_turns) == 1


async def test_fifo_queue_and_positions_when_capacity_is_full(service_factory: ServiceFactory) -> None:
    service = await service_factory()
    await add_agent(service.settings, "solo", capacity=1)
    solo = await service.go_online("solo")
    first, second, third = [await service.start_conversation() for _ in range(3)]
    await service.ask_human(first)
    await service.await_offer(solo, first["conversation_id"])
    assert (await service.ask_human(second))["position"] == 1
    assert (await service.ask_human(third))["position"] == 2
    status, _ = await service.call("POST", f"/api/conversations/{first['conversation_id']}/accept", token=solo)
    assert status == 200
    assert await service.offers(solo) == []
    await service.call("POST", f"/api/conversations/{first['conversation_id']}/close", token=solo, json={})
    # Capacity freed: the oldest waiting conversation is offered first.
    await service.await_offer(solo, second["conversation_id"])
    assert [o["conversation_id"] for o in await service.offers(solo)] == [second["conversation_id"]]


async def _first_offered(service: RunningService, tokens: dict[str, str], cid: str) -> str:
    """The name of the agent the conversation is offered to, once it is."""
    offered_to: list[str] = []

    async def someone_offered() -> bool:
        for name, token in tokens.items():
            if any(o["conversation_id"] == cid for o in await service.offers(token)):
                offered_to.append(name)
        return bool(offered_to)

    await wait_for(someone_offered)
    return offered_to[0]


async def test_a_declined_offer_goes_to_the_next_agent(service_factory: ServiceFactory) -> None:
    service = await service_factory()  # offers last 30 s: far longer than any step here
    await add_agent(service.settings, "ann")
    await add_agent(service.settings, "bob")
    tokens = {"ann": await service.go_online("ann"), "bob": await service.go_online("bob")}
    conversation = await service.start_conversation()
    cid = conversation["conversation_id"]
    await service.ask_human(conversation)
    first = await _first_offered(service, tokens, cid)
    second = "bob" if first == "ann" else "ann"
    status, _ = await service.call("POST", f"/api/conversations/{cid}/decline", token=tokens[first])
    assert status == 200
    await service.await_offer(tokens[second], cid)
    assert await service.offers(tokens[first]) == []
    status, body = await service.call("POST", f"/api/conversations/{cid}/accept", token=tokens[second])
    assert status == 200, body


async def test_an_offer_nobody_answers_times_out_passes_on_and_goes_round_again(
    service_factory: ServiceFactory,
) -> None:
    service = await service_factory(routing=RoutingSettings(offer_timeout_seconds=0.5, sweep_interval_seconds=0.1))
    await add_agent(service.settings, "ann")
    await add_agent(service.settings, "bob")
    await add_agent(service.settings, "vic", role=AgentRole.ADVISOR)  # reads the handoff events
    tokens = {"ann": await service.go_online("ann"), "bob": await service.go_online("bob")}
    conversation = await service.start_conversation()
    cid = conversation["conversation_id"]
    await service.ask_human(conversation)
    vic = await service.login("vic")
    # Nobody answers. The recorded handoff events tell what happened, however slowly
    # the machine let us look: no offer window can be missed.
    events: list[tuple[str, str | None]] = []

    async def went_round() -> bool:
        _, transcript = await service.call("GET", f"/api/conversations/{cid}/transcript", token=vic)
        events[:] = [(e["type"], e["agent_id"]) for e in transcript["events"] if e["type"] in ("offered", "timed_out")]
        return len(events) >= 5

    await wait_for(went_round)
    first, second = events[0][1], events[2][1]
    ids = {name: (await service.call("GET", "/api/agents/me", token=t))[1]["agent"]["id"] for name, t in tokens.items()}
    assert {first, second} == set(ids.values())
    # Both passed: the visitor is not stranded, the offer goes round again, first to
    # the one who passed longest ago.
    assert events[:5] == [("offered", first), ("timed_out", first), ("offered", second), ("timed_out", second),
                          ("offered", first)]

    async def someone_accepts() -> bool:
        for token in tokens.values():
            status, _ = await service.call("POST", f"/api/conversations/{cid}/accept", token=token)
            if status == 200:
                return True
        return False

    await wait_for(someone_accepts)
    _, done = await service.call("GET", f"/api/conversations/{cid}/transcript", token=vic)
    assert done["conversation"]["status"] == "assigned"


async def test_manual_mode_first_claim_wins(service_factory: ServiceFactory) -> None:
    routing = RoutingSettings(modes={Pool.AMBASSADOR: "manual", Pool.ADVISOR: "auto"}, sweep_interval_seconds=0.1)
    service = await service_factory(routing=routing)
    for name in ("cara", "dan", "eve"):
        await add_agent(service.settings, name)
    tokens = [await service.go_online(name) for name in ("cara", "dan", "eve")]
    conversation = await service.start_conversation()
    cid = conversation["conversation_id"]
    await service.ask_human(conversation)
    for token in tokens:
        status, queue = await service.call("GET", "/api/queue", token=token)
        assert [entry["conversation_id"] for entry in queue["waiting"]] == [cid]
        assert await service.offers(token) == []
    results = await asyncio.gather(*(service.call("POST", f"/api/conversations/{cid}/claim", token=t) for t in tokens))
    assert sorted(status for status, _ in results) == [200, 409, 409]


async def test_transfer_to_advisor_with_a_note(service_factory: ServiceFactory) -> None:
    service = await service_factory()
    await add_agent(service.settings, "amb")
    await add_agent(service.settings, "adv", role=AgentRole.ADVISOR)
    amb, adv = await service.go_online("amb"), await service.go_online("adv")
    conversation = await service.start_conversation()
    cid = conversation["conversation_id"]
    await service.ask_human(conversation)
    await service.await_offer(amb, cid)
    await service.call("POST", f"/api/conversations/{cid}/accept", token=amb)
    status, body = await service.call(
        "POST", f"/api/conversations/{cid}/transfer", token=amb, json={"pool": "advisor", "note": "order #1234 damaged"}
    )
    assert status == 200 and body["conversation"]["pool"] == "advisor"
    offer = await service.await_offer(adv, cid)
    assert offer["note"] == "order #1234 damaged"
    status, body = await service.call("POST", f"/api/conversations/{cid}/accept", token=adv)
    status_me, me = await service.call("GET", "/api/agents/me", token=adv)
    assert status == 200 and body["conversation"]["assigned_agent_id"] == me["agent"]["id"]
    status, _ = await service.call("POST", f"/api/conversations/{cid}/messages", token=amb, json={"text": "still me?"})
    assert status == 403


async def test_visitor_websocket_resumes_after_a_sequence_number(service_factory: ServiceFactory) -> None:
    service = await service_factory()
    await add_agent(service.settings, "wendy")
    wendy = await service.go_online("wendy")
    conversation = await service.start_conversation()
    cid = conversation["conversation_id"]
    await service.say(conversation, "one")  # seq 1 + bot-unavailable notice seq 2
    async with (await visitor_socket(service, conversation, after=1)).socket as socket:
        first = json.loads((await socket.receive(timeout=WAIT_SECONDS)).data)
        assert first["type"] == "message" and first["message"]["seq"] == 2
        await service.ask_human(conversation)
        await service.await_offer(wendy, cid)
        await service.call("POST", f"/api/conversations/{cid}/accept", token=wendy)
        await service.call("POST", f"/api/conversations/{cid}/messages", token=wendy, json={"text": "Hi, Wendy here"})
        seen: list[str] = []
        while "Hi, Wendy here" not in seen:
            frame = json.loads((await socket.receive(timeout=WAIT_SECONDS)).data)
            if frame["type"] == "message":
                seen.append(frame["message"]["text"])
    async with (await visitor_socket(service, conversation, after=0)).socket as socket:
        frame = json.loads((await socket.receive(timeout=WAIT_SECONDS)).data)
        assert frame["message"]["seq"] == 1
    # A wrong token never gets a frame: the socket is closed with 4401.
    refused = (await visitor_socket(service, {"conversation_id": cid, "visitor_token": "wrong"})).socket
    closing = await refused.receive(timeout=WAIT_SECONDS)
    assert closing.type is aiohttp.WSMsgType.CLOSE and closing.data == 4401


async def test_two_instances_behave_as_one(service_factory: ServiceFactory, stack: str) -> None:
    first = await service_factory()
    second = first if stack == "sqlite-memory" else await service_factory()
    for name in ("gil", "hal"):
        await add_agent(first.settings, name, capacity=2)
    gil, hal = await second.go_online("gil"), await first.go_online("hal")
    conversations = [await first.start_conversation() for _ in range(4)]
    for conversation in conversations:
        await first.ask_human(conversation)
    # Both agents race to accept every offer on both instances: each conversation is assigned once.
    accepted: dict[str, list[str]] = {}

    async def grab(service: RunningService, token: str, name: str) -> None:
        for conversation in conversations:
            cid = conversation["conversation_id"]
            for instance in (first, second):
                status, _ = await instance.call("POST", f"/api/conversations/{cid}/accept", token=token)
                if status == 200:
                    accepted.setdefault(cid, []).append(name)

    await asyncio.gather(grab(first, gil, "gil"), grab(second, hal, "hal"))
    assert all(len(names) == 1 for names in accepted.values())
    assert len(accepted) == 4
    # A visitor on the first instance and an agent on the second talk normally.
    cid = next(iter(accepted))
    holder = gil if accepted[cid] == ["gil"] else hal
    visitor = next(c for c in conversations if c["conversation_id"] == cid)
    await first.say(visitor, "are you there?")
    status, read = await second.call("GET", f"/api/conversations/{cid}/messages", token=holder)
    assert "are you there?" in [m["text"] for m in read["messages"]]


async def test_waiting_conversations_survive_a_restart(service_factory: ServiceFactory) -> None:
    service = await service_factory()
    await add_agent(service.settings, "ida")
    await add_agent(service.settings, "sue", role=AgentRole.ADVISOR)  # a supervisor, to read the whole queue
    ida = await service.go_online("ida")
    await service.call("POST", "/api/agents/me/presence", token=ida, json={"status": "away"})
    first, second = await service.start_conversation(), await service.start_conversation()
    assert (await service.ask_human(first))["position"] == 1
    assert (await service.ask_human(second))["position"] == 2
    await service.stop()
    with pytest.raises(aiohttp.ClientConnectionError):  # really gone
        await service.call("GET", "/healthz")

    restarted = await service_factory()  # the same store (and Redis) as the stopped one
    status, queue = await restarted.call("GET", "/api/queue", token=await restarted.login("sue"))
    assert status == 200
    assert [entry["conversation_id"] for entry in queue["waiting"]] == [first["conversation_id"], second["conversation_id"]]
    ida_again = await restarted.go_online("ida")
    await restarted.await_offer(ida_again, first["conversation_id"])
    await restarted.await_offer(ida_again, second["conversation_id"])


async def test_supervisor_sees_live_conversations_and_can_take_over(service_factory: ServiceFactory) -> None:
    service = await service_factory()
    await add_agent(service.settings, "amy")
    await add_agent(service.settings, "sam", role=AgentRole.ADVISOR)
    amy = await service.go_online("amy")
    sam = await service.go_online("sam")
    conversation = await service.start_conversation()
    cid = conversation["conversation_id"]
    await service.ask_human(conversation)
    await service.await_offer(amy, cid)
    await service.call("POST", f"/api/conversations/{cid}/accept", token=amy)
    status, live = await service.call("GET", "/api/conversations?status=live", token=sam)
    assert cid in [c["id"] for c in live["conversations"]]
    status, _ = await service.call("GET", "/api/conversations?status=live", token=amy)
    assert status == 403
    await add_agent(service.settings, "ted", role=AgentRole.ADVISOR)
    ted = await service.login("ted")  # logged in but not online: cannot take over
    status, refused = await service.call("POST", f"/api/conversations/{cid}/claim", token=ted)
    assert status == 409, refused
    status, still = await service.call("GET", f"/api/conversations/{cid}/messages", token=amy)
    assert status == 200 and still["conversation"]["status"] == "assigned"
    status, taken = await service.call("POST", f"/api/conversations/{cid}/claim", token=sam)
    assert status == 200 and taken["conversation"]["status"] == "assigned"
    assert taken["conversation"]["pool"] == "advisor"
    status, me = await service.call("GET", "/api/agents/me", token=sam)
    assert taken["conversation"]["assigned_agent_id"] == me["agent"]["id"]


async def test_availability_counts_free_agents(service_factory: ServiceFactory) -> None:
    service = await service_factory()
    status, body = await service.call("GET", "/api/availability")
    assert body["pools"]["ambassador"] == {"online": 0, "available": 0, "enough": False}
    await add_agent(service.settings, "kim", capacity=1)
    kim = await service.go_online("kim")
    status, body = await service.call("GET", "/api/availability")
    assert body["pools"]["ambassador"] == {"online": 1, "available": 1, "enough": True}
    conversation = await service.start_conversation()
    await service.ask_human(conversation)
    await service.await_offer(kim, conversation["conversation_id"])
    status, body = await service.call("GET", "/api/availability")
    assert body["pools"]["ambassador"]["available"] == 0
