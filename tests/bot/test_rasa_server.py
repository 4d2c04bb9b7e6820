"""The real bot (Rasa server + action server, trained model) through its REST channel.

Uses the `rasa_server` fixture (tests/support/rasa.py). Each test talks as its own
visitor (a fresh sender id), the way the handoff service does (handoff/botbridge.py):
`POST /webhooks/rest/webhook` with `{"sender", "message", "metadata": {"language",
"conversation_id", "page_url"}}`.
"""

from __future__ import annotations

import uuid
from typing import Any

import aiohttp
import pytest

pytestmark = pytest.mark.rasa

Messages = list[dict[str, Any]]


async def say(base_url: str, sender: str, text: str, language: str | None = None,
              page_url: str = "https://shop.example/") -> tuple[int, Messages]:
    body: dict[str, Any] = {"sender": sender, "message": text}
    if language is not None:
        body["metadata"] = {"language": language, "conversation_id": sender, "page_url": page_url}
    async with aiohttp.ClientSession() as http, http.post(
        f"{base_url}/webhooks/rest/webhook", json=body, timeout=aiohttp.ClientTimeout(total=30)
    ) as response:
        return response.status, await response.json(content_type=None) if response.status == 200 else []


def texts(messages: Messages) -> str:
    return " ".join(m["text"] for m in messages if "text" in m)


def handoffs(messages: Messages) -> list[dict[str, Any]]:
    return [m["custom"]["handoff"] for m in messages if isinstance(m.get("custom"), dict) and "handoff" in m["custom"]]


def visitor() -> str:
    return f"test-{uuid.uuid4().hex}"


async def test_french_shipping_question_gets_the_french_answer(rasa_server: str) -> None:
    status, messages = await say(rasa_server, visitor(), "combien coûte la livraison ?", "fr")
    assert status == 200
    answer = texts(messages)
    assert "Livraison" in answer and "offerte dès 79 €" in answer and "jours ouvrés" in answer
    assert handoffs(messages) == []


async def test_english_shipping_question_gets_the_english_answer(rasa_server: str) -> None:
    status, messages = await say(rasa_server, visitor(), "how long does shipping take?", "en")
    assert status == 200
    answer = texts(messages)
    assert "Delivery" in answer and "2-4 working days" in answer
    assert "livraison" not in answer.lower().replace("shop.example/livraison", "")


async def test_product_advice_hands_off_to_an_ambassador_with_the_skill(rasa_server: str) -> None:
    status, messages = await say(rasa_server, visitor(), "quel store banne pour mon fourgon ?", "fr")
    assert status == 200
    assert handoffs(messages) == [{"pool": "ambassador", "skill": "awning", "language": "fr",
                                  "reason": "intent", "intent": "ask_product_advice"}]
    # a text telling the visitor who is coming, before the signal
    assert "text" in messages[0] and "communauté" in messages[0]["text"]
    assert "custom" in messages[-1]


async def test_order_problem_hands_off_to_an_advisor(rasa_server: str) -> None:
    status, messages = await say(rasa_server, visitor(), "my parcel still hasn't arrived", "en")
    assert status == 200
    assert handoffs(messages) == [{"pool": "advisor", "skill": None, "language": "en",
                                  "reason": "intent", "intent": "order_problem"}]
    assert "advisor" in texts(messages)


async def test_two_fallbacks_then_yes_hands_off_with_reason_fallback(rasa_server: str) -> None:
    sender = visitor()
    _, first = await say(rasa_server, sender, "😀😀", "fr")
    assert "reformuler" in texts(first)
    _, second = await say(rasa_server, sender, "🙃", "fr")
    assert "mette en relation" in texts(second) and [b["payload"] for b in second[0]["buttons"]] == ["/affirm", "/deny"]
    _, third = await say(rasa_server, sender, "oui", "fr")
    [handoff] = handoffs(third)
    assert (handoff["reason"], handoff["intent"], handoff["language"]) == ("fallback", "nlu_fallback", "fr")


async def test_language_in_a_later_message_switches_the_replies(rasa_server: str) -> None:
    sender = visitor()
    _, french = await say(rasa_server, sender, "bonjour", "fr")
    assert "Bonjour" in texts(french)
    _, english = await say(rasa_server, sender, "what are your opening hours?", "en")
    assert "Monday to Friday" in texts(english)


async def test_without_metadata_the_language_is_detected(rasa_server: str) -> None:
    _, messages = await say(rasa_server, visitor(), "quels sont vos horaires d'ouverture ?")
    assert "du lundi au vendredi" in texts(messages)


async def test_the_tracker_records_the_intent_of_the_message(rasa_server: str, rasa_token: str) -> None:
    sender = visitor()
    await say(rasa_server, sender, "how long does shipping take?", "en")
    async with aiohttp.ClientSession() as http, http.get(
        f"{rasa_server}/conversations/{sender}/tracker", params={"include_events": "NONE", "token": rasa_token}
    ) as response:
        tracker = await response.json()
    assert tracker["latest_message"]["intent"]["name"] == "ask_shipping"
    assert tracker["slots"]["language"] == "en"


async def test_rasa_http_api_answers_only_with_its_token(rasa_server: str, rasa_token: str) -> None:
    # Any local process could otherwise read every conversation, or replace the model.
    sender = visitor()
    await say(rasa_server, sender, "how long does shipping take?", "en")
    async with aiohttp.ClientSession() as http:
        for token in (None, "wrong"):
            params = {"include_events": "NONE", **({"token": token} if token else {})}
            async with http.get(f"{rasa_server}/conversations/{sender}/tracker", params=params) as response:
                assert response.status == 401, await response.text()
            async with http.get(f"{rasa_server}/status", params=params) as response:
                assert response.status == 401
            async with http.put(f"{rasa_server}/model", params=params, json={"model_file": "/tmp/x.tar.gz"}) as response:
                assert response.status == 401
        async with http.get(f"{rasa_server}/status", params={"token": rasa_token}) as response:
            assert response.status == 200 and (await response.json())["model_file"]


async def test_words_the_bot_cannot_read_get_a_request_to_rephrase(rasa_server: str) -> None:
    sender = visitor()
    _, first = await say(rasa_server, sender, "xqzt plonk vrrr", "en")
    assert "not sure I understood" in texts(first) and handoffs(first) == []
    _, second = await say(rasa_server, sender, "blorp zzkk", "en")  # twice in a row: a person is offered
    assert "put you in touch with a person" in texts(second)
    assert [b["payload"] for b in second[0]["buttons"]] == ["/affirm", "/deny"]


BAD_INPUTS = {
    "empty": "",
    "10,000 characters": ("livraison " * 1000)[:10_000],
    "10,000 letters": "a" * 10_000,
    "emoji only": "😀🚐🔥",
    "html": "<script>alert(1)</script>",
    "control characters": "\x00\x1b[31m\u202e",
}


@pytest.mark.parametrize("text", BAD_INPUTS.values(), ids=BAD_INPUTS.keys())
async def test_bad_input_gets_a_sane_reply(rasa_server: str, text: str) -> None:
    status, messages = await say(rasa_server, visitor(), text, "en")
    assert status == 200
    answer = texts(messages)
    assert answer, messages
    assert "<script>" not in answer and "\x00" not in answer
    if text.strip():
        assert text not in answer
    assert handoffs(messages) == []  # nothing unreadable hands a visitor off by accident


REPHRASE = {"en": "not sure I understood", "fr": "reformuler"}
UNREADABLE = [
    ("en", ""), ("fr", ""), ("en", "😀🚐🔥"), ("fr", "🙃"), ("en", "   "),
    ("en", "<script>alert(1)</script>"), ("fr", "<script>alert(1)</script>"), ("fr", "a" * 10_000),
]


@pytest.mark.parametrize(("language", "text"), UNREADABLE)
async def test_unreadable_input_gets_a_request_to_rephrase_in_the_visitors_language(
    rasa_server: str, language: str, text: str
) -> None:
    status, messages = await say(rasa_server, visitor(), text, language)
    assert status == 200
    assert REPHRASE[language] in texts(messages)


async def test_the_bot_still_answers_after_bad_input(rasa_server: str) -> None:
    sender = visitor()
    for text in BAD_INPUTS.values():
        status, _ = await say(rasa_server, sender, text, "fr")
        assert status == 200
    _, messages = await say(rasa_server, sender, "vous prenez paypal ?", "fr")
    assert "PayPal" in texts(messages)


ECHO_PROBES = [
    ("fr", "je cherche un frigo pour mon Ducato de 2019"),
    ("en", "tell me a joke about caravans"),
    ("fr", "xqzt plonk"),
    ("en", "I want to return the red awning I bought"),
    ("fr", "mon colis 45821 est abîmé"),
]


@pytest.mark.parametrize(("language", "text"), ECHO_PROBES)
async def test_the_bot_never_echoes_the_visitor(rasa_server: str, language: str, text: str) -> None:
    status, messages = await say(rasa_server, visitor(), text, language)
    assert status == 200 and messages
    assert text.lower() not in texts(messages).lower()
