"""A visitor who waits, through the HTTP and WebSocket API, on each stack: the estimated
wait (the pool's recent queued → accepted times, times the position) and who can
answer, pushed to the visitor's socket when an agent's presence changes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from handoff.config import RoutingSettings
from handoff.domain import AgentRole
from handoff.services.handoffs.waits import estimated_wait
from tests.support.service import RunningService, ServiceFactory, Socket, add_agent, visitor_socket

FAST_POSITIONS = RoutingSettings(sweep_interval_seconds=3600, position_interval_seconds=0.05)


async def _waited(service: RunningService, advisor_token: str, cid: str) -> float:
    """Queued → accepted, in seconds, from the conversation's handoff events."""
    status, body = await service.call("GET", f"/api/conversations/{cid}/transcript", token=advisor_token)
    assert status == 200, body
    at = {e["type"]: datetime.fromisoformat(e["created_at"]) for e in body["events"]}
    return (at["accepted"] - at["queued"]).total_seconds()


def _queued_note(messages: list[dict[str, Any]]) -> dict[str, Any]:
    [queued] = [m["data"] for m in messages if m["data"].get("event") == "queued"]
    return queued


async def test_a_waiting_visitor_gets_an_estimate_from_the_pools_recent_accept_times(
    service_factory: ServiceFactory,
) -> None:
    service = await service_factory(routing=FAST_POSITIONS)
    await add_agent(service.settings, "solo", capacity=1)
    await add_agent(service.settings, "ada", role=AgentRole.ADVISOR, capacity=1)
    solo, ada = await service.go_online("solo"), await service.go_online("ada")
    first, second, third = [await service.start_conversation() for _ in range(3)]

    # No history yet: no estimate (the widget then says nothing).
    assert (await service.ask_human(first))["estimated_wait_seconds"] is None
    await service.await_offer(solo, first["conversation_id"])
    status, _ = await service.call("POST", f"/api/conversations/{first['conversation_id']}/accept", token=solo)
    assert status == 200
    typical = await _waited(service, ada, first["conversation_id"])

    # solo is full: the next ones wait, told the median wait of the pool times their place.
    answer = await service.ask_human(second)
    assert answer["position"] == 1
    assert answer["estimated_wait_seconds"] == estimated_wait(typical, 1)
    assert _queued_note(await service.messages(second))["estimated_wait_seconds"] == estimated_wait(typical, 1)
    answer = await service.ask_human(third)
    assert answer["position"] == 2
    assert answer["estimated_wait_seconds"] == estimated_wait(typical, 2)
    socket = await visitor_socket(service, third)
    frame = await socket.next_of("queue_position")
    assert (frame["position"], frame["estimated_wait_seconds"]) == (2, estimated_wait(typical, 2))
    await socket.close()

    # The advisors' pool has no history of its own: no estimate there.
    x, y = await service.start_conversation(), await service.start_conversation()
    await service.ask_human(x, pool="advisor")
    await service.await_offer(ada, x["conversation_id"])
    await service.call("POST", f"/api/conversations/{x['conversation_id']}/accept", token=ada)
    answer = await service.ask_human(y, pool="advisor")
    assert answer["position"] == 1
    assert answer["estimated_wait_seconds"] == estimated_wait(await _waited(service, ada, x["conversation_id"]), 1)
    assert answer["estimated_wait_seconds"] is not None


async def test_the_estimate_is_the_median_of_the_last_handoffs_of_the_pool(service_factory: ServiceFactory) -> None:
    """Three handoffs taken: the estimate is their median, not their mean nor the last one."""
    service = await service_factory(routing=FAST_POSITIONS)
    await add_agent(service.settings, "solo", capacity=1)
    await add_agent(service.settings, "boss", role=AgentRole.ADVISOR)
    solo, boss = await service.go_online("solo"), await service.login("boss")
    waits = []
    for _ in range(3):
        conversation = await service.start_conversation()
        cid = conversation["conversation_id"]
        await service.ask_human(conversation)
        await service.await_offer(solo, cid)
        assert (await service.call("POST", f"/api/conversations/{cid}/accept", token=solo))[0] == 200
        waits.append(await _waited(service, boss, cid))
        assert (await service.call("POST", f"/api/conversations/{cid}/close", token=solo, json={}))[0] == 200
    held = await service.start_conversation()
    await service.ask_human(held)
    await service.await_offer(solo, held["conversation_id"])
    await service.call("POST", f"/api/conversations/{held['conversation_id']}/accept", token=solo)
    waits.append(await _waited(service, boss, held["conversation_id"]))
    waiting = await service.start_conversation()
    answer = await service.ask_human(waiting)
    assert answer["position"] == 1
    median = sorted(waits)[1:3]
    assert answer["estimated_wait_seconds"] == estimated_wait(sum(median) / 2, 1)


async def test_who_can_answer_is_pushed_to_the_visitor_socket_when_presence_changes(
    service_factory: ServiceFactory,
) -> None:
    service = await service_factory()
    await add_agent(service.settings, "wes")
    visitor = await service.start_conversation()
    socket = await visitor_socket(service, visitor)
    first = await socket.next_of("availability")  # on opening: as it is now
    assert first["pools"]["ambassador"] == {"online": 0, "available": 0, "enough": False}
    wes = await service.go_online("wes")
    online = await socket.next_of("availability")
    assert online["pools"]["ambassador"] == {"online": 1, "available": 1, "enough": True}
    assert online["pools"]["advisor"]["enough"] is False
    status, _ = await service.call("POST", "/api/agents/me/presence", token=wes, json={"status": "away"})
    assert status == 200
    away = await socket.next_of("availability")
    assert away["pools"]["ambassador"]["enough"] is False
    await socket.close()


async def test_a_widget_without_a_conversation_follows_who_can_answer(service_factory: ServiceFactory) -> None:
    """/ws/availability: no credentials, nothing but the counts, pushed as presence changes."""
    service = await service_factory()
    await add_agent(service.settings, "wes")
    socket = Socket(await service.http.ws_connect(service.url.replace("http", "ws", 1) + "/ws/availability"))
    first = await socket.next_of("availability")
    assert first["pools"]["ambassador"]["enough"] is False
    wes = await service.go_online("wes")
    assert (await socket.next_of("availability"))["pools"]["ambassador"]["enough"] is True
    await service.call("POST", "/api/agents/me/presence", token=wes, json={"status": "offline"})
    assert (await socket.next_of("availability"))["pools"]["ambassador"] == {"online": 0, "available": 0, "enough": False}
    await socket.socket.send_json({"type": "ping"})
    await socket.next_of("pong")
    assert {frame["type"] for frame in socket.seen} == {"availability", "pong"}
    await socket.close()
