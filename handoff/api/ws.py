"""WebSocket edges: `/ws/visitor` and `/ws/agent`.

Each session subscribes to the bus first, then replays from the store what the
client missed, then forwards live events — so nothing committed in between is
lost, and duplicates are dropped by sequence number. The bus never needs to know
about conversations; the store is the source of truth.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import WSMsgType, web

from handoff.api.context import services
from handoff.api.payload import after_param
from handoff.domain import Agent, ConversationStatus, DomainError, InvalidInput, Unauthorized
from handoff.realtime import (
    AGENTS_CHANNEL,
    Event,
    Subscription,
    agent_channel,
    conversation_channel,
)

routes = web.RouteTableDef()
HEARTBEAT_SECONDS = 20.0
ClientHandler = Callable[[dict[str, Any]], Awaitable[None]]


class _Session:
    """One socket: forwards events, drops already-sent messages, answers client frames."""

    def __init__(self, socket: web.WebSocketResponse) -> None:
        self.socket = socket
        self.last_seq: dict[str, int] = {}

    async def send(self, event: Event) -> None:
        message = event.get("message") if event.get("type") == "message" else None
        if isinstance(message, dict):
            conversation_id, seq = message["conversation_id"], message["seq"]
            if seq <= self.last_seq.get(conversation_id, 0):
                return
            self.last_seq[conversation_id] = seq
        await self.socket.send_json(event)

    async def pump(self, subscription: Subscription, translate: Callable[[Event], Awaitable[list[Event]]]) -> None:
        async for event in subscription:
            for outgoing in await translate(event):
                await self.send(outgoing)
        await self.socket.close()  # the feed ended (slow client): it reconnects and resumes

    async def receive(self, on_frame: ClientHandler) -> None:
        async for frame in self.socket:
            if frame.type != WSMsgType.TEXT:
                continue
            try:
                data = json.loads(frame.data)
                if not isinstance(data, dict):
                    raise InvalidInput("frames must be JSON objects")
                if data.get("type") == "ping":
                    await self.socket.send_json({"type": "pong"})
                await on_frame(data)
            except (ValueError, DomainError) as exc:
                await self.socket.send_json({"type": "error", "message": str(exc)})


async def _open(request: web.Request) -> web.WebSocketResponse:
    socket = web.WebSocketResponse(heartbeat=HEARTBEAT_SECONDS, max_msg_size=16 * 1024)
    await socket.prepare(request)
    return socket


async def _run(session: _Session, subscription: Subscription, translate: Callable[[Event], Awaitable[list[Event]]], on_frame: ClientHandler) -> None:
    pump = asyncio.create_task(session.pump(subscription, translate))
    try:
        await session.receive(on_frame)
    finally:
        pump.cancel()
        with contextlib.suppress(asyncio.CancelledError, ConnectionError):
            await pump
        await subscription.close()


async def _passthrough(event: Event) -> list[Event]:
    return [event]


@routes.get("/ws/visitor")
async def visitor_socket(request: web.Request) -> web.StreamResponse:
    svc = services(request)
    conversation = await svc.conversations.authenticate_visitor(
        request.query.get("conversation_id", ""), request.query.get("token", "")
    )
    after = after_param(request)
    socket = await _open(request)
    session = _Session(socket)
    subscription = await svc.bus.subscribe(conversation_channel(conversation.id))
    for message in await svc.conversations.messages(conversation.id, after=after):
        await session.send({"type": "message", "message": message.to_json()})
    current = await svc.conversations.get(conversation.id)
    await session.send({"type": "conversation", "conversation": current.to_json()})
    if current.status is ConversationStatus.WAITING:
        position = await svc.engine.queue_position(conversation.id)
        await session.send({"type": "queue_position", "conversation_id": conversation.id, "position": position})

    async def on_frame(frame: dict[str, Any]) -> None:
        if frame.get("type") == "typing":
            await svc.visitors.typing(conversation, bool(frame.get("typing")))

    await _run(session, subscription, _passthrough, on_frame)
    return socket


@routes.get("/ws/agent")
async def agent_socket(request: web.Request) -> web.StreamResponse:
    svc = services(request)
    token = request.query.get("token", "")
    if not token:
        raise Unauthorized("missing token")
    agent = await svc.agents.authenticate(token)
    socket = await _open(request)
    session = _Session(socket)
    held, _ = await svc.desk.my_conversations(agent)
    subscription = await svc.bus.subscribe(
        agent_channel(agent.id), AGENTS_CHANNEL, *(conversation_channel(c.id) for c in held)
    )
    await session.send({"type": "presence", "agents": await svc.desk.online()})
    await session.send({"type": "queue", "waiting": await svc.desk.queue(agent)})

    async def translate(event: Event) -> list[Event]:
        return await _agent_event(request, agent, subscription, event)

    async def on_frame(frame: dict[str, Any]) -> None:
        kind = frame.get("type")
        if kind == "ping":
            await svc.desk.heartbeat(agent)
        elif kind == "watch":
            conversation = await svc.desk.readable(agent, str(frame.get("conversation_id", "")))
            await subscription.add(conversation_channel(conversation.id))
        elif kind == "unwatch":
            await subscription.remove(conversation_channel(str(frame.get("conversation_id", ""))))
        elif kind == "typing":
            await svc.desk.typing(agent, str(frame.get("conversation_id", "")), bool(frame.get("typing")))

    await _run(session, subscription, translate, on_frame)
    return socket


async def _agent_event(request: web.Request, agent: Agent, subscription: Subscription, event: Event) -> list[Event]:
    """Turn bus events into what this agent's console needs."""
    svc = services(request)
    kind = event.get("type")
    if kind == "queue_changed":
        return [{"type": "queue", "waiting": await svc.desk.queue(agent)}]
    if kind == "presence_changed":
        return [{"type": "presence", "agents": await svc.desk.online()}]
    if kind == "assigned":
        await subscription.add(conversation_channel(event["conversation"]["id"]))
    elif kind == "unassigned":
        await subscription.remove(conversation_channel(event["conversation_id"]))
    elif kind == "queue_position":
        return []
    return [event]
