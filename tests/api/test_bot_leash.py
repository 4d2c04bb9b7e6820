"""The bot on a leash: the kill switch and the per-intent switches (docs/bot.md).

The bot is the stand-in of tests/support/misbehaving_rasa.py, which records every
message it is asked to answer, so "the bot was not called" is checked, not
assumed. Across instances (PostgreSQL + Redis), the switch set on one instance
holds on the other once the other reports it, which the test waits for.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from handoff.domain import AgentRole
from handoff.services import texts
from tests.support.misbehaving_rasa import MODEL_FILE, MisbehavingRasa, bot_reply
from tests.support.service import STACKS, RunningService, ServiceFactory, add_agent, wait_for

BOT_TIMEOUT_SECONDS = 10.0


async def admin_token(service: RunningService) -> str:
    await add_agent(service.settings, "ada", role=AgentRole.ADMIN)
    return await service.login("ada")


async def switch(service: RunningService, token: str, **body: Any) -> dict[str, Any]:
    status, answer = await service.call("PUT", "/api/admin/bot", token=token, json=body)
    assert status == 200, answer
    return dict(answer)


async def reports(service: RunningService, token: str, enabled: bool) -> None:
    """Wait until the instance reports the bot `enabled` (the switch reached it)."""

    async def holds() -> bool:
        status, body = await service.call("GET", "/api/admin/bot", token=token)
        assert status == 200, body
        return bool(body["enabled"] is enabled)

    await wait_for(holds)


def events(replies: list[dict[str, Any]]) -> list[str | None]:
    return [(r.get("data") or {}).get("event") if r["sender_kind"] == "system" else r["sender_kind"] for r in replies]


async def test_switched_off_every_message_goes_to_people_without_the_bot_and_back_on_it_answers(
    service_factory: ServiceFactory, misbehaving_rasa: MisbehavingRasa
) -> None:
    service = await service_factory(rasa_url=misbehaving_rasa.url, rasa_timeout_seconds=BOT_TIMEOUT_SECONDS)
    admin = await admin_token(service)
    assert await switch(service, admin, enabled=False) == {"enabled": False, "disabled_intents": []}

    conversation = await service.start_conversation("fr")
    answer = await service.say(conversation, "bonjour, une question sur mon store")
    assert misbehaving_rasa.calls_for(conversation["conversation_id"]) == []
    assert events(answer["replies"]) == ["bot_off", "no_agent"]  # nobody online: the offline form
    assert answer["replies"][0]["text"] == texts.say("bot_off", "fr")
    assert answer["replies"][1]["data"]["offline_form"] is True

    # With someone online, the conversation goes to them.
    await add_agent(service.settings, "zoe", role=AgentRole.ADVISOR)
    await service.go_online("zoe")
    other = await service.start_conversation("en")
    answer = await service.say(other, "hello")
    assert events(answer["replies"]) == ["bot_off", "queued"]
    assert answer["replies"][0]["text"] == texts.say("bot_off", "en")
    assert misbehaving_rasa.calls_for(other["conversation_id"]) == []

    assert await switch(service, admin, enabled=True) == {"enabled": True, "disabled_intents": []}
    again = await service.start_conversation("en")
    answer = await service.say(again, "where is my order?")
    assert [(r["sender_kind"], r["text"]) for r in answer["replies"]] == [("bot", bot_reply("where is my order?"))]
    assert answer["replies"][0]["data"]["model"] == {"model_file": MODEL_FILE}


async def test_replies_of_a_turn_in_flight_when_the_bot_is_switched_off_are_dropped(
    service_factory: ServiceFactory, misbehaving_rasa: MisbehavingRasa
) -> None:
    service = await service_factory(rasa_url=misbehaving_rasa.url, rasa_timeout_seconds=BOT_TIMEOUT_SECONDS)
    admin = await admin_token(service)
    misbehaving_rasa.behaviour = "hang"  # holds the answer until `released`
    conversation = await service.start_conversation("en")
    turn = asyncio.create_task(service.say(conversation, "hello?"))

    async def asked() -> bool:
        return misbehaving_rasa.calls_for(conversation["conversation_id"]) == ["hello?"]

    await wait_for(asked)
    await switch(service, admin, enabled=False)
    misbehaving_rasa.released.set()  # the bot answers now, after the switch
    answer = await turn
    assert events(answer["replies"]) == ["bot_off", "no_agent"]
    assert "bot" not in [m["sender_kind"] for m in await service.messages(conversation)]


@pytest.mark.parametrize("stack", [s for s in STACKS if s == "postgresql-redis"])
async def test_the_kill_switch_reaches_every_instance(
    service_factory: ServiceFactory, misbehaving_rasa: MisbehavingRasa, stack: str
) -> None:
    a = await service_factory(rasa_url=misbehaving_rasa.url, rasa_timeout_seconds=BOT_TIMEOUT_SECONDS)
    b = await service_factory(rasa_url=misbehaving_rasa.url, rasa_timeout_seconds=BOT_TIMEOUT_SECONDS)
    admin = await admin_token(a)
    await switch(a, admin, enabled=False)
    await reports(b, admin, enabled=False)

    conversation = await b.start_conversation("en")
    answer = await b.say(conversation, "do you deliver to Belgium?")
    assert events(answer["replies"]) == ["bot_off", "no_agent"]
    assert misbehaving_rasa.received == []  # neither instance asked the bot

    await switch(b, admin, enabled=True, disabled_intents=["ask_shipping"])
    await reports(a, admin, enabled=True)
    status, body = await a.call("GET", "/api/admin/bot", token=admin)
    assert body == {"enabled": True, "disabled_intents": ["ask_shipping"]}
    # A fresh instance reads the stored switch at start-up (it outlives restarts).
    c = await service_factory(rasa_url=misbehaving_rasa.url, rasa_timeout_seconds=BOT_TIMEOUT_SECONDS)
    status, body = await c.call("GET", "/api/admin/bot", token=admin)
    assert (status, body) == (200, {"enabled": True, "disabled_intents": ["ask_shipping"]})


async def test_a_switched_off_intent_is_handed_off_instead_of_answered(
    service_factory: ServiceFactory, misbehaving_rasa: MisbehavingRasa
) -> None:
    service = await service_factory(rasa_url=misbehaving_rasa.url, rasa_timeout_seconds=BOT_TIMEOUT_SECONDS)
    admin = await admin_token(service)
    await switch(service, admin, disabled_intents=["ask_promotions"])

    misbehaving_rasa.intent = {"name": "ask_promotions", "confidence": 0.88}
    conversation = await service.start_conversation("en")
    answer = await service.say(conversation, "any discounts this week?")
    assert misbehaving_rasa.calls_for(conversation["conversation_id"]) == ["any discounts this week?"]
    assert events(answer["replies"]) == ["intent_off", "no_agent"]  # the bot's reply was dropped
    assert answer["replies"][0]["text"] == texts.say("intent_off", "en")
    transcript = await service.messages(conversation)
    assert "bot" not in [m["sender_kind"] for m in transcript]
    assert (transcript[0]["intent"], transcript[0]["confidence"]) == ("ask_promotions", 0.88)

    # Another intent is answered as before; switching the intent back on resumes it.
    misbehaving_rasa.intent = {"name": "ask_shipping", "confidence": 0.9}
    other = await service.start_conversation("en")
    answer = await service.say(other, "shipping to Lyon?")
    assert events(answer["replies"]) == ["bot"]
    await switch(service, admin, disabled_intents=[])
    misbehaving_rasa.intent = {"name": "ask_promotions", "confidence": 0.88}
    answer = await service.say(other, "and discounts?")
    assert [r["text"] for r in answer["replies"]] == [bot_reply("and discounts?")]
    assert misbehaving_rasa.status_calls == 1  # the model was read once, not once per turn


async def test_only_admins_hold_the_leash_and_bad_input_is_refused(service_factory: ServiceFactory) -> None:
    service = await service_factory()
    admin = await admin_token(service)
    for role in (AgentRole.AMBASSADOR, AgentRole.ADVISOR):
        await add_agent(service.settings, role.value, role=role)
        token = await service.login(role.value)
        assert (await service.call("GET", "/api/admin/bot", token=token))[0] == 403
        assert (await service.call("PUT", "/api/admin/bot", token=token, json={"enabled": False}))[0] == 403
    assert (await service.call("PUT", "/api/admin/bot", json={"enabled": False}))[0] == 401
    for body in ({}, {"enabled": "no"}, {"disabled_intents": "ask_promotions"}, {"disabled_intents": ["no spaces"]},
                 {"disabled_intents": [3]}, {"disabled_intents": ["x"] * 201}):
        status, answer = await service.call("PUT", "/api/admin/bot", token=admin, json=body)
        assert status == 400, (body, answer)
    assert (await service.call("GET", "/api/admin/bot", token=admin))[1] == {"enabled": True, "disabled_intents": []}


def relais(settings_file: Path, database_url: str, redis_url: str | None, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": database_url, "RELAIS_ENDPOINTS": str(settings_file)}
    env.pop("REDIS_URL", None)
    if redis_url:
        env["REDIS_URL"] = redis_url
    return subprocess.run(
        [sys.executable, "-m", "handoff.cli", *args], env=env, capture_output=True, text=True, timeout=120
    )


async def test_the_command_line_switches_the_running_instances(
    service_factory: ServiceFactory, misbehaving_rasa: MisbehavingRasa, tmp_path: Path
) -> None:
    service = await service_factory(rasa_url=misbehaving_rasa.url, rasa_timeout_seconds=BOT_TIMEOUT_SECONDS)
    settings = service.settings
    endpoints = tmp_path / "endpoints.yml"
    endpoints.write_text(f"relais:\n  backend:\n    key_prefix: '{settings.redis_prefix}'\n")
    redis_url = settings.redis_url if settings.backend == "redis" else None

    def cli(*args: str) -> Any:
        return asyncio.to_thread(relais, endpoints, settings.database_url, redis_url, "bot", *args)

    if redis_url is None:  # in memory, the switch lives in the instance: the command says so
        refused = await cli("off")
        assert refused.returncode == 1 and "PUT /api/admin/bot" in refused.stderr, refused.stderr
        assert "Traceback" not in refused.stderr
        return

    admin = await admin_token(service)
    off = await cli("off")
    assert off.returncode == 0, off.stderr
    assert "bot: off" in off.stdout
    await reports(service, admin, enabled=False)
    conversation = await service.start_conversation("en")
    answer = await service.say(conversation, "hello")
    assert events(answer["replies"]) == ["bot_off", "no_agent"] and misbehaving_rasa.received == []

    intent = await cli("off", "--intent", "ask_promotions")
    assert intent.returncode == 0, intent.stderr
    on = await cli("on")
    assert on.returncode == 0, on.stderr
    await reports(service, admin, enabled=True)
    status = await cli("status")
    assert "bot: on" in status.stdout and "ask_promotions" in status.stdout, status.stdout
    bad = await cli("off", "--intent", "not an intent")
    assert bad.returncode == 1 and "not an intent" in bad.stderr and "Traceback" not in bad.stderr
