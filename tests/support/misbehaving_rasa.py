"""`misbehaving_rasa`: a local stand-in for Rasa's HTTP API whose behaviour a test sets.

The real Rasa server cannot be made to hang, answer 5xx or answer garbage on
demand, so the fault tests (and the tests that count how often the bot is asked)
talk to this small aiohttp server on a free loopback port instead. It speaks the
three endpoints the bot bridge uses — the REST channel, the tracker and /status —
and records every message it is sent.

Behaviours: "answer" (a reply quoting the message, and a handoff request when
`handoff` is set), "hang" (no answer until the
test ends: past any timeout), "error" (HTTP 500), "unavailable" (HTTP 503),
"not-json" (200 with an HTML page), "wrong-json" (200 with a JSON object where a
list is expected).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

BEHAVIOURS = ("answer", "hang", "error", "unavailable", "not-json", "wrong-json")
INTENT = {"name": "ask_shipping", "confidence": 0.91}
MODEL_FILE = "stand-in"


def bot_reply(text: str) -> str:
    """What the stand-in answers to `text` when it behaves."""
    return f"You said: {text}"


@dataclass
class MisbehavingRasa:
    url: str = ""
    behaviour: str = "answer"
    received: list[dict[str, Any]] = field(default_factory=list)
    intent: dict[str, Any] = field(default_factory=lambda: dict(INTENT))  # what NLU "understood" (the tracker)
    handoff: dict[str, Any] | None = None  # when set, the answer also asks for a person (docs/handoff-protocol.md)
    status_calls: int = 0
    released: asyncio.Event = field(default_factory=asyncio.Event)

    def calls_for(self, conversation_id: str) -> list[str]:
        """The texts the bot was asked to answer in this conversation."""
        return [body["message"] for body in self.received if body.get("sender") == conversation_id]

    async def webhook(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        self.received.append(body)
        if self.behaviour == "hang":
            await self.released.wait()
        if self.behaviour == "error":
            return web.json_response({"error": "boom"}, status=500)
        if self.behaviour == "unavailable":
            return web.Response(status=503, text="Service Unavailable")
        if self.behaviour == "not-json":
            return web.Response(text="<html><body>It works!</body></html>", content_type="text/html")
        if self.behaviour == "wrong-json":
            return web.json_response({"recipient_id": body.get("sender"), "text": "not a list"})
        answer: dict[str, Any] = {"recipient_id": body.get("sender"), "text": bot_reply(str(body.get("message")))}
        if self.handoff is not None:
            answer["custom"] = {"handoff": self.handoff}
        return web.json_response([answer])

    async def tracker(self, request: web.Request) -> web.StreamResponse:
        return web.json_response({"latest_message": {"intent": self.intent}})

    async def status(self, request: web.Request) -> web.StreamResponse:
        self.status_calls += 1
        return web.json_response({"model_file": MODEL_FILE})


@pytest.fixture
async def misbehaving_rasa() -> AsyncIterator[MisbehavingRasa]:
    rasa = MisbehavingRasa()
    app = web.Application()
    app.router.add_post("/webhooks/rest/webhook", rasa.webhook)
    app.router.add_get("/conversations/{sender}/tracker", rasa.tracker)
    app.router.add_get("/status", rasa.status)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    rasa.url = str(server.make_url("")).rstrip("/")
    yield rasa
    rasa.released.set()  # let hung requests end before the server closes
    await server.close()
