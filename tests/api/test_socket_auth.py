"""WebSockets authenticate by their first frame, never by their URL (issue 12).

A token in a URL ends up in access logs, proxies' logs and browser histories: the
sockets refuse one with 400, and read `{"type": "auth", "token": …}` (plus the
conversation on `/ws/visitor`) as the first frame, within `socket_auth_seconds`.
Anything else — no frame in time, another frame, a wrong token — closes the
socket with 4401 before a single event is sent. One address holds a bounded
number of sockets at once.
"""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import pytest

from handoff.config import LimitSettings
from tests.support.service import (
    WAIT_SECONDS,
    RunningService,
    ServiceFactory,
    add_agent,
    agent_socket,
    authenticated_socket,
    visitor_socket,
    ws_base,
)

AUTH_FAILED = 4401
AUTH_SECONDS = 0.5


async def _first_message(socket: aiohttp.ClientWebSocketResponse) -> aiohttp.WSMessage:
    """What the server sends first: a frame, or its close."""
    return await socket.receive(timeout=WAIT_SECONDS)


def _closed_with(message: aiohttp.WSMessage, code: int) -> bool:
    return message.type is aiohttp.WSMsgType.CLOSE and message.data == code


@pytest.fixture
async def service(service_factory: ServiceFactory) -> RunningService:
    return await service_factory(socket_auth_seconds=AUTH_SECONDS)


async def test_a_socket_without_an_auth_frame_is_closed_with_4401_once_the_window_ends(
    service: RunningService,
) -> None:
    await add_agent(service.settings, "ada")
    await service.go_online("ada")  # something to send, were the socket authenticated
    loop = asyncio.get_running_loop()
    for path in ("/ws/agent", "/ws/visitor"):
        socket = await authenticated_socket(service.http, ws_base(service) + path, None)
        opened = loop.time()
        first = await _first_message(socket)
        waited = loop.time() - opened
        assert _closed_with(first, AUTH_FAILED), (path, first)  # no event before the close
        assert waited >= AUTH_SECONDS * 0.9, (path, waited)  # the client had its window
        await socket.close()


@pytest.mark.parametrize("frame", [
    {"type": "ping"},
    {"type": "auth"},
    {"type": "auth", "token": ""},
    {"type": "auth", "token": 12},
    {"type": "auth", "token": "not-a-token"},
], ids=["not-auth", "no-token", "empty-token", "number", "wrong-token"])
async def test_a_wrong_first_frame_closes_the_agent_socket_with_4401(
    service: RunningService, frame: dict[str, Any]
) -> None:
    socket = await service.http.ws_connect(ws_base(service) + "/ws/agent")
    await socket.send_json(frame)
    assert _closed_with(await _first_message(socket), AUTH_FAILED)
    await socket.close()


async def test_a_visitor_socket_needs_its_own_conversations_token(service: RunningService) -> None:
    mine, other = await service.start_conversation(), await service.start_conversation()
    for conversation in (
        {"conversation_id": mine["conversation_id"], "visitor_token": "wrong"},
        {"conversation_id": mine["conversation_id"], "visitor_token": other["visitor_token"]},  # another's token
        {"conversation_id": "c_nope", "visitor_token": mine["visitor_token"]},
    ):
        refused = await visitor_socket(service, conversation)
        assert _closed_with(await _first_message(refused.socket), AUTH_FAILED), conversation
        await refused.close()
    for frame in ({"type": "auth", "token": mine["visitor_token"]},  # no conversation
                  {"type": "auth", "token": mine["visitor_token"], "conversation_id": mine["conversation_id"],
                   "after": -1}):
        socket = await service.http.ws_connect(ws_base(service) + "/ws/visitor")
        await socket.send_json(frame)
        assert _closed_with(await _first_message(socket), AUTH_FAILED), frame
        await socket.close()
    # The right frame opens it: the replay and the conversation come.
    accepted = await visitor_socket(service, mine)
    assert (await accepted.next_of("conversation"))["conversation"]["id"] == mine["conversation_id"]
    await accepted.close()


async def test_a_token_in_the_url_is_refused_with_400_even_a_valid_one(service: RunningService) -> None:
    await add_agent(service.settings, "ada")
    token = await service.go_online("ada")
    conversation = await service.start_conversation()
    query = f"conversation_id={conversation['conversation_id']}&token={conversation['visitor_token']}"
    for path in (f"/ws/agent?token={token}", f"/ws/visitor?{query}", "/ws/availability?token=x"):
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await service.http.ws_connect(ws_base(service) + path)
        assert refused.value.status == 400, path
        async with service.http.get(service.url + path) as response:  # the same, as plain HTTP
            body = await response.json()
        assert (response.status, body["error"]["code"], body["error"]["details"]["field"]) == (400, "invalid_input", "token")


async def test_a_revoked_sessions_socket_is_closed_within_a_second(service: RunningService) -> None:
    await add_agent(service.settings, "lea")
    token = await service.go_online("lea")
    socket = await agent_socket(service, token)
    await socket.next_of("queue")  # authenticated by its first frame, live
    loop = asyncio.get_running_loop()
    status, _ = await service.call("POST", "/api/agents/logout", token=token)
    logged_out = loop.time()
    assert status == 204
    while True:
        message = await socket.socket.receive(timeout=WAIT_SECONDS)
        if message.type is not aiohttp.WSMsgType.TEXT:
            break
    assert _closed_with(message, AUTH_FAILED), message
    assert loop.time() - logged_out < 1.0
    # And the same token cannot open a new one.
    again = await agent_socket(service, token)
    assert _closed_with(await _first_message(again.socket), AUTH_FAILED)
    await again.close()


async def test_one_address_holds_a_bounded_number_of_sockets(service_factory: ServiceFactory) -> None:
    service = await service_factory(limits=LimitSettings(sockets_per_ip=2))
    conversation = await service.start_conversation()
    first, second = await visitor_socket(service, conversation), await visitor_socket(service, conversation)
    for socket in (first, second):
        await socket.next_of("conversation")
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await visitor_socket(service, conversation)
    assert refused.value.status == 429
    assert refused.value.headers is not None and int(refused.value.headers["Retry-After"]) >= 1
    await first.close()

    async def reopened() -> bool:
        try:
            socket = await visitor_socket(service, conversation)
        except aiohttp.WSServerHandshakeError as exc:
            assert exc.status == 429
            await asyncio.sleep(0.05)  # the server has not yet seen the close
            return False
        await socket.next_of("conversation")
        await socket.close()
        return True

    async with asyncio.timeout(WAIT_SECONDS):
        while not await reopened():
            pass
    await second.close()


async def test_one_address_opens_a_bounded_number_of_sockets_over_time(service_factory: ServiceFactory) -> None:
    """Each socket opened replays what its client missed: reconnecting in a loop is refused."""
    service = await service_factory(limits=LimitSettings(socket_opens_per_ip="3/minute", refusal_delay_seconds=0.0))
    conversation = await service.start_conversation()
    for _ in range(3):
        socket = await visitor_socket(service, conversation)
        await socket.next_of("conversation")
        await socket.close()
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await visitor_socket(service, conversation)
    assert refused.value.status == 429
