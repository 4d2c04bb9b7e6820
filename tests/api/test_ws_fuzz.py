"""The WebSocket handlers fuzzed with Hypothesis: arbitrary JSON frames and raw text.

A visitor socket and an agent socket (opened through tests/support/service.py's
helpers) receive generated frames: JSON objects shaped like client frames (known and
unknown types, any `conversation_id` and `typing`), any JSON document, and raw text.
After each frame a `ping` must be answered with `pong` on the same socket: the
handler lived through it. Everything it sent in between is a documented server
event (`handoff.events.SERVER_EVENTS`), and an `error` frame (with a non-empty
`message`) comes exactly when docs/api.md says it must: a frame that is not a
bounded JSON object, or whose `conversation_id` is not a string. An unknown type is
ignored. Afterwards the service still answers HTTP without a 5xx.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from handoff.api import safe_json
from handoff.config import LimitSettings
from handoff.domain import DomainError
from handoff.events import SERVER_EVENTS
from tests.support.service import (
    WAIT_SECONDS,
    RunningService,
    ServiceFactory,
    Socket,
    add_agent,
    agent_socket,
    visitor_socket,
)

DOCUMENTED = {event.type for event in SERVER_EVENTS} - {"presence_changed", "session_ended", "bot_switched"}
MAX_EXAMPLES = 60
FRAME_SECONDS = 10.0
REAL_ID = "<the conversation>"  # replaced by the real conversation's id when sent

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
CLIENT_LIKE = st.fixed_dictionaries(
    {"type": st.sampled_from(["ping", "typing", "watch", "unwatch", "message", "PING", ""]) | st.text(max_size=10) | JSON_VALUES},
    optional={"conversation_id": st.just(REAL_ID) | st.text(max_size=30) | JSON_VALUES, "typing": JSON_VALUES},
)
# Text a client can send (aiohttp encodes it as UTF-8: no lone surrogates on the wire).
RAW_TEXT = st.text(st.characters(exclude_categories=["Cs"]), max_size=200)
FRAMES = (CLIENT_LIKE.map(json.dumps) | JSON_VALUES.map(json.dumps) | RAW_TEXT
          | st.integers(17, 40).map(lambda depth: "[" * depth + "]" * depth)
          | st.integers(19, 60).map(lambda digits: '{"type": "ping", "n": ' + "9" * digits + "}"))


def refused(raw: str) -> bool:
    """Whether docs/api.md says this frame gets an `error` frame (a malformed frame)."""
    try:
        frame = safe_json.loads(raw)
    except DomainError:
        return True
    if not isinstance(frame, dict):
        return True
    conversation_id = frame.get("conversation_id")
    return conversation_id is not None and not isinstance(conversation_id, str)


async def exchange(socket: Socket, raw: str) -> list[dict[str, Any]]:
    """Send `raw`, then a ping; the frames received up to its pong (`raw` may be a ping too)."""
    pongs = 2 if not refused(raw) and json.loads(raw).get("type") == "ping" else 1
    await socket.socket.send_str(raw)
    await socket.socket.send_str(json.dumps({"type": "ping"}))
    before = len(socket.seen)
    message = await socket.socket.receive(timeout=FRAME_SECONDS)
    received: list[dict[str, Any]] = []
    while True:
        assert message.type == aiohttp.WSMsgType.TEXT, f"the socket ended after {raw!r}: {message}"
        frame = json.loads(message.data)
        received.append(frame)
        if frame.get("type") == "pong":
            pongs -= 1
            if not pongs:
                break
        message = await socket.socket.receive(timeout=FRAME_SECONDS)
    socket.seen.extend(received)
    assert len(socket.seen) == before + len(received)
    return received


@pytest.fixture
async def service(service_factory: ServiceFactory) -> RunningService:
    # The frame limits are tested elsewhere (tests/api/test_rate_limits.py): here every frame is read.
    limits = LimitSettings(socket_frames="100000/second", socket_flood="200000/second")
    return await service_factory(limits=limits)


async def test_any_frame_is_answered_as_documented_and_the_sockets_live_on(service: RunningService) -> None:
    await add_agent(service.settings, "ada")
    token = await service.go_online("ada")
    conversation = await service.start_conversation()
    sockets = {"visitor": await visitor_socket(service, conversation), "agent": await agent_socket(service, token)}
    examples = 0
    loop = asyncio.get_running_loop()

    async def answered_as_documented(raw: str, side: str) -> None:
        raw = raw.replace(REAL_ID, conversation["conversation_id"])
        received = await exchange(sockets[side], raw)
        kinds = [frame.get("type") for frame in received]
        assert set(kinds) <= DOCUMENTED, (raw, received)
        errors = [frame for frame in received if frame["type"] == "error"]
        assert all(isinstance(e.get("message"), str) and e["message"] for e in errors), (raw, errors)
        if refused(raw):
            assert errors, f"{side}: no error frame for the malformed {raw!r}: {received}"
        elif side == "visitor" or _ignored(raw):
            assert not errors, f"{side}: an error frame for the well-formed {raw!r}: {received}"

    # Hypothesis drives synchronous tests: it runs in a thread, each example on the service's loop.
    @settings(max_examples=MAX_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
    @given(raw=FRAMES, side=st.sampled_from(sorted(sockets)))
    def each_frame(raw: str, side: str) -> None:
        nonlocal examples
        examples += 1
        asyncio.run_coroutine_threadsafe(answered_as_documented(raw, side), loop).result(timeout=WAIT_SECONDS)

    await asyncio.to_thread(each_frame)
    assert examples >= MAX_EXAMPLES // 2
    for side in sockets.values():
        await side.close()
    status, body = await service.call("GET", "/api/agents/me/conversations", token=token)
    assert status == 200, body
    status, _ = await service.call("GET", "/readyz")
    assert status < 500


def _ignored(raw: str) -> bool:
    """A well-formed frame of a type the agent's handler does not act on."""
    frame = json.loads(raw)
    return frame.get("type") not in ("typing", "watch", "unwatch")
