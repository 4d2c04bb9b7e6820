"""Moderation (issue 12, the Tay lesson): abusive words are masked on delivery, both ways.

What a visitor writes reaches agents (their socket and the HTTP API) with the abusive
words masked, and so does what an agent writes, as the visitor reads it; each side
reads its own words as typed and the store keeps the original. The bot is given the
masked text (the stand-in bot of tests/support/misbehaving_rasa.py records it).
Lists are data, in French and English.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from handoff.config import ConfigError, ModerationSettings, settings_from_mapping
from handoff.moderation import Moderator
from handoff.services.privacy import HIDDEN
from handoff.store import open_store
from handoff.store.schema import messages
from tests.support.misbehaving_rasa import MisbehavingRasa, bot_reply
from tests.support.service import (
    RunningService,
    ServiceFactory,
    add_agent,
    agent_socket,
    visitor_socket,
)

DEFAULT = Moderator.from_settings(ModerationSettings())


@pytest.mark.parametrize(("text", "masked"), [
    ("You are a fucking idiot", f"You are a f{HIDDEN} idiot"),
    ("what an ASSHOLE.", f"what an A{HIDDEN}."),
    ("f.u.c.k you", f"f{HIDDEN} you"),
    ("Espèce de connard !", f"Espèce de c{HIDDEN} !"),
    ("quelle connasse", f"quelle c{HIDDEN}"),
    ("t'es qu'un encule", f"t'es qu'un e{HIDDEN}"),  # accents loose: the list says "encul*"
    ("Enculé de fils de pute", f"E{HIDDEN} de f{HIDDEN}"),
    ("nique ta mère", f"n{HIDDEN}"),
])
def test_the_default_lists_mask_clear_insults_in_english_and_french(text: str, masked: str) -> None:
    assert DEFAULT.mask(text) == masked


@pytest.mark.parametrize("text", [
    "Scunthorpe is a town; a cocktail at the classic bar",
    "Is the awning 2.6 m wide? I'd like a peacock-blue one.",
    "Je voudrais un conseil : les cons et les pros d'un store banne ?",
    "Une baguette et un pain bâtard, s'il vous plaît. Je suis consultant.",
    "Mon numéro de commande est 4111, merci beaucoup",
])
def test_ordinary_words_stay_as_typed(text: str) -> None:
    assert DEFAULT.mask(text) == text


def test_lists_are_settings(tmp_path: Path) -> None:
    own = tmp_path / "shop.yml"
    own.write_text("words:\n  - gnome*\npatterns:\n  - 'b[a@]d\\s+word'\n", encoding="utf-8")
    moderator = Moderator.from_settings(ModerationSettings(lists=(str(own),)))
    assert moderator.mask("Gnomes! what a b@d  word; fuck") == f"G{HIDDEN}! what a b{HIDDEN}; fuck"
    assert Moderator.from_settings(ModerationSettings(enabled=False)).mask("connard") == "connard"
    settings = settings_from_mapping({"moderation": {"enabled": False, "lists": ["fr"]}}, {})
    assert settings.moderation == ModerationSettings(enabled=False, lists=("fr",))
    assert settings_from_mapping({}, {}).moderation == ModerationSettings(enabled=True, lists=("en", "fr"))
    bad = tmp_path / "bad.yml"
    bad.write_text("patterns:\n  - '(unclosed'\n", encoding="utf-8")
    for lists, named in (((str(bad),), "(unclosed"), (("xx",), "xx"), ((str(tmp_path / "none.yml"),), "none.yml")):
        with pytest.raises(ConfigError, match="relais.moderation.lists") as error:
            Moderator.from_settings(ModerationSettings(lists=lists))
        assert named in str(error.value)
    for raw in ({"enabled": "yes"}, {"lists": [1]}, {"lists": {"en": True}}):
        with pytest.raises(ConfigError, match="relais.moderation"):
            settings_from_mapping({"moderation": raw}, {})


async def _assigned(service: RunningService, language: str, agent: str) -> tuple[dict[str, Any], str]:
    """A conversation in `language` that `agent` (an ambassador) has accepted; the agent's token."""
    await add_agent(service.settings, agent)
    token = await service.go_online(agent)
    conversation = await service.start_conversation(language)
    await service.ask_human(conversation)
    await service.await_offer(token, conversation["conversation_id"])
    status, body = await service.call("POST", f"/api/conversations/{conversation['conversation_id']}/accept", token=token)
    assert status == 200, body
    return conversation, token


async def _stored_text(service: RunningService, conversation_id: str, seq: int) -> str:
    store = await open_store(service.settings.database_url)
    try:
        async with store.engine.connect() as connection:
            text = await connection.scalar(
                select(messages.c.text).where(messages.c.conversation_id == conversation_id, messages.c.seq == seq)
            )
    finally:
        await store.close()
    return str(text)


@pytest.mark.parametrize(("language", "visitor_says", "agent_says", "visitor_masked", "agent_masked"), [
    ("en", "Your awning broke, you bastards!", "Calm down, you twat.",
     f"Your awning broke, you b{HIDDEN}!", f"Calm down, you t{HIDDEN}."),
    ("fr", "Bande d'enfoirés, mon store est cassé", "Du calme, espèce de connard.",
     f"Bande d'e{HIDDEN}, mon store est cassé", f"Du calme, espèce de c{HIDDEN}."),
])
async def test_abuse_is_masked_on_delivery_both_ways_and_stored_as_typed(
    service_factory: ServiceFactory, language: str, visitor_says: str, agent_says: str,
    visitor_masked: str, agent_masked: str,
) -> None:
    service = await service_factory()
    conversation, token = await _assigned(service, language, "ada")
    cid = conversation["conversation_id"]
    agent, visitor = await agent_socket(service, token), await visitor_socket(service, conversation)
    await agent.socket.send_json({"type": "watch", "conversation_id": cid})
    await agent.next_of("queue")
    await visitor.next_of("conversation")

    # Visitor -> agent: masked in the agent's socket and HTTP answers.
    posted = await service.say(conversation, visitor_says)
    assert posted["message"]["text"] == visitor_says  # the visitor's own words, as typed
    seen = await agent.next_of("message")
    while seen["message"]["seq"] != posted["message"]["seq"]:
        seen = await agent.next_of("message")
    assert seen["message"]["text"] == visitor_masked
    status, read = await service.call("GET", f"/api/conversations/{cid}/messages", token=token)
    assert status == 200
    assert [m["text"] for m in read["messages"] if m["seq"] == posted["message"]["seq"]] == [visitor_masked]

    # Agent -> visitor: masked in the visitor's socket and transcript; the agent reads it as typed.
    status, sent = await service.call("POST", f"/api/conversations/{cid}/messages", token=token, json={"text": agent_says})
    assert status == 201, sent
    assert sent["message"]["text"] == agent_says
    frame = await visitor.next_of("message")
    while frame["message"]["seq"] != sent["message"]["seq"]:
        frame = await visitor.next_of("message")
    assert frame["message"]["text"] == agent_masked
    transcript = {m["seq"]: m["text"] for m in await service.messages(conversation)}
    assert transcript[sent["message"]["seq"]] == agent_masked
    assert transcript[posted["message"]["seq"]] == visitor_says

    # The store keeps both as typed.
    assert await _stored_text(service, cid, posted["message"]["seq"]) == visitor_says
    assert await _stored_text(service, cid, sent["message"]["seq"]) == agent_says
    await agent.close()
    await visitor.close()


async def test_moderation_can_be_turned_off(service_factory: ServiceFactory) -> None:
    service = await service_factory(moderation=ModerationSettings(enabled=False))
    conversation, token = await _assigned(service, "en", "bob")
    posted = await service.say(conversation, "you bastards")
    status, read = await service.call("GET", f"/api/conversations/{conversation['conversation_id']}/messages", token=token)
    assert status == 200
    assert [m["text"] for m in read["messages"] if m["seq"] == posted["message"]["seq"]] == ["you bastards"]


async def test_the_bot_is_given_the_masked_text(
    service_factory: ServiceFactory, misbehaving_rasa: MisbehavingRasa
) -> None:
    service = await service_factory(rasa_url=misbehaving_rasa.url, rasa_timeout_seconds=10.0)
    conversation = await service.start_conversation("fr")
    answer = await service.say(conversation, "salope de machine, réponds")
    masked = f"s{HIDDEN} de machine, réponds"
    assert misbehaving_rasa.calls_for(conversation["conversation_id"]) == [masked]
    assert [reply["text"] for reply in answer["replies"]] == [bot_reply(masked)]
    assert answer["message"]["text"] == "salope de machine, réponds"
