"""Benchmark of the routing engine alone, no HTTP (run by `make bench`; figures in docs/performance.md).

Drives `RoutingEngine` through its public API only (register_agent, set_presence,
enqueue, release, accept, sweep), so the same script measures the whole-state
engine and the indexed rebuild.

The desk (seeded: every run draws the same): 500 agents online, capacity 3;
85 % ambassadors listing two product categories (domain.PRODUCT_CATEGORIES),
15 % advisors (half generalists, half listing three); languages 40 % fr+en,
35 % fr, 25 % en. Arrivals: 90 % pre-sale (ambassador pool), 10 % advisor pool;
60 % fr, 40 % en; a product category, none for one in ten.

At each level N of waiting conversations (100, 1,000, 10,000, filled one after
the other on one state):

1. fill: visitors ask for a person (`enqueue`) and every offer is accepted at once,
   until N conversations wait: the desk is saturated (each agent holds what fits it,
   up to its capacity) and the rest waits. Bounded by --fill-seconds per level: if
   the engine is too slow to get there, the level reached is what is measured, and
   the output says so (`waiting` < `target_waiting`, `fill_capped`). The first level
   gets twice that, as it first fills the desk's 1,500 places.
2. steady state, for --seconds: a loop that keeps N waiting and the desk saturated.
   One iteration is one escalation served and one arriving:
   - release: the chat held longest ends; the engine offers the freed place to the
     oldest waiting conversation that fits that agent (Offered);
   - accept: the agent accepts that offer (Assigned);
   - enqueue: a new visitor asks for a person: the ticket and its dispatch (usually
     no offer, nobody has room; an offer it makes is accepted, timed as an accept).
   Every engine call is one routing decision and is timed on its own.
   escalations/s = iterations / elapsed; decisions/s = engine calls / elapsed.
3. sweep: `sweep(now)` with nothing due, timed (the service runs it every 0.5 s).

The clock is fake: `now` starts at T0 and moves 1 µs per call, so no timer (offer
timeout, overflow, heartbeat) fires during a run and nothing is slept.

Backends: `memory`; `redis` (one engine, this process); `redis2` (two engines in
two processes on the same key prefix, started together on a barrier, each running
the loop on half the held chats for --seconds; rates are summed, latencies pooled).
Redis is REDIS_URL (default redis://127.0.0.1:6379/14) under a unique key prefix,
whose keys are deleted at the end. Baseline, measured in the same run:
redis-benchmark's PING (-t ping -n 100000, 50 clients; and one client, a plain
round trip); the ratio of our decision p50 to each p50 is printed.

Output: one JSON line per measurement (stdout and reports/bench/routing.jsonl,
rewritten each run), a table, and reports/bench/routing.png (log-log, decisions/s
and decision p99 against waiting conversations, one line per backend).
`--profile N` instead runs the memory backend at N waiting under cProfile and prints
(and writes to reports/bench/routing-profile.txt) the functions it spends its time in;
`--report` redraws the table and chart from routing.jsonl without measuring.

Usage: .venv/bin/python scripts/bench_routing.py [--levels 100,1000,10000] [--seconds 20]
           [--fill-seconds 60] [--backends memory,redis,redis2] [--profile 1000]
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import csv
import io
import json
import multiprocessing
import os
import pstats
import random
import shutil
import subprocess
import time
import uuid
from collections import defaultdict, deque
from collections.abc import Awaitable, Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import urlsplit

from benchlib import REPORTS, delete_redis_keys, emit, p50_p99_ms

from handoff.config import RoutingSettings
from handoff.domain import PRODUCT_CATEGORIES, HandoffReason, Pool, Presence
from handoff.routing.engine import RoutingEngine
from handoff.routing.memory import MemoryRoutingBackend
from handoff.routing.outcomes import Offered, Outcome
from handoff.routing.redis import RedisRoutingBackend

T = TypeVar("T")
AGENTS = 500
CAPACITY = 3
SEED = 20261201
T0 = 1_900_000_000.0
TICK = 1e-6
DECISIONS = ("release", "accept", "enqueue")
REASON = HandoffReason.REQUESTED.value
BACKEND_LABELS = {"memory": "memory", "redis": "Redis, 1 engine", "redis2": "Redis, 2 engines (2 processes)"}
# The workload's mix (see the module docstring), as weights.
AGENT_LANGUAGES = {("fr", "en"): 40, ("fr",): 35, ("en",): 25}
AGENT_POOLS = {Pool.AMBASSADOR: 85, Pool.ADVISOR: 15}
ARRIVAL_LANGUAGES = {"fr": 60, "en": 40}
ARRIVAL_POOLS = {Pool.AMBASSADOR: 90, Pool.ADVISOR: 10}
ARRIVALS_WITHOUT_SKILL = 0.1


def _draw(rng: random.Random, weights: dict[T, int]) -> T:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


# --- the workload ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AgentProfile:
    agent_id: str
    pool: Pool
    languages: tuple[str, ...]
    skills: tuple[str, ...]


def the_desk(count: int = AGENTS, seed: int = SEED) -> list[AgentProfile]:
    rng = random.Random(seed)
    desk = []
    for n in range(count):
        languages = _draw(rng, AGENT_LANGUAGES)
        pool = _draw(rng, AGENT_POOLS)
        if pool is Pool.AMBASSADOR:
            skills = tuple(rng.sample(PRODUCT_CATEGORIES, 2))
        else:  # half generalists
            skills = () if rng.random() < 0.5 else tuple(rng.sample(PRODUCT_CATEGORIES, 3))
        desk.append(AgentProfile(f"agent-{n:03d}", pool, languages, skills))
    return desk


class Arrivals:
    """Visitors asking for a person, with unique conversation ids (one stream per process)."""

    def __init__(self, prefix: str, seed: int) -> None:
        self.prefix = prefix
        self.rng = random.Random(seed)
        self.count = 0

    def next(self) -> tuple[str, Pool, str, str | None]:
        self.count += 1
        pool = _draw(self.rng, ARRIVAL_POOLS)
        language = _draw(self.rng, ARRIVAL_LANGUAGES)
        skill = None if self.rng.random() < ARRIVALS_WITHOUT_SKILL else self.rng.choice(PRODUCT_CATEGORIES)
        return f"{self.prefix}{self.count}", pool, language, skill


class FakeClock:
    def __init__(self, start: float) -> None:
        self.now = start

    def __call__(self) -> float:
        self.now += TICK
        return self.now


@dataclass
class Driver:
    """One engine's side of the workload: the chats it accepted (oldest first), its arrivals,
    how many more conversations it enqueued than it got assigned, and the time of each call."""

    engine: RoutingEngine
    arrivals: Arrivals
    clock: FakeClock
    held: deque[tuple[str, str]] = field(default_factory=deque)  # (conversation_id, agent_id)
    waiting_delta: int = 0
    errors: int = 0
    timings: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))

    async def _timed(self, operation: str, call: Awaitable[T]) -> T:
        started = time.perf_counter()
        result = await call
        self.timings[operation].append(time.perf_counter() - started)
        return result

    async def accept_offers(self, outcomes: Iterable[Outcome]) -> None:
        for outcome in outcomes:
            if isinstance(outcome, Offered):
                await self._timed("accept", self.engine.accept(outcome.conversation_id, outcome.agent_id, self.clock()))
                self.held.append((outcome.conversation_id, outcome.agent_id))
                self.waiting_delta -= 1

    async def arrive(self) -> None:
        conversation_id, pool, language, skill = self.arrivals.next()
        outcomes = await self._timed(
            "enqueue", self.engine.enqueue(conversation_id, pool, language, skill, self.clock(), reason=REASON)
        )
        self.waiting_delta += 1
        await self.accept_offers(outcomes)

    async def serve_one(self) -> None:
        conversation_id, agent_id = self.held.popleft()
        try:
            outcomes = await self._timed("release", self.engine.release(conversation_id, agent_id, self.clock()))
        except RuntimeError:  # the Redis backend gave up under contention: the chat is still held
            self.errors += 1
            self.held.appendleft((conversation_id, agent_id))
            return
        await self.accept_offers(outcomes)

    async def steady(self, seconds: float) -> tuple[int, float]:
        """The steady-state loop for `seconds`; returns (iterations, elapsed seconds)."""
        self.timings = defaultdict(list)
        iterations, started = 0, time.perf_counter()
        while time.perf_counter() - started < seconds and self.held:
            try:
                await self.serve_one()
                await self.arrive()
            except RuntimeError:
                self.errors += 1
                continue
            iterations += 1
        return iterations, time.perf_counter() - started

    async def sweeps(self, seconds: float, count: int = 50) -> list[float]:
        durations: list[float] = []
        started = time.perf_counter()
        while len(durations) < count and time.perf_counter() - started < seconds:
            began = time.perf_counter()
            outcomes = await self.engine.sweep(self.clock())
            durations.append(time.perf_counter() - began)
            await self.accept_offers(outcomes)
        return durations


async def open_desk(engine: RoutingEngine, clock: FakeClock) -> None:
    for agent in the_desk():
        await engine.register_agent(agent.agent_id, agent.pool, agent.languages, agent.skills, CAPACITY)
        await engine.set_presence(agent.agent_id, Presence.ONLINE, clock())


async def fill(driver: Driver, waiting: int, target: int, seconds: float) -> tuple[int, float, bool]:
    """Enqueue arrivals until `target` wait (or `seconds` pass); return (waiting, elapsed, capped)."""
    started = time.perf_counter()
    before = driver.waiting_delta
    while waiting + driver.waiting_delta - before < target:
        if time.perf_counter() - started > seconds:
            return waiting + driver.waiting_delta - before, time.perf_counter() - started, True
        await driver.arrive()
    return waiting + driver.waiting_delta - before, time.perf_counter() - started, False


# --- one measurement ----------------------------------------------------------------------


def measurement(backend: str, engines: int, target: int, waiting_start: int, waiting_end: int, fill_seconds: float,
                fill_capped: bool, iterations: int, elapsed: float, timings: dict[str, list[float]],
                sweeps: list[float], free_places: int, errors: int, baseline: dict[str, Any]) -> dict[str, Any]:
    decisions = [d for op in DECISIONS for d in timings.get(op, [])]
    p50, p99 = p50_p99_ms(decisions)
    record: dict[str, Any] = {
        "bench": "routing", "backend": backend, "engines": engines, "agents": AGENTS, "capacity": CAPACITY,
        "target_waiting": target, "waiting": waiting_start, "waiting_end": waiting_end,
        "reached_target": waiting_start >= target, "fill_seconds": round(fill_seconds, 1), "fill_capped": fill_capped,
        "free_places": free_places, "seconds": round(elapsed, 2), "iterations": iterations,
        "escalations_per_s": round(iterations / elapsed, 1) if elapsed else None,
        "decisions": len(decisions), "decisions_per_s": round(len(decisions) / elapsed, 1) if elapsed else None,
        "decision_p50_ms": p50, "decision_p99_ms": p99,
    }
    for op in DECISIONS:
        record[f"{op}_p50_ms"], record[f"{op}_p99_ms"] = p50_p99_ms(timings.get(op, []))
    record["sweep_p50_ms"], record["sweep_p99_ms"] = p50_p99_ms(sweeps)
    record["sweeps"] = len(sweeps)
    record["errors"] = errors
    for name in ("ping_c50_p50_ms", "ping_c1_p50_ms"):
        if p50 is not None and baseline.get(name):
            record[f"p50_over_{name.removesuffix('_p50_ms')}"] = round(p50 / baseline[name], 1)
    return record


# --- memory and Redis, one engine ------------------------------------------------------------


async def one_engine(backend_name: str, engine: RoutingEngine, args: argparse.Namespace, baseline: dict[str, Any],
                     redis2: RedisTwin | None = None) -> list[dict[str, Any]]:
    clock = FakeClock(T0)
    await open_desk(engine, clock)
    driver = Driver(engine, Arrivals("c-", SEED + 1), clock)
    records = []
    waiting = 0
    for level, target in enumerate(args.levels):
        # The first level also fills the desk (every place taken) before anyone waits: twice the time.
        budget = args.fill_seconds * (2 if level == 0 else 1)
        waiting, fill_seconds, capped = await fill(driver, waiting, target, budget)
        driver.waiting_delta = 0
        print(f"# {backend_name}: {waiting} waiting (target {target}) after {fill_seconds:.1f} s of filling"
              + (" - fill capped" if capped else ""), flush=True)
        free = AGENTS * CAPACITY - len(driver.held)
        iterations, elapsed = await driver.steady(args.seconds)
        sweeps = await driver.sweeps(min(10.0, args.seconds / 2))
        end = waiting + driver.waiting_delta
        records.append(measurement(backend_name, 1, target, waiting, end, fill_seconds, capped, iterations, elapsed,
                                   driver.timings, sweeps, free, driver.errors, baseline))
        emit(records[-1], args.jsonl)
        waiting, driver.waiting_delta, driver.errors = end, 0, 0
        if redis2 is not None:
            record, waiting, clock.now = redis2.run(driver, waiting, target, fill_seconds, capped, clock.now, args)
            records.append(record)
            emit(record, args.jsonl)
    return records


# --- Redis, two engines in two processes ------------------------------------------------------


@dataclass
class RedisTwin:
    """Runs the steady loop in two processes on the state one_engine() built, then hands it back."""

    url: str
    prefix: str
    baseline: dict[str, Any]
    round: int = 0

    def run(self, driver: Driver, waiting: int, target: int, fill_seconds: float, capped: bool, now: float,
            args: argparse.Namespace) -> tuple[dict[str, Any], int, float]:
        self.round += 1
        context = multiprocessing.get_context("spawn")
        barrier = context.Barrier(3)
        results = context.Queue()
        halves: list[list[tuple[str, str]]] = [list(driver.held)[0::2], list(driver.held)[1::2]]
        workers = [
            context.Process(target=_twin_worker, args=(self.url, self.prefix, halves[n], f"r{self.round}p{n}-",
                                                       SEED + 10 * self.round + n, now, args.seconds, barrier, results))
            for n in range(2)
        ]
        for worker in workers:
            worker.start()
        barrier.wait(timeout=120)
        # Each loop stops after `seconds`, its sweeps after half that; one engine call may still be slow.
        outputs = [results.get(timeout=2 * args.seconds + 300) for _ in workers]
        for worker in workers:
            worker.join()
        failed = [out["error"] for out in outputs if "error" in out]
        if failed:
            raise RuntimeError(f"a two-engine worker failed: {failed}")
        merged = sorted((held for out in outputs for held in out["held"]), key=lambda held: held[2])
        driver.held = deque((cid, agent) for cid, agent, _ in merged)
        timings: dict[str, list[float]] = defaultdict(list)
        for out in outputs:
            for op, samples in out["timings"].items():
                timings[op].extend(samples)
        elapsed = max(out["elapsed"] for out in outputs)
        iterations = sum(out["iterations"] for out in outputs)
        end = waiting + sum(out["waiting_delta"] for out in outputs)
        sweeps = [d for out in outputs for d in out["sweeps"]]
        free = AGENTS * CAPACITY - len(driver.held)
        record = measurement("redis2", 2, target, waiting, end, fill_seconds, capped, iterations, elapsed, timings,
                             sweeps, free, sum(out["errors"] for out in outputs), self.baseline)
        return record, end, max(out["now"] for out in outputs)


def _twin_worker(url: str, prefix: str, held: list[tuple[str, str]], arrivals_prefix: str, seed: int, now: float,
                 seconds: float, barrier: Any, results: Any) -> None:
    try:
        results.put(asyncio.run(_twin_main(url, prefix, held, arrivals_prefix, seed, now, seconds, barrier)))
    except Exception as error:  # reported to the parent, which would otherwise wait for a result forever
        results.put({"error": repr(error)})


async def _twin_main(url: str, prefix: str, held: list[tuple[str, str]], arrivals_prefix: str, seed: int, now: float,
                     seconds: float, barrier: Any) -> dict[str, Any]:
    backend = RedisRoutingBackend(url, key_prefix=prefix)
    await backend.start()
    try:
        driver = Driver(RoutingEngine(backend, RoutingSettings()), Arrivals(arrivals_prefix, seed), FakeClock(now),
                        deque(held))
        barrier.wait(timeout=120)
        iterations, elapsed = await driver.steady(seconds)
        # Both processes sweep at once too: what two instances' timers cost together.
        sweeps = await driver.sweeps(min(10.0, seconds / 2))
        return {
            "iterations": iterations, "elapsed": elapsed, "timings": dict(driver.timings), "sweeps": sweeps,
            # with its rank, to merge both processes' chats back into one oldest-first order
            "held": [(cid, agent, rank) for rank, (cid, agent) in enumerate(driver.held)],
            "waiting_delta": driver.waiting_delta, "errors": driver.errors, "now": driver.clock.now,
        }
    finally:
        await backend.close()


# --- baseline, table, chart ----------------------------------------------------------------------


def redis_baseline(url: str) -> dict[str, Any]:
    """redis-benchmark's PING p50 (ms): the issue's command (50 clients), and one client."""
    if shutil.which("redis-benchmark") is None:
        return {"bench": "redis-benchmark", "error": "redis-benchmark not found"}
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", str(parts.port or 6379)
    record: dict[str, Any] = {"bench": "redis-benchmark", "host": host, "port": int(port)}
    for name, extra in (("ping_c50", ["-n", "100000"]), ("ping_c1", ["-c", "1", "-n", "20000"])):
        command = ["redis-benchmark", "-h", host, "-p", port, "-t", "ping", *extra, "--csv"]
        done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=True)
        rows = {row["test"]: row for row in csv.DictReader(io.StringIO(done.stdout))}
        row = rows["PING_MBULK"]
        record[f"{name}_rps"] = float(row["rps"])
        record[f"{name}_p50_ms"] = float(row["p50_latency_ms"])
        record[f"{name}_p99_ms"] = float(row["p99_latency_ms"])
        record[f"{name}_command"] = " ".join(command)
    return record


def _cell(p50: float | None, p99: float | None) -> str:
    return "—" if p50 is None else f"{p50:.2f} / {p99:.2f}"


def table(records: list[dict[str, Any]]) -> str:
    heading = ("| backend | waiting (target) | free places | escalations/s | decisions/s | decision p50 / p99 ms | enqueue p50 / p99 ms"
               " | release p50 / p99 ms | accept p50 / p99 ms | sweep p50 / p99 ms | p50 ÷ PING p50 (50 clients / 1) |")
    lines = [heading, "|" + "---|" * heading.count(" | ") + "---|"]
    for r in records:
        ratio = f"{r.get('p50_over_ping_c50', '—')} / {r.get('p50_over_ping_c1', '—')}"
        waiting = f"{r['waiting']:,}" + ("" if r["reached_target"] else f" ({r['target_waiting']:,}, fill capped)")
        lines.append(
            f"| {BACKEND_LABELS[r['backend']]} | {waiting} | {r['free_places']} | {r['escalations_per_s']} | {r['decisions_per_s']} | "
            f"{_cell(r['decision_p50_ms'], r['decision_p99_ms'])} | {_cell(r['enqueue_p50_ms'], r['enqueue_p99_ms'])} | "
            f"{_cell(r['release_p50_ms'], r['release_p99_ms'])} | {_cell(r['accept_p50_ms'], r['accept_p99_ms'])} | "
            f"{_cell(r['sweep_p50_ms'], r['sweep_p99_ms'])} | {ratio} |"
        )
    return "\n".join(lines)


def chart(records: list[dict[str, Any]], path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (rates, p99s) = plt.subplots(1, 2, figsize=(11, 4.5))
    for backend, label in BACKEND_LABELS.items():
        rows = sorted((r for r in records if r["backend"] == backend and r["decisions"]), key=lambda r: r["waiting"])
        if not rows:
            continue
        waiting = [max(1, r["waiting"]) for r in rows]
        for axes, key in ((rates, "decisions_per_s"), (p99s, "decision_p99_ms")):
            (line,) = axes.plot(waiting, [r[key] for r in rows], marker="o", label=label)
            short = [(w, r[key]) for w, r in zip(waiting, rows, strict=True) if not r["reached_target"]]
            if short:  # a hollow marker: the level the fill reached before its time ran out, not the target
                axes.plot(*zip(*short, strict=True), linestyle="none", marker="o", markersize=11,
                          color=line.get_color(), markerfacecolor="white", zorder=1)
    for axes, title in ((rates, "routing decisions/s"), (p99s, "decision p99 (ms)")):
        axes.set_xscale("log")
        axes.set_yscale("log")
        axes.set_xlabel("waiting conversations (0 drawn at 1)")
        axes.set_title(title)
        axes.grid(True, which="both", alpha=0.3)
        axes.legend()
    figure.suptitle(f"Routing engine, {AGENTS} agents online (capacity {CAPACITY}), steady state"
                    " (ringed: fill capped below the target level)")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


# --- main -----------------------------------------------------------------------------------------


async def run(args: argparse.Namespace) -> list[dict[str, Any]]:
    baseline: dict[str, Any] = {}
    if {"redis", "redis2"} & set(args.backends):
        baseline = redis_baseline(args.redis_url)
        emit(baseline, args.jsonl)
    records: list[dict[str, Any]] = []
    if "memory" in args.backends:
        records += await one_engine("memory", RoutingEngine(MemoryRoutingBackend(), RoutingSettings()), args, baseline)
    if {"redis", "redis2"} & set(args.backends):
        prefix = f"bench:routing:{uuid.uuid4().hex}:"
        backend = RedisRoutingBackend(args.redis_url, key_prefix=prefix)
        await backend.start()
        twin = RedisTwin(args.redis_url, prefix, baseline) if "redis2" in args.backends else None
        try:
            measured = await one_engine("redis", RoutingEngine(backend, RoutingSettings()), args, baseline, twin)
            records += [r for r in measured if r["backend"] in args.backends]
        finally:
            await backend.close()
            await delete_redis_keys(args.redis_url, prefix)
    return records


async def profile(args: argparse.Namespace) -> None:
    engine = RoutingEngine(MemoryRoutingBackend(), RoutingSettings())
    clock = FakeClock(T0)
    await open_desk(engine, clock)
    driver = Driver(engine, Arrivals("c-", SEED + 1), clock)
    waiting, fill_seconds, capped = await fill(driver, 0, args.profile, 2 * args.fill_seconds)  # desk, then queue
    profiler = cProfile.Profile()
    profiler.enable()
    iterations, elapsed = await driver.steady(args.seconds)
    profiler.disable()
    out = io.StringIO()
    out.write(f"memory backend, {waiting} waiting (target {args.profile}, filled in {fill_seconds:.1f} s"
              f"{', capped' if capped else ''}), {iterations} iterations in {elapsed:.1f} s under cProfile\n")
    for order in ("tottime", "cumulative"):
        stats = pstats.Stats(profiler, stream=out)
        stats.strip_dirs().sort_stats(order).print_stats(20)
    print(out.getvalue())
    (REPORTS / "routing-profile.txt").write_text(out.getvalue())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--levels", default="100,1000,10000", help="waiting conversations, comma-separated, rising")
    parser.add_argument("--seconds", type=float, default=20.0, help="steady-state loop per level and backend")
    parser.add_argument("--fill-seconds", type=float, default=60.0, help="at most this long to fill each level")
    parser.add_argument("--backends", default="memory,redis,redis2")
    parser.add_argument("--redis-url", default=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/14"))
    parser.add_argument("--profile", type=int, metavar="N", help="profile the memory backend at N waiting instead")
    parser.add_argument("--report", action="store_true", help="only redraw the table and chart from routing.jsonl")
    args = parser.parse_args()
    args.levels = sorted(int(level) for level in args.levels.split(","))
    args.backends = [b for b in args.backends.split(",") if b]
    unknown = set(args.backends) - set(BACKEND_LABELS)
    if unknown:
        parser.error(f"unknown backends: {', '.join(sorted(unknown))}")
    REPORTS.mkdir(parents=True, exist_ok=True)
    if args.profile:
        asyncio.run(profile(args))
        return
    args.jsonl = REPORTS / "routing.jsonl"
    if args.report:
        records = [r for r in map(json.loads, args.jsonl.read_text().splitlines()) if r.get("bench") == "routing"]
        print(table(records))
        chart(records, str(REPORTS / "routing.png"))
        return
    args.jsonl.write_text("")
    started = time.perf_counter()
    records = asyncio.run(run(args))
    print()
    print(table(records))
    chart(records, str(REPORTS / "routing.png"))
    print(f"\n{len(records)} measurements in {time.perf_counter() - started:.0f} s; "
          f"{args.jsonl.relative_to(REPORTS.parent.parent)}, reports/bench/routing.png")
    if any(not r["reached_target"] for r in records):
        print("some levels were not reached within --fill-seconds: their row gives the level measured")


if __name__ == "__main__":
    main()
