"""The service's Prometheus metrics: every series is defined here, and nowhere else.

One `Metrics` object per application, on a `CollectorRegistry` of its own (tests
start many applications in one process; the global default registry would
refuse the second). The components get it from `app.py` and call its small
recording methods at the edges — no other module imports `prometheus_client`.
`GET /metrics` (api/ops.py) first reads the queues from the router
(`observe_queues`), then renders `exposition()`. docs/operations.md lists the
series and what each means.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterable, Iterator

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

POOLS = ("ambassador", "advisor")
SOCKET_SIDES = ("visitor", "availability", "agent")
BOT_ERRORS = ("timeout", "unreachable", "http", "bad_answer")
ESCALATION_RESULTS = ("queued", "no_agent")
CONTENT_TYPE = CONTENT_TYPE_LATEST

# Seconds. Waiting for a person is counted in seconds to minutes; a bot turn in
# tens of milliseconds to the timeout; a relay or a transaction in milliseconds.
WAIT_BUCKETS = (1.0, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 180.0, 300.0, 600.0, 1800.0)
BOT_BUCKETS = (0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
FAST_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class Metrics:
    """The series of one running instance, and the methods that record them."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self._queue_length = Gauge(
            "relais_queue_length", "Conversations waiting for a person (offered or not), read from the router at scrape time.",
            ["pool"], registry=r,
        )
        self._queue_oldest = Gauge(
            "relais_queue_oldest_wait_seconds", "How long the longest-waiting conversation has waited, at scrape time (0: none waits).",
            ["pool"], registry=r,
        )
        self._queue_wait = Histogram(
            "relais_queue_wait_seconds", "Time from queued (or requeued) to assigned to a person.",
            ["pool"], buckets=WAIT_BUCKETS, registry=r,
        )
        self._offers_made = Counter("relais_offers_made_total", "Offers of a conversation to an agent.", registry=r)
        self._offers_accepted = Counter("relais_offers_accepted_total", "Offers accepted by their agent.", registry=r)
        self._offers_expired = Counter(
            "relais_offers_expired_total", "Offers that ended unanswered (timed out, agent away or offline).", registry=r
        )
        self._offers_declined = Counter("relais_offers_declined_total", "Offers declined by their agent.", registry=r)
        self._claims = Counter("relais_claims_total", "Waiting conversations taken by an agent from the queue.", registry=r)
        self._escalations = Counter(
            "relais_escalations_total",
            "Requests for a person (handoff requests), by reason, pool asked and result (queued, or no_agent: offline form).",
            ["reason", "pool", "result"], registry=r,
        )
        self._bot_latency = Histogram(
            "relais_bot_latency_seconds", "Time Rasa took to answer one visitor message (answered turns).",
            buckets=BOT_BUCKETS, registry=r,
        )
        self._bot_errors = Counter(
            "relais_bot_errors_total", "Visitor messages the bot could not answer, by kind.", ["kind"], registry=r
        )
        self._relay_latency = Histogram(
            "relais_relay_latency_seconds",
            "Time from a message's append in its unit of work to its publication on the bus (commit included).",
            buckets=FAST_BUCKETS, registry=r,
        )
        self._sockets = Gauge("relais_websockets_open", "Open WebSockets, by side.", ["side"], registry=r)
        self._store = Histogram(
            "relais_store_transaction_seconds", "Duration of one unit of work's store transaction (commit included).",
            ["result"], buckets=FAST_BUCKETS, registry=r,
        )
        # Every labelled series exists from the start (at 0), so dashboards and alerts see it.
        for pool in POOLS:
            self._queue_length.labels(pool)
            self._queue_oldest.labels(pool)
            self._queue_wait.labels(pool)
        for side in SOCKET_SIDES:
            self._sockets.labels(side)
        for kind in BOT_ERRORS:
            self._bot_errors.labels(kind)
        for result in ("ok", "error"):
            self._store.labels(result)

    # --- routing -----------------------------------------------------------------------

    def observe_queues(self, waiting: Iterable[tuple[str, float]], now: float) -> None:
        """Set the queue gauges from every waiting conversation's (pool, enqueued_at)."""
        lengths = dict.fromkeys(POOLS, 0)
        oldest = dict.fromkeys(POOLS, 0.0)
        for pool, enqueued_at in waiting:
            lengths[pool] = lengths.get(pool, 0) + 1
            oldest[pool] = max(oldest.get(pool, 0.0), now - enqueued_at)
        for pool, length in lengths.items():
            self._queue_length.labels(pool).set(length)
            self._queue_oldest.labels(pool).set(oldest[pool])

    def queue_waited(self, pool: str, seconds: float) -> None:
        self._queue_wait.labels(pool).observe(max(seconds, 0.0))

    def offer_made(self) -> None:
        self._offers_made.inc()

    def offer_accepted(self) -> None:
        self._offers_accepted.inc()

    def offer_expired(self) -> None:
        self._offers_expired.inc()

    def offer_declined(self) -> None:
        self._offers_declined.inc()

    def claimed(self) -> None:
        self._claims.inc()

    def escalation(self, reason: str, pool: str, result: str) -> None:
        self._escalations.labels(reason, pool, result).inc()

    # --- bot -----------------------------------------------------------------------------

    def bot_answered(self, seconds: float) -> None:
        self._bot_latency.observe(seconds)

    def bot_error(self, kind: str) -> None:
        self._bot_errors.labels(kind).inc()

    # --- relay, sockets, store -------------------------------------------------------------

    def relayed(self, seconds: float) -> None:
        self._relay_latency.observe(seconds)

    @contextlib.contextmanager
    def socket_open(self, side: str) -> Iterator[None]:
        """Count a WebSocket as open for the duration of the block."""
        gauge = self._sockets.labels(side)
        gauge.inc()
        try:
            yield
        finally:
            gauge.dec()

    @contextlib.contextmanager
    def store_transaction(self) -> Iterator[None]:
        """Time one store transaction, labelled by whether it committed."""
        started = time.perf_counter()
        result = "error"
        try:
            yield
            result = "ok"
        finally:
            self._store.labels(result).observe(time.perf_counter() - started)

    # --- exposition ---------------------------------------------------------------------------

    def exposition(self) -> bytes:
        """The registry in Prometheus' text format (`CONTENT_TYPE`)."""
        return generate_latest(self.registry)
