"""Helpers shared by the benchmark scripts (bench_service.py, bench_escalation.py, bench_routing.py).

Owns: percentiles, the JSON-lines output, deleting a benchmark's Redis keys, the in-process service (started on a free
port of 127.0.0.1 with its services reachable), agents created in the store and
logged in, and a visitor's escalation (open a conversation, ask for a person)
through the real HTTP API. Nothing here measures: each script decides what it times.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import statistics
import sys
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import aiohttp
import redis.asyncio as aioredis
from aiohttp import web

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from handoff.agents import AgentService  # noqa: E402
from handoff.api.context import SERVICES  # noqa: E402
from handoff.app import create_app  # noqa: E402
from handoff.config import LIMIT_NAMES, LimitSettings, Settings  # noqa: E402
from handoff.domain import AgentRole  # noqa: E402
from handoff.services.container import Services  # noqa: E402
from handoff.store import open_store  # noqa: E402

NEVER_TRIPPED = LimitSettings(**{name: "1000000000/second" for name in LIMIT_NAMES}, sockets_per_ip=1_000_000,
                              refusal_delay_seconds=0.0)

PASSWORD = "bench-password-123"
REPORTS = ROOT / "reports" / "bench"


# --- figures --------------------------------------------------------------------------


def percentile(samples: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..1) of a non-empty sample."""
    ordered = sorted(samples)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def p50_p99_ms(samples: Sequence[float]) -> tuple[float | None, float | None]:
    """Median and 99th percentile in milliseconds of durations in seconds (None if no sample)."""
    if not samples:
        return None, None
    return round(statistics.median(samples) * 1000, 3), round(percentile(samples, 0.99) * 1000, 3)


def emit(record: dict[str, Any], jsonl: Path | None = None) -> None:
    """Print one measurement as a JSON line, and append it to `jsonl` when given."""
    line = json.dumps(record, separators=(",", ":"))
    print(line, flush=True)
    if jsonl is not None:
        with jsonl.open("a") as out:
            out.write(line + "\n")


async def delete_redis_keys(url: str, prefix: str) -> None:
    """Delete every key starting with `prefix` (a benchmark's unique prefix) from the Redis at `url`."""
    client = aioredis.from_url(url)
    try:
        keys = [key async for key in client.scan_iter(match=f"{prefix}*", count=1000)]
        for start in range(0, len(keys), 500):
            await client.delete(*keys[start:start + 500])
    finally:
        await client.aclose()


# --- the service, in process -------------------------------------------------------------

# A WebSocket to open: its URL (no credentials in it) and its first frame's fields (None: no auth frame).
SocketTarget = tuple[str, dict[str, Any] | None]


async def open_socket(http: aiohttp.ClientSession, target: SocketTarget, **options: Any) -> aiohttp.ClientWebSocketResponse:
    """Open a socket and authenticate it by its first frame, as the widget and the console do."""
    url, auth = target
    socket = await http.ws_connect(url, **options)
    if auth is not None:
        await socket.send_json({"type": "auth", **auth})
    return socket



@dataclass(frozen=True, slots=True)
class RunningService:
    base_url: str
    services: Services


@contextlib.asynccontextmanager
async def running_service(settings: Settings, *, real_limits: bool = False) -> AsyncIterator[RunningService]:
    """The real aiohttp application on a free port of 127.0.0.1, stopped on exit.

    Its abuse limits never trip: every client of a benchmark comes from one address,
    and what is measured is the cost of the work (the limits are still counted) —
    unless `real_limits`, for a benchmark of the limits themselves (bench_flood.py)."""
    app = create_app(settings if real_limits else replace(settings, limits=NEVER_TRIPPED))
    runner = web.AppRunner(app)
    await runner.setup()
    try:
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        yield RunningService(f"http://127.0.0.1:{port}", app[SERVICES])
    finally:
        await runner.cleanup()


async def add_agents(
    settings: Settings,
    count: int,
    capacity: int,
    *,
    role: AgentRole = AgentRole.AMBASSADOR,
    languages: tuple[str, ...] = ("fr", "en"),
    skills: tuple[str, ...] = (),
) -> list[str]:
    """Create `count` agents in the store (unique usernames); return their usernames."""
    store = await open_store(settings.database_url)
    agents = AgentService(store)
    names = []
    for n in range(count):
        name = f"bench{n}_{uuid.uuid4().hex[:6]}"
        await agents.create(username=name, password=PASSWORD, role=role, languages=languages,
                            skills=skills, capacity=capacity, display_name=name)
        names.append(name)
    await store.close()
    return names


@dataclass(frozen=True, slots=True)
class AgentSession:
    agent_id: str
    token: str


async def login(http: aiohttp.ClientSession, base_url: str, username: str) -> AgentSession:
    """Log an agent in through the API."""
    async with http.post(f"{base_url}/api/agents/login", json={"username": username, "password": PASSWORD}) as r:
        assert r.status == 200, await r.text()
        body = await r.json()
        return AgentSession(body["agent"]["id"], body["token"])


async def go_online(http: aiohttp.ClientSession, base_url: str, token: str) -> None:
    async with http.post(f"{base_url}/api/agents/me/presence", headers=bearer(token), json={"status": "online"}) as r:
        assert r.status == 200, await r.text()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@dataclass(frozen=True, slots=True)
class Escalation:
    conversation_id: str
    visitor_token: str
    position: int | None


async def escalate(http: aiohttp.ClientSession, base_url: str, *, language: str = "fr",
                   pool: str = "ambassador") -> Escalation:
    """A visitor opens a conversation and asks for a person: the two requests of an escalation."""
    async with http.post(f"{base_url}/api/visitor/conversations", json={"language": language}) as r:
        assert r.status == 201, await r.text()
        conversation = await r.json()
    cid, token = conversation["conversation_id"], conversation["visitor_token"]
    async with http.post(f"{base_url}/api/visitor/conversations/{cid}/handoff", headers=bearer(token),
                         json={"pool": pool}) as r:
        assert r.status == 200, await r.text()
        position = (await r.json())["position"]
    return Escalation(cid, token, position)


async def hold_conversations(service: RunningService, http: aiohttp.ClientSession, usernames: Sequence[str],
                             count: int, *, concurrency: int = 16) -> tuple[list[dict[str, str]], list[str]]:
    """Log the agents in and online, then `count` visitors ask for a person and every offer is
    accepted by the agent it went to. Returns the conversations held ({cid, visitor_token,
    agent_token}) and the agents' tokens. The agents' places must cover `count`."""
    base = service.base_url
    sessions = {}
    for name in usernames:
        session = await login(http, base, name)
        await go_online(http, base, session.token)
        sessions[session.agent_id] = session
    limiter = asyncio.Semaphore(concurrency)

    async def limited(call: Any) -> Any:
        async with limiter:
            return await call

    escalations = await asyncio.gather(*(limited(escalate(http, base, language="fr")) for _ in range(count)))
    tokens = {e.conversation_id: e.visitor_token for e in escalations}
    offers = [t for t in await service.services.engine.waiting() if t.offered_to in sessions]
    assert len(offers) == count, f"{len(offers)} of {count} conversations offered"

    async def accept(conversation_id: str, agent_token: str) -> dict[str, str]:
        async with http.post(f"{base}/api/conversations/{conversation_id}/accept", headers=bearer(agent_token)) as r:
            assert r.status == 200, await r.text()
        return {"cid": conversation_id, "visitor_token": tokens[conversation_id], "agent_token": agent_token}

    held = await asyncio.gather(*(limited(accept(t.conversation_id, sessions[t.offered_to].token)) for t in offers))
    return list(held), [s.token for s in sessions.values()]

# --- limits and charts -----------------------------------------------------------------------


def raise_open_files(wanted: int) -> int:
    """Raise this process's open-files soft limit towards `wanted` (up to the hard limit); return it."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft == resource.RLIM_INFINITY or soft >= target:
        return soft if soft != resource.RLIM_INFINITY else wanted
    resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return target


def rss_bytes(pid: int | None = None) -> int:
    """The resident memory now of process `pid`, default this one (Linux /proc)."""
    import os

    pages = int(Path(f"/proc/{pid or 'self'}/statm").read_text().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE")


def loglog_chart(path: Path, title: str, panels: Sequence[tuple[str, str, dict[str, list[tuple[float, float]]]]]) -> None:
    """Draw side-by-side log-log panels, each (title, x label, {series label: [(x, y), ...]}), into `path`."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes_list = plt.subplots(1, len(panels), figsize=(5.5 * len(panels), 4.5), squeeze=False)
    for axes, (panel_title, xlabel, series) in zip(axes_list[0], panels, strict=True):
        for label, points in series.items():
            shown = sorted((x, y) for x, y in points if x > 0 and y is not None and y > 0)
            if shown:
                axes.plot(*zip(*shown, strict=True), marker="o", label=label)
        axes.set_xscale("log")
        axes.set_yscale("log")
        axes.set_xlabel(xlabel)
        axes.set_title(panel_title)
        axes.grid(True, which="both", alpha=0.3)
        if axes.lines:
            axes.legend(fontsize="small")
    figure.suptitle(title)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
