"""Benchmark of the handoff service (run by `make bench`; figures go to docs/benchmarks.md).

Starts the real service in process on a free port, on the embedded stack
(SQLite + memory) and, when DATABASE_URL and REDIS_URL are given, on PostgreSQL +
Redis; the bot is not involved (it is measured by scripts/bench_bot.py). Measures:

- burst: N visitors open a conversation and ask for a person at once (conversations/s);
- escalation: from the visitor's handoff request to the offer on the agent's WebSocket;
- relay: from a visitor's POST to the message on the agent's WebSocket, and back.

Usage: .venv/bin/python scripts/bench_service.py [--burst 300] [--samples 200]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import tempfile
import time
import uuid
from dataclasses import replace

import aiohttp
from benchlib import (
    add_agents,
    bearer,
    delete_redis_keys,
    escalate,
    go_online,
    login,
    open_socket,
    percentile,
    running_service,
)

from handoff.config import RoutingSettings, Settings


def _percentiles(samples: list[float]) -> str:
    p50 = statistics.median(samples)
    return f"p50 {p50 * 1000:.1f} ms, p95 {percentile(samples, 0.95) * 1000:.1f} ms (n={len(samples)})"


async def _run(settings: Settings, burst: int, samples: int) -> None:
    names = await add_agents(settings, count=20, capacity=50)
    async with running_service(settings) as service, aiohttp.ClientSession() as http:
        base = service.base_url
        tokens = [(await login(http, base, name)).token for name in names]
        # Burst: visitors open conversations and ask for a person, all at once.
        limiter = asyncio.Semaphore(64)

        async def visitor_arrives() -> None:
            async with limiter:
                await escalate(http, base, language="fr")

        started = time.perf_counter()
        await asyncio.gather(*(visitor_arrives() for _ in range(burst)))
        elapsed = time.perf_counter() - started
        print(f"  burst: {burst} conversations opened and queued in {elapsed:.2f} s = {burst / elapsed:.0f} conversations/s")

        # Escalation and relay with one agent online.
        token = tokens[0]
        auth = bearer(token)
        await go_online(http, base, token)
        escalations, relays = [], []
        async with await open_socket(http, (f"{base.replace('http', 'ws')}/ws/agent", {"token": token})) as agent_socket:
            for _ in range(samples):
                async with http.post(f"{base}/api/visitor/conversations", json={"language": "en"}) as r:
                    conversation = await r.json()
                cid, vtoken = conversation["conversation_id"], conversation["visitor_token"]
                vauth = bearer(vtoken)
                sent = time.perf_counter()
                async with http.post(f"{base}/api/visitor/conversations/{cid}/handoff", headers=vauth, json={"pool": "ambassador"}):
                    pass
                await _until(agent_socket, lambda f, cid=cid: f["type"] == "offer" and f["offer"]["conversation_id"] == cid)
                escalations.append(time.perf_counter() - sent)
                async with http.post(f"{base}/api/conversations/{cid}/accept", headers=auth):
                    pass
                await _until(agent_socket, lambda f: f["type"] == "assigned")
                text = f"ping {uuid.uuid4().hex}"
                sent = time.perf_counter()
                async with http.post(f"{base}/api/visitor/conversations/{cid}/messages", headers=vauth, json={"text": text}):
                    pass
                await _until(agent_socket, lambda f, text=text: f["type"] == "message" and f["message"]["text"] == text)
                relays.append(time.perf_counter() - sent)
                async with http.post(f"{base}/api/conversations/{cid}/close", headers=auth, json={}):
                    pass
        print(f"  escalation (handoff request -> offer on the agent's WebSocket): {_percentiles(escalations)}")
        print(f"  relay (visitor POST -> message on the agent's WebSocket): {_percentiles(relays)}")


async def _until(socket: aiohttp.ClientWebSocketResponse, predicate: object) -> None:
    while True:
        frame = json.loads((await socket.receive(timeout=10)).data)
        if predicate(frame):  # type: ignore[operator]
            return


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--burst", type=int, default=300)
    parser.add_argument("--samples", type=int, default=200)
    args = parser.parse_args()
    base = Settings(rasa_url="http://127.0.0.1:9", routing=RoutingSettings())
    with tempfile.TemporaryDirectory() as tmp:
        print("embedded stack (SQLite file + in-memory backend):")
        await _run(replace(base, database_url=f"sqlite+aiosqlite:///{tmp}/bench.db"), args.burst, args.samples)
    if os.environ.get("DATABASE_URL") and os.environ.get("REDIS_URL"):
        print("production stack (PostgreSQL + Redis):")
        prefix = f"bench:{uuid.uuid4().hex}:"
        settings = replace(base, database_url=os.environ["DATABASE_URL"], backend="redis",
                           redis_url=os.environ["REDIS_URL"], redis_prefix=prefix)
        try:
            await _run(settings, args.burst, args.samples)
        finally:
            await delete_redis_keys(os.environ["REDIS_URL"], prefix)


if __name__ == "__main__":
    asyncio.run(main())
