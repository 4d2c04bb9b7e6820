"""Committed messages per second through `ConversationService.append` (run by `make bench`;
figures in docs/benchmarks.md).

On a SQLite file and, when DATABASE_URL is set, on PostgreSQL: for each level of
concurrent writers (`--levels`, default 1, 10, 100), each writer appends to its own
conversation in a loop for `--seconds`; every append is the one-message unit of
work the service uses (the next sequence number, the row, the commit, the
`message` event published after it on an in-memory bus with no subscriber, so
only the store is measured). Baseline in the same run, same engine settings and
writers: a bare one-row `INSERT` and `COMMIT` into a scratch table (SQLAlchemy
Core), what the database gives a transaction that writes one row.

Issue 11's targets: ≥ 1,000 committed/s on SQLite, ≥ 3,000 on PostgreSQL.

Output: one JSON line per level and store (stdout, reports/bench/store.jsonl), a table
and reports/bench/store.png (log-log: messages/s and p99 against writers).

Usage: .venv/bin/python scripts/bench_store.py [--levels 1,10,100] [--seconds 5] [--stores sqlite,postgresql]
           [--report]
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import os
import tempfile
import time
from collections.abc import Awaitable, Callable
from typing import Any

from benchlib import REPORTS, emit, loglog_chart, p50_p99_ms
from sqlalchemy import Column, DateTime, Integer, MetaData, Table, insert

from handoff.conversations import ConversationService
from handoff.domain import SenderKind
from handoff.realtime.memory import MemoryBus
from handoff.store import open_store
from handoff.store.database import create_engine, utcnow

TARGETS = {"sqlite": 1000, "postgresql": 3000}
LABELS = {"sqlite": "SQLite file", "postgresql": "PostgreSQL"}
scratch = Table("bench_commit", MetaData(), Column("id", Integer, primary_key=True, autoincrement=True),
                Column("writer", Integer), Column("at", DateTime(timezone=True)))


async def _loop(writers: int, seconds: float, write: Callable[[int], Awaitable[None]]) -> tuple[int, float, list[float]]:
    durations: list[float] = []

    async def writer(number: int) -> None:
        while time.perf_counter() < deadline:
            began = time.perf_counter()
            await write(number)
            durations.append(time.perf_counter() - began)

    started = time.perf_counter()
    deadline = started + seconds
    await asyncio.gather(*(writer(n) for n in range(writers)))
    return len(durations), time.perf_counter() - started, durations


async def _store(name: str, url: str, args: argparse.Namespace) -> list[dict[str, Any]]:
    store = await open_store(url)
    conversations = ConversationService(store, MemoryBus())
    bare = create_engine(url)
    async with bare.begin() as connection:
        await connection.run_sync(scratch.drop, checkfirst=True)
        await connection.run_sync(scratch.create)
    records = []
    try:
        for writers in args.levels:
            ids = [(await conversations.start("fr", None))[0].id for _ in range(writers)]

            async def append(number: int, ids: list[str] = ids) -> None:
                await conversations.append(ids[number], SenderKind.VISITOR, "bench message")

            async def bare_insert(number: int) -> None:
                async with bare.begin() as connection:
                    await connection.execute(insert(scratch).values(writer=number, at=utcnow()))

            appended = await _loop(writers, args.seconds, append)
            inserted = await _loop(writers, args.seconds, bare_insert)
            record: dict[str, Any] = {"bench": "store", "store": name, "writers": writers,
                                      "appends": appended[0], "appends_per_s": round(appended[0] / appended[1]),
                                      "bare_commits_per_s": round(inserted[0] / inserted[1])}
            record["append_p50_ms"], record["append_p99_ms"] = p50_p99_ms(appended[2])
            record["bare_p50_ms"], record["bare_p99_ms"] = p50_p99_ms(inserted[2])
            record["append_over_bare"] = round(record["appends_per_s"] / record["bare_commits_per_s"], 3)
            record["target_per_s"] = TARGETS[name]
            record["met"] = record["appends_per_s"] >= TARGETS[name]
            emit(record, args.jsonl)
            records.append(record)
    finally:
        async with bare.begin() as connection:
            await connection.run_sync(scratch.drop, checkfirst=True)
        await bare.dispose()
        await store.close()
    return records


def table(records: list[dict[str, Any]]) -> str:
    lines = ["| store | writers | appends/s (target) | append p50 / p99 ms | bare INSERT+COMMIT/s | bare p50 / p99 ms"
             " | appends ÷ bare |", "|---|---|---|---|---|---|---|"]
    for r in records:
        verdict = "met" if r["met"] else "missed"
        lines.append(f"| {LABELS[r['store']]} | {r['writers']} | {r['appends_per_s']:,} (≥ {r['target_per_s']:,}: {verdict})"
                     f" | {r['append_p50_ms']:.2f} / {r['append_p99_ms']:.2f} | {r['bare_commits_per_s']:,} | "
                     f"{r['bare_p50_ms']:.2f} / {r['bare_p99_ms']:.2f} | {r['append_over_bare']} |")
    return "\n".join(lines)


def chart(records: list[dict[str, Any]]) -> None:
    rates: dict[str, list[tuple[float, float]]] = collections.defaultdict(list)
    p99s: dict[str, list[tuple[float, float]]] = collections.defaultdict(list)
    for r in records:
        rates[f"append, {LABELS[r['store']]}"].append((r["writers"], r["appends_per_s"]))
        rates[f"bare INSERT+COMMIT, {LABELS[r['store']]}"].append((r["writers"], r["bare_commits_per_s"]))
        p99s[f"append, {LABELS[r['store']]}"].append((r["writers"], r["append_p99_ms"]))
        p99s[f"bare INSERT+COMMIT, {LABELS[r['store']]}"].append((r["writers"], r["bare_p99_ms"]))
    loglog_chart(REPORTS / "store.png", "Committed messages through ConversationService.append",
                 [("committed/s", "concurrent writers", dict(rates)), ("p99 (ms)", "concurrent writers", dict(p99s))])


async def run(args: argparse.Namespace) -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = []
    if "sqlite" in args.stores:
        with tempfile.TemporaryDirectory() as tmp:
            records += await _store("sqlite", f"sqlite+aiosqlite:///{tmp}/bench.db", args)
    if "postgresql" in args.stores and os.environ.get("DATABASE_URL"):
        records += await _store("postgresql", os.environ["DATABASE_URL"], args)
    return records


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--levels", default="1,10,100", help="concurrent writers, comma-separated")
    parser.add_argument("--seconds", type=float, default=5.0, help="per level, store and side")
    parser.add_argument("--stores", default="sqlite,postgresql")
    parser.add_argument("--report", action="store_true", help="only redraw the table and chart from store.jsonl")
    args = parser.parse_args()
    args.levels = sorted(int(level) for level in args.levels.split(","))
    args.stores = [s for s in args.stores.split(",") if s]
    REPORTS.mkdir(parents=True, exist_ok=True)
    args.jsonl = REPORTS / "store.jsonl"
    if args.report:
        records = [json.loads(line) for line in args.jsonl.read_text().splitlines()]
    else:
        args.jsonl.write_text("")
        records = asyncio.run(run(args))
    print()
    print(table(records))
    chart(records)
    print("\nreports/bench/store.jsonl, reports/bench/store.png")


if __name__ == "__main__":
    main()
