"""Escalation rate through the HTTP API against the number of waiting conversations
(run by `make bench`; figures in docs/performance.md).

For each stack — SQLite file + in-memory routing, and PostgreSQL + Redis when
DATABASE_URL and REDIS_URL are set — the real service runs in this process
(benchlib.running_service; the bot is not involved) and the visitors are another
process (8 concurrent clients on one aiohttp session), so the service has its
process to itself, as in production:

1. 10 ambassadors (fr + en, capacity 3) log in and go online; 30 visitors ask for
   a person and the 30 offers are accepted: the desk is saturated, and every later
   escalation waits. Timers that would change the desk during the run are set to
   an hour (offer timeout, overflow, heartbeat: nobody sends heartbeats here); the
   sweeper still runs every 0.5 s, as in production.
2. For each level (100 waiting, then 2,000): visitors escalate until the level is
   reached (bounded by --fill-seconds; the level reached is reported), then
   - healthz pairs: the 8 clients send pairs of `GET /healthz` (--pairs pairs);
   - escalations: the 8 clients run --window escalations, each one visitor opening
     a conversation (`POST /api/visitor/conversations`) and asking for a person
     (`POST .../handoff`): two requests, like a healthz pair. The queue grows by
     --window during the measurement (100 -> 100 + window).
3. Ratios: escalation rate at the high level / at the low level (issue 10's target:
   >= 0.8, "within 20 %"), and escalation rate / healthz-pair rate at each level
   (target >= 0.5). /healthz is a bare liveness answer: the service's HTTP floor.

Output: one JSON line per measurement (stdout, reports/bench/escalation.jsonl) and a table
(`--report` prints the table again from that file).
Redis keys under the run's unique prefix are deleted at the end.

Usage: .venv/bin/python scripts/bench_escalation.py [--levels 100,2000] [--window 100]
           [--pairs 1000] [--clients 8] [--seconds 30] [--fill-seconds 120] [--report]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import tempfile
import time
import uuid
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from multiprocessing import get_context
from typing import Any

import aiohttp
from benchlib import (
    REPORTS,
    RunningService,
    add_agents,
    delete_redis_keys,
    emit,
    escalate,
    hold_conversations,
    p50_p99_ms,
    running_service,
)

from handoff.config import RoutingSettings, Settings
from handoff.domain import Pool

AGENTS = 10
CAPACITY = 3
HOUR = 3600.0
# Nothing but the measured requests moves the desk (see the module docstring).
QUIET_TIMERS = RoutingSettings(offer_timeout_seconds=HOUR, overflow_after_seconds=HOUR,
                               heartbeat_timeout_seconds=HOUR, grace_period_seconds=HOUR)


# --- the visitors' process ---------------------------------------------------------------


def visitors(base_url: str, kind: str, count: int, clients: int, seconds: float) -> dict[str, Any]:
    """Run `count` escalations or healthz pairs with `clients` concurrent clients (at most
    `seconds`); return how many were done, the elapsed time and each one's duration."""
    return asyncio.run(_visitors(base_url, kind, count, clients, seconds))


async def _visitors(base_url: str, kind: str, count: int, clients: int, seconds: float) -> dict[str, Any]:
    durations: list[float] = []
    todo = iter(range(count))
    connector = aiohttp.TCPConnector(limit=clients)
    async with aiohttp.ClientSession(connector=connector) as http:

        async def one() -> None:
            if kind == "escalation":
                await escalate(http, base_url, language="fr")
                return
            for _ in range(2):
                async with http.get(f"{base_url}/healthz") as r:
                    assert r.status == 200, await r.text()
                    await r.read()

        async def client() -> None:
            for _ in todo:
                if time.perf_counter() - started > seconds:
                    return
                began = time.perf_counter()
                await one()
                durations.append(time.perf_counter() - began)

        started = time.perf_counter()
        await asyncio.gather(*(client() for _ in range(clients)))
        elapsed = time.perf_counter() - started
    return {"done": len(durations), "elapsed": elapsed, "durations": durations}


# --- one stack ---------------------------------------------------------------------------


async def _saturate(service: RunningService, http: aiohttp.ClientSession, usernames: list[str]) -> None:
    """Agents online, and every place of theirs taken by an accepted conversation."""
    await hold_conversations(service, http, usernames, AGENTS * CAPACITY)
    online, free = (await service.services.engine.availability())[Pool.AMBASSADOR]
    assert (online, free) == (AGENTS, 0), f"desk not saturated: {online} online, {free} with room"


async def _run_stack(stack: str, settings: Settings, args: argparse.Namespace,
                     pool: ProcessPoolExecutor) -> list[dict[str, Any]]:
    loop = asyncio.get_running_loop()
    usernames = await add_agents(settings, count=AGENTS, capacity=CAPACITY)
    records: list[dict[str, Any]] = []
    async with running_service(settings) as service, aiohttp.ClientSession() as http:
        base = service.base_url
        await _saturate(service, http, usernames)
        await loop.run_in_executor(pool, visitors, base, "healthz", 50, args.clients, args.seconds)  # warm-up
        waiting = 0
        for target in args.levels:
            filled = await loop.run_in_executor(pool, visitors, base, "escalation", max(0, target - waiting),
                                                args.clients, args.fill_seconds)
            waiting += filled["done"]
            print(f"# {stack}: {waiting} waiting (target {target}) after {filled['elapsed']:.1f} s of filling"
                  + (" - fill capped" if waiting < target else ""), flush=True)
            pairs = await loop.run_in_executor(pool, visitors, base, "healthz", args.pairs, args.clients, args.seconds)
            escalations = await loop.run_in_executor(pool, visitors, base, "escalation", args.window, args.clients,
                                                     args.seconds)
            record: dict[str, Any] = {
                "bench": "escalation", "stack": stack, "clients": args.clients, "agents": AGENTS,
                "target_waiting": target, "waiting": waiting, "reached_target": waiting >= target,
                "fill_seconds": round(filled["elapsed"], 1),
                "healthz_pairs": pairs["done"], "healthz_pairs_per_s": round(pairs["done"] / pairs["elapsed"], 1),
                "escalations": escalations["done"],
                "escalations_per_s": round(escalations["done"] / escalations["elapsed"], 1),
            }
            record["healthz_pair_p50_ms"], record["healthz_pair_p99_ms"] = p50_p99_ms(pairs["durations"])
            record["escalation_p50_ms"], record["escalation_p99_ms"] = p50_p99_ms(escalations["durations"])
            record["escalation_over_healthz_pair"] = round(record["escalations_per_s"] / record["healthz_pairs_per_s"], 3)
            waiting += escalations["done"]
            emit(record, args.jsonl)
            records.append(record)
    if len(records) >= 2:
        low, high = records[0], records[-1]
        summary = {
            "bench": "escalation", "stack": stack, "summary": True,
            "levels": [low["waiting"], high["waiting"]],
            "high_over_low": round(high["escalations_per_s"] / low["escalations_per_s"], 3),
            "target_high_over_low": 0.8, "target_escalation_over_healthz_pair": 0.5,
        }
        emit(summary, args.jsonl)
        records.append(summary)
    return records


def table(records: list[dict[str, Any]]) -> str:
    lines = ["| stack | waiting (target) | escalations/s | escalation p50 / p99 ms | healthz pairs/s | escalation ÷ healthz pair |",
             "|---|---|---|---|---|---|"]
    for r in records:
        if r.get("summary"):
            continue
        waiting = f"{r['waiting']:,}" + ("" if r["reached_target"] else f" ({r['target_waiting']:,}, fill capped)")
        lines.append(f"| {r['stack']} | {waiting} | {r['escalations_per_s']} | {r['escalation_p50_ms']:.1f} / "
                     f"{r['escalation_p99_ms']:.1f} | {r['healthz_pairs_per_s']} | {r['escalation_over_healthz_pair']} |")
    for r in records:
        if r.get("summary"):
            lines.append(f"\n{r['stack']}: escalation rate at {r['levels'][1]:,} waiting / at {r['levels'][0]:,} = "
                         f"{r['high_over_low']} (target >= 0.8)")
    return "\n".join(lines)


async def main(args: argparse.Namespace) -> None:
    base = Settings(rasa_url="http://127.0.0.1:9", routing=QUIET_TIMERS)
    records: list[dict[str, Any]] = []
    with ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn")) as pool:
        with tempfile.TemporaryDirectory() as tmp:
            settings = replace(base, database_url=f"sqlite+aiosqlite:///{tmp}/bench.db")
            records += await _run_stack("SQLite + memory", settings, args, pool)
        if os.environ.get("DATABASE_URL") and os.environ.get("REDIS_URL"):
            prefix = f"bench:escalation:{uuid.uuid4().hex}:"
            settings = replace(base, database_url=os.environ["DATABASE_URL"], backend="redis",
                               redis_url=os.environ["REDIS_URL"], redis_prefix=prefix)
            try:
                records += await _run_stack("PostgreSQL + Redis", settings, args, pool)
            finally:
                await delete_redis_keys(os.environ["REDIS_URL"], prefix)
    print()
    print(table(records))


def report() -> None:
    """The table again, from escalation.jsonl (no measurement)."""
    print(table([json.loads(line) for line in (REPORTS / "escalation.jsonl").read_text().splitlines()]))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--levels", default="100,2000", help="waiting conversations, comma-separated, rising")
    parser.add_argument("--window", type=int, default=100, help="escalations measured at each level")
    parser.add_argument("--pairs", type=int, default=1000, help="healthz pairs measured at each level")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=30.0, help="at most this long per measurement")
    parser.add_argument("--fill-seconds", type=float, default=120.0, help="at most this long to fill each level")
    parser.add_argument("--report", action="store_true", help="only print the table from escalation.jsonl")
    arguments = parser.parse_args()
    if arguments.report:
        report()
        raise SystemExit(0)
    arguments.levels = sorted(int(level) for level in arguments.levels.split(","))
    REPORTS.mkdir(parents=True, exist_ok=True)
    arguments.jsonl = REPORTS / "escalation.jsonl"
    arguments.jsonl.write_text("")
    asyncio.run(main(arguments))
