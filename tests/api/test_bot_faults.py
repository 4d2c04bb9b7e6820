"""A bot that hangs past the timeout, answers 5xx or garbage, then comes back.

The faults come from a local stand-in for Rasa (tests/support/misbehaving_rasa.py):
a real Rasa cannot be made to misbehave on demand. Each time the visitor's
message is kept, the visitor is told the assistant is unavailable (and offered a
person), the service keeps serving, and once the bot answers normally again its
replies reach the visitor.
"""

from __future__ import annotations

import asyncio

import pytest

from handoff.services import texts
from tests.support.misbehaving_rasa import INTENT, MisbehavingRasa, bot_reply
from tests.support.service import RunningService, ServiceFactory, wait_for

# Far above what the stand-in needs to answer on a loaded machine, far below a test's patience.
BOT_TIMEOUT_SECONDS = 2.0
FAULTS = ["hang", "error", "unavailable", "not-json", "wrong-json"]
# How often the bridge asks before giving up (handoff/botbridge.py): a transient failure (5xx, no answer
# in time) is tried again, at most 3 attempts within twice the timeout (so 2 for a hang: 2 s + 0.25 s
# + 2 s, then 0.75 s more would pass 4 s); an answer that is not what Rasa sends is not.
ATTEMPTS = {"hang": 2, "error": 3, "unavailable": 3, "not-json": 1, "wrong-json": 1}


@pytest.fixture
async def service(service_factory: ServiceFactory, misbehaving_rasa: MisbehavingRasa) -> RunningService:
    return await service_factory(rasa_url=misbehaving_rasa.url, rasa_timeout_seconds=BOT_TIMEOUT_SECONDS)


@pytest.mark.parametrize("fault", FAULTS)
async def test_a_misbehaving_bot_keeps_the_message_tells_the_visitor_and_recovers(
    service: RunningService, misbehaving_rasa: MisbehavingRasa, fault: str
) -> None:
    conversation = await service.start_conversation("fr")
    cid = conversation["conversation_id"]
    misbehaving_rasa.behaviour = fault
    answer = await service.say(conversation, "combien coûte la livraison ?")
    assert misbehaving_rasa.calls_for(cid) == ["combien coûte la livraison ?"] * ATTEMPTS[fault]  # the bot was asked
    assert answer["message"]["text"] == "combien coûte la livraison ?"
    [notice] = answer["replies"]
    assert notice["sender_kind"] == "system"
    assert notice["text"] == texts.say("bot_unavailable", "fr")
    assert notice["data"] == {"event": "bot_unavailable", "offer_handoff": True}
    assert [(m["seq"], m["sender_kind"]) for m in await service.messages(conversation)] == [(1, "visitor"), (2, "system")]
    status, ready = await service.call("GET", "/readyz")
    assert ready["checks"]["store"] == "ok", ready
    # The visitor can still ask for a person (nobody is online: the offline form).
    status, body = await service.call(
        "POST", f"/api/visitor/conversations/{cid}/handoff", token=conversation["visitor_token"], json={"pool": "ambassador"}
    )
    assert status == 200, body

    misbehaving_rasa.behaviour = "answer"
    again = await service.say(conversation, "et pour la Belgique ?")
    assert [(r["sender_kind"], r["text"]) for r in again["replies"]] == [("bot", bot_reply("et pour la Belgique ?"))]
    transcript = await service.messages(conversation)
    assert [m["sender_kind"] for m in transcript] == ["visitor", "system", "system", "visitor", "bot"]
    assert [m["seq"] for m in transcript] == [1, 2, 3, 4, 5]
    assert misbehaving_rasa.calls_for(cid) == ["combien coûte la livraison ?"] * ATTEMPTS[fault] + ["et pour la Belgique ?"]


async def test_a_hung_bot_does_not_hold_up_other_visitors(
    service: RunningService, misbehaving_rasa: MisbehavingRasa
) -> None:
    misbehaving_rasa.behaviour = "hang"
    stuck = await service.start_conversation("en")
    first = await service.say(stuck, "hello?")
    assert first["replies"][0]["data"]["event"] == "bot_unavailable"
    # The first request still hangs in the stand-in; the bot is back for everyone else.
    misbehaving_rasa.behaviour = "answer"
    other = await service.start_conversation("en")
    answer = await service.say(other, "where is my order?")
    assert [r["text"] for r in answer["replies"]] == [bot_reply("where is my order?")]
    visitor_turn = (await service.messages(other))[0]  # annotated with the bot's reading of it
    assert (visitor_turn["sender_kind"], visitor_turn["intent"]) == ("visitor", INTENT["name"])


async def test_a_transient_failure_is_tried_again_and_the_visitor_gets_the_bot_s_answer(
    service: RunningService, misbehaving_rasa: MisbehavingRasa
) -> None:
    """What a visitor sees while Rasa restarts or loads a model: a failed attempt, then the answer."""
    conversation = await service.start_conversation("en")
    cid = conversation["conversation_id"]
    misbehaving_rasa.behaviour = "unavailable"

    async def asked() -> bool:
        return bool(misbehaving_rasa.calls_for(cid))

    async def back_after_the_first_attempt() -> None:
        await wait_for(asked)
        misbehaving_rasa.behaviour = "answer"

    recovering = asyncio.create_task(back_after_the_first_attempt())
    answer = await service.say(conversation, "is the awning in stock?")
    await recovering
    assert [(r["sender_kind"], r["text"]) for r in answer["replies"]] == [("bot", bot_reply("is the awning in stock?"))]
    assert misbehaving_rasa.calls_for(cid) == ["is the awning in stock?"] * 2
    assert [m["sender_kind"] for m in await service.messages(conversation)] == ["visitor", "bot"]
