"""A flooding client is slowed or cut off while a bystander is still answered (issue 12).

One address floods at once, for as long as the test runs: new conversations, messages
in its conversation, frames on its socket, and more sockets than it may hold. Each flood
is refused as its limit says (429 with Retry-After; error frames, then a 1008 close),
nothing over a limit is stored or sent to the bot, and while every flood still runs a
bystander — another address — starts a conversation, gets the bot's answer, and has
a live socket. Both stacks. The latency side (a bystander within 2x of idle) is
measured by scripts/bench_flood.py (docs/benchmarks.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections import Counter
from dataclasses import dataclass, field, replace
from ipaddress import ip_network
from typing import Any

import aiohttp

from handoff.config import LimitSettings
from tests.support.misbehaving_rasa import MisbehavingRasa, bot_reply
from tests.support.service import (
    WAIT_SECONDS,
    RunningService,
    ServiceFactory,
    authenticated_socket,
    wait_for,
    ws_base,
)

LOOPBACK = (ip_network("127.0.0.1/32"), ip_network("::1/128"))
FLOODER, BYSTANDER = "203.0.113.66", "198.51.100.7"  # as the trusted proxy (loopback) reports them
LIMITS = replace(
    LimitSettings(), conversations_per_ip="5/minute", messages_per_conversation="10/minute",
    socket_frames="20/minute", socket_flood="40/minute", bot_per_conversation="2/minute", sockets_per_ip=4,
)


@dataclass
class Flood:
    """One address's floods, each running until `stop` (statuses and close codes counted)."""

    service: RunningService
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    conversations: Counter[int] = field(default_factory=Counter)
    messages: Counter[int] = field(default_factory=Counter)
    sockets: Counter[int] = field(default_factory=Counter)
    frames: Counter[str] = field(default_factory=Counter)
    retry_after: set[str] = field(default_factory=set)
    close_code: int | None = None
    held: list[aiohttp.ClientWebSocketResponse] = field(default_factory=list)

    async def _post(self, path: str, body: dict[str, Any], token: str | None = None) -> tuple[int, Any]:
        headers = {"X-Forwarded-For": FLOODER}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        async with self.service.http.post(self.service.url + path, json=body, headers=headers) as response:
            if response.status == 429:
                self.retry_after.add(response.headers["Retry-After"])
            return response.status, await response.json(content_type=None)

    async def new_conversations(self) -> None:
        while not self.stop.is_set():
            status, _ = await self._post("/api/visitor/conversations", {"language": "en"})
            self.conversations[status] += 1
            await asyncio.sleep(0)

    async def messages_in(self, conversation: dict[str, Any]) -> None:
        path = f"/api/visitor/conversations/{conversation['conversation_id']}/messages"
        while not self.stop.is_set():
            status, _ = await self._post(path, {"text": "spam", "client_msg_id": uuid.uuid4().hex},
                                         conversation["visitor_token"])
            self.messages[status] += 1
            await asyncio.sleep(0)

    async def frames_on(self, socket: aiohttp.ClientWebSocketResponse) -> None:
        async def send() -> None:
            with contextlib.suppress(ConnectionError, RuntimeError):
                while not socket.closed and not self.stop.is_set():
                    await socket.send_json({"type": "ping"})
                    await asyncio.sleep(0)

        sender = asyncio.create_task(send())
        async for frame in socket:
            if frame.type is aiohttp.WSMsgType.TEXT:
                self.frames[frame.json()["type"]] += 1
        self.close_code = socket.close_code
        await sender

    async def more_sockets(self, conversation: dict[str, Any]) -> None:
        auth = {"conversation_id": conversation["conversation_id"], "token": conversation["visitor_token"]}
        while not self.stop.is_set():
            try:
                socket = await authenticated_socket(self.service.http, ws_base(self.service) + "/ws/visitor", auth,
                                                    headers={"X-Forwarded-For": FLOODER})
            except aiohttp.WSServerHandshakeError as exc:
                self.sockets[exc.status] += 1
                await asyncio.sleep(0.01)
                continue
            self.sockets[101] += 1
            self.held.append(socket)  # held open: the address's slots fill up

    async def close(self) -> None:
        for socket in self.held:
            await socket.close()


async def test_a_flooding_address_is_cut_off_while_a_bystander_is_answered(
    service_factory: ServiceFactory, misbehaving_rasa: MisbehavingRasa
) -> None:
    service = await service_factory(rasa_url=misbehaving_rasa.url, rasa_timeout_seconds=WAIT_SECONDS,
                                    trusted_proxies=LOOPBACK, limits=LIMITS)
    flood = Flood(service)
    status, own = await flood._post("/api/visitor/conversations", {"language": "en"})
    assert status == 201
    flood.conversations[201] += 1
    socket = await authenticated_socket(
        service.http, ws_base(service) + "/ws/visitor",
        {"conversation_id": own["conversation_id"], "token": own["visitor_token"]}, headers={"X-Forwarded-For": FLOODER},
    )
    tasks = [asyncio.create_task(coroutine) for coroutine in (
        flood.new_conversations(), flood.messages_in(own), flood.frames_on(socket), flood.more_sockets(own),
    )]
    try:
        # Every flood has met its limit: refused (slowed), and the frame flood cut off.
        async def refused() -> bool:
            return bool(flood.conversations[429] and flood.messages[429] and flood.sockets[429]
                        and flood.close_code is not None)

        await wait_for(refused)
        assert flood.close_code == aiohttp.WSCloseCode.POLICY_VIOLATION
        assert flood.frames["error"] >= 1  # slowed first, then cut off
        assert all(1 <= int(seconds) <= 60 for seconds in flood.retry_after), flood.retry_after

        # Meanwhile, the bystander: a new conversation, the bot's answer, a live socket.
        status, body = await service.call("POST", "/api/visitor/conversations", json={"language": "fr"},
                                          headers={"X-Forwarded-For": BYSTANDER})
        assert status == 201, body
        answer = await service.say(body, "Bonjour, mon store est-il livré ?")
        assert [reply["text"] for reply in answer["replies"]] == [bot_reply("Bonjour, mon store est-il livré ?")]
        mine = await authenticated_socket(
            service.http, ws_base(service) + "/ws/visitor",
            {"conversation_id": body["conversation_id"], "token": body["visitor_token"]},
            headers={"X-Forwarded-For": BYSTANDER},
        )
        async with mine:
            await mine.send_json({"type": "ping"})
            async with asyncio.timeout(WAIT_SECONDS):
                while (await mine.receive_json())["type"] != "pong":
                    pass
        assert not any(task.done() for task in tasks[:2] + tasks[3:]), "the floods were still running"
    finally:
        flood.stop.set()
        await asyncio.gather(*tasks)
        await flood.close()

    # Nothing over a limit got through.
    assert flood.conversations[201] == 5
    assert flood.messages[201] == 10
    # At most 4 at once: the frame flood's socket held one slot until it was cut off.
    assert 3 <= flood.sockets[101] <= 4, flood.sockets
    assert set(flood.conversations) <= {201, 429} and set(flood.messages) <= {201, 429}
    assert len(misbehaving_rasa.calls_for(own["conversation_id"])) <= 2  # the bot's own limit per conversation


async def test_a_refusal_is_slow_so_a_flooder_is_slowed(service_factory: ServiceFactory) -> None:
    """The tarpit: a refused request waits `refusal_delay_seconds` before its 429."""
    service = await service_factory(limits=replace(LimitSettings(), conversations_per_ip="1/minute",
                                                   refusal_delay_seconds=0.4))
    loop = asyncio.get_running_loop()
    status, _ = await service.call("POST", "/api/visitor/conversations", json={"language": "en"})
    assert status == 201
    started = loop.time()
    status, body = await service.call("POST", "/api/visitor/conversations", json={"language": "en"})
    assert (status, body["error"]["code"]) == (429, "rate_limited")
    assert loop.time() - started >= 0.4
