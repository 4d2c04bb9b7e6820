"""When the application shuts down, its WebSockets are told to reconnect.

The shutdown signal (aiohttp's `on_shutdown`, what `relais run` triggers on SIGTERM
after closing its listener) closes every open socket with 1012 "service restart",
and a socket asked for from then on is refused with 503 before the upgrade. The
whole sequence on a real process is in tests/faults/test_graceful_shutdown.py.
"""

from __future__ import annotations

import asyncio

import aiohttp
import pytest

from handoff.api.ws import RESTART_REASON
from tests.support.service import (
    WAIT_SECONDS,
    ServiceFactory,
    add_agent,
    agent_socket,
    visitor_socket,
)

SERVICE_RESTART = 1012


async def test_shutdown_closes_open_sockets_with_1012_and_refuses_new_ones(
    service_factory: ServiceFactory, stack: str
) -> None:
    service = await service_factory()
    assert service.server is not None
    await add_agent(service.settings, "zoe")
    zoe = await service.go_online("zoe")
    conversation = await service.start_conversation("en")
    visitor = (await visitor_socket(service, conversation)).socket
    agent = (await agent_socket(service, zoe)).socket

    shutting_down = asyncio.create_task(service.server.app.shutdown())  # it waits for the clients' answers
    for socket in (visitor, agent):
        while (message := await socket.receive(timeout=WAIT_SECONDS)).type is aiohttp.WSMsgType.TEXT:
            pass
        assert message.type is aiohttp.WSMsgType.CLOSE, message
        assert (message.data, message.extra) == (SERVICE_RESTART, RESTART_REASON.decode())
        assert socket.close_code == SERVICE_RESTART
    await asyncio.wait_for(shutting_down, WAIT_SECONDS)
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await visitor_socket(service, conversation)
    assert refused.value.status == 503
