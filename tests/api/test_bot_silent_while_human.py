"""The bot is never asked while a conversation waits for a person or a person holds it.

The bot is the stand-in of tests/support/misbehaving_rasa.py, which records every
message it is sent, so the test can count the bot's turns per conversation.
"""

from __future__ import annotations

from typing import Any

from tests.support.misbehaving_rasa import MisbehavingRasa, bot_reply
from tests.support.service import RunningService, ServiceFactory, add_agent


async def _agent_reads(service: RunningService, token: str, cid: str) -> list[str]:
    status, body = await service.call("GET", f"/api/conversations/{cid}/messages", token=token)
    assert status == 200, body
    return [m["text"] for m in body["messages"]]


async def test_the_bot_stays_silent_while_waiting_and_while_a_person_answers(
    service_factory: ServiceFactory, misbehaving_rasa: MisbehavingRasa
) -> None:
    service = await service_factory(rasa_url=misbehaving_rasa.url)
    await add_agent(service.settings, "ann")
    ann = await service.go_online("ann")
    conversation = await service.start_conversation()
    cid = conversation["conversation_id"]

    answered = await service.say(conversation, "hello")
    assert [r["text"] for r in answered["replies"]] == [bot_reply("hello")]
    assert misbehaving_rasa.calls_for(cid) == ["hello"]

    await service.ask_human(conversation)
    waiting: dict[str, Any] = await service.say(conversation, "is anyone there?")
    assert waiting["conversation"]["status"] == "waiting" and waiting["replies"] == []

    await service.await_offer(ann, cid)
    status, _ = await service.call("POST", f"/api/conversations/{cid}/accept", token=ann)
    assert status == 200
    held = await service.say(conversation, "hi Ann, my awning is stuck")
    assert held["conversation"]["status"] == "assigned" and held["replies"] == []
    assert "hi Ann, my awning is stuck" in await _agent_reads(service, ann, cid)
    assert misbehaving_rasa.calls_for(cid) == ["hello"]  # nothing went to the bot meanwhile

    status, _ = await service.call("POST", f"/api/conversations/{cid}/close", token=ann, json={"outcome": "resolved"})
    assert status == 200
    back = await service.say(conversation, "one more question")
    assert [r["text"] for r in back["replies"]] == [bot_reply("one more question")]
    assert misbehaving_rasa.calls_for(cid) == ["hello", "one more question"]


async def test_a_conversation_the_bot_handed_over_is_not_sent_back_to_it(
    service_factory: ServiceFactory, misbehaving_rasa: MisbehavingRasa
) -> None:
    service = await service_factory(rasa_url=misbehaving_rasa.url)
    await add_agent(service.settings, "bea")
    bea = await service.go_online("bea")
    conversation = await service.start_conversation()
    cid = conversation["conversation_id"]
    misbehaving_rasa.handoff = {"pool": "ambassador", "reason": "intent"}
    handed = await service.say(conversation, "I want to talk to someone who owns one")
    assert handed["conversation"]["status"] == "waiting"
    misbehaving_rasa.handoff = None
    for text in ("hello?", "still waiting"):
        reply = await service.say(conversation, text)
        assert reply["replies"] == []
    await service.await_offer(bea, cid)
    assert misbehaving_rasa.calls_for(cid) == ["I want to talk to someone who owns one"]
