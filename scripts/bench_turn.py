"""A bot turn through the service against the same turn sent straight to Rasa (run by `make bench`;
figures in docs/benchmarks.md).

The real bot (Rasa server + action server, started on free ports like bench_bot.py,
or `--rasa-url`) answers both sides. The service runs in this process
(benchlib.running_service) on SQLite file + memory and, when DATABASE_URL and
REDIS_URL are set, on PostgreSQL + Redis; the visitors are another process, so
the service has its process to itself. For each level of concurrent visitors
(`--levels`, default 1, 10, 50), rounds alternate between the two sides until each
has `--turns` turns:

- bare Rasa: each visitor is a fresh sender on `POST /webhooks/rest/webhook`, with
  the metadata the service sends;
- the service: each visitor opens a fresh conversation (not timed), then posts its
  messages on `POST /api/visitor/conversations/{id}/messages` (the widget's call:
  the visitor's message committed, the bot asked, its replies committed, the answer).

Every visitor sends `--per-visitor` messages of one language from bench_bot.MESSAGES
(none of them asks for a person), one at a time. Overhead = service − bare, at p50
and p99 (issue 11's target: ≤ 5 ms and ≤ 15 ms).

`--profile` instead runs `--turns` service turns with one visitor on SQLite and
prints where a turn's time goes: wall time per step (Rasa's webhook, the tracker
read for the intent, each store call), SQL statements and commits per turn, then a
cProfile of the service process (reports/bench/turn-profile.txt).

Output: one JSON line per level and stack (stdout, reports/bench/turn.jsonl), a
table and reports/bench/turn.png (log-log: latency against visitors).

Usage: .venv/bin/python scripts/bench_turn.py [--levels 1,10,50] [--turns 200] [--per-visitor 5]
           [--rasa-url URL] [--stacks sqlite,postgresql] [--profile] [--report]
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import cProfile
import functools
import io
import json
import os
import pstats
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from multiprocessing import get_context
from typing import Any

import aiohttp
from bench_bot import MESSAGES
from benchlib import REPORTS, delete_redis_keys, emit, loglog_chart, p50_p99_ms, running_service
from sqlalchemy import event

from handoff.botprocess import BotProcesses, free_ports
from handoff.config import RoutingSettings, Settings
from handoff.services.container import Services

TARGET_P50_MS, TARGET_P99_MS = 5.0, 15.0
STACK_LABELS = {"sqlite": "SQLite + memory", "postgresql": "PostgreSQL + Redis"}


def _messages(language: str) -> list[str]:
    return [text for lang, text in MESSAGES if lang == language]


# --- the visitors' process ---------------------------------------------------------------


def visitors(side: str, base_url: str, count: int, per_visitor: int) -> list[float]:
    """`count` concurrent visitors, each sending `per_visitor` messages one at a time; their durations."""
    return asyncio.run(_visitors(side, base_url, count, per_visitor))


async def _visitors(side: str, base_url: str, count: int, per_visitor: int) -> list[float]:
    durations: list[float] = []
    timeout = aiohttp.ClientTimeout(total=120)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0), timeout=timeout) as http:

        async def visitor(number: int) -> None:
            language = ("fr", "en")[number % 2]
            texts = _messages(language)
            if side == "service":
                async with http.post(f"{base_url}/api/visitor/conversations", json={"language": language}) as r:
                    assert r.status == 201, await r.text()
                    opened = await r.json()
                url = f"{base_url}/api/visitor/conversations/{opened['conversation_id']}/messages"
                headers = {"Authorization": f"Bearer {opened['visitor_token']}"}
            else:
                sender = f"bench-turn-{uuid.uuid4().hex}"
                url, headers = f"{base_url}/webhooks/rest/webhook", {}
            for turn in range(per_visitor):
                text = texts[(number + turn) % len(texts)]
                if side == "service":
                    body: dict[str, Any] = {"text": text}
                else:
                    body = {"sender": sender, "message": text,
                            "metadata": {"language": language, "conversation_id": sender, "page_url": None}}
                started = time.perf_counter()
                async with http.post(url, json=body, headers=headers) as r:
                    answer = await r.json()
                    assert r.status in (200, 201), answer
                durations.append(time.perf_counter() - started)
                replies = answer["replies"] if side == "service" else answer
                assert replies, f"no answer to {text!r}"
                assert not any(isinstance(reply.get("custom"), dict) or (reply.get("data") or {}).get("handoff")
                               for reply in replies), f"{text!r} asked for a person"

        await asyncio.gather(*(visitor(n) for n in range(count)))
    return durations


# --- measuring ----------------------------------------------------------------------------


async def _level(pool: ProcessPoolExecutor, rasa_url: str, service_url: str, count: int,
                 args: argparse.Namespace) -> dict[str, list[float]]:
    loop = asyncio.get_running_loop()
    samples: dict[str, list[float]] = {"bare": [], "service": []}
    while min(len(s) for s in samples.values()) < args.turns:
        for side, url in (("bare", rasa_url), ("service", service_url)):  # alternate: same conditions
            samples[side] += await loop.run_in_executor(pool, visitors, side, url, count, args.per_visitor)
    return samples


async def _run_stack(stack: str, settings: Settings, rasa_url: str, args: argparse.Namespace,
                     pool: ProcessPoolExecutor) -> list[dict[str, Any]]:
    records = []
    async with running_service(settings) as service:
        loop = asyncio.get_running_loop()
        for side, url in (("bare", rasa_url), ("service", service.base_url)):  # warm-up, not measured
            await loop.run_in_executor(pool, visitors, side, url, 2, 2)
        for count in args.levels:
            samples = await _level(pool, rasa_url, service.base_url, count, args)
            record: dict[str, Any] = {"bench": "turn", "stack": stack, "visitors": count,
                                      "per_visitor": args.per_visitor,
                                      "turns": min(len(s) for s in samples.values())}
            record["bare_p50_ms"], record["bare_p99_ms"] = p50_p99_ms(samples["bare"])
            record["service_p50_ms"], record["service_p99_ms"] = p50_p99_ms(samples["service"])
            record["overhead_p50_ms"] = round(record["service_p50_ms"] - record["bare_p50_ms"], 2)
            record["overhead_p99_ms"] = round(record["service_p99_ms"] - record["bare_p99_ms"], 2)
            record["target_p50_ms"], record["target_p99_ms"] = TARGET_P50_MS, TARGET_P99_MS
            record["met"] = record["overhead_p50_ms"] <= TARGET_P50_MS and record["overhead_p99_ms"] <= TARGET_P99_MS
            emit(record, args.jsonl)
            records.append(record)
    return records


def table(records: list[dict[str, Any]]) -> str:
    lines = ["| stack | visitors | turns per side | bare Rasa p50 / p99 ms | service p50 / p99 ms"
             " | overhead p50 / p99 ms (target ≤ 5 / ≤ 15) |", "|---|---|---|---|---|---|"]
    for r in records:
        verdict = "met" if r["met"] else "missed"
        lines.append(f"| {STACK_LABELS[r['stack']]} | {r['visitors']} | {r['turns']} | {r['bare_p50_ms']:.1f} / "
                     f"{r['bare_p99_ms']:.1f} | {r['service_p50_ms']:.1f} / {r['service_p99_ms']:.1f} | "
                     f"{r['overhead_p50_ms']:+.1f} / {r['overhead_p99_ms']:+.1f} ({verdict}) |")
    return "\n".join(lines)


def chart(records: list[dict[str, Any]]) -> None:
    panels = []
    for quantile in ("p50", "p99"):
        series: dict[str, list[tuple[float, float]]] = collections.defaultdict(list)
        for r in records:
            series[f"bare Rasa ({STACK_LABELS[r['stack']]} run)"].append((r["visitors"], r[f"bare_{quantile}_ms"]))
            series[f"service, {STACK_LABELS[r['stack']]}"].append((r["visitors"], r[f"service_{quantile}_ms"]))
        panels.append((f"bot turn {quantile} (ms)", "concurrent visitors", dict(series)))
    loglog_chart(REPORTS / "turn.png", "A bot turn: through the service vs straight to Rasa", panels)


# --- profile --------------------------------------------------------------------------------


class StepTimes:
    """Wall time spent in chosen coroutine methods of the running service, and SQL counts."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = collections.defaultdict(float)
        self.calls: collections.Counter[str] = collections.Counter()

    def wrap(self, owner: object, name: str, label: str) -> None:
        original: Callable[..., Awaitable[Any]] = getattr(owner, name)

        @functools.wraps(original)
        async def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return await original(*args, **kwargs)
            finally:
                self.seconds[label] += time.perf_counter() - started
                self.calls[label] += 1

        setattr(owner, name, timed)

    def watch_sql(self, services: Services) -> None:
        engine = services.conversations.store.engine.sync_engine

        @event.listens_for(engine, "before_cursor_execute")
        def _statement(*_: Any) -> None:
            self.calls["SQL statements"] += 1

        @event.listens_for(engine, "commit")
        def _commit(*_: Any) -> None:
            self.calls["commits"] += 1

    def lines(self, turns: int) -> Iterator[str]:
        for label in sorted(self.seconds, key=lambda k: -self.seconds[k]):
            yield (f"{label:48} {self.seconds[label] / turns * 1000:8.2f} ms/turn  "
                   f"{self.calls[label] / turns:5.2f} calls/turn")
        for label in ("SQL statements", "commits"):
            yield f"{label:48} {self.calls[label] / turns:8.2f} per turn"


async def profile(settings: Settings, rasa_url: str, args: argparse.Namespace, pool: ProcessPoolExecutor) -> None:
    loop = asyncio.get_running_loop()
    async with running_service(settings) as service:
        services = service.services
        steps = StepTimes()
        for owner, name, label in (
            (services.bot, "ask", "bot.ask (Rasa webhook + tracker read)"),
            (services.bot, "_latest_intent", "  of which bot._latest_intent (tracker read)"),
            (services.conversations, "authenticate_visitor", "conversations.authenticate_visitor"),
            (services.conversations, "append", "conversations.append"),
            (services.conversations, "annotate", "conversations.annotate"),
            (services.conversations, "messages", "conversations.messages"),
            (services.conversations, "get", "conversations.get"),
            (services.conversations, "update", "conversations.update"),
            (services.visitors, "post_message", "visitors.post_message (all but the handler's reads)"),
        ):
            steps.wrap(owner, name, label)
        steps.watch_sql(services)
        await loop.run_in_executor(pool, visitors, "service", service.base_url, 2, 2)  # warm-up
        steps.seconds.clear()
        steps.calls.clear()
        bare = await loop.run_in_executor(pool, visitors, "bare", rasa_url, 1, args.turns)
        profiler = cProfile.Profile()
        profiler.enable()
        turns = await loop.run_in_executor(pool, visitors, "service", service.base_url, 1, args.turns)
        profiler.disable()
    out = io.StringIO()
    bare_p50, bare_p99 = p50_p99_ms(bare)
    p50, p99 = p50_p99_ms(turns)
    out.write(f"{len(turns)} service turns, one visitor, SQLite + memory: p50 {p50} ms, p99 {p99} ms "
              f"(bare Rasa just before: p50 {bare_p50} ms, p99 {bare_p99} ms)\n\nwall time per turn:\n")
    out.writelines(line + "\n" for line in steps.lines(len(turns)))
    out.write("\ncProfile of the service process (CPU in the event loop; awaited I/O not counted):\n")
    stats = pstats.Stats(profiler, stream=out)
    stats.strip_dirs().sort_stats("cumulative").print_stats(30)
    print(out.getvalue())
    (REPORTS / "turn-profile.txt").write_text(out.getvalue())


# --- main -----------------------------------------------------------------------------------


async def run(args: argparse.Namespace, rasa_url: str) -> list[dict[str, Any]]:
    base = Settings(rasa_url=rasa_url, routing=RoutingSettings(), rasa_timeout_seconds=120)
    records: list[dict[str, Any]] = []
    with ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn")) as pool, \
            tempfile.TemporaryDirectory() as tmp:
        sqlite = replace(base, database_url=f"sqlite+aiosqlite:///{tmp}/bench.db")
        if args.profile:
            await profile(sqlite, rasa_url, args, pool)
            return records
        if "sqlite" in args.stacks:
            records += await _run_stack("sqlite", sqlite, rasa_url, args, pool)
        if "postgresql" in args.stacks and os.environ.get("DATABASE_URL") and os.environ.get("REDIS_URL"):
            prefix = f"bench:turn:{uuid.uuid4().hex}:"
            settings = replace(base, database_url=os.environ["DATABASE_URL"], backend="redis",
                               redis_url=os.environ["REDIS_URL"], redis_prefix=prefix)
            try:
                records += await _run_stack("postgresql", settings, rasa_url, args, pool)
            finally:
                await delete_redis_keys(os.environ["REDIS_URL"], prefix)
    return records


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--levels", default="1,10,50", help="concurrent visitors, comma-separated")
    parser.add_argument("--turns", type=int, default=200, help="turns measured per side and level (at least)")
    parser.add_argument("--per-visitor", type=int, default=5, help="messages per visitor (a fresh conversation each)")
    parser.add_argument("--stacks", default="sqlite,postgresql")
    parser.add_argument("--rasa-url", help="a running Rasa server (default: start the bot)")
    parser.add_argument("--profile", action="store_true", help="profile the service's turn instead")
    parser.add_argument("--report", action="store_true", help="only redraw the table and chart from turn.jsonl")
    args = parser.parse_args()
    args.levels = sorted(int(level) for level in args.levels.split(","))
    args.stacks = [s for s in args.stacks.split(",") if s]
    REPORTS.mkdir(parents=True, exist_ok=True)
    args.jsonl = REPORTS / "turn.jsonl"
    if args.report:
        records = [json.loads(line) for line in args.jsonl.read_text().splitlines()]
        print(table(records))
        chart(records)
        return
    bot = None
    rasa_url = args.rasa_url
    if rasa_url is None:
        rasa_port, actions_port = free_ports(2)
        bot = BotProcesses(rasa_port=rasa_port, actions_port=actions_port)
        print(f"starting the bot (logs in {bot.log_dir})…", flush=True)
        bot.launch()
        rasa_url = bot.url
    try:
        if bot is not None:
            bot.wait_until_ready()
        if not args.profile:
            args.jsonl.write_text("")
        records = asyncio.run(run(args, rasa_url))
    finally:
        if bot is not None:
            bot.terminate()
    if records:
        print()
        print(table(records))
        chart(records)
        print(f"\n{args.jsonl.relative_to(REPORTS.parent.parent)}, reports/bench/turn.png")


if __name__ == "__main__":
    main()
