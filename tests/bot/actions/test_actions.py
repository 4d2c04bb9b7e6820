"""Unit tests of every custom action, with rasa_sdk's Tracker and CollectingDispatcher."""

from __future__ import annotations

from typing import Any

import pytest
from helpers import bot_action, category, run, tracker, user

from bot.actions.actions import (
    ActionHandoff,
    ActionSessionStart,
    ActionUpdateLanguage,
    context_pool,
    is_after_sale_page,
    last_bot_action_before_user,
)
from bot.actions.messages import HANDOFF_TEXTS, handoff_text

METADATA_FR = {"language": "fr", "conversation_id": "c1", "page_url": "https://shop.example/stores-bannes"}


def slot_sets(events: list[dict[str, Any]]) -> dict[str, Any]:
    return {e["name"]: e["value"] for e in events if e["event"] == "slot"}


# action_session_start ------------------------------------------------------------------

def test_session_start_takes_the_language_from_the_metadata() -> None:
    events, dispatcher = run(ActionSessionStart(), tracker([], {"session_started_metadata": METADATA_FR}))
    assert events[0]["event"] == "session_started"
    assert (events[-1]["event"], events[-1]["name"]) == ("action", "action_listen")
    assert slot_sets(events) == {"session_started_metadata": METADATA_FR, "language": "fr"}
    assert dispatcher.messages == []


def test_session_start_normalises_the_language_code() -> None:
    events, _ = run(ActionSessionStart(), tracker([], {"session_started_metadata": {"language": "en-GB"}}))
    assert slot_sets(events)["language"] == "en"


def test_session_start_without_metadata_sets_no_language() -> None:
    events, _ = run(ActionSessionStart(), tracker([]))
    assert [e["event"] for e in events] == ["session_started", "action"]


def test_session_start_carries_the_language_of_the_previous_session_over() -> None:
    events, _ = run(ActionSessionStart(), tracker([], {"language": "fr"}))
    assert slot_sets(events) == {"language": "fr"}


def test_session_start_ignores_an_unsupported_language() -> None:
    events, _ = run(ActionSessionStart(), tracker([], {"session_started_metadata": {"language": "de"}}))
    assert "language" not in slot_sets(events)


# action_update_language (custom slot mapping, after every user message) -------------------

def test_metadata_of_a_later_message_switches_the_language() -> None:
    trk = tracker([user("shipping costs?", "ask_shipping", metadata={"language": "en"})], {"language": "fr"})
    events, _ = run(ActionUpdateLanguage(), trk)
    assert events == [{"event": "slot", "timestamp": None, "name": "language", "value": "en"}]


def test_same_language_in_metadata_changes_nothing() -> None:
    trk = tracker([user("bonjour", "greet", metadata={"language": "fr"})], {"language": "fr"})
    assert run(ActionUpdateLanguage(), trk)[0] == []


def test_without_metadata_the_language_is_detected_once() -> None:
    first = tracker([user("combien coûte la livraison ?", "ask_shipping")])
    assert slot_sets(run(ActionUpdateLanguage(), first)[0]) == {"language": "fr"}
    # decided: a later English-looking message does not flip it
    later = tracker([user("ok thanks", "thank_you")], {"language": "fr"})
    assert run(ActionUpdateLanguage(), later)[0] == []


def test_an_unclear_first_message_leaves_the_language_open() -> None:
    assert run(ActionUpdateLanguage(), tracker([user("ok", "affirm")]))[0] == []


def test_update_language_never_speaks() -> None:
    _, dispatcher = run(ActionUpdateLanguage(), tracker([user("bonjour", "greet")]))
    assert dispatcher.messages == []


# action_handoff -------------------------------------------------------------------------

def handoff_of(events: list[dict[str, Any]], slots: dict[str, Any] | None = None) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Run action_handoff; check the message shape; return the payload and all messages."""
    _, dispatcher = run(ActionHandoff(), tracker(events, slots))
    messages = dispatcher.messages
    assert len(messages) == 2, messages
    assert not messages[0].get("custom") and not messages[0].get("response")
    payloads = [m["custom"] for m in messages if m.get("custom")]
    assert len(payloads) == 1 and set(payloads[0]) == {"handoff"}
    assert messages[-1]["custom"] == payloads[0] and not messages[-1].get("text")  # the signal comes last
    handoff = payloads[0]["handoff"]
    assert set(handoff) == {"pool", "skill", "language", "reason", "intent"}
    # the announcement is in the signal's language and names who is coming
    assert messages[0]["text"] == HANDOFF_TEXTS[handoff["pool"]][handoff["language"]]
    return handoff, messages


def test_product_advice_goes_to_an_ambassador_with_the_category_as_skill() -> None:
    events = [user("quel store banne pour mon fourgon ?", "ask_product_advice",
                   [category("stores bannes")], metadata=METADATA_FR)]
    handoff, _ = handoff_of(events, {"language": "fr"})
    assert handoff == {"pool": "ambassador", "skill": "awning", "language": "fr",
                       "reason": "intent", "intent": "ask_product_advice"}


def test_product_advice_without_a_category_has_no_skill() -> None:
    handoff, _ = handoff_of([user("I need advice to kit out my van", "ask_product_advice")], {"language": "en"})
    assert handoff["pool"] == "ambassador" and handoff["skill"] is None


def test_product_advice_uses_the_category_talked_about_earlier() -> None:
    handoff, _ = handoff_of([user("can you recommend one?", "ask_product_advice")],
                            {"language": "en", "product_category": "frigo"})
    assert handoff["skill"] == "fridge"


def test_an_unknown_category_never_becomes_a_skill() -> None:
    events = [user("/ask_product_advice", "ask_product_advice", [category("<script>")])]
    handoff, _ = handoff_of(events, {"language": "en"})
    assert handoff["skill"] is None


@pytest.mark.parametrize("intent", ["order_problem", "complaint"])
def test_order_problems_and_complaints_go_to_an_advisor(intent: str) -> None:
    handoff, _ = handoff_of([user("...", intent, [category("fridge")])], {"language": "en"})
    assert handoff == {"pool": "advisor", "skill": None, "language": "en", "reason": "intent", "intent": intent}


def test_request_human_before_sale_goes_to_an_ambassador() -> None:
    events = [user("is the thule bike rack in stock?", "ask_stock", [category("bike rack")]),
              bot_action("utter_stock"),
              user("I want to talk to a human", "request_human")]
    handoff, _ = handoff_of(events, {"language": "en", "product_category": "bike rack"})
    assert handoff == {"pool": "ambassador", "skill": "bike_rack", "language": "en",
                       "reason": "requested", "intent": "request_human"}


def test_request_human_after_an_order_problem_goes_to_an_advisor() -> None:
    events = [user("ma commande est cassée", "order_problem"), bot_action("action_handoff"),
              user("je veux parler à quelqu'un", "request_human")]
    handoff, _ = handoff_of(events, {"language": "fr"})
    assert handoff == {"pool": "advisor", "skill": None, "language": "fr",
                       "reason": "requested", "intent": "request_human"}


def test_request_human_from_an_order_page_goes_to_an_advisor() -> None:
    metadata = {"language": "fr", "page_url": "https://shop.example/mon-compte/commandes/1029"}
    handoff, _ = handoff_of([user("un conseiller svp", "request_human", metadata=metadata)], {"language": "fr"})
    assert handoff["pool"] == "advisor"


def test_accepting_a_person_after_two_fallbacks() -> None:
    events = [user("qsdkfj", "nlu_fallback"), bot_action("utter_ask_rephrase"),
              user("😀😀", "nlu_fallback"), bot_action("utter_offer_human_after_fallback"),
              bot_action("action_listen"), user("oui", "affirm"), bot_action("action_extract_slots")]
    handoff, _ = handoff_of(events, {"language": "fr"})
    assert handoff == {"pool": "ambassador", "skill": None, "language": "fr",
                       "reason": "fallback", "intent": "nlu_fallback"}


def test_accepting_a_person_after_an_out_of_scope_question() -> None:
    events = [user("tell me a joke", "out_of_scope"), bot_action("utter_out_of_scope"),
              bot_action("action_listen"), user("yes please", "affirm")]
    handoff, _ = handoff_of(events, {"language": "en"})
    assert handoff == {"pool": "ambassador", "skill": None, "language": "en",
                       "reason": "requested", "intent": "out_of_scope"}


def test_handoff_language_falls_back_to_the_message_then_english() -> None:
    french, _ = handoff_of([user("je veux parler à un conseiller", "request_human")])
    assert french["language"] == "fr"
    unknown, _ = handoff_of([user("F45 ???", "request_human")])
    assert unknown["language"] == "en"


def test_handoff_records_the_decided_language_and_skill() -> None:
    events, _ = run(ActionHandoff(), tracker([user("which fridge for my van?", "ask_product_advice", [category("fridge")])]))
    assert slot_sets(events) == {"language": "en", "product_category": "fridge"}


def test_handoff_never_repeats_the_visitors_text() -> None:
    text = "quel store banne pour mon Ducato de 6 m ?"
    _, messages = handoff_of([user(text, "ask_product_advice", [category("store banne")])], {"language": "fr"})
    assert text not in repr(messages)


def test_handoff_texts_exist_in_both_languages_for_both_pools() -> None:
    assert set(HANDOFF_TEXTS) == {"ambassador", "advisor"}
    for pool, texts in HANDOFF_TEXTS.items():
        assert set(texts) == {"fr", "en"} and texts["fr"] != texts["en"], pool
        assert "{" not in texts["fr"] + texts["en"]  # nothing the visitor typed is ever inserted
    # the community notice: a volunteer, not an employee
    assert "bénévolement" in HANDOFF_TEXTS["ambassador"]["fr"] and "salarié" in HANDOFF_TEXTS["ambassador"]["fr"]
    assert "volunteers" in HANDOFF_TEXTS["ambassador"]["en"] and "not an employee" in HANDOFF_TEXTS["ambassador"]["en"]
    assert handoff_text("advisor", "de") == HANDOFF_TEXTS["advisor"]["en"]


# helpers of the decision ----------------------------------------------------------------

def test_after_sale_pages() -> None:
    assert is_after_sale_page("https://shop.example/account/orders/12")
    assert is_after_sale_page("https://shop.example/mon-compte")
    assert is_after_sale_page("https://shop.example/suivi-de-commande")
    assert not is_after_sale_page("https://shop.example/stores-bannes/fiamma-f45")
    assert not is_after_sale_page("https://shop.example/")
    assert not is_after_sale_page(None)


def test_context_pool() -> None:
    assert context_pool([]) == "ambassador"
    assert context_pool(["greet", "ask_product_advice"]) == "ambassador"
    assert context_pool(["greet", "complaint"]) == "advisor"
    assert context_pool(["ask_shipping"], "https://shop.example/account") == "advisor"


def test_last_bot_action_before_user() -> None:
    events = [user("a", "out_of_scope"), bot_action("utter_out_of_scope"), bot_action("action_listen"),
              user("yes", "affirm"), bot_action("action_extract_slots")]
    assert last_bot_action_before_user(events) == "utter_out_of_scope"
    assert last_bot_action_before_user([user("yes", "affirm")]) is None
    assert last_bot_action_before_user([]) is None
