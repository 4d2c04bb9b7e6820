"""WebSockets under load: the human relay with many conversations open, and idle sockets' memory
(run by `make bench`; figures in docs/benchmarks.md).

The real service runs in this process (benchlib.running_service, bot not involved) on
SQLite file + memory and, when DATABASE_URL and REDIS_URL are set, on PostgreSQL +
Redis; next to it, in this process too, a bare aiohttp WebSocket echo server (the
baseline). The clients are another process, so the servers have this process to
themselves and its memory is theirs.

`relay` (levels: human-held conversations, default 10, 100, 1,000): ambassadors of
capacity `--capacity` (default 10) go online, visitors ask for a person and every
offer is accepted (benchlib.hold_conversations), then every visitor's socket
(`/ws/visitor`) and every agent's socket (`/ws/agent`) is opened: N + N/capacity
sockets. Then `--samples` relays, one at a time, alternating directions, each in a
conversation drawn at random: a visitor's `POST .../messages` until the message is
on its agent's socket, or an agent's `POST /api/conversations/{id}/messages` until
it is on the visitor's socket. Baseline in the same run: as many idle sockets on the
echo server, then `--samples` round trips (send a frame, wait for its echo), and
one commit (`ConversationService.append`, one writer, `--samples` times). Issue 11's
target: relay p99 ≤ 3 × echo p99 + the commit's p99.

`idle` (levels: sockets, default 100, 1,000, 10,000; run first): visitor sockets
open on as many conversations and stay idle (each has received its first frames),
cumulatively — 100 open, then 900 more, then 9,000 more, nothing closed in between,
so no freed memory is reused unseen; at each level, the service process's resident
memory gained since before the first socket (garbage collected and free heap pages
given back to the system first), divided by the sockets open. The same for the
echo server, alone in a fresh process of its own. Target: ≤ 50 KB per socket. The open-files limit of both
processes is raised to what the level needs (up to the hard limit).

Output: one JSON line per level and stack (stdout, reports/bench/sockets.jsonl), a
table and reports/bench/sockets.png (log-log).

Usage: .venv/bin/python scripts/bench_sockets.py [--relay 10,100,1000] [--idle 100,1000,10000]
           [--samples 200] [--capacity 10] [--stacks sqlite,postgresql] [--report]
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import ctypes
import gc
import json
import multiprocessing
import os
import random
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import replace
from multiprocessing import get_context
from typing import Any

import aiohttp
from aiohttp import web
from benchlib import (
    REPORTS,
    RunningService,
    SocketTarget,
    add_agents,
    delete_redis_keys,
    emit,
    hold_conversations,
    loglog_chart,
    open_socket,
    p50_p99_ms,
    raise_open_files,
    rss_bytes,
    running_service,
)

from handoff.config import RoutingSettings, Settings
from handoff.domain import SenderKind

HOUR = 3600.0
# Nothing but the measured requests moves the desk: no offer expires, nobody goes away.
QUIET_TIMERS = RoutingSettings(offer_timeout_seconds=HOUR, overflow_after_seconds=HOUR,
                               heartbeat_timeout_seconds=HOUR, grace_period_seconds=HOUR)
STACK_LABELS = {"sqlite": "SQLite + memory", "postgresql": "PostgreSQL + Redis"}
OPEN_AT_ONCE = 100
FD_MARGIN = 200
ECHO_OPEN_FILES = 50_000  # as many as the hard limit allows


# --- the echo server (baseline) ------------------------------------------------------------


@asynccontextmanager
async def echo_server() -> AsyncIterator[str]:
    """A bare aiohttp WebSocket echo on a free port of 127.0.0.1; yields its ws:// URL."""

    async def echo(request: web.Request) -> web.WebSocketResponse:
        socket = web.WebSocketResponse(heartbeat=20.0)
        await socket.prepare(request)
        await socket.send_json({"type": "hello"})
        async for frame in socket:
            if frame.type == aiohttp.WSMsgType.TEXT:
                await socket.send_str(frame.data)
        return socket

    app = web.Application()
    app.router.add_get("/echo", echo)
    runner = web.AppRunner(app)
    await runner.setup()
    try:
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        yield f"ws://127.0.0.1:{port}/echo"
    finally:
        await runner.cleanup()


# --- the clients' process ------------------------------------------------------------------


class Sockets:
    """Client sockets that each read their frames; `expect(text)` waits for a message saying `text`."""

    def __init__(self, http: aiohttp.ClientSession) -> None:
        self.http = http
        self.waiting: dict[str, asyncio.Future[float]] = {}
        self.readers: list[asyncio.Task[None]] = []
        self.sockets: list[aiohttp.ClientWebSocketResponse] = []

    async def open(self, target: SocketTarget) -> aiohttp.ClientWebSocketResponse:
        socket = await open_socket(self.http, target, heartbeat=20.0, timeout=aiohttp.ClientWSTimeout(ws_close=5))
        await socket.receive_json(timeout=60)  # the first frame: the socket is live on the server
        self.sockets.append(socket)
        self.readers.append(asyncio.create_task(self._read(socket)))
        return socket

    async def _read(self, socket: aiohttp.ClientWebSocketResponse) -> None:
        async for frame in socket:
            if frame.type != aiohttp.WSMsgType.TEXT:
                continue
            data = json.loads(frame.data)
            text = data.get("text") or (data.get("message") or {}).get("text") if isinstance(data, dict) else None
            future = self.waiting.pop(text, None) if text else None
            if future is not None and not future.done():
                future.set_result(time.perf_counter())

    def expect(self, text: str) -> asyncio.Future[float]:
        future: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        self.waiting[text] = future
        return future

    async def close(self) -> None:
        for start in range(0, len(self.sockets), OPEN_AT_ONCE):
            await asyncio.gather(*(s.close() for s in self.sockets[start:start + OPEN_AT_ONCE]))
        for reader in self.readers:
            reader.cancel()
        await asyncio.gather(*self.readers, return_exceptions=True)


async def _open_all(sockets: Sockets, targets: list[SocketTarget]) -> None:
    for start in range(0, len(targets), OPEN_AT_ONCE):
        await asyncio.gather(*(sockets.open(target) for target in targets[start:start + OPEN_AT_ONCE]))


def relay_clients(base_url: str, echo_url: str, held: list[dict[str, str]], agent_tokens: list[str],
                  samples: int) -> dict[str, list[float]]:
    """Open every visitor's and agent's socket and as many echo sockets; time relays and echoes."""
    raise_open_files(2 * (len(held) + len(agent_tokens)) + FD_MARGIN)
    return asyncio.run(_relay_clients(base_url, echo_url, held, agent_tokens, samples))


async def _relay_clients(base_url: str, echo_url: str, held: list[dict[str, str]], agent_tokens: list[str],
                         samples: int) -> dict[str, list[float]]:
    ws_base = base_url.replace("http://", "ws://", 1)
    rng = random.Random(20261203)
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0), timeout=timeout) as http:
        service, echo = Sockets(http), Sockets(http)
        await _open_all(service, [(f"{ws_base}/ws/agent", {"token": token}) for token in agent_tokens])
        await _open_all(service, [(f"{ws_base}/ws/visitor", {"conversation_id": h["cid"], "token": h["visitor_token"]})
                                  for h in held])
        await _open_all(echo, [(echo_url, None)] * (len(held) + len(agent_tokens)))
        relays: list[float] = []
        for n in range(samples):
            chat = rng.choice(held)
            text = f"relay {n} {uuid.uuid4().hex[:8]}"
            if n % 2 == 0:  # visitor -> agent
                url = f"{base_url}/api/visitor/conversations/{chat['cid']}/messages"
                token = chat["visitor_token"]
            else:  # agent -> visitor
                url = f"{base_url}/api/conversations/{chat['cid']}/messages"
                token = chat["agent_token"]
            arrived = service.expect(text)
            started = time.perf_counter()
            async with http.post(url, json={"text": text}, headers={"Authorization": f"Bearer {token}"}) as r:
                assert r.status == 201, await r.text()
            relays.append(await asyncio.wait_for(arrived, 60) - started)
        echoes: list[float] = []
        for n in range(samples):
            socket = rng.choice(echo.sockets)
            text = f"echo {n}"
            arrived = echo.expect(text)
            started = time.perf_counter()
            await socket.send_json({"text": text})
            echoes.append(await asyncio.wait_for(arrived, 60) - started)
        await service.close()
        await echo.close()
    return {"relay": relays, "echo": echoes}


def idle_clients(stages: list[list[SocketTarget]], opened: Any, proceed: Any) -> None:
    """Open the sockets of each stage in turn, keeping the earlier ones open: after each stage,
    put the number open on `opened` and wait for `proceed`. All close at the end."""
    raise_open_files(sum(len(stage) for stage in stages) + FD_MARGIN)
    asyncio.run(_idle_clients(stages, opened, proceed))


async def _idle_clients(stages: list[list[SocketTarget]], opened: Any, proceed: Any) -> None:
    loop = asyncio.get_running_loop()
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http:
        sockets = Sockets(http)
        for urls in stages:
            await _open_all(sockets, urls)
            opened.put(len(sockets.sockets))
            await loop.run_in_executor(None, proceed.get)
        await sockets.close()


def echo_process(urls: Any, stop: Any) -> None:
    """The echo server alone in a process of its own (its memory is measured from outside)."""
    raise_open_files(ECHO_OPEN_FILES)

    async def serve() -> None:
        async with echo_server() as url:
            urls.put(url)
            await asyncio.get_running_loop().run_in_executor(None, stop.wait)

    asyncio.run(serve())


# --- the servers' process --------------------------------------------------------------------


async def _commit_times(service: RunningService, samples: int) -> list[float]:
    conversations = service.services.conversations
    conversation, _ = await conversations.start("fr", None)
    durations = []
    for _ in range(samples):
        started = time.perf_counter()
        await conversations.append(conversation.id, SenderKind.VISITOR, "one commit")
        durations.append(time.perf_counter() - started)
    return durations


async def _relay(stack: str, settings: Settings, args: argparse.Namespace, pool: ProcessPoolExecutor) -> list[dict[str, Any]]:
    records = []
    loop = asyncio.get_running_loop()
    raise_open_files(4 * max(args.relay) + FD_MARGIN)
    for level in args.relay:  # a fresh service per level: the sockets of a level are opened once, on a quiet desk
        agents = -(-level // args.capacity)
        level_settings = settings
        if settings.backend == "redis":  # a routing state of its own (the run's prefix still covers it)
            level_settings = replace(settings, redis_prefix=f"{settings.redis_prefix}{level}:")
        names = await add_agents(level_settings, count=agents, capacity=args.capacity)
        async with running_service(level_settings) as service, echo_server() as echo_url, aiohttp.ClientSession() as http:
            held, tokens = await hold_conversations(service, http, names, level)
            commits = await _commit_times(service, args.samples)
            measured = await loop.run_in_executor(pool, relay_clients, service.base_url, echo_url, held, tokens,
                                                  args.samples)
        record: dict[str, Any] = {"bench": "relay", "stack": stack, "conversations": level, "agents": agents,
                                  "capacity": args.capacity, "sockets": level + agents, "samples": args.samples}
        record["relay_p50_ms"], record["relay_p99_ms"] = p50_p99_ms(measured["relay"])
        record["echo_p50_ms"], record["echo_p99_ms"] = p50_p99_ms(measured["echo"])
        record["commit_p50_ms"], record["commit_p99_ms"] = p50_p99_ms(commits)
        record["target_p99_ms"] = round(3 * record["echo_p99_ms"] + record["commit_p99_ms"], 3)
        record["met"] = record["relay_p99_ms"] <= record["target_p99_ms"]
        emit(record, args.jsonl)
        records.append(record)
    return records


def _release_free_memory() -> None:
    """Collect garbage and give free heap pages back to the system before the baseline."""
    gc.collect()
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


async def _idle_memory(stages: list[list[SocketTarget]], pid: int | None = None) -> list[tuple[int, float]]:
    """Bytes of resident memory per socket that process `pid` (default: this one) gains while a
    client process holds the sockets of the stages open, cumulatively: (sockets open, bytes each)
    after each stage. Nothing is closed between stages, so no freed memory is reused unseen."""
    context = get_context("spawn")
    opened, proceed = context.Queue(), context.Queue()
    if pid is None:
        _release_free_memory()
    before = rss_bytes(pid)
    process = context.Process(target=idle_clients, args=(stages, opened, proceed))
    process.start()
    loop = asyncio.get_running_loop()
    results = []
    try:
        for _ in stages:
            count = await loop.run_in_executor(None, opened.get, True, 900)
            if pid is None:
                gc.collect()
            results.append((count, (rss_bytes(pid) - before) / count))
            proceed.put(True)
    finally:
        for _ in range(len(stages) - len(results)):
            proceed.put(True)
        await loop.run_in_executor(None, process.join, 120)
    return results


async def _idle(stack: str, settings: Settings, args: argparse.Namespace) -> list[dict[str, Any]]:
    raise_open_files(max(args.idle) + FD_MARGIN)
    levels = args.idle
    context = get_context("spawn")
    echo_urls, stop = context.Queue(), context.Event()
    echo = context.Process(target=echo_process, args=(echo_urls, stop))
    echo.start()
    loop = asyncio.get_running_loop()
    try:
        echo_url = await loop.run_in_executor(None, echo_urls.get, True, 60)
        echo_stages: list[list[SocketTarget]] = [[(echo_url, None)] * (level - below) for level, below in zip(levels, [0, *levels], strict=False)]
        echoes = await _idle_memory(echo_stages, echo.pid)
    finally:
        stop.set()
        await loop.run_in_executor(None, echo.join, 60)
    async with running_service(settings) as service:
        conversations = service.services.conversations
        ws_base = service.base_url.replace("http://", "ws://", 1)
        urls: list[SocketTarget] = []
        while len(urls) < levels[-1]:
            started = await asyncio.gather(*(conversations.start("fr", None)
                                             for _ in range(min(100, levels[-1] - len(urls)))))
            urls += [(f"{ws_base}/ws/visitor", {"conversation_id": c.id, "token": token}) for c, token in started]
        stages = [urls[below:level] for level, below in zip(levels, [0, *levels], strict=False)]
        measured = await _idle_memory(stages)
    records = []
    for (count, per_socket), (echo_count, echo_per_socket) in zip(measured, echoes, strict=True):
        record = {"bench": "idle", "stack": stack, "sockets": count, "kb_per_socket": round(per_socket / 1024, 1),
                  "echo_sockets": echo_count, "echo_kb_per_socket": round(echo_per_socket / 1024, 1),
                  "target_kb": 50}
        record["met"] = record["kb_per_socket"] <= 50
        emit(record, args.jsonl)
        records.append(record)
    return records


# --- report ---------------------------------------------------------------------------------


def table(records: list[dict[str, Any]]) -> str:
    lines = []
    relays = [r for r in records if r["bench"] == "relay"]
    if relays:
        lines += ["| stack | conversations held | sockets | relay p50 / p99 ms | echo p50 / p99 ms | one commit p50 / p99 ms"
                  " | target p99 (3 × echo + commit) |", "|---|---|---|---|---|---|---|"]
        for r in relays:
            verdict = "met" if r["met"] else "missed"
            lines.append(f"| {STACK_LABELS[r['stack']]} | {r['conversations']:,} ({r['agents']} agent{'s' if r['agents'] > 1 else ''}) | {r['sockets']:,} | "
                         f"{r['relay_p50_ms']:.1f} / {r['relay_p99_ms']:.1f} | {r['echo_p50_ms']:.2f} / {r['echo_p99_ms']:.2f} | "
                         f"{r['commit_p50_ms']:.1f} / {r['commit_p99_ms']:.1f} | {r['target_p99_ms']:.1f} ({verdict}) |")
    idles = [r for r in records if r["bench"] == "idle"]
    if idles:
        lines += ["", "| stack | idle sockets | service KB per socket (target ≤ 50) | bare echo KB per socket |",
                  "|---|---|---|---|"]
        for r in idles:
            verdict = "met" if r["met"] else "missed"
            lines.append(f"| {STACK_LABELS[r['stack']]} | {r['sockets']:,} | {r['kb_per_socket']} ({verdict}) | "
                         f"{r['echo_kb_per_socket']} |")
    return "\n".join(lines)


def chart(records: list[dict[str, Any]]) -> None:
    relay: dict[str, list[tuple[float, float]]] = collections.defaultdict(list)
    idle: dict[str, list[tuple[float, float]]] = collections.defaultdict(list)
    for r in records:
        label = STACK_LABELS[r["stack"]]
        if r["bench"] == "relay":
            relay[f"relay p99, {label}"].append((r["conversations"], r["relay_p99_ms"]))
            relay[f"relay p50, {label}"].append((r["conversations"], r["relay_p50_ms"]))
            relay[f"echo p99 ({label} run)"].append((r["conversations"], r["echo_p99_ms"]))
        else:
            idle[f"service, {label}"].append((r["sockets"], r["kb_per_socket"]))
            idle[f"bare echo ({label} run)"].append((r["sockets"], r["echo_kb_per_socket"]))
    loglog_chart(REPORTS / "sockets.png", "WebSockets: relay latency with conversations held, memory per idle socket",
                 [("relay (ms)", "human-held conversations", dict(relay)),
                  ("KB per idle socket", "idle sockets", dict(idle))])


# --- main -----------------------------------------------------------------------------------


async def run(args: argparse.Namespace) -> list[dict[str, Any]]:
    base = Settings(rasa_url="http://127.0.0.1:9", routing=QUIET_TIMERS)
    records: list[dict[str, Any]] = []
    stacks: list[tuple[str, Settings, str | None]] = []
    tmp = tempfile.TemporaryDirectory()
    if "sqlite" in args.stacks:
        stacks.append(("sqlite", replace(base, database_url=f"sqlite+aiosqlite:///{tmp.name}/bench.db"), None))
    if "postgresql" in args.stacks and os.environ.get("DATABASE_URL") and os.environ.get("REDIS_URL"):
        prefix = f"bench:sockets:{uuid.uuid4().hex}:"
        stacks.append(("postgresql", replace(base, database_url=os.environ["DATABASE_URL"], backend="redis",
                                             redis_url=os.environ["REDIS_URL"], redis_prefix=prefix), prefix))
    with ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn")) as pool, tmp:
        for stack, settings, prefix in stacks:
            try:
                if args.idle:  # first: the memory measured is the sockets', not what the relay left behind
                    records += await _idle(stack, settings, args)
                if args.relay:
                    records += await _relay(stack, settings, args, pool)
            finally:
                if prefix is not None:
                    await delete_redis_keys(os.environ["REDIS_URL"], prefix)
    return records


def _levels(value: str) -> list[int]:
    return sorted(int(level) for level in value.split(",") if level)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--relay", type=_levels, default=[10, 100, 1000], help="human-held conversations (empty: skip)")
    parser.add_argument("--idle", type=_levels, default=[100, 1000, 10000], help="idle sockets (empty: skip)")
    parser.add_argument("--samples", type=int, default=200, help="relays, echoes and commits per relay level")
    parser.add_argument("--capacity", type=int, default=10, help="chats per agent (agents = conversations / capacity)")
    parser.add_argument("--stacks", default="sqlite,postgresql")
    parser.add_argument("--report", action="store_true", help="only redraw the table and chart from sockets.jsonl")
    args = parser.parse_args()
    args.stacks = [s for s in args.stacks.split(",") if s]
    REPORTS.mkdir(parents=True, exist_ok=True)
    args.jsonl = REPORTS / "sockets.jsonl"
    if args.report:
        records = [json.loads(line) for line in args.jsonl.read_text().splitlines()]
    else:
        args.jsonl.write_text("")
        records = asyncio.run(run(args))
    print()
    print(table(records))
    chart(records)
    print("\nreports/bench/sockets.jsonl, reports/bench/sockets.png")


if __name__ == "__main__":
    multiprocessing.freeze_support()
    main()
