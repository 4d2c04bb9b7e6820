"""The real service in a thread of its own, for synchronous clients (Schemathesis).

`ThreadedService` runs `create_app` on its own event loop in a background thread,
listening on a free port of 127.0.0.1 (the `stack` fixture's settings, as
`tests/support/service.py`'s instances: SQLite + memory, and PostgreSQL + Redis when
TEST_DATABASE_URL and TEST_REDIS_URL are set; the bot's address answers nobody). The test talks to it over real HTTP from the main
thread; `add_agent` and `start_conversation` prepare what the calls act on.
Fixture: `threaded_service`.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine, Iterator
from concurrent.futures import Future
from typing import Any, TypeVar

import pytest
import requests
from aiohttp import web

from handoff.app import create_app
from handoff.config import Settings
from handoff.domain import AgentRole
from tests.support.service import PASSWORD, WAIT_SECONDS, add_agent

T = TypeVar("T")


class ThreadedService:
    """One instance served from a background thread; `url` is where it listens."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.url = ""
        self._loop = asyncio.new_event_loop()
        self._runner: web.AppRunner | None = None
        self._thread = threading.Thread(target=self._loop.run_forever, name="threaded-service", daemon=True)

    def start(self) -> None:
        self._thread.start()
        self.run(self._serve())

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """Run `coroutine` on the service's loop and wait for its result."""
        future: Future[T] = asyncio.run_coroutine_threadsafe(coroutine, self._loop)
        return future.result(timeout=WAIT_SECONDS)

    async def _serve(self) -> None:
        self._runner = web.AppRunner(create_app(self.settings), handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}"

    def stop(self) -> None:
        """Shut the instance down (its sockets and timers end), then the loop and its thread."""
        if self._runner is not None:
            self.run(self._runner.cleanup())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(WAIT_SECONDS)
        assert not self._thread.is_alive(), "the service's thread did not stop"
        self._loop.close()

    def add_agent(self, username: str, role: AgentRole = AgentRole.AMBASSADOR) -> str:
        """Create an agent in the store (as `relais agents add` does) and log it in: its token."""
        self.run(add_agent(self.settings, username, role))
        answer = requests.post(self.url + "/api/agents/login", json={"username": username, "password": PASSWORD},
                               timeout=WAIT_SECONDS)
        assert answer.status_code == 200, answer.text
        return str(answer.json()["token"])

    def start_conversation(self, language: str = "en") -> dict[str, Any]:
        """A visitor's new conversation: `conversation_id`, `visitor_id`, `visitor_token`, `conversation`."""
        answer = requests.post(self.url + "/api/visitor/conversations",
                               json={"language": language, "page_url": "https://shop.example/awnings"},
                               timeout=WAIT_SECONDS)
        assert answer.status_code == 201, answer.text
        return dict(answer.json())


@pytest.fixture
def threaded_service(stack_settings: Settings) -> Iterator[ThreadedService]:
    """One instance on the test's stack (`stack`: embedded, and PostgreSQL + Redis when configured)."""
    service = ThreadedService(stack_settings)
    service.start()
    try:
        yield service
    finally:
        service.stop()
