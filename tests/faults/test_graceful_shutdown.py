"""SIGTERM: the service stops accepting, tells its sockets to reconnect, finishes
what is in flight, and exits within a bounded time.

The service runs as a real process on PostgreSQL + Redis (tests/faults/harness.py).
A request is held "in flight" by the stand-in bot (tests/support/misbehaving_rasa.py)
hanging until the test releases it: the visitor's message is stored, the service
waits for the bot's answer.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from dataclasses import replace
from typing import Any

import aiohttp
import pytest

from handoff.config import Settings
from handoff.server import WATCHDOG_MARGIN_SECONDS
from tests.faults.harness import ServiceProcess, ServiceProcesses
from tests.faults.load import identity
from tests.support.misbehaving_rasa import MisbehavingRasa, bot_reply
from tests.support.service import (
    STACKS,
    WAIT_SECONDS,
    RunningService,
    add_agent,
    agent_socket,
    visitor_socket,
    wait_for,
)

pytestmark = pytest.mark.parametrize("stack", [s for s in STACKS if s == "postgresql-redis"])
SERVICE_RESTART = 1012


def client(instance: ServiceProcess, http: aiohttp.ClientSession) -> RunningService:
    return RunningService(url=instance.url, settings=instance.settings, http=http)


async def frames_until_closed(socket: aiohttp.ClientWebSocketResponse) -> list[dict[str, Any]]:
    """Read a socket until the server closes it; the frames it sent meanwhile."""
    frames: list[dict[str, Any]] = []
    while True:
        message = await socket.receive(timeout=WAIT_SECONDS)
        if message.type is not aiohttp.WSMsgType.TEXT:
            return frames
        frames.append(json.loads(message.data))


async def refused(url: str) -> bool:
    """True when a new connection to `url` is refused (nothing listens)."""
    async with aiohttp.ClientSession() as fresh:
        try:
            async with fresh.get(url + "/healthz", timeout=aiohttp.ClientTimeout(total=5)):
                return False
        except aiohttp.ClientConnectorError:
            return True


async def post_in_flight(service: RunningService, conversation: dict[str, Any], text: str,
                         rasa: MisbehavingRasa) -> asyncio.Task[tuple[int, Any]]:
    """Post a message and return once the service is waiting for the bot's answer to it."""
    cid = conversation["conversation_id"]
    posting = asyncio.create_task(service.call(
        "POST", f"/api/visitor/conversations/{cid}/messages", token=conversation["visitor_token"],
        json={"text": text, "client_msg_id": uuid.uuid4().hex},
    ))

    async def at_the_bot() -> bool:
        assert not posting.done(), posting.result()
        return text in rasa.calls_for(cid)

    await wait_for(at_the_bot)
    return posting


async def test_sigterm_closes_sockets_with_1012_finishes_the_write_in_flight_and_exits(
    processes: ServiceProcesses, stack_settings: Settings, misbehaving_rasa: MisbehavingRasa, stack: str
) -> None:
    settings = replace(stack_settings, rasa_url=misbehaving_rasa.url, rasa_timeout_seconds=2 * WAIT_SECONDS,
                       shutdown_timeout_seconds=WAIT_SECONDS)
    await add_agent(settings, "zoe")
    instance = await processes.start("a", settings)
    async with aiohttp.ClientSession() as http:
        service = client(instance, http)
        zoe = await service.go_online("zoe")
        conversation = await service.start_conversation("en")
        visitor = (await visitor_socket(service, conversation)).socket
        agent = (await agent_socket(service, zoe)).socket

        misbehaving_rasa.behaviour = "hang"
        posting = await post_in_flight(service, conversation, "Is the awning in stock?", misbehaving_rasa)
        instance.terminate()

        # Both sockets are told to reconnect: close code 1012 with a reason.
        before_close = await frames_until_closed(visitor)
        await frames_until_closed(agent)
        assert visitor.close_code == SERVICE_RESTART and agent.close_code == SERVICE_RESTART
        # The listener was closed before the sockets: nobody new gets in.
        assert await refused(instance.url)
        # The write in flight holds the process until it is done (it would for shutdown_timeout_seconds).
        assert instance.alive, instance.log_tail()
        misbehaving_rasa.released.set()
        status, body = await asyncio.wait_for(posting, WAIT_SECONDS)
        assert status == 201, body
        assert [reply["text"] for reply in body["replies"]] == [bot_reply("Is the awning in stock?")]
        assert await instance.wait_exit() == 0, instance.log_tail()

        # Restarted on the same store: the visitor resumes after the last message it saw and
        # gets exactly what it missed (the bot's reply, committed while shutting down).
        misbehaving_rasa.behaviour = "answer"
        await instance.start()
        seen = [frame["message"]["seq"] for frame in before_close if frame["type"] == "message"]
        last = max(seen, default=0)
        async with (await visitor_socket(service, conversation, after=last)).socket as resumed:
            replayed: list[dict[str, Any]] = []
            while True:
                frame = json.loads((await resumed.receive(timeout=WAIT_SECONDS)).data)
                if frame["type"] == "conversation":
                    break
                replayed.append(frame["message"])
        transcript = await service.messages(conversation)
        assert [m["seq"] for m in transcript] == list(range(1, len(transcript) + 1))
        assert seen + [m["seq"] for m in replayed] == [m["seq"] for m in transcript]
        assert transcript[-1]["text"] == bot_reply("Is the awning in stock?")
        assert identity(transcript[-2]) == identity(body["message"])


async def test_sigterm_exits_within_the_bound_when_a_request_never_ends(
    processes: ServiceProcesses, stack_settings: Settings, misbehaving_rasa: MisbehavingRasa, stack: str
) -> None:
    # The bot would hold the request far longer than the test waits; shutdown_timeout_seconds cuts it.
    shutdown_timeout = 1.0
    settings = replace(stack_settings, rasa_url=misbehaving_rasa.url, rasa_timeout_seconds=4 * WAIT_SECONDS,
                       shutdown_timeout_seconds=shutdown_timeout)
    instance = await processes.start("a", settings)
    async with aiohttp.ClientSession() as http:
        service = client(instance, http)
        conversation = await service.start_conversation("en")
        misbehaving_rasa.behaviour = "hang"
        posting = await post_in_flight(service, conversation, "Hello?", misbehaving_rasa)
        loop = asyncio.get_running_loop()
        asked = loop.time()
        instance.terminate()
        code = await instance.wait_exit()
        took = loop.time() - asked
        assert code == 0, instance.log_tail()  # the graceful path ended it, not the watchdog
        assert took < 2 * shutdown_timeout + WATCHDOG_MARGIN_SECONDS, took
        with pytest.raises(aiohttp.ClientError):
            await posting  # cut, never acknowledged
