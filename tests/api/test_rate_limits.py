"""Issue 12's abuse limits under a bounded local flood, on both stacks.

Each limit is set small (per minute, so that a slow machine cannot spread a flood
over two windows) and then exceeded: the answer is a 429 `rate_limited` with
`Retry-After` (an `error` frame, then a 1008 close, on a socket; a stored message
without a bot turn for the bot's limit), nothing over the limit is stored, and a
bystander (another account, conversation, address or socket) goes on as before.
Two instances on one Redis count together.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import replace
from ipaddress import ip_network
from typing import Any

import aiohttp
import pytest
import redis.asyncio as redis
from sqlalchemy import func, select

from handoff.config import ConfigError, LimitSettings, Settings, settings_from_mapping
from handoff.services.limits import RateLimits
from handoff.store import open_store
from handoff.store.schema import conversations as conversations_table
from tests.support.misbehaving_rasa import MisbehavingRasa
from tests.support.service import (
    PASSWORD,
    REDIS_URL,
    STACKS,
    WAIT_SECONDS,
    RunningService,
    ServiceFactory,
    add_agent,
    visitor_socket,
)

Answer = tuple[int, dict[str, Any], dict[str, str]]
LOOPBACK = (ip_network("127.0.0.1/32"), ip_network("::1/128"))


def limits(**small: str) -> LimitSettings:
    return replace(LimitSettings(), **small)


async def call(service: RunningService, method: str, path: str, *, token: str | None = None,
               forwarded_for: str | None = None, **kwargs: Any) -> Answer:
    """Like `service.call`, with the answer's headers."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    if forwarded_for:
        headers["X-Forwarded-For"] = forwarded_for
    async with service.http.request(method, service.url + path, headers=headers, **kwargs) as response:
        body = await response.json(content_type=None) if response.status != 204 else {}
        return response.status, body, dict(response.headers)


def assert_limited(answer: Answer, window_seconds: int = 60) -> None:
    status, body, headers = answer
    assert status == 429, body
    assert body["error"]["code"] == "rate_limited", body
    retry_after = int(headers["Retry-After"])
    assert 1 <= retry_after <= window_seconds
    assert body["error"]["details"]["retry_after"] == retry_after


async def login(service: RunningService, username: str, password: str = PASSWORD, **kwargs: Any) -> Answer:
    return await call(service, "POST", "/api/agents/login", json={"username": username, "password": password}, **kwargs)


async def new_conversation(service: RunningService, **kwargs: Any) -> Answer:
    return await call(service, "POST", "/api/visitor/conversations", json={"language": "en"}, **kwargs)


async def post(service: RunningService, conversation: dict[str, Any], text: str) -> Answer:
    return await call(
        service, "POST", f"/api/visitor/conversations/{conversation['conversation_id']}/messages",
        token=conversation["visitor_token"], json={"text": text, "client_msg_id": uuid.uuid4().hex},
    )


async def visitor_texts(service: RunningService, conversation: dict[str, Any]) -> list[str]:
    return [m["text"] for m in await service.messages(conversation) if m["sender_kind"] == "visitor"]


async def stored_conversations(settings: Settings) -> int:
    store = await open_store(settings.database_url, migrate=False)
    try:
        async with store.engine.connect() as connection:
            return int((await connection.execute(select(func.count()).select_from(conversations_table))).scalar_one())
    finally:
        await store.close()


async def test_login_per_account_backs_off_until_retry_after(service_factory: ServiceFactory) -> None:
    service = await service_factory(limits=limits(login_per_username="3/minute;5/hour", login_per_ip="100/minute"))
    for name in ("ana", "bob", "cleo"):
        await add_agent(service.settings, name)
    for _ in range(3):
        assert (await login(service, "ana", "guess"))[0] == 401
    assert_limited(await login(service, "ana", "guess"))
    assert_limited(await login(service, "ANA ", PASSWORD))  # even the right password, however spelled
    assert (await login(service, "bob"))[0] == 200  # the bystander account
    # The owner's success starts the account's count afresh: two typos then a success never lock it.
    for _ in range(3):
        assert [(await login(service, "cleo", "typo"))[0] for _ in range(2)] == [401, 401]
        assert (await login(service, "cleo"))[0] == 200


async def test_login_per_address_and_x_forwarded_for_only_from_a_trusted_proxy(service_factory: ServiceFactory) -> None:
    behind_proxy = await service_factory(
        limits=limits(login_per_ip="4/minute", login_per_username="100/minute"), trusted_proxies=LOOPBACK
    )
    await add_agent(behind_proxy.settings, "dana")
    # A client may send its own X-Forwarded-For: the proxy appends the address it saw, read from the right.
    flooder = "198.51.100.1, 203.0.113.7"
    for attempt in range(4):
        assert (await login(behind_proxy, f"nobody{attempt}", forwarded_for=flooder))[0] == 401
    assert_limited(await login(behind_proxy, "dana", forwarded_for="10.9.9.9, 203.0.113.7"))
    assert (await login(behind_proxy, "dana", forwarded_for="203.0.113.8"))[0] == 200  # another address

    direct = await service_factory(limits=limits(login_per_ip="4/minute", login_per_username="100/minute"))
    for attempt in range(4):
        assert (await login(direct, f"nobody{attempt}", forwarded_for=f"203.0.113.{attempt}"))[0] == 401
    assert_limited(await login(direct, "dana", forwarded_for="203.0.113.99"))  # not trusted: the peer counts


async def test_new_conversations_per_address_create_nothing_over_the_limit(service_factory: ServiceFactory) -> None:
    service = await service_factory(limits=limits(conversations_per_ip="3/minute"), trusted_proxies=LOOPBACK)
    for _ in range(3):
        assert (await new_conversation(service, forwarded_for="203.0.113.7"))[0] == 201
    for _ in range(3):
        assert_limited(await new_conversation(service, forwarded_for="203.0.113.7"))
    assert await stored_conversations(service.settings) == 3
    assert (await new_conversation(service, forwarded_for="203.0.113.8"))[0] == 201


async def test_messages_per_conversation_store_nothing_over_the_limit(service_factory: ServiceFactory) -> None:
    service = await service_factory(limits=limits(messages_per_conversation="3/minute"))
    flooder, bystander = await service.start_conversation(), await service.start_conversation()
    for n in range(3):
        assert (await post(service, flooder, f"m{n}"))[0] == 201
    assert_limited(await post(service, flooder, "too many"))
    assert await visitor_texts(service, flooder) == ["m0", "m1", "m2"]
    assert (await post(service, bystander, "hello"))[0] == 201


async def test_messages_per_agent(service_factory: ServiceFactory) -> None:
    service = await service_factory(limits=limits(messages_per_agent="2/minute"))
    await add_agent(service.settings, "eve")
    eve = await service.go_online("eve")
    conversation = await service.start_conversation()
    cid = conversation["conversation_id"]
    await service.ask_human(conversation)
    await service.await_offer(eve, cid)
    assert (await call(service, "POST", f"/api/conversations/{cid}/accept", token=eve))[0] == 200
    for n in range(2):
        assert (await call(service, "POST", f"/api/conversations/{cid}/messages", token=eve, json={"text": f"a{n}"}))[0] == 201
    assert_limited(await call(service, "POST", f"/api/conversations/{cid}/messages", token=eve, json={"text": "a2"}))
    assert (await post(service, conversation, "the visitor still talks"))[0] == 201
    texts = [m["text"] for m in await service.messages(conversation) if m["sender_kind"] == "ambassador"]
    assert texts == ["a0", "a1"]


async def test_socket_frames_get_an_error_then_a_flood_is_closed(service_factory: ServiceFactory) -> None:
    service = await service_factory(limits=limits(socket_frames="5/minute", socket_flood="10/minute"))
    conversation = await service.start_conversation()
    flooder, bystander = await visitor_socket(service, conversation), await visitor_socket(service, conversation)
    for _ in range(11):
        await flooder.socket.send_json({"type": "ping"})
    kinds: list[str] = []
    while True:
        frame = await flooder.socket.receive(timeout=WAIT_SECONDS)
        if frame.type is not aiohttp.WSMsgType.TEXT:
            break
        kinds.append(json.loads(frame.data)["type"])
    assert frame.type is aiohttp.WSMsgType.CLOSE and frame.data == aiohttp.WSCloseCode.POLICY_VIOLATION, frame
    answers = [kind for kind in kinds if kind in ("pong", "error")]
    assert answers == ["pong"] * 5 + ["error"] * 5, kinds
    await bystander.socket.send_json({"type": "ping"})
    await bystander.next_of("pong")
    await bystander.close()


async def test_the_bot_is_asked_at_most_as_often_as_its_limit(
    service_factory: ServiceFactory, misbehaving_rasa: MisbehavingRasa
) -> None:
    service = await service_factory(rasa_url=misbehaving_rasa.url, limits=limits(bot_per_conversation="1/minute"))
    flooder, bystander = await service.start_conversation(), await service.start_conversation()
    answers = [await post(service, flooder, f"q{n}") for n in range(3)]
    assert [status for status, _, _ in answers] == [201] * 3  # stored, acknowledged
    assert [len(body["replies"]) for _, body, _ in answers] == [1, 0, 0]
    assert misbehaving_rasa.calls_for(flooder["conversation_id"]) == ["q0"]
    assert await visitor_texts(service, flooder) == ["q0", "q1", "q2"]
    assert (await post(service, bystander, "hi"))[1]["replies"], "another conversation's bot answers"


async def test_a_quick_second_message_waits_for_the_bot_rather_than_going_unanswered(
    service_factory: ServiceFactory, misbehaving_rasa: MisbehavingRasa
) -> None:
    service = await service_factory(rasa_url=misbehaving_rasa.url)  # the default: one turn per second
    conversation = await service.start_conversation()
    first, second = await post(service, conversation, "one"), await post(service, conversation, "two")
    assert first[1]["replies"] and second[1]["replies"]
    assert misbehaving_rasa.calls_for(conversation["conversation_id"]) == ["one", "two"]


@pytest.mark.parametrize("stack", [s for s in STACKS if s == "postgresql-redis"])
async def test_two_instances_on_one_redis_count_together(service_factory: ServiceFactory) -> None:
    small = limits(conversations_per_ip="3/minute", login_per_username="2/minute")
    first, second = await service_factory(limits=small), await service_factory(limits=small)
    await add_agent(first.settings, "finn")
    assert [(await new_conversation(s))[0] for s in (first, second, first)] == [201, 201, 201]
    assert_limited(await new_conversation(second))
    assert_limited(await new_conversation(first))
    assert [(await login(s, "finn", "guess"))[0] for s in (first, second)] == [401, 401]
    assert_limited(await login(first, "finn"))
    assert REDIS_URL
    client = redis.from_url(REDIS_URL)
    try:
        keys = [key async for key in client.scan_iter(match=first.settings.redis_prefix + "limits:*")]
    finally:
        await client.aclose()
    assert keys, "the counters live under <redis_prefix>limits:"


async def test_while_redis_is_unreachable_an_instance_counts_in_memory(caplog: pytest.LogCaptureFixture) -> None:
    counts = RateLimits.on_redis(limits(conversations_per_ip="2/minute"), "redis://127.0.0.1:9/0", "test:down:limits:")
    try:
        assert [await counts.hit("conversations_per_ip", "flooder") for _ in range(2)] == [None, None]
        wait = await counts.hit("conversations_per_ip", "flooder")
        assert wait is not None and 0 < wait <= 60
        assert await counts.hit("conversations_per_ip", "bystander") is None
    finally:
        await counts.close()
    outage = [r for r in caplog.records if "while Redis is unreachable" in r.getMessage()]
    assert len(outage) == 1, "logged once per outage, not per request"


@pytest.mark.parametrize(
    ("raw", "named"),
    [
        ({"limits": {"login_per_ip": "ten per minute"}}, "relais.limits.login_per_ip"),
        ({"limits": {"messages_per_visitor": "5/minute"}}, "relais.limits.messages_per_visitor"),
        ({"service": {"trusted_proxies": ["10.0.0.300"]}}, "relais.service.trusted_proxies"),
    ],
)
def test_a_bad_limit_setting_stops_the_start_naming_it(raw: dict[str, Any], named: str) -> None:
    with pytest.raises(ConfigError, match=named):
        settings_from_mapping(raw, {})


def test_limit_settings_are_read() -> None:
    settings = settings_from_mapping(
        {"limits": {"socket_frames": "5/second"}, "service": {"trusted_proxies": ["10.0.0.0/8"]}}, {}
    )
    assert settings.limits.socket_frames == "5/second"
    assert settings.limits.login_per_ip == LimitSettings().login_per_ip
    assert settings.trusted_proxies == (ip_network("10.0.0.0/8"),)
    assert settings_from_mapping({}, {"RELAIS_TRUSTED_PROXIES": "10.1.2.3, ::1"}).trusted_proxies == (
        ip_network("10.1.2.3/32"), ip_network("::1/128"),
    )
