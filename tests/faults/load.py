"""Live conversations for the fault tests: visitors and agents that talk, over HTTP and
WebSockets, to one or more service instances, and keep what they were told.

Each client behaves like the widget or the console: it posts with a `client_msg_id`
and, while the service is unreachable, retries the same message (on the next
instance it knows, if any) until it is acknowledged; its socket reconnects on any
close and resumes after the last sequence number it saw (a visitor with `after=`,
an agent by reading each held chat's messages `after=` its last one, as the
console's `reload` does). Everything acknowledged and everything received is kept
for the test's checks.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from typing import Any

import aiohttp

from handoff.config import Settings
from handoff.domain import AgentRole, Pool
from tests.support.misbehaving_rasa import MisbehavingRasa
from tests.support.service import (
    WAIT_SECONDS,
    RunningService,
    add_agent,
    authenticated_socket,
    wait_for,
)

Message = dict[str, Any]
PAUSE_SECONDS = 1.0  # each client says something about once a second
RETRY_SECONDS = 0.1  # a client's pause before it tries again (a client's backoff, not a test's wait)
HEARTBEAT_EVERY_SECONDS = 2.0
IDENTITY = ("conversation_id", "seq", "sender_kind", "sender_id", "text", "client_msg_id")


def identity(message: Message) -> tuple[Any, ...]:
    """What makes a message the same message (the bot's intent is filled in later)."""
    return tuple(message[key] for key in IDENTITY)


class Unreachable(Exception):
    """No instance answered (connection refused, reset, or 5xx)."""


@dataclass
class Client:
    """What visitors and agents share: the instances to try, in order, and an HTTP session."""

    http: aiohttp.ClientSession
    urls: list[str]
    current: int = 0
    socket_sessions: int = 0
    close_codes: list[int | None] = field(default_factory=list)
    connected: asyncio.Event = field(default_factory=asyncio.Event)
    acked: list[Message] = field(default_factory=list)  # what the service acknowledged (200/201)

    @property
    def url(self) -> str:
        return self.urls[self.current]

    def next_instance(self) -> None:
        self.current = (self.current + 1) % len(self.urls)

    async def call(self, method: str, path: str, token: str, body: dict[str, Any] | None = None) -> Any:
        """One request to the current instance; Unreachable when it cannot answer."""
        try:
            async with self.http.request(
                method, self.url + path, json=body, headers={"Authorization": f"Bearer {token}"},
                timeout=aiohttp.ClientTimeout(total=WAIT_SECONDS),
            ) as response:
                if response.status >= 500:
                    raise Unreachable(f"{response.status} from {self.url}")
                payload = await response.json(content_type=None)
                assert response.status < 400, (method, path, response.status, payload)
                return payload
        except (aiohttp.ClientConnectionError, TimeoutError) as exc:
            raise Unreachable(str(exc)) from exc

    async def until_answered(self, method: str, path: str, token: str, body: dict[str, Any] | None = None) -> Any:
        """Retry (the same body, so the same client_msg_id) until an instance answers."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + WAIT_SECONDS
        while True:
            try:
                return await self.call(method, path, token, body)
            except Unreachable:
                if loop.time() > deadline:
                    raise
                self.next_instance()
                await asyncio.sleep(RETRY_SECONDS)

    async def run_socket(self) -> None:
        raise NotImplementedError

    async def keep_socket(self, target: Callable[[], tuple[str, dict[str, Any]]], on_open: Callable[[], Awaitable[None]],
                          on_frame: Callable[[dict[str, Any]], Awaitable[None]]) -> None:
        """Keep a socket open until cancelled, reconnecting (to the next instance when one is
        unreachable) after any close. `target` gives the socket's path and its auth frame."""
        while True:
            try:
                path, auth = target()
                async with await authenticated_socket(self.http, self.url.replace("http", "ws", 1) + path, auth) as socket:
                    self.socket_sessions += 1
                    await on_open()
                    async for frame in socket:
                        if frame.type is aiohttp.WSMsgType.TEXT:
                            await on_frame(json.loads(frame.data))
                    self.close_codes.append(socket.close_code)
            except (aiohttp.ClientError, Unreachable, OSError):
                self.next_instance()
            self.connected.clear()
            await asyncio.sleep(RETRY_SECONDS)


@dataclass
class Visitor(Client):
    conversation_id: str = ""
    token: str = ""
    name: str = ""
    seen: list[Message] = field(default_factory=list)  # message frames, in the order received, over all sockets
    positions: list[int | None] = field(default_factory=list)

    @property
    def last_seq(self) -> int:
        return max((m["seq"] for m in self.seen), default=0)

    def socket_target(self) -> tuple[str, dict[str, Any]]:
        return "/ws/visitor", {"conversation_id": self.conversation_id, "token": self.token, "after": self.last_seq}

    async def _open(self) -> None:
        pass

    async def _frame(self, frame: dict[str, Any]) -> None:
        if frame["type"] == "message":
            self.seen.append(frame["message"])
        elif frame["type"] == "conversation":
            self.connected.set()  # the replay is done
        elif frame["type"] == "queue_position":
            self.positions.append(frame["position"])

    async def run_socket(self) -> None:
        await self.keep_socket(self.socket_target, self._open, self._frame)

    async def say(self, text: str) -> Message:
        body = {"text": text, "client_msg_id": uuid.uuid4().hex}
        answer = await self.until_answered(
            "POST", f"/api/visitor/conversations/{self.conversation_id}/messages", self.token, body
        )
        self.acked.append(answer["message"])
        return dict(answer["message"])

    async def transcript(self) -> list[Message]:
        answer = await self.until_answered("GET", f"/api/visitor/conversations/{self.conversation_id}/messages",
                                           self.token)
        return list(answer["messages"])


@dataclass
class Agent(Client):
    username: str = ""
    token: str = ""
    held: list[str] = field(default_factory=list)
    seen: dict[str, dict[int, Message]] = field(default_factory=dict)  # per chat, by seq (as the console keeps them)
    duplicates: list[tuple[Message, Message]] = field(default_factory=list)  # one seq, two different messages
    last_heartbeat: float = 0.0

    def _keep(self, message: Message) -> None:
        chat = self.seen.setdefault(message["conversation_id"], {})
        known = chat.setdefault(message["seq"], message)
        if identity(known) != identity(message):
            self.duplicates.append((known, message))

    async def _open(self) -> None:
        pass

    async def _frame(self, frame: dict[str, Any]) -> None:
        if frame["type"] == "presence" and not self.connected.is_set():
            # The socket's first frame: it is subscribed. Read what each held chat got
            # while it was down (the console's reload); what follows comes live.
            for cid in self.held:
                after = max(self.seen.get(cid, {}), default=0)
                answer = await self.until_answered("GET", f"/api/conversations/{cid}/messages?after={after}", self.token)
                for message in answer["messages"]:
                    self._keep(message)
            self.connected.set()
        elif frame["type"] == "message" and frame["message"]["conversation_id"] in self.held:
            self._keep(frame["message"])

    async def run_socket(self) -> None:
        await self.keep_socket(lambda: ("/ws/agent", {"token": self.token}), self._open, self._frame)

    async def say(self, conversation_id: str, text: str) -> Message:
        now = asyncio.get_running_loop().time()
        if now - self.last_heartbeat > HEARTBEAT_EVERY_SECONDS:
            await self.until_answered("POST", "/api/agents/me/heartbeat", self.token)
            self.last_heartbeat = now
        body = {"text": text, "client_msg_id": uuid.uuid4().hex}
        answer = await self.until_answered("POST", f"/api/conversations/{conversation_id}/messages", self.token, body)
        self.acked.append(answer["message"])
        return dict(answer["message"])

    async def conversations(self) -> list[str]:
        answer = await self.until_answered("GET", "/api/agents/me/conversations", self.token)
        return sorted(c["id"] for c in answer["conversations"])


class Chatter:
    """Runs every client's socket and a talking loop per client until `stop()`."""

    def __init__(self, visitors: list[Visitor], agents: list[Agent], pause: float) -> None:
        self.visitors = visitors
        self.agents = agents
        self.pause = pause
        self._stopping = asyncio.Event()
        self._sockets: list[asyncio.Task[None]] = []
        self._talk: list[asyncio.Task[None]] = []

    def start_sockets(self) -> None:
        for client in [*self.visitors, *self.agents]:
            self._sockets.append(asyncio.create_task(client.run_socket()))

    def start_talking(self) -> None:
        for visitor in self.visitors:
            self._talk.append(asyncio.create_task(self._visitor_talks(visitor)))
        for agent in self.agents:
            self._talk.append(asyncio.create_task(self._agent_talks(agent)))

    async def _visitor_talks(self, visitor: Visitor) -> None:
        n = 0
        while not self._stopping.is_set():
            n += 1
            await visitor.say(f"{visitor.name} says {n}")
            await self._pause()

    async def _agent_talks(self, agent: Agent) -> None:
        n = 0
        while not self._stopping.is_set():
            n += 1
            cid = agent.held[n % len(agent.held)]
            await agent.say(cid, f"{agent.username} answers {n}")
            await self._pause()

    async def _pause(self) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), self.pause)

    def check_talking(self) -> None:
        """Fail at once if a talking loop failed (an unexpected answer, or nobody answering)."""
        for task in self._talk:
            if task.done():
                task.result()

    async def stop_talking(self) -> None:
        self._stopping.set()
        await asyncio.gather(*self._talk)

    async def close(self) -> None:
        self._stopping.set()
        for task in [*self._talk, *self._sockets]:
            task.cancel()
        await asyncio.gather(*self._talk, *self._sockets, return_exceptions=True)


@dataclass
class Scene:
    """Live conversations: some with the bot, some held by agents, some waiting in the queue."""

    visitors: list[Visitor]
    agents: list[Agent]
    waiting: list[Visitor]  # in queue order
    supervisor: Client
    supervisor_token: str

    async def queue(self) -> list[str]:
        """The waiting conversations, in queue order, as a supervisor's console lists them."""
        answer = await self.supervisor.until_answered("GET", "/api/queue", self.supervisor_token)
        return [entry["conversation_id"] for entry in answer["waiting"]]

    async def held(self) -> dict[str, list[str]]:
        return {agent.username: await agent.conversations() for agent in self.agents}


async def open_scene(
    http: aiohttp.ClientSession, settings: Settings, urls: Callable[[int], list[str]],
    *, with_bot: int, agents: int, held_each: int, waiting: int,
) -> Scene:
    """Agents online, each holding `held_each` conversations, `waiting` more in the queue
    (ambassador pool, manual mode: nobody takes them), `with_bot` talking to the bot.
    Client `i` tries the instances `urls(i)` in that order."""
    setup = RunningService(url=urls(0)[0], settings=settings, http=http)
    for i in range(agents):
        await add_agent(settings, f"amb{i}", capacity=held_each)
    await add_agent(settings, "sam", role=AgentRole.ADVISOR)
    desk = [Agent(http, urls(i), username=f"amb{i}", token=await setup.go_online(f"amb{i}")) for i in range(agents)]
    visitors: list[Visitor] = []
    for i in range(with_bot + agents * held_each + waiting):
        started = await setup.start_conversation("en")
        visitor = Visitor(http, urls(i), conversation_id=started["conversation_id"], token=started["visitor_token"],
                          name=f"visitor{i}")
        await visitor.say("hello")
        visitors.append(visitor)
    humans = visitors[with_bot:]
    for visitor in humans:
        await setup.ask_human({"conversation_id": visitor.conversation_id, "visitor_token": visitor.token})
    for i, agent in enumerate(desk):
        for visitor in humans[i * held_each:(i + 1) * held_each]:
            status, body = await setup.call("POST", f"/api/conversations/{visitor.conversation_id}/claim",
                                            token=agent.token)
            assert status == 200, body
            agent.held.append(visitor.conversation_id)
    return Scene(visitors, desk, humans[agents * held_each:], Client(http, urls(0)), await setup.login("sam"))


async def check_nothing_lost(scene: Scene) -> None:
    """Every acknowledged message is in the store; every socket, over all its sessions, got
    each conversation's messages once, in order, without a gap (agents: each held chat)."""
    for visitor in scene.visitors:
        transcript = await visitor.transcript()
        assert [m["seq"] for m in transcript] == list(range(1, len(transcript) + 1))
        stored = {identity(m) for m in transcript}
        lost = [m for m in visitor.acked if identity(m) not in stored]
        assert not lost, f"{visitor.name}: acknowledged but not stored: {lost}"

        async def caught_up(visitor: Visitor = visitor, last: int = len(transcript)) -> bool:
            return visitor.last_seq >= last

        await wait_for(caught_up)
        received = [m["seq"] for m in visitor.seen]
        assert received == list(range(1, len(transcript) + 1)), f"{visitor.name} received seqs {received}"
        assert [identity(m) for m in visitor.seen] == [identity(m) for m in transcript]
    for agent in scene.agents:
        assert not agent.duplicates, agent.duplicates
        for cid in agent.held:
            answer = await agent.until_answered("GET", f"/api/conversations/{cid}/messages", agent.token)
            transcript = answer["messages"]

            async def agent_caught_up(agent: Agent = agent, cid: str = cid, last: int = len(transcript)) -> bool:
                return len(agent.seen.get(cid, {})) >= last

            await wait_for(agent_caught_up)
            chat = agent.seen[cid]
            assert sorted(chat) == list(range(1, len(transcript) + 1)), f"{agent.username} got {sorted(chat)} of {cid}"
            assert [identity(chat[m["seq"]]) for m in transcript] == [identity(m) for m in transcript]
        stored = set()
        for cid in agent.held:
            stored |= {identity(m) for m in agent.seen[cid].values()}
        lost = [m for m in agent.acked if identity(m) not in stored]
        assert not lost, f"{agent.username}: acknowledged but not stored: {lost}"


def fault_settings(stack_settings: Settings, rasa: MisbehavingRasa) -> Settings:
    """Manual routing and no overflow: what waits stays waiting, in a queue the test can compare.
    The scene's visitors all come from loopback, where in life each has its own address: the
    per-address limits on new conversations and on socket opens (every client reconnects
    after a restart: twice the scene's sockets in a minute) are raised for them."""
    routing = replace(stack_settings.routing, modes={Pool.AMBASSADOR: "manual", Pool.ADVISOR: "manual"},
                      overflow_after_seconds=3600)
    limits = replace(stack_settings.limits, conversations_per_ip="1000/minute", socket_opens_per_ip="1000/minute")
    return replace(stack_settings, rasa_url=rasa.url, rasa_timeout_seconds=10.0, routing=routing, limits=limits)


def clients(scene: Scene) -> list[Client]:
    return [*scene.visitors, *scene.agents]


async def each_said_more(chatter: Chatter, scene: Scene, marks: dict[int, int], more: int) -> None:
    """Wait until every client had `more` messages acknowledged since `marks` and its socket is live."""

    async def done() -> bool:
        chatter.check_talking()
        return all(
            len(client.acked) >= marks.get(id(client), 0) + more and client.connected.is_set()
            for client in clients(scene)
        )

    await wait_for(done)


def acked_marks(scene: Scene) -> dict[int, int]:
    return {id(client): len(client.acked) for client in clients(scene)}
