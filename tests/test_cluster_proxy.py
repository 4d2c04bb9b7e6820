"""The reverse proxy of `make cluster` (scripts/cluster.py): requests and WebSockets reach the
instances behind it in turn, bodies and statuses both ways, frames both ways."""

from __future__ import annotations

import importlib.util
from collections.abc import AsyncIterator
from pathlib import Path
from types import ModuleType

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from tests.support.service import WAIT_SECONDS

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "cluster.py"


def _cluster_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("cluster_script", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _instance(name: str) -> web.Application:
    """A stand-in instance that says who it is over HTTP and over a WebSocket."""

    async def echo(request: web.Request) -> web.Response:
        body = await request.text()
        return web.json_response({"instance": name, "method": request.method, "path": request.path_qs,
                                  "body": body, "auth": request.headers.get("Authorization")}, status=201)

    async def socket(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        await ws.send_json({"instance": name})
        async for frame in ws:
            if frame.type is aiohttp.WSMsgType.TEXT:
                await ws.send_str(f"{name}: {frame.data}")
        return ws

    app = web.Application()
    app.router.add_get("/ws", socket)
    app.router.add_route("*", "/{tail:.*}", echo)
    return app


@pytest.fixture
async def proxy_url() -> AsyncIterator[str]:
    servers = [TestServer(_instance(name), host="127.0.0.1") for name in ("a", "b")]
    for server in servers:
        await server.start_server()
    front = TestServer(_cluster_script().proxy_app([str(s.make_url("")).rstrip("/") for s in servers]),
                       host="127.0.0.1")
    await front.start_server()
    yield str(front.make_url("")).rstrip("/")
    await front.close()
    for server in servers:
        await server.close()


async def test_requests_go_to_each_instance_in_turn_with_their_body_and_status(proxy_url: str) -> None:
    async with aiohttp.ClientSession() as http:
        seen = []
        for n in range(4):
            async with http.post(f"{proxy_url}/api/x?n={n}", json={"n": n}, headers={"Authorization": "Bearer t"}) as r:
                assert r.status == 201
                body = await r.json()
            assert (body["method"], body["path"], body["body"], body["auth"]) == (
                "POST", f"/api/x?n={n}", f'{{"n": {n}}}', "Bearer t")
            seen.append(body["instance"])
    assert seen in (["a", "b", "a", "b"], ["b", "a", "b", "a"])


async def test_websockets_are_carried_both_ways_to_each_instance_in_turn(proxy_url: str) -> None:
    ws_url = proxy_url.replace("http://", "ws://", 1) + "/ws"
    async with aiohttp.ClientSession() as http:
        names = []
        for n in range(2):
            async with http.ws_connect(ws_url) as ws:
                hello = await ws.receive_json(timeout=WAIT_SECONDS)
                names.append(hello["instance"])
                await ws.send_str(f"ping {n}")
                answer = await ws.receive(timeout=WAIT_SECONDS)
                assert answer.data == f"{hello['instance']}: ping {n}"
    assert sorted(names) == ["a", "b"]
