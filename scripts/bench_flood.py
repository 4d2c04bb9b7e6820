"""A bystander's latency, idle and while one address floods the service (issue 12; `make bench`).

Starts the real service in process on a free port with its real abuse limits (the
defaults of `config.LimitSettings`, loopback trusted as a proxy so that each client
names its address in X-Forwarded-For) and a stand-in bot that answers at once
(tests/support/misbehaving_rasa.py: what is measured is the service, not Rasa).

- bystander: visitors from their own addresses, each with a conversation and a socket;
  one sample is a visitor's message until the HTTP answer with the bot's reply
  ("turn"), and a ping until its pong on the visitor's socket ("socket");
- idle: the bystander's samples with nothing else running;
- flood: the same while ONE address floods from another process, bounded to
  `--flooders` requests in flight and the length of the measurement: new
  conversations, messages in its conversation, frames on a socket (reopened when
  cut off) and more sockets than it may hold (`--vectors` picks some). The flood
  process runs at `--flooder-nice` (10): a real flooder's CPU is not the service's;
  with 0 it competes with the service for this machine's cores as well.

Prints one JSON line per stack: p50/p99 idle and under flood, their ratio (the
target: within 2x of idle), and what the flood got (answered vs refused), on the
embedded stack (SQLite + memory) and, when DATABASE_URL and REDIS_URL are given,
PostgreSQL + Redis.

Usage: .venv/bin/python scripts/bench_flood.py [--samples 200] [--flooders 16] [--flooder-nice 10]
       [--vectors conversations,messages,frames,sockets]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import multiprocessing
import os
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import replace
from ipaddress import ip_network
from typing import Any

import aiohttp
from aiohttp import web
from benchlib import REPORTS, delete_redis_keys, emit, open_socket, p50_p99_ms, running_service

from handoff.config import Settings
from tests.support.misbehaving_rasa import MisbehavingRasa

FLOODER = "203.0.113.66"
BYSTANDERS = 40  # visitors, each from its own address, taking turns (under every per-conversation limit)
PACE_SECONDS = 0.03  # between two bystander samples: each conversation speaks about once per 1.2 s
TARGET_RATIO = 2.0


# --- the flood: another process, one address --------------------------------------------------


VECTORS = ("conversations", "messages", "frames", "sockets")


def flood_process(base_url: str, flooders: int, vectors: tuple[str, ...], nice: int, started: Any, stop: Any,
                  results: Any) -> None:
    """Flood `base_url` from one address until `stop` is set; put what it got in `results`."""
    os.nice(nice)  # a real flooder's CPU is not the service's: here it only takes what is left
    results.put(asyncio.run(_flood(base_url, flooders, vectors, started, stop)))


async def _flood(base_url: str, flooders: int, vectors: tuple[str, ...], started: Any, stop: Any) -> dict[str, int]:
    counts: Counter[str] = Counter()
    headers = {"X-Forwarded-For": FLOODER}
    ws_base = base_url.replace("http://", "ws://", 1)
    loop = asyncio.get_running_loop()
    stopping = asyncio.Event()
    loop.run_in_executor(None, lambda: (stop.wait(), loop.call_soon_threadsafe(stopping.set)))
    async with aiohttp.ClientSession(headers=headers, connector=aiohttp.TCPConnector(limit=0)) as http:
        async with http.post(f"{base_url}/api/visitor/conversations", json={"language": "en"}) as r:
            own = await r.json()
        auth = {"conversation_id": own["conversation_id"], "token": own["visitor_token"]}
        bearer = {"Authorization": f"Bearer {own['visitor_token']}"}
        held: list[aiohttp.ClientWebSocketResponse] = []

        async def new_conversations() -> None:
            while not stopping.is_set():
                async with http.post(f"{base_url}/api/visitor/conversations", json={"language": "en"}) as r:
                    counts[f"conversations_{r.status}"] += 1

        async def messages() -> None:
            path = f"{base_url}/api/visitor/conversations/{own['conversation_id']}/messages"
            while not stopping.is_set():
                body = {"text": "spam spam spam", "client_msg_id": uuid.uuid4().hex}
                async with http.post(path, json=body, headers=bearer) as r:
                    counts[f"messages_{r.status}"] += 1

        async def frames() -> None:
            while not stopping.is_set():
                try:
                    socket = await open_socket(http, (f"{ws_base}/ws/visitor", auth))
                except aiohttp.WSServerHandshakeError as exc:
                    counts[f"frame_socket_{exc.status}"] += 1
                    await asyncio.sleep(0.05)
                    continue
                reader = asyncio.create_task(_drain(socket))
                with contextlib.suppress(ConnectionError, RuntimeError):
                    while not socket.closed and not stopping.is_set():
                        await socket.send_str('{"type": "ping"}')
                        counts["frames_sent"] += 1
                        await asyncio.sleep(0)
                counts[f"frame_socket_closed_{await reader}"] += 1
                await socket.close()

        async def sockets() -> None:
            while not stopping.is_set():
                try:
                    held.append(await open_socket(http, (f"{ws_base}/ws/visitor", auth)))
                    counts["sockets_101"] += 1
                except aiohttp.WSServerHandshakeError as exc:
                    counts[f"sockets_{exc.status}"] += 1
                    await asyncio.sleep(0.01)

        workers = [worker() for name, worker in (("frames", frames), ("sockets", sockets)) if name in vectors]
        requests = [worker for name, worker in (("conversations", new_conversations), ("messages", messages))
                    if name in vectors]
        for n in range(max(len(requests), flooders - len(workers)) if requests else 0):
            workers.append(requests[n % len(requests)]())
        tasks = [asyncio.create_task(worker) for worker in workers]
        started.set()
        await stopping.wait()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for socket in held:
            await socket.close()
    return dict(counts)


async def _drain(socket: aiohttp.ClientWebSocketResponse) -> int | None:
    async for _ in socket:
        pass
    return socket.close_code


# --- the bystander --------------------------------------------------------------------------


class Bystanders:
    """Visitors from addresses of their own; `sample()` times one turn and one socket ping."""

    def __init__(self, http: aiohttp.ClientSession, base_url: str) -> None:
        self.http, self.base_url = http, base_url
        self.visitors: list[tuple[dict[str, Any], aiohttp.ClientWebSocketResponse, dict[str, str]]] = []
        self.turn = 0

    async def start(self, count: int) -> None:
        ws_base = self.base_url.replace("http://", "ws://", 1)
        for n in range(count):
            headers = {"X-Forwarded-For": f"198.51.100.{n + 1}"}
            async with self.http.post(f"{self.base_url}/api/visitor/conversations", json={"language": "en"},
                                      headers=headers) as r:
                assert r.status == 201, await r.text()
                conversation = await r.json()
            auth = {"conversation_id": conversation["conversation_id"], "token": conversation["visitor_token"]}
            socket = await open_socket(self.http, (f"{ws_base}/ws/visitor", auth), headers=headers)
            await _until(socket, "conversation")
            self.visitors.append((conversation, socket, headers))

    async def sample(self) -> tuple[float, float]:
        conversation, socket, headers = self.visitors[self.turn % len(self.visitors)]
        self.turn += 1
        path = f"{self.base_url}/api/visitor/conversations/{conversation['conversation_id']}/messages"
        body = {"text": f"where is my order {self.turn}?", "client_msg_id": uuid.uuid4().hex}
        started = time.perf_counter()
        async with self.http.post(path, json=body, headers={**headers, "Authorization": f"Bearer {conversation['visitor_token']}"}) as r:
            answer = await r.json()
        turn = time.perf_counter() - started
        assert r.status == 201 and answer["replies"], (r.status, answer)
        started = time.perf_counter()
        if socket.closed:
            raise RuntimeError(f"a bystander's socket was closed: {socket.close_code} {socket.exception()!r}")
        await socket.send_str('{"type": "ping"}')
        await _until(socket, "pong")
        return turn, time.perf_counter() - started

    async def measure(self, samples: int) -> tuple[list[float], list[float]]:
        turns, pings = [], []
        for _ in range(samples):
            turn, ping = await self.sample()
            turns.append(turn)
            pings.append(ping)
            await asyncio.sleep(PACE_SECONDS)
        return turns, pings

    async def close(self) -> None:
        for _, socket, _ in self.visitors:
            await socket.close()


async def _until(socket: aiohttp.ClientWebSocketResponse, kind: str) -> None:
    async with asyncio.timeout(30):
        while True:
            message = await socket.receive()
            if message.type is not aiohttp.WSMsgType.TEXT:
                raise RuntimeError(f"a bystander's socket ended: {message!r}")
            if message.json()["type"] == kind:
                return


# --- one stack ---------------------------------------------------------------------------------


async def _stand_in_bot() -> tuple[web.AppRunner, str]:
    rasa = MisbehavingRasa()
    app = web.Application()
    app.router.add_post("/webhooks/rest/webhook", rasa.webhook)
    app.router.add_get("/conversations/{sender}/tracker", rasa.tracker)
    app.router.add_get("/status", rasa.status)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return runner, f"http://127.0.0.1:{port}"


async def run_stack(stack: str, settings: Settings, samples: int, flooders: int,
                    vectors: tuple[str, ...] = VECTORS, nice: int = 10) -> dict[str, Any]:
    bot, bot_url = await _stand_in_bot()
    settings = replace(settings, rasa_url=bot_url, trusted_proxies=(ip_network("127.0.0.1/32"),))
    try:
        async with running_service(settings, real_limits=True) as service, aiohttp.ClientSession() as http:
            bystanders = Bystanders(http, service.base_url)
            await bystanders.start(BYSTANDERS)
            await bystanders.measure(10)  # warm-up, not counted
            idle_turns, idle_pings = await bystanders.measure(samples)

            context = multiprocessing.get_context("spawn")
            started, stop, results = context.Event(), context.Event(), context.Queue()
            flood = context.Process(target=flood_process, args=(service.base_url, flooders, vectors, nice, started, stop, results))
            flood.start()
            loop = asyncio.get_running_loop()
            try:
                assert await loop.run_in_executor(None, started.wait, 60), "the flood did not start"
                await asyncio.sleep(1.0)  # the flood is at full speed and its limits are tripped
                flood_turns, flood_pings = await bystanders.measure(samples)
            finally:
                stop.set()
                got = await loop.run_in_executor(None, results.get, True, 60)
                await loop.run_in_executor(None, flood.join, 60)
            await bystanders.close()
    finally:
        await bot.cleanup()
    record: dict[str, Any] = {"bench": "flood", "stack": stack, "samples": samples, "flooders": flooders,
                              "vectors": list(vectors), "flooder_nice": nice}
    for name, idle, flooded in (("turn", idle_turns, flood_turns), ("socket", idle_pings, flood_pings)):
        idle_p50, idle_p99 = p50_p99_ms(idle)
        flood_p50, flood_p99 = p50_p99_ms(flooded)
        assert idle_p50 and idle_p99 and flood_p50 and flood_p99
        record |= {f"{name}_idle_p50_ms": idle_p50, f"{name}_idle_p99_ms": idle_p99,
                   f"{name}_flood_p50_ms": flood_p50, f"{name}_flood_p99_ms": flood_p99,
                   f"{name}_ratio_p50": round(flood_p50 / idle_p50, 2), f"{name}_ratio_p99": round(flood_p99 / idle_p99, 2)}
    answered = sum(v for k, v in got.items() if k.endswith(("_201", "_101")))
    refused = sum(v for k, v in got.items() if k.endswith("_429"))
    record |= {"flood_answered": answered, "flood_refused": refused, "flood": got, "target_ratio": TARGET_RATIO,
               "within_target": all(record[f"{n}_ratio_{q}"] <= TARGET_RATIO for n in ("turn", "socket") for q in ("p50", "p99"))}
    return record


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--flooders", type=int, default=16, help="the flood's requests in flight")
    parser.add_argument("--flooder-nice", type=int, default=10,
                        help="the flood process's niceness (0: it competes with the service for this machine's CPU)")
    parser.add_argument("--vectors", default=",".join(VECTORS), help="what the flood does (comma-separated)")
    args = parser.parse_args()
    vectors = tuple(v for v in args.vectors.split(",") if v)
    assert set(vectors) <= set(VECTORS), f"--vectors: choose among {', '.join(VECTORS)}"
    REPORTS.mkdir(parents=True, exist_ok=True)
    jsonl = REPORTS / "flood.jsonl"
    base = Settings()
    with tempfile.TemporaryDirectory() as tmp:
        emit(await run_stack("sqlite-memory", replace(base, database_url=f"sqlite+aiosqlite:///{tmp}/bench.db"),
                             args.samples, args.flooders, vectors, args.flooder_nice), jsonl)
    if os.environ.get("DATABASE_URL") and os.environ.get("REDIS_URL"):
        prefix = f"bench:{uuid.uuid4().hex}:"
        settings = replace(base, database_url=os.environ["DATABASE_URL"], backend="redis",
                           redis_url=os.environ["REDIS_URL"], redis_prefix=prefix)
        try:
            emit(await run_stack("postgresql-redis", settings, args.samples, args.flooders, vectors,
                                 args.flooder_nice), jsonl)
        finally:
            await delete_redis_keys(os.environ["REDIS_URL"], prefix)


if __name__ == "__main__":
    asyncio.run(main())
