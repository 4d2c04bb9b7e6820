"""Presence over time through the API: an agent who disappears, a visitor who returns."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

from handoff.config import RoutingSettings
from tests.support.service import RunningService, ServiceFactory, add_agent, wait_for


async def _hand_to(service: RunningService, conversation: dict[str, Any], token: str) -> None:
    cid = conversation["conversation_id"]
    await service.ask_human(conversation)
    await service.await_offer(token, cid)
    status, _ = await service.call("POST", f"/api/conversations/{cid}/accept", token=token)
    assert status == 200


@contextlib.asynccontextmanager
async def heartbeats(service: RunningService, token: str) -> AsyncIterator[None]:
    """The agent's console beats (as often as a loaded machine lets it) until the block ends."""

    async def beat() -> None:
        while True:
            status, _ = await service.call("POST", "/api/agents/me/heartbeat", token=token)
            assert status == 204
            await asyncio.sleep(0.1)

    beating = asyncio.create_task(beat())
    try:
        yield
    finally:
        beating.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await beating


async def test_a_silent_agent_keeps_chats_for_the_grace_period_then_they_are_requeued(
    service_factory: ServiceFactory,
) -> None:
    # lea's heartbeats come every 0.1 s while she takes the chat: only a stall of
    # the whole machine longer than the 3 s timeout could time her out early.
    routing = RoutingSettings(heartbeat_timeout_seconds=3, grace_period_seconds=0.5, sweep_interval_seconds=0.1)
    service = await service_factory(routing=routing)
    await add_agent(service.settings, "lea")
    await add_agent(service.settings, "max")
    lea = await service.go_online("lea")
    conversation = await service.start_conversation()
    async with heartbeats(service, lea):
        await _hand_to(service, conversation, lea)
    max_token = await service.login("max")  # max comes online only after lea has the chat

    # lea stops sending heartbeats: after the timeout and the grace period the chat
    # goes back to the queue, the visitor is told, and the next agent gets it.
    async def requeued() -> bool:
        return any(m["data"].get("event") == "requeued" for m in await service.messages(conversation))

    await wait_for(requeued)
    await service.call("POST", "/api/agents/me/presence", token=max_token, json={"status": "online"})

    async def offered_to_max() -> bool:
        _, body = await service.call("GET", "/api/agents/me/conversations", token=max_token)
        return [o["conversation_id"] for o in body["offers"]] == [conversation["conversation_id"]]

    await wait_for(offered_to_max)
    status, body = await service.call("GET", "/api/agents/me/conversations", token=lea)
    assert status == 200 and body["conversations"] == []


async def test_a_returning_visitor_is_offered_first_to_the_agent_they_had(service_factory: ServiceFactory) -> None:
    service = await service_factory()
    await add_agent(service.settings, "nina")
    await add_agent(service.settings, "omar")
    nina, omar = await service.go_online("nina"), await service.go_online("omar")
    first = await service.start_conversation()
    _, body = await service.call(
        "POST", f"/api/visitor/conversations/{first['conversation_id']}/handoff",
        token=first["visitor_token"], json={"pool": "ambassador"},
    )

    async def offered_to() -> str | None:
        for name, token in (("nina", nina), ("omar", omar)):
            _, mine = await service.call("GET", "/api/agents/me/conversations", token=token)
            if mine["offers"]:
                return name
        return None

    async def someone_offered() -> bool:
        return await offered_to() is not None

    await wait_for(someone_offered)
    had = await offered_to()
    had_token, other_token = (nina, omar) if had == "nina" else (omar, nina)
    cid = first["conversation_id"]
    await service.call("POST", f"/api/conversations/{cid}/accept", token=had_token)
    await service.call("POST", f"/api/conversations/{cid}/close", token=had_token, json={"outcome": "resolved"})
    # The other agent is now idle for longer, so plain routing would pick them;
    # the returning visitor goes to the agent they had.
    status, second = await service.call(
        "POST", "/api/visitor/conversations", json={"language": "en", "visitor_id": first["visitor_id"]}
    )
    assert status == 201 and second["visitor_id"] == first["visitor_id"]
    await _hand_to(service, second, had_token)
    _, other = await service.call("GET", "/api/agents/me/conversations", token=other_token)
    assert other["offers"] == [] and other["conversations"] == []
