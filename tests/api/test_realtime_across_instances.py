"""Realtime across instances on the production stack (PostgreSQL + Redis).

Two service instances share one database and one Redis, as behind a load
balancer. The visitor's WebSocket is on instance A, the agent's on instance B:
what the agent does on B reaches the visitor's socket on A, and what the visitor
says on A reaches the agent's socket on B. Every step waits on a socket frame.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import aiohttp
import pytest

from tests.support.service import (
    STACKS,
    WAIT_SECONDS,
    ServiceFactory,
    add_agent,
    agent_socket,
    visitor_socket,
)

Frame = dict[str, Any]
# Only the production stack has a bus between instances (in memory, each instance is alone).
pytestmark = pytest.mark.parametrize("stack", [s for s in STACKS if s == "postgresql-redis"])


async def next_frame(socket: aiohttp.ClientWebSocketResponse, wanted: Callable[[Frame], bool]) -> Frame:
    """Read frames until one is `wanted`; WAIT_SECONDS bounds a broken run only."""
    while True:
        message = await socket.receive(timeout=WAIT_SECONDS)
        assert message.type is aiohttp.WSMsgType.TEXT, f"socket ended: {message}"
        frame: Frame = json.loads(message.data)
        if wanted(frame):
            return frame


def message_saying(text: str) -> Callable[[Frame], bool]:
    return lambda frame: frame.get("type") == "message" and frame["message"]["text"] == text


async def test_visitor_on_one_instance_and_agent_on_the_other_see_each_other_live(
    service_factory: ServiceFactory, stack: str
) -> None:
    a, b = await service_factory(), await service_factory()
    assert a.url != b.url
    await add_agent(a.settings, "zoe")
    zoe = await b.go_online("zoe")
    conversation = await a.start_conversation("en")
    cid = conversation["conversation_id"]

    async with (await visitor_socket(a, conversation)).socket as visitor, (await agent_socket(b, zoe)).socket as agent:
        await next_frame(visitor, lambda f: f["type"] == "conversation")  # the socket is live
        await next_frame(agent, lambda f: f["type"] == "queue")

        # The visitor asks for a person on A: the offer reaches the agent's socket on B.
        await a.ask_human(conversation)
        offer = await next_frame(agent, lambda f: f["type"] == "offer" and f["offer"]["conversation_id"] == cid)
        assert offer["offer"]["language"] == "en"
        status, body = await b.call("POST", f"/api/conversations/{cid}/accept", token=zoe)
        assert status == 200, body
        await next_frame(agent, lambda f: f["type"] == "assigned" and f["conversation"]["id"] == cid)
        joined = await next_frame(visitor, lambda f: f["type"] == "conversation" and f["conversation"]["status"] == "assigned")
        assert joined["conversation"]["assigned_agent_id"] is not None

        # B -> A: the agent writes on B, the visitor's socket on A shows it.
        status, sent = await b.call("POST", f"/api/conversations/{cid}/messages", token=zoe, json={"text": "Hi, Zoe here"})
        assert status == 201, sent
        seen = await next_frame(visitor, message_saying("Hi, Zoe here"))
        assert seen["message"] == sent["message"]

        # A -> B: the visitor writes on A, the agent's socket on B shows it.
        said = await a.say(conversation, "My awning will not roll out")
        heard = await next_frame(agent, message_saying("My awning will not roll out"))
        assert heard["message"] == said["message"]

        # Typing crosses too, both ways.
        await visitor.send_json({"type": "typing", "typing": True})
        typing = await next_frame(agent, lambda f: f["type"] == "typing" and f.get("sender_kind") == "visitor")
        assert typing["conversation_id"] == cid and typing["typing"] is True
        status, _ = await b.call("POST", f"/api/conversations/{cid}/typing", token=zoe, json={"typing": True})
        assert status == 204
        await next_frame(visitor, lambda f: f["type"] == "typing" and f.get("sender_kind") != "visitor")

        # The agent closes on B: the visitor's socket on A sees the conversation go back to the bot.
        status, _ = await b.call("POST", f"/api/conversations/{cid}/close", token=zoe, json={"outcome": "resolved"})
        assert status == 200
        await next_frame(visitor, lambda f: f["type"] == "conversation" and f["conversation"]["status"] != "assigned")

    # Both instances read one transcript, in one order.
    transcript_a, transcript_b = await a.messages(conversation), await b.messages(conversation)
    assert transcript_a == transcript_b
    assert [m["seq"] for m in transcript_a] == list(range(1, len(transcript_a) + 1))
