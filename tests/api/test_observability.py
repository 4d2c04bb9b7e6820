"""Operating the service: /metrics moves with what happens, /readyz says what is down,
/healthz only that the process answers, every request has an id that its log records
carry, and no token reaches a log (docs/operations.md)."""

from __future__ import annotations

import contextlib
import io
import json
import logging
from collections.abc import AsyncIterator, Iterator

import pytest
from aiohttp.test_utils import TestServer
from prometheus_client.parser import text_string_to_metric_families

from handoff.app import create_app
from handoff.observability.logs import access_log_options, configure_logging, redact
from tests.support.misbehaving_rasa import MisbehavingRasa
from tests.support.redis_server import RedisServer, own_redis_server
from tests.support.service import (
    RunningService,
    ServiceFactory,
    add_agent,
    agent_socket,
    close_within_bound,
    visitor_socket,
    wait_for,
)

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


async def scrape(service: RunningService) -> Samples:
    async with service.http.get(service.url + "/metrics") as response:
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/plain; version=")
        text = await response.text()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples[(name, tuple(sorted(labels.items())))]


async def test_metrics_follow_a_bot_turn_a_handoff_and_the_sockets(
    service_factory: ServiceFactory, misbehaving_rasa: MisbehavingRasa
) -> None:
    service = await service_factory(rasa_url=misbehaving_rasa.url)
    await add_agent(service.settings, "alice")
    before = await scrape(service)
    for name in ("relais_offers_made_total", "relais_offers_accepted_total", "relais_offers_expired_total",
                 "relais_bot_latency_seconds_count", "relais_relay_latency_seconds_count"):
        assert value(before, name) == 0, name
    assert value(before, "relais_websockets_open", side="visitor") == 0
    assert value(before, "relais_queue_length", pool="ambassador") == 0

    conversation = await service.start_conversation("en")
    cid = conversation["conversation_id"]
    await service.say(conversation, "hello")
    after_turn = await scrape(service)
    assert value(after_turn, "relais_bot_latency_seconds_count") == 1
    assert value(after_turn, "relais_relay_latency_seconds_count") >= 2  # the visitor's message and the bot's reply
    assert value(after_turn, "relais_store_transaction_seconds_count", result="ok") >= 2

    misbehaving_rasa.behaviour = "error"
    await service.say(conversation, "and now?")
    assert value(await scrape(service), "relais_bot_errors_total", kind="http") == 1
    misbehaving_rasa.behaviour = "answer"

    visitor = await visitor_socket(service, conversation)
    alice = await service.go_online("alice")
    console = await agent_socket(service, alice)
    await console.next_of("queue")
    sockets = await scrape(service)
    assert value(sockets, "relais_websockets_open", side="visitor") == 1
    assert value(sockets, "relais_websockets_open", side="agent") == 1

    await service.ask_human(conversation)
    await service.await_offer(alice, cid)
    offered = await scrape(service)
    assert value(offered, "relais_escalations_total", reason="requested", pool="ambassador", result="queued") == 1
    assert value(offered, "relais_offers_made_total") == 1
    assert value(offered, "relais_queue_length", pool="ambassador") == 1
    assert value(offered, "relais_queue_oldest_wait_seconds", pool="ambassador") >= 0

    status, _ = await service.call("POST", f"/api/conversations/{cid}/accept", token=alice)
    assert status == 200
    accepted = await scrape(service)
    assert value(accepted, "relais_offers_accepted_total") == 1
    assert value(accepted, "relais_queue_wait_seconds_count", pool="ambassador") == 1
    assert value(accepted, "relais_queue_length", pool="ambassador") == 0

    await visitor.close()
    await console.close()

    async def sockets_closed() -> bool:
        now = await scrape(service)
        return value(now, "relais_websockets_open", side="visitor") == value(now, "relais_websockets_open", side="agent") == 0

    await wait_for(sockets_closed)


async def test_registries_are_per_instance(service_factory: ServiceFactory, misbehaving_rasa: MisbehavingRasa) -> None:
    first = await service_factory(rasa_url=misbehaving_rasa.url)
    second = await service_factory(rasa_url=misbehaving_rasa.url)
    await first.say(await first.start_conversation("en"), "hello")
    assert value(await scrape(first), "relais_bot_latency_seconds_count") == 1
    assert value(await scrape(second), "relais_bot_latency_seconds_count") == 0


async def test_liveness_and_readiness(service_factory: ServiceFactory, misbehaving_rasa: MisbehavingRasa) -> None:
    service = await service_factory(rasa_url=misbehaving_rasa.url)
    status, live = await service.call("GET", "/healthz")
    assert (status, live) == (200, {"status": "ok"})
    status, ready = await service.call("GET", "/readyz")
    expected = {"store": "ok", "rasa": "ok"} | ({"redis": "ok"} if service.settings.backend == "redis" else {})
    assert (status, ready) == (200, {"status": "ready", "checks": expected})

    status, document = await service.call("GET", "/api/openapi.json")
    assert {"/healthz", "/readyz", "/metrics"} <= set(document["paths"])

    bot_down = await service_factory()  # the bot points at a closed port
    status, ready = await bot_down.call("GET", "/readyz")
    # Without the bot the service still serves (visitors reach people): degraded, not out of rotation.
    assert status == 200 and ready["status"] == "degraded" and ready["degraded"] == ["rasa"], ready
    status, _ = await bot_down.call("GET", "/healthz")
    assert status == 200


@pytest.fixture
async def own_redis() -> AsyncIterator[RedisServer]:
    async with own_redis_server() as server:
        yield server


async def test_readiness_names_redis_when_it_is_gone_and_recovers(
    service_factory: ServiceFactory, misbehaving_rasa: MisbehavingRasa, own_redis: RedisServer
) -> None:
    service = await service_factory(backend="redis", redis_url=own_redis.url, rasa_url=misbehaving_rasa.url)
    status, ready = await service.call("GET", "/readyz")
    assert status == 200 and ready["checks"]["redis"] == "ok", ready

    await own_redis.stop()
    status, ready = await service.call("GET", "/readyz")
    assert status == 503 and ready["down"] == ["redis"], ready
    assert ready["checks"] == {"store": "ok", "redis": "down", "rasa": "ok"}
    status, _ = await service.call("GET", "/healthz")
    assert status == 200  # alive: a restart would not bring Redis back

    await own_redis.start()

    async def ready_again() -> bool:
        status, _ = await service.call("GET", "/readyz")
        return status == 200

    await wait_for(ready_again)
    await service.stop()  # while its Redis is there to say goodbye to


async def test_request_id_round_trip(service_factory: ServiceFactory) -> None:
    service = await service_factory()
    async with service.http.get(service.url + "/healthz", headers={"X-Request-Id": "edge-42.a:b"}) as response:
        assert response.headers["X-Request-Id"] == "edge-42.a:b"
    for unsafe in ("has spaces", "x" * 65, "<script>", "a\u00e9"):
        async with service.http.get(service.url + "/api/availability", headers={"X-Request-Id": unsafe}) as response:
            made = response.headers["X-Request-Id"]
            assert made != unsafe and len(made) == 32 and int(made, 16) >= 0
    async with service.http.get(service.url + "/api/nothing-here") as response:  # errors carry it too
        assert response.status == 404 and len(response.headers["X-Request-Id"]) == 32


@contextlib.contextmanager
def captured_logs(fmt: str) -> Iterator[io.StringIO]:
    """What `relais run` would write, with `configure_logging(fmt)`."""
    stream = io.StringIO()
    root = logging.getLogger()
    level = root.level
    handler = configure_logging(fmt, "INFO", stream)
    try:
        yield stream
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


async def test_json_logs_carry_the_request_id(service_factory: ServiceFactory) -> None:
    service = await service_factory()  # the bot is down: /readyz logs why, inside the request
    with captured_logs("json") as stream:
        status, _ = await service.call("GET", "/readyz", headers={"X-Request-Id": "probe-7"})
    assert status == 200  # degraded: served without the bot
    records = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert {"time", "level", "logger", "message", "request_id"} <= set(records[0])
    readiness = [r for r in records if r["logger"] == "handoff.observability.health"]
    assert readiness and all(r["request_id"] == "probe-7" and r["level"] == "WARNING" for r in readiness)
    assert "rasa is down" in readiness[0]["message"]


SECRET = "s3cret-visitor-token"


@pytest.mark.parametrize("fmt", ["text", "json"])
async def test_access_log_has_no_token(service_factory: ServiceFactory, fmt: str) -> None:
    """aiohttp's own access log (as TestServer runs it) goes through the redacting handler."""
    service = await service_factory()
    with captured_logs(fmt) as stream:
        async with service.http.get(service.url + f"/ws/visitor?conversation_id=c_nope&token={SECRET}") as response:
            assert response.status == 400  # never accepted in a URL, and still redacted from the log
        await wait_for(lambda: _contains(stream, "/ws/visitor"))
    logged = stream.getvalue()
    assert SECRET not in logged
    assert "token=[redacted]" in logged


async def test_relais_access_log_is_structured_and_redacted(service_factory: ServiceFactory) -> None:
    """The access logger `relais run` uses: one record per request, with fields."""
    base = await service_factory()
    server = TestServer(create_app(base.settings), host="127.0.0.1")
    await server.start_server(**access_log_options())
    try:
        with captured_logs("json") as stream:
            url = str(server.make_url(f"/ws/agent?token={SECRET}"))
            async with base.http.get(url, headers={"X-Request-Id": "edge-9", "Authorization": f"Bearer {SECRET}"}) as response:
                assert response.status == 400
            await wait_for(lambda: _contains(stream, "/ws/agent"))
    finally:
        await close_within_bound(server)
    logged = stream.getvalue()
    assert SECRET not in logged
    [access] = [json.loads(line) for line in logged.splitlines() if "/ws/agent" in line]
    assert access["path"] == "/ws/agent?token=[redacted]"
    assert (access["method"], access["status"], access["request_id"]) == ("GET", 400, "edge-9")
    assert access["duration_ms"] >= 0


async def _contains(stream: io.StringIO, text: str) -> bool:
    return text in stream.getvalue()


def test_redact_removes_tokens_and_credentials() -> None:
    assert redact("GET /ws/visitor?conversation_id=c1&token=abc.def HTTP/1.1") == (
        "GET /ws/visitor?conversation_id=c1&token=[redacted] HTTP/1.1"
    )
    assert SECRET not in redact(f"headers {{'Authorization': 'Bearer {SECRET}'}}")
    assert SECRET not in redact(f"Authorization: Basic {SECRET}")
    assert SECRET not in redact(f"retry with visitor_token={SECRET}")
    assert redact("nothing secret here") == "nothing secret here"
