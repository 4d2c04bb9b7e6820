"""A socket gets a conversation's messages once, in order, without a gap — even when
their publications cross.

Two writers (two requests, or two instances) commit seq N and N+1 one after the
other (the sequence number is taken under the conversation's row lock), but each
publishes after its own commit, so N+1 can reach the bus before N. The socket must
not skip N: on a gap it reads what is missing from the store, and drops N when it
arrives late. The crossing is made certain by holding back the first writer's
publication until the second one has published.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from handoff.api.context import SERVICES
from handoff.domain import SenderKind
from handoff.events import Event, MessageAdded
from tests.support.service import ServiceFactory, visitor_socket, wait_for


async def test_messages_published_out_of_order_reach_the_visitor_socket_in_order(
    service_factory: ServiceFactory, stack: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    service = await service_factory()
    assert service.server is not None
    svc = service.server.app[SERVICES]
    conversation = await service.start_conversation("en")
    cid = conversation["conversation_id"]
    socket = await visitor_socket(service, conversation)
    await socket.next_of("conversation")

    publish = svc.bus.publish
    second_published = asyncio.Event()
    held_back: list[str] = []

    async def crossing(channel: str, event: Event) -> None:
        if isinstance(event, MessageAdded) and event.message["text"] == "first":
            held_back.append(channel)
            await second_published.wait()
        await publish(channel, event)
        if isinstance(event, MessageAdded) and event.message["text"] == "second":
            second_published.set()

    monkeypatch.setattr(svc.bus, "publish", crossing)
    first = asyncio.create_task(svc.conversations.append(cid, SenderKind.VISITOR, "first"))

    async def first_committed_and_held() -> bool:
        return bool(held_back)

    await wait_for(first_committed_and_held)
    second, _ = await svc.conversations.append(cid, SenderKind.VISITOR, "second")
    await first

    # "first" has now been published, late; a third message, published after it, marks the end.
    await svc.conversations.append(cid, SenderKind.VISITOR, "third")
    frames: list[dict[str, Any]] = []
    while not frames or frames[-1]["text"] != "third":
        frames.append((await socket.next_of("message"))["message"])
    assert [m["text"] for m in frames] == ["first", "second", "third"]
    assert [m["seq"] for m in frames] == [second.seq - 1, second.seq, second.seq + 1]
    await socket.close()
