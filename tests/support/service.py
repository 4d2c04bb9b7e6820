"""Fixtures that run the real handoff service, in process, on a free port.

`stack` is parametrized over the embedded stack (SQLite + in-memory backend) and,
when TEST_DATABASE_URL and TEST_REDIS_URL are set, the production stack
(PostgreSQL + Redis). `service_factory` starts as many instances as a test
needs (two on the production stack share one database and one Redis, as two
real instances behind a load balancer would). `live_service` is one instance on
the embedded stack with the real Rasa server, for the browser tests.
"""

from __future__ import annotations

import asyncio
import io
import json
import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import redis.asyncio as redis
from aiohttp.test_utils import TestServer

from handoff.agents import AgentService
from handoff.app import create_app
from handoff.config import RoutingSettings, Settings
from handoff.domain import Agent, AgentRole
from handoff.store import open_store
from tests.support.db import isolated_database_url

REDIS_URL = os.environ.get("TEST_REDIS_URL")
PRODUCTION_STACK = bool(os.environ.get("TEST_DATABASE_URL") and REDIS_URL)
STACKS = ["sqlite-memory"] + (["postgresql-redis"] if PRODUCTION_STACK else [])
PASSWORD = "correct horse battery"
UNREACHABLE_BOT = "http://127.0.0.1:9"  # the discard port: nothing listens
WAIT_SECONDS = 30.0  # a bound for broken runs only: a loaded 2-core machine stays well inside it
# How long the service waits for the REAL bot in tests: its first turns (model warm-up) on a
# loaded machine can take longer than the production default of 5 s.
REAL_BOT_TIMEOUT_SECONDS = WAIT_SECONDS


@dataclass
class RunningService:
    """One running instance and a client session to talk to it."""

    url: str
    settings: Settings
    http: aiohttp.ClientSession
    server: TestServer | None = None

    async def stop(self) -> None:
        """Shut the instance down as a restart would (its sockets and timers end).
        A shutdown that hangs fails the test and shows what it was waiting for."""
        assert self.server is not None, "this instance was not started by service_factory"
        await close_within_bound(self.server)

    async def call(self, method: str, path: str, *, token: str | None = None, **kwargs: Any) -> tuple[int, Any]:
        headers = dict(kwargs.pop("headers", None) or {})
        if token:
            headers["Authorization"] = f"Bearer {token}"
        async with self.http.request(method, self.url + path, headers=headers, **kwargs) as response:
            body = await response.json(content_type=None) if response.status != 204 else None
            return response.status, body

    async def start_conversation(self, language: str = "en", page_url: str = "https://shop.example/awnings") -> dict[str, Any]:
        status, body = await self.call("POST", "/api/visitor/conversations", json={"language": language, "page_url": page_url})
        assert status == 201, body
        return dict(body)

    async def say(self, conversation: dict[str, Any], text: str, client_msg_id: str | None = None) -> dict[str, Any]:
        status, body = await self.call(
            "POST",
            f"/api/visitor/conversations/{conversation['conversation_id']}/messages",
            token=conversation["visitor_token"],
            json={"text": text, "client_msg_id": client_msg_id or uuid.uuid4().hex},
        )
        assert status in (200, 201), body
        return dict(body)

    async def login(self, username: str) -> str:
        status, body = await self.call("POST", "/api/agents/login", json={"username": username, "password": PASSWORD})
        assert status == 200, body
        return str(body["token"])

    async def messages(self, conversation: dict[str, Any]) -> list[dict[str, Any]]:
        """The transcript as the visitor reads it."""
        status, body = await self.call(
            "GET", f"/api/visitor/conversations/{conversation['conversation_id']}/messages",
            token=conversation["visitor_token"],
        )
        assert status == 200, body
        return list(body["messages"])

    async def ask_human(self, conversation: dict[str, Any], pool: str = "ambassador") -> dict[str, Any]:
        """The visitor presses "talk to a person"."""
        status, body = await self.call(
            "POST", f"/api/visitor/conversations/{conversation['conversation_id']}/handoff",
            token=conversation["visitor_token"], json={"pool": pool},
        )
        assert status == 200, body
        return dict(body)

    async def offers(self, token: str) -> list[dict[str, Any]]:
        status, body = await self.call("GET", "/api/agents/me/conversations", token=token)
        assert status == 200, body
        return list(body["offers"])

    async def await_offer(self, token: str, conversation_id: str, *, seconds: float = WAIT_SECONDS) -> dict[str, Any]:
        """Wait until the conversation is offered to the agent; return the offer."""
        found: dict[str, Any] = {}

        async def offered() -> bool:
            for offer in await self.offers(token):
                if offer["conversation_id"] == conversation_id:
                    found.update(offer)
                    return True
            return False

        await wait_for(offered, seconds=seconds)
        return found

    async def go_online(self, username: str) -> str:
        token = await self.login(username)
        status, _ = await self.call("POST", "/api/agents/me/presence", token=token, json={"status": "online"})
        assert status == 200
        return token


ServiceFactory = Callable[..., Awaitable[RunningService]]


@pytest.fixture(params=STACKS)
def stack(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def stack_settings(stack: str, tmp_path: Path) -> AsyncIterator[Settings]:
    """Settings for a fresh, isolated store and backend of the chosen stack."""
    fast_routing = RoutingSettings(sweep_interval_seconds=0.1)
    if stack == "sqlite-memory":
        yield Settings(database_url=f"sqlite+aiosqlite:///{tmp_path / 'relais.db'}", backend="memory",
                       rasa_url=UNREACHABLE_BOT, routing=fast_routing)
        return
    assert REDIS_URL
    prefix = f"test:{uuid.uuid4().hex}:"
    async with isolated_database_url() as database_url:
        yield Settings(database_url=database_url, backend="redis", redis_url=REDIS_URL,
                       redis_prefix=prefix, rasa_url=UNREACHABLE_BOT, routing=fast_routing)
    client = redis.from_url(REDIS_URL)
    keys = [key async for key in client.scan_iter(match=prefix + "*")]
    if keys:
        await client.delete(*keys)
    await client.aclose()


@pytest.fixture
async def service_factory(stack_settings: Settings) -> AsyncIterator[ServiceFactory]:
    """Start instances sharing the stack's store (and Redis); all stopped at the end."""
    servers: list[TestServer] = []
    http = aiohttp.ClientSession()

    async def start(**overrides: Any) -> RunningService:
        settings = replace(stack_settings, **overrides)
        server = TestServer(create_app(settings), host="127.0.0.1")
        await server.start_server()
        servers.append(server)
        return RunningService(url=str(server.make_url("")).rstrip("/"), settings=settings, http=http, server=server)

    yield start
    await http.close()
    for server in reversed(servers):
        await close_within_bound(server)


async def close_within_bound(server: TestServer) -> None:
    """Close an instance; a shutdown that hangs fails the test with what it waits for
    (rather than hanging the whole run)."""
    try:
        await asyncio.wait_for(asyncio.shield(server.close()), WAIT_SECONDS)
    except TimeoutError:
        stacks = io.StringIO()
        for task in asyncio.all_tasks():
            task.print_stack(file=stacks)
        raise AssertionError(f"the instance did not stop within {WAIT_SECONDS} s:\n{stacks.getvalue()}") from None


async def add_agent(
    settings: Settings,
    username: str,
    role: AgentRole = AgentRole.AMBASSADOR,
    languages: tuple[str, ...] = ("fr", "en"),
    skills: tuple[str, ...] = (),
    capacity: int = 3,
) -> Agent:
    """Create an agent directly in the store, as `relais agents add` does."""
    store = await open_store(settings.database_url)
    try:
        return await AgentService(store).create(
            username=username, password=PASSWORD, role=role, languages=languages, skills=skills,
            capacity=capacity, display_name=username.capitalize(),
        )
    finally:
        await store.close()


async def wait_for(predicate: Callable[[], Awaitable[bool]], *, seconds: float = WAIT_SECONDS) -> None:
    """Poll until `predicate` holds (events cross processes and timers)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while not await predicate():
        if loop.time() > deadline:
            raise AssertionError(f"condition not met within {seconds} s")
        await asyncio.sleep(0.05)


class Socket:
    """A WebSocket of the API, read frame by frame (`next_of` waits for one kind)."""

    def __init__(self, socket: aiohttp.ClientWebSocketResponse) -> None:
        self.socket = socket
        self.seen: list[dict[str, Any]] = []

    async def next_of(self, kind: str, *, seconds: float = 10.0, **fields: Any) -> dict[str, Any]:
        """The next frame of type `kind` whose fields include `fields` (others are kept in `seen`)."""
        async with asyncio.timeout(seconds):
            while True:
                frame = json.loads((await self.socket.receive()).data)
                self.seen.append(frame)
                if frame.get("type") == kind and all(frame.get(k) == v for k, v in fields.items()):
                    return dict(frame)

    async def close(self) -> None:
        await self.socket.close()


async def authenticated_socket(
    http: aiohttp.ClientSession, url: str, auth: dict[str, Any] | None, **options: Any
) -> aiohttp.ClientWebSocketResponse:
    """Open the WebSocket at `url` (ws://…, no credentials in it) and send `auth` as its
    first frame (`{"type": "auth", **auth}`), as the widget and the console do."""
    socket = await http.ws_connect(url, **options)
    if auth is not None:
        await socket.send_json({"type": "auth", **auth})
    return socket


def ws_base(service: RunningService) -> str:
    return service.url.replace("http", "ws", 1)


async def agent_socket(service: RunningService, token: str) -> Socket:
    return Socket(await authenticated_socket(service.http, ws_base(service) + "/ws/agent", {"token": token}))


async def visitor_socket(service: RunningService, conversation: dict[str, Any], *, after: int | None = None) -> Socket:
    auth: dict[str, Any] = {"conversation_id": conversation["conversation_id"], "token": conversation["visitor_token"]}
    if after is not None:
        auth["after"] = after
    return Socket(await authenticated_socket(service.http, ws_base(service) + "/ws/visitor", auth))
