"""WebSocket edges: `/ws/visitor`, `/ws/availability` (the widget before its conversation) and `/ws/agent`.

Each session subscribes to the bus first, then replays from the store what the
client missed, then forwards live events — so nothing committed in between is
lost, and duplicates are dropped by sequence number; a message that arrives
before an earlier one of its conversation (two writers' publications crossed)
makes the session read the missing ones from the store first. The bus never
needs to know about conversations; the store is the source of truth. What goes over a socket is
the typed events of `handoff/events.py` (`to_json()`); client frames are read
with `client_frame_from_json`. An agent's socket sends its queue once, then the
deltas of that agent's view (`services/desk.py::AgentQueueView`).

When the instance shuts down, every open socket is closed with 1012 ("service
restart"): clients reconnect (to this instance once it is back, or to another)
and resume from their last sequence number; an upgrade request received
meanwhile gets 503.

While a dependency is unreachable (`handoff.unavailable`), a client frame that
needs it is answered with an `error` frame and the socket stays open; an event
that cannot be translated for want of it ends the socket, and so does a failure
while a socket opens (close code 1013, try again later): the client reconnects
and resumes from the store. Before the socket is open, it is a 503 like any request.

No credential ever travels in a socket's URL (URLs end up in logs and browser
histories): a `token` in the query string is refused with 400. The client's first
frame authenticates it — `{"type": "auth", "token": …}` on `/ws/agent`, plus
`"conversation_id"` (and optionally `"after"`) on `/ws/visitor` — and must come within
`socket_auth_seconds`; a socket without it, or with a wrong one, is closed with 4401.
Nothing is sent before. One address opens at most `limits.socket_opens_per_ip` sockets
over time and holds at most `limits.sockets_per_ip` at once (a 429 beyond).

A socket's frames are counted (`limits.socket_frames`, `limits.socket_flood`): a frame
over the first limit is answered with an `error` frame and otherwise ignored; a client
that keeps sending past the second is closed with 1008 (policy violation).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import uuid
import weakref
from collections.abc import Awaitable, Callable

from aiohttp import WSCloseCode, WSMsgType, web
from aiohttp.typedefs import Handler

from handoff.api import safe_json
from handoff.api.context import client_ip, services
from handoff.api.contract.common import MAX_SEQ
from handoff.api.cors import socket_origin_allowed
from handoff.api.payload import after_param
from handoff.domain import (
    Agent,
    ConversationStatus,
    DomainError,
    Forbidden,
    InvalidInput,
    Message,
    Unauthorized,
)
from handoff.events import (
    AssignedToAgent,
    AvailabilityChanged,
    ClientFrame,
    ConversationChanged,
    ErrorFrame,
    Event,
    JsonObject,
    MessageAdded,
    OfferMade,
    OfferRevoked,
    Ping,
    Pong,
    PresenceChanged,
    PresenceList,
    QueueEntryAdded,
    QueueEntryRemoved,
    QueueEntryUpdated,
    QueuePosition,
    SessionEnded,
    TypingFrame,
    Unassigned,
    Unwatch,
    Watch,
    client_frame_from_json,
)
from handoff.realtime import (
    AGENTS_CHANNEL,
    AVAILABILITY_CHANNEL,
    SUPERVISION_CHANNEL,
    Subscription,
    agent_channel,
    conversation_channel,
    notes_channel,
)
from handoff.services.container import Services
from handoff.services.desk import AgentQueueView, is_supervisor
from handoff.services.limits import RateLimits
from handoff.services.privacy import redact_for
from handoff.services.visitor_presence import VisitorSockets
from handoff.tokens import secret_hash
from handoff.unavailable import describe, unavailable_dependency

log = logging.getLogger(__name__)
routes = web.RouteTableDef()
SESSION_ENDED_CODE = 4401  # the agent's session ended: the console logs in again instead of reconnecting
AUTH_FAILED_CODE = 4401  # no valid `auth` first frame in time: the client must not retry as is
_SOCKET = web.RequestKey("relais_socket", web.WebSocketResponse)  # the request's WebSocket once it is open
HEARTBEAT_SECONDS = 20.0
RESTART_REASON = b"service restart: reconnect"
ClientHandler = Callable[[ClientFrame], Awaitable[None]]
Translate = Callable[[Event], Awaitable[list[Event]]]
ReadAfter = Callable[[str, int], Awaitable[list[Message]]]  # a conversation's messages after a seq
FLOOD_REASON = b"too many frames"
FLOOD_CLOSE_SECONDS = 0.2  # how long a flooder's socket gets to answer its close frame


class FrameLimit:
    """Counts one socket's frames against the instance's limits."""

    def __init__(self, limits: RateLimits) -> None:
        self.limits = limits
        self.key = uuid.uuid4().hex

    async def verdict(self) -> str:
        """One of "ok", "slow" (refuse this frame) or "flood" (close the socket)."""
        if await self.limits.hit("socket_flood", self.key) is not None:
            return "flood"
        return "ok" if await self.limits.hit("socket_frames", self.key) is None else "slow"


class _Session:
    """One socket: forwards events, each conversation's messages once and in order,
    answers client frames."""

    def __init__(
        self,
        socket: web.WebSocketResponse,
        read_after: ReadAfter,
        shape: Callable[[JsonObject], JsonObject] | None = None,
        frames: FrameLimit | None = None,
    ) -> None:
        self.socket = socket
        self.read_after = read_after
        self.frames = frames
        self.shape = shape  # what this reader may see of each frame (e.g. masked personal data)
        self.last_seq: dict[str, int] = {}
        self.closing: asyncio.Future[bool] | None = None

    async def close(self, code: int = WSCloseCode.OK, message: bytes = b"") -> None:
        """Close from the server's side, from any task. The handshake runs in a task of its
        own: when the pump asks, ending the pump must not cut the close frame short."""
        if self.closing is None:
            self.closing = asyncio.ensure_future(self.socket.close(code=code, message=message))
        await asyncio.shield(self.closing)

    async def send(self, event: Event) -> None:
        if not isinstance(event, MessageAdded):
            await self._send_json(event.to_json())
            return
        conversation_id, seq = event.message["conversation_id"], event.message["seq"]
        last = self.last_seq.get(conversation_id)
        if last is not None and seq > last + 1:
            # Two writers publish after their own commits, so N+1 can come before N. N is
            # committed (seq is taken under the conversation's lock): read it, send it now,
            # and drop it when it comes late.
            for missing in await self.read_after(conversation_id, last):
                if missing.seq >= seq:
                    break
                await self._deliver(MessageAdded.of(missing))
        if seq > self.last_seq.get(conversation_id, 0):
            await self._deliver(event)

    async def _deliver(self, event: MessageAdded) -> None:
        self.last_seq[event.message["conversation_id"]] = event.message["seq"]
        await self._send_json(event.to_json())

    async def _send_json(self, frame: JsonObject) -> None:
        await self.socket.send_json(self.shape(frame) if self.shape else frame)

    async def pump(self, subscription: Subscription, translate: Translate) -> None:
        try:
            async for event in subscription:
                for outgoing in await translate(event):
                    await self.send(outgoing)
        except Exception as exc:
            if unavailable_dependency(exc) is None:
                raise
        # The feed ended (slow client, or a dependency went away): it reconnects and resumes.
        await self.close()

    async def receive(self, on_frame: ClientHandler) -> None:
        async for frame in self.socket:
            if frame.type != WSMsgType.TEXT:
                continue
            verdict = await self.frames.verdict() if self.frames else "ok"
            if verdict == "flood":
                # Not a graceful close: the close frame goes out, but the frames the flooder has
                # queued meanwhile are not all read and parsed while waiting for its answer.
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(
                        self.socket.close(code=WSCloseCode.POLICY_VIOLATION, message=FLOOD_REASON),
                        FLOOD_CLOSE_SECONDS,
                    )
                return
            if verdict == "slow":
                await self.send(ErrorFrame("too many frames; slow down"))
                continue
            try:
                parsed = client_frame_from_json(safe_json.loads(frame.data))
                if isinstance(parsed, Ping):
                    await self.send(Pong())
                if parsed is not None:
                    await on_frame(parsed)
            except (ValueError, DomainError) as exc:
                await self.send(ErrorFrame(str(exc)))
            except Exception as exc:
                dependency = unavailable_dependency(exc)
                if dependency is None:
                    raise
                await self.send(ErrorFrame(f"the {dependency} is unreachable; try again shortly"))


class OpenSockets:
    """The instance's open WebSockets, so that a shutdown can tell each to reconnect."""

    def __init__(self) -> None:
        self.sockets: weakref.WeakSet[web.WebSocketResponse] = weakref.WeakSet()
        self.closing = False

    async def close_all(self, wait_seconds: float) -> None:
        """Refuse new sockets; close the open ones with 1012, waiting at most `wait_seconds`
        for clients to answer the close frame."""
        self.closing = True
        closes = [
            asyncio.ensure_future(socket.close(code=WSCloseCode.SERVICE_RESTART, message=RESTART_REASON))
            for socket in list(self.sockets)
        ]
        if closes:
            _, late = await asyncio.wait(closes, timeout=wait_seconds)
            for close in late:
                close.cancel()


OPEN_SOCKETS = web.AppKey("open_sockets", OpenSockets)
VISITOR_SOCKETS = web.AppKey("visitor_sockets", VisitorSockets)


def track_sockets(app: web.Application, close_timeout: float) -> None:
    """Keep the app's open sockets; close them first when the app shuts down."""
    app[OPEN_SOCKETS] = OpenSockets()
    app[VISITOR_SOCKETS] = VisitorSockets()

    async def on_shutdown(app: web.Application) -> None:
        await app[OPEN_SOCKETS].close_all(close_timeout)

    app.on_shutdown.append(on_shutdown)


def _refuse_token_in_url(request: web.Request) -> None:
    if "token" in request.query:
        raise InvalidInput("tokens are never accepted in a URL; send them in the socket's first frame "
                           '({"type": "auth", "token": ...})', field="token")


class AuthFailed(Exception):
    """The socket's first frame did not authenticate it (closed with 4401)."""


async def _auth_frame(socket: web.WebSocketResponse, seconds: float) -> dict[str, object]:
    """The client's first frame, if it is an `auth` frame with a token that came in time."""
    try:
        async with asyncio.timeout(seconds):
            frame = await socket.receive()
    except TimeoutError:
        raise AuthFailed("no auth frame in time") from None
    if frame.type != WSMsgType.TEXT:
        raise AuthFailed("the first frame must be an auth frame")
    try:
        parsed = safe_json.loads(frame.data)
    except ValueError:
        raise AuthFailed("the first frame must be an auth frame") from None
    if not isinstance(parsed, dict) or parsed.get("type") != "auth" or not isinstance(parsed.get("token"), str) \
            or not parsed["token"]:
        raise AuthFailed("the first frame must be an auth frame with a token")
    return parsed


async def _refuse(socket: web.WebSocketResponse, reason: str) -> web.WebSocketResponse:
    await socket.close(code=AUTH_FAILED_CODE, message=reason.encode()[:120])
    return socket


async def _open(request: web.Request, *, shared: bool) -> web.WebSocketResponse:
    registry = request.app[OPEN_SOCKETS]
    if registry.closing:
        raise web.HTTPServiceUnavailable(reason="the service is restarting; reconnect")
    settings = services(request).settings
    if not socket_origin_allowed(
        request, shared=shared, allowed_origins=settings.widget_origins, public_url=settings.public_url
    ):
        raise Forbidden("this origin may not open this socket")
    socket = web.WebSocketResponse(heartbeat=HEARTBEAT_SECONDS, max_msg_size=16 * 1024)
    await socket.prepare(request)
    registry.sockets.add(socket)
    request[_SOCKET] = socket
    return socket


def _closed_when_unavailable(handler: Handler) -> Handler:
    """An open socket whose dependency fails is closed (1013), not answered with a 503."""

    @functools.wraps(handler)
    async def wrapped(request: web.Request) -> web.StreamResponse:
        try:
            response: web.StreamResponse = await handler(request)
        except Exception as exc:
            socket: web.WebSocketResponse | None = request.get(_SOCKET)
            if socket is not None and socket.closed and isinstance(exc, ConnectionError):
                return socket  # the client went away (e.g. a flooder cut off): no dependency is down
            dependency = unavailable_dependency(exc)
            if socket is None or dependency is None:
                raise
            log.warning("%s: %s unavailable (%s); socket closed", request.path, dependency, describe(exc))
            services(request).handoffs.note_outage()
            await socket.close(code=WSCloseCode.TRY_AGAIN_LATER, message=b"unavailable")
            return socket
        return response

    return wrapped


async def _run(session: _Session, subscription: Subscription, translate: Translate, on_frame: ClientHandler) -> None:
    pump = asyncio.create_task(session.pump(subscription, translate))
    try:
        await session.receive(on_frame)
    finally:
        pump.cancel()
        with contextlib.suppress(asyncio.CancelledError, ConnectionError):
            await pump
        if session.closing is not None:
            with contextlib.suppress(ConnectionError):
                await session.closing
        await subscription.close()


def _reader(svc: Services) -> ReadAfter:
    async def read_after(conversation_id: str, after: int) -> list[Message]:
        return await svc.conversations.messages(conversation_id, after=after)

    return read_after


async def _passthrough(event: Event) -> list[Event]:
    return [event]


@routes.get("/ws/visitor")
@_closed_when_unavailable
async def visitor_socket(request: web.Request) -> web.StreamResponse:
    _refuse_token_in_url(request)
    svc = services(request)
    after = after_param(request)
    await svc.limits.check("socket_opens_per_ip", client_ip(request))
    with svc.limits.open_socket(client_ip(request)):
        return await _visitor_session(request, svc, after)


async def _visitor_session(request: web.Request, svc: Services, after: int) -> web.StreamResponse:
    socket = await _open(request, shared=True)
    try:
        auth = await _auth_frame(socket, svc.settings.socket_auth_seconds)
        conversation_id, frame_after = auth.get("conversation_id"), auth.get("after", after)
        if not isinstance(conversation_id, str) or not isinstance(frame_after, int) or isinstance(frame_after, bool) \
                or not 0 <= frame_after <= MAX_SEQ:
            raise AuthFailed("the auth frame needs a conversation_id (and a sequence number as after)")
        conversation = await svc.conversations.authenticate_visitor(conversation_id, str(auth["token"]))
    except (AuthFailed, DomainError) as exc:
        return await _refuse(socket, str(exc))
    after = frame_after
    session = _Session(socket, _reader(svc), shape=svc.moderation.for_visitors, frames=FrameLimit(svc.limits))
    session.last_seq[conversation.id] = after  # the client has these: never sent again
    subscription = await svc.bus.subscribe(conversation_channel(conversation.id), AVAILABILITY_CHANNEL)
    for message in await svc.conversations.messages(conversation.id, after=after):
        await session.send(MessageAdded.of(message))
    current = await svc.conversations.get(conversation.id)
    await session.send(ConversationChanged.of(current))
    if current.status is ConversationStatus.WAITING:
        position = await svc.engine.queue_position(conversation.id)
        estimate = await svc.handoffs.estimated_wait(current, position)
        await session.send(QueuePosition(conversation.id, position, estimate))
    await session.send(AvailabilityChanged(await svc.handoffs.availability.pools()))

    async def on_frame(frame: ClientFrame) -> None:
        if isinstance(frame, TypingFrame):
            await svc.visitors.typing(conversation, frame.typing)

    present = request.app[VISITOR_SOCKETS]
    await present.opened(svc.bus, conversation.id)
    try:
        with svc.metrics.socket_open("visitor"):
            await _run(session, subscription, _passthrough, on_frame)
    finally:
        await present.closed(svc.bus, conversation.id)
    return socket


@routes.get("/ws/availability")
@_closed_when_unavailable
async def availability_socket(request: web.Request) -> web.StreamResponse:
    """Who can answer, for a widget open before its conversation exists (no credentials:
    it carries nothing but the counts of `GET /api/availability`)."""
    _refuse_token_in_url(request)
    svc = services(request)
    await svc.limits.check("socket_opens_per_ip", client_ip(request))
    with svc.limits.open_socket(client_ip(request)):
        return await _availability_session(request, svc)


async def _availability_session(request: web.Request, svc: Services) -> web.StreamResponse:
    socket = await _open(request, shared=True)
    session = _Session(socket, _reader(svc))
    subscription = await svc.bus.subscribe(AVAILABILITY_CHANNEL)
    await session.send(AvailabilityChanged(await svc.handoffs.availability.pools()))

    async def on_frame(frame: ClientFrame) -> None:
        return None  # pings are answered by the session; nothing else is expected

    with svc.metrics.socket_open("availability"):
        await _run(session, subscription, _passthrough, on_frame)
    return socket


@routes.get("/ws/agent")
@_closed_when_unavailable
async def agent_socket(request: web.Request) -> web.StreamResponse:
    _refuse_token_in_url(request)
    svc = services(request)
    await svc.limits.check("socket_opens_per_ip", client_ip(request))
    with svc.limits.open_socket(client_ip(request)):
        return await _agent_session(request, svc)


async def _agent_session(request: web.Request, svc: Services) -> web.StreamResponse:
    socket = await _open(request, shared=False)
    try:
        token = str((await _auth_frame(socket, svc.settings.socket_auth_seconds))["token"])
        agent = await svc.agents.authenticate(token)
    except (AuthFailed, DomainError) as exc:
        return await _refuse(socket, str(exc))
    session = _Session(socket, _reader(svc), shape=lambda frame: svc.moderation.for_agents(redact_for(agent, frame)),
                       frames=FrameLimit(svc.limits))
    # Subscribe first, then read: an offer or assignment made while the console was
    # between its first HTTP read and this socket still reaches it.
    channels = [agent_channel(agent.id), AGENTS_CHANNEL] + ([SUPERVISION_CHANNEL] if is_supervisor(agent) else [])
    subscription = await svc.bus.subscribe(*channels)
    queue = AgentQueueView(svc.desk, agent)
    try:
        held, offers = await svc.desk.my_conversations(agent)
        await subscription.add(*(channel for c in held for channel in _followed(c.id)))
        await session.send(PresenceList(await svc.desk.online()))
        await session.send(await queue.snapshot())
        for offer in offers:
            await session.send(OfferMade(offer))
    except BaseException:
        await subscription.close()
        raise

    session_hash = secret_hash(token)

    async def end_session() -> None:
        await session.close(SESSION_ENDED_CODE, b"session ended: log in again")

    async def translate(event: Event) -> list[Event]:
        if isinstance(event, SessionEnded):
            if event.token_hash in (None, session_hash):
                await end_session()
            return []
        return await _agent_event(request, agent, subscription, queue, event)

    async def on_frame(frame: ClientFrame) -> None:
        if isinstance(frame, Ping):
            # Also the safety net for sessions ended where no bus reaches (a CLI on the memory backend).
            try:
                await svc.agents.authenticate(token)
            except Unauthorized:
                await end_session()
                return
            await svc.desk.heartbeat(agent)
        elif isinstance(frame, Watch):
            conversation = await svc.desk.readable(agent, frame.conversation_id)
            await subscription.add(*_followed(conversation.id))
        elif isinstance(frame, Unwatch):
            await subscription.remove(*_followed(frame.conversation_id))
        elif isinstance(frame, TypingFrame):
            await svc.desk.typing(agent, frame.conversation_id or "", frame.typing)

    with svc.metrics.socket_open("agent"):
        await _run(session, subscription, translate, on_frame)
    return socket


def _followed(conversation_id: str) -> tuple[str, str]:
    """What an agent's socket follows of a conversation: its messages and status, and its
    internal notes (a channel no visitor socket ever subscribes to)."""
    return conversation_channel(conversation_id), notes_channel(conversation_id)


async def _agent_event(
    request: web.Request, agent: Agent, subscription: Subscription, queue: AgentQueueView, event: Event
) -> list[Event]:
    """Turn bus events into what this agent's console needs."""
    if isinstance(event, QueueEntryAdded | QueueEntryUpdated | QueueEntryRemoved):
        return await queue.on_delta(event)
    if isinstance(event, PresenceChanged):
        return [PresenceList(await services(request).desk.online()), *await queue.refresh()]
    if isinstance(event, QueuePosition):
        return []
    if isinstance(event, AssignedToAgent):
        await subscription.add(*_followed(event.conversation["id"]))
        return [event, *await queue.refresh()]
    if isinstance(event, Unassigned):
        await subscription.remove(*_followed(event.conversation_id))
        return [event, *await queue.refresh()]
    if isinstance(event, OfferRevoked):
        return [event, *await queue.refresh()]
    return [event]
