"""Issue 12's hardening, probed as an attacker would: crafted JSON gets a 4xx and
changes nothing (over HTTP and on a socket, which stays up), browsers are told
what our pages may do, sockets refuse foreign origins, names cannot reorder text."""

from __future__ import annotations

import json
from typing import Any

import aiohttp
import pytest

from handoff.agents import AgentService
from handoff.store import open_store
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

CRAFTED_BODIES = [
    pytest.param(b'{"text": "\\ud800 hello"}', "surrogates", id="lone-surrogate"),
    pytest.param(b'{"text": "hi", "client_msg_id": "\\udfff"}', "surrogates", id="lone-surrogate-id"),
    pytest.param(b'{"text": "a\\u0000b"}', "NUL", id="nul"),
    pytest.param(b'{"text": ' + b"[" * 1000 + b"]" * 1000 + b"}", "nest", id="nested-1000"),
    pytest.param(b'{"text": "hi", "n": ' + b"9" * 5000 + b"}", "digits", id="huge-integer"),
    pytest.param(b'{"text": "hi", "n": 1e999}', "finite", id="infinite-float"),
    pytest.param(b'{"text": "hi", "n": NaN}', "NaN", id="nan"),
]


@pytest.fixture
async def service(service_factory: ServiceFactory) -> RunningService:
    return await service_factory()


async def _messages(service: RunningService, conversation: dict[str, Any]) -> list[dict[str, Any]]:
    status, body = await service.call(
        "GET", f"/api/visitor/conversations/{conversation['conversation_id']}/messages",
        token=conversation["visitor_token"],
    )
    assert status == 200, body
    return list(body["messages"])


@pytest.mark.parametrize(("raw", "named"), CRAFTED_BODIES)
async def test_crafted_json_is_a_400_that_stores_nothing(service: RunningService, raw: bytes, named: str) -> None:
    conversation = await service.start_conversation()
    status, answer = await service.call(
        "POST", f"/api/visitor/conversations/{conversation['conversation_id']}/messages",
        token=conversation["visitor_token"], data=raw, headers={"Content-Type": "application/json"},
    )
    assert (status, answer["error"]["code"]) == (400, "invalid_input"), answer
    assert named in answer["error"]["message"]
    assert await _messages(service, conversation) == []
    # The same body where a conversation is created, and on the agents' side.
    status, answer = await service.call("POST", "/api/visitor/conversations", data=raw,
                                        headers={"Content-Type": "application/json"})
    assert status == 400, answer
    status, answer = await service.call("POST", "/api/agents/login", data=raw,
                                        headers={"Content-Type": "application/json"})
    assert status == 400, answer


async def test_sequence_numbers_beyond_the_store_range_are_refused(service: RunningService) -> None:
    conversation = await service.start_conversation()
    path = f"/api/visitor/conversations/{conversation['conversation_id']}/messages"
    for after in (str(2**64), str(2**31), "9" * 5000, "-1", "1e3"):
        status, answer = await service.call("GET", f"{path}?after={after}", token=conversation["visitor_token"])
        assert (status, answer["error"]["code"]) == (400, "invalid_input"), (after, answer)
    status, _ = await service.call("GET", f"{path}?after={2**31 - 1}", token=conversation["visitor_token"])
    assert status == 200


async def test_ids_and_parameters_the_store_cannot_hold_are_refused(service: RunningService) -> None:
    conversation = await service.start_conversation()
    token = conversation["visitor_token"]
    for path in ("/api/visitor/conversations/%00/messages",
                 f"/api/visitor/conversations/{conversation['conversation_id']}/messages?after=%00",
                 "/ws/visitor?conversation_id=%00&token=x"):
        status, answer = await service.call("GET", path, token=token)
        assert (status, answer["error"]["code"]) == (400, "invalid_input"), (path, answer)
    status, answer = await service.call("GET", "/api/visitor/conversations/%ED%A0%80/messages", token=token)
    assert status == 404, answer


async def test_a_crafted_frame_gets_an_error_frame_and_the_socket_lives_on(service: RunningService) -> None:
    await add_agent(service.settings, "ada")
    token = await service.go_online("ada")
    socket = await agent_socket(service, token)
    conversation = await service.start_conversation()
    visitor = await visitor_socket(service, conversation)
    for frame in ("[" * 1000 + "]" * 1000, '{"type": "watch", "conversation_id": "\\ud800"}',
                  '{"type": "watch", "conversation_id": "\\u0000"}',
                  '{"type": "ping", "n": ' + "9" * 5000 + "}"):
        for side in (socket, visitor):
            await side.socket.send_str(frame)
            error = await side.next_of("error")
            assert error["message"], error
    for side in (socket, visitor):
        await side.socket.send_str(json.dumps({"type": "ping"}))
        await side.next_of("pong")
    await socket.close()
    await visitor.close()


async def test_pages_tell_browsers_what_they_may_do(service: RunningService) -> None:
    async with service.http.get(service.url + "/console") as response:
        csp = response.headers["Content-Security-Policy"]
        assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp and "unsafe-inline" not in csp
        assert response.headers["X-Frame-Options"] == "DENY"
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Referrer-Policy"] == "strict-origin-when-cross-origin"
        assert response.headers["Server"] == "Relais"  # no versions to look up
    async with service.http.get(service.url + "/demo/fr.html") as response:
        assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    async with service.http.get(service.url + "/widget/relais-widget.js") as response:
        assert response.headers["Cross-Origin-Resource-Policy"] == "cross-origin"  # brands' sites load it
        assert response.headers["X-Content-Type-Options"] == "nosniff"
    async with service.http.get(service.url + "/api/nowhere") as response:
        assert response.status == 404
        assert response.headers["Content-Security-Policy"].startswith("default-src 'none'")
        assert response.headers["Server"] == "Relais"


async def _socket_status(service: RunningService, path: str, origin: str, auth: dict[str, Any]) -> int:
    """The handshake's status; a socket that opens must also accept its auth frame."""
    try:
        socket = await authenticated_socket(service.http, ws_base(service) + path, auth, origin=origin)
    except aiohttp.WSServerHandshakeError as exc:
        return exc.status
    async with socket:
        first = await socket.receive(timeout=WAIT_SECONDS)
        assert first.type is aiohttp.WSMsgType.TEXT, first  # authenticated: the server speaks first
        return 101


async def test_sockets_refuse_pages_of_other_sites(service_factory: ServiceFactory) -> None:
    service = await service_factory(widget_origins=("https://shop.example",))
    await add_agent(service.settings, "ada")
    agent = {"token": await service.go_online("ada")}
    conversation = await service.start_conversation()
    visitor = {"conversation_id": conversation["conversation_id"], "token": conversation["visitor_token"]}
    own = service.url
    assert await _socket_status(service, "/ws/agent", "https://evil.example", agent) == 403
    assert await _socket_status(service, "/ws/agent", "https://shop.example", agent) == 403
    assert await _socket_status(service, "/ws/agent", own, agent) == 101
    assert await _socket_status(service, "/ws/visitor", "https://evil.example", visitor) == 403
    assert await _socket_status(service, "/ws/visitor", "https://shop.example", visitor) == 101
    assert await _socket_status(service, "/ws/visitor", own, visitor) == 101


async def test_a_name_cannot_reverse_the_text_around_it(service: RunningService) -> None:
    agent = await add_agent(service.settings, "eve")
    assert agent.display_name == "Eve"
    store = await open_store(service.settings.database_url)
    try:
        agents = AgentService(store)
        renamed = await agents.update(agent.id, display_name="\u202eEve\u2066 the\x00 \u200dhelper\u2069")
    finally:
        await store.close()
    assert renamed.display_name == "Eve the \u200dhelper"  # overrides and isolates gone, the joiner kept
