"""An agent's ended session closes its sockets at once (issue 12): a socket that
outlives a logout, a new password or a lowered role kept receiving conversations."""

from __future__ import annotations

import argparse

import aiohttp

from handoff.agents import AgentService
from handoff.cli import agents_remove, agents_set
from handoff.domain import AgentRole
from handoff.store import open_store
from tests.support.service import RunningService, ServiceFactory, add_agent, agent_socket

SESSION_ENDED = 4401


async def _closed_with(socket: aiohttp.ClientWebSocketResponse) -> int | None:
    """Read until the server closes the socket; the code of its close frame (what a
    browser reports: aiohttp's own `close_code` becomes 1006 when the server drops the
    connection right after its close frame, as aiohttp does for a close from another task)."""
    while True:
        message = await socket.receive()
        if message.type is aiohttp.WSMsgType.CLOSE:
            return int(message.data)
        if message.type in (aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR):
            return None


async def test_logout_closes_that_sessions_sockets_and_no_other(service_factory: ServiceFactory) -> None:
    service: RunningService = await service_factory()
    await add_agent(service.settings, "lea")
    first, second = await service.go_online("lea"), await service.login("lea")
    kept, ended = await agent_socket(service, second), await agent_socket(service, first)
    await ended.next_of("queue")
    status, _ = await service.call("POST", "/api/agents/logout", token=first)
    assert status == 204
    assert await _closed_with(ended.socket) == SESSION_ENDED
    # The other session's socket lives on and still answers.
    await kept.socket.send_json({"type": "ping"})
    await kept.next_of("pong")
    status, _ = await service.call("GET", "/api/agents/me", token=first)
    assert status == 401
    await kept.close()


async def test_a_new_role_closes_every_socket_of_the_agent(service_factory: ServiceFactory) -> None:
    # As an admin would, from the command line: through Redis to every instance at once;
    # on the memory backend (no bus between processes) at the socket's next ping.
    service: RunningService = await service_factory()
    await add_agent(service.settings, "max", role=AgentRole.ADVISOR)
    token = await service.go_online("max")
    socket = await agent_socket(service, token)
    await socket.next_of("queue")
    args = argparse.Namespace(username="max", role="ambassador", languages=None, skills=None, capacity=None,
                              display_name=None, password=False)
    assert await agents_set(args, service.settings) == 0
    if service.settings.backend != "redis":
        await socket.socket.send_json({"type": "ping"})
    assert await _closed_with(socket.socket) == SESSION_ENDED
    status, _ = await service.call("GET", "/api/agents/me", token=token)
    assert status == 401


async def test_a_new_password_ends_the_session_at_the_next_ping_whatever_the_backend(
    service_factory: ServiceFactory,
) -> None:
    service: RunningService = await service_factory()
    agent = await add_agent(service.settings, "noe")
    token = await service.go_online("noe")
    socket = await agent_socket(service, token)
    await socket.next_of("queue")
    store = await open_store(service.settings.database_url)
    try:
        await AgentService(store).update(agent.id, password="a brand new secret")  # no announcement at all
    finally:
        await store.close()
    await socket.socket.send_json({"type": "ping"})
    assert await _closed_with(socket.socket) == SESSION_ENDED


async def test_removing_an_agent_closes_its_sockets(service_factory: ServiceFactory) -> None:
    # From the command line, as for a new role (through Redis at once; else at the next ping).
    service: RunningService = await service_factory()
    await add_agent(service.settings, "ugo", role=AgentRole.ADVISOR)
    token = await service.go_online("ugo")
    socket = await agent_socket(service, token)
    await socket.next_of("queue")
    assert await agents_remove(argparse.Namespace(username="ugo"), service.settings) == 0
    if service.settings.backend != "redis":
        await socket.socket.send_json({"type": "ping"})
    assert await _closed_with(socket.socket) == SESSION_ENDED
    status, _ = await service.call("GET", "/api/agents/me", token=token)
    assert status == 401
