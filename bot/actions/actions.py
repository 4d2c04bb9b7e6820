"""The Relais bot's custom actions (Rasa SDK).

- `action_session_start` opens a session and sets the `language` slot from the
  metadata of the conversation's first message (the widget sends
  `{"language": "fr"|"en", "conversation_id": ..., "page_url": ...}`).
- `action_update_language` is the custom slot mapping of `language`: Rasa runs it
  after every user message (in `action_extract_slots`), so a language given in a
  later message's metadata is honoured, and a conversation without metadata gets
  its language detected once, from the first message that says it clearly.
- `action_handoff` asks for a human: one text telling the visitor who is being
  found (bot/actions/messages.py, in the signal's language), then ONE structured message `{"handoff": {...}}` that the handoff service
  consumes (docs/handoff-protocol.md).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import urlparse

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActionExecuted, EventType, SessionStarted, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from bot.actions.catalog import canonical_category
from bot.actions.language import (
    DEFAULT_LANGUAGE,
    detect_language,
    language_from_metadata,
    normalise_language,
)
from bot.actions.messages import handoff_text

LANGUAGE_SLOT = "language"
CATEGORY_SLOT = "product_category"
METADATA_SLOT = "session_started_metadata"

AMBASSADOR = "ambassador"
ADVISOR = "advisor"

# Intents that escalate by themselves, and the pool each one goes to.
ESCALATING_INTENTS = {"ask_product_advice": AMBASSADOR, "order_problem": ADVISOR, "complaint": ADVISOR}
# Once one of these was said in the conversation, it is after-sale: advisors take it.
AFTER_SALE_INTENTS = frozenset({"order_problem", "complaint"})
# Pages of the shop where a visitor deals with an existing order or account.
AFTER_SALE_PATH_WORDS = ("account", "compte", "order", "orders", "commande", "commandes", "suivi", "tracking")
# The bot's offers of a human, and why they were made.
OFFERS = {"utter_offer_human_after_fallback": "fallback", "utter_out_of_scope": "out_of_scope"}


def _metadata_of(tracker: Tracker) -> Mapping[str, Any]:
    metadata = (tracker.latest_message or {}).get("metadata")
    return metadata if isinstance(metadata, Mapping) else {}


def _session_metadata(tracker: Tracker) -> Mapping[str, Any]:
    metadata = tracker.get_slot(METADATA_SLOT)
    return metadata if isinstance(metadata, Mapping) else {}


def conversation_language(tracker: Tracker) -> str:
    """The language to answer in: the slot, else the message, else the default (en)."""
    return (
        normalise_language(tracker.get_slot(LANGUAGE_SLOT))
        or language_from_metadata(_metadata_of(tracker))
        or detect_language((tracker.latest_message or {}).get("text"))
        or DEFAULT_LANGUAGE
    )


def user_intents(events: Iterable[Mapping[str, Any]]) -> list[str]:
    """Names of the intents of the visitor's messages in this session, oldest first."""
    intents: list[str] = []
    for event in events:
        if event.get("event") == "session_started":
            intents.clear()
        elif event.get("event") == "user":
            name = ((event.get("parse_data") or {}).get("intent") or {}).get("name")
            if name:
                intents.append(str(name))
    return intents


def last_bot_action_before_user(events: Iterable[Mapping[str, Any]]) -> str | None:
    """The last action the bot ran before the visitor's latest message (not listen)."""
    seen_latest_user = False
    for event in reversed(list(events)):
        kind = event.get("event")
        if kind == "user":
            if seen_latest_user:
                return None  # two user messages with no bot action between them
            seen_latest_user = True
        elif kind == "action" and seen_latest_user:
            name = event.get("name")
            if name and name not in ("action_listen", "action_extract_slots", "action_update_language"):
                return str(name)
        elif kind == "session_started" and seen_latest_user:
            return None
    return None


def is_after_sale_page(page_url: object) -> bool:
    """True for pages about an existing order or an account (e.g. /mon-compte/commandes)."""
    if not isinstance(page_url, str) or not page_url:
        return False
    path = urlparse(page_url).path.lower()
    words = {word for part in path.split("/") for word in part.replace("_", "-").split("-") if word}
    return any(word in words for word in AFTER_SALE_PATH_WORDS)


def context_pool(previous_intents: Iterable[str], page_url: object = None) -> str:
    """Pool for a visitor who asks for a person: advisor after sale, ambassador before."""
    if AFTER_SALE_INTENTS.intersection(previous_intents) or is_after_sale_page(page_url):
        return ADVISOR
    return AMBASSADOR


def requested_category(tracker: Tracker) -> str | None:
    """The product category of the latest message, else the one talked about earlier."""
    for entity in (tracker.latest_message or {}).get("entities") or []:
        if entity.get("entity") == CATEGORY_SLOT:
            category = canonical_category(entity.get("value")) or canonical_category(entity.get("text"))
            if category:
                return category
    return canonical_category(tracker.get_slot(CATEGORY_SLOT))


def plan_handoff(tracker: Tracker) -> dict[str, Any]:
    """Decide pool, skill, reason and intent of a handoff from the conversation so far."""
    intents = user_intents(tracker.events)
    latest = ((tracker.latest_message or {}).get("intent") or {}).get("name") or (intents[-1] if intents else None)
    earlier = intents[:-1] if intents else []
    page_url = _metadata_of(tracker).get("page_url") or _session_metadata(tracker).get("page_url")

    if latest in ESCALATING_INTENTS:
        pool, reason, intent = ESCALATING_INTENTS[latest], "intent", latest
    elif latest == "request_human":
        pool, reason, intent = context_pool(earlier, page_url), "requested", latest
    else:  # the visitor accepted a human the bot offered (after fallbacks or out of scope)
        offer = OFFERS.get(last_bot_action_before_user(tracker.events) or "")
        reason = "fallback" if offer == "fallback" else "requested"
        intent = "nlu_fallback" if offer == "fallback" else (offer or latest or "request_human")
        pool = context_pool(earlier, page_url)

    skill = requested_category(tracker) if pool == AMBASSADOR else None
    return {
        "pool": pool,
        "skill": skill,
        "language": conversation_language(tracker),
        "reason": reason,
        "intent": intent,
    }


class ActionSessionStart(Action):
    """Starts a session; the language comes from the first message's metadata."""

    def name(self) -> str:
        return "action_session_start"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        events: list[EventType] = [SessionStarted()]
        metadata = _session_metadata(tracker)
        if metadata:
            events.append(SlotSet(METADATA_SLOT, dict(metadata)))
        language = language_from_metadata(metadata) or normalise_language(tracker.get_slot(LANGUAGE_SLOT))
        if language:  # from the metadata, else carried over from the previous session
            events.append(SlotSet(LANGUAGE_SLOT, language))
        events.append(ActionExecuted("action_listen"))
        return events


class ActionUpdateLanguage(Action):
    """Custom slot mapping of `language`, run by Rasa after every visitor message.

    A supported language in the message's metadata always wins (the widget knows
    the page's language, and a visitor may switch it). Without metadata the
    language is decided once per conversation: detected from the first message
    that gives a clear signal, then kept.
    """

    def name(self) -> str:
        return "action_update_language"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        current = normalise_language(tracker.get_slot(LANGUAGE_SLOT))
        declared = language_from_metadata(_metadata_of(tracker))
        if declared:
            return [] if declared == current else [SlotSet(LANGUAGE_SLOT, declared)]
        if current:
            return []
        detected = detect_language((tracker.latest_message or {}).get("text"))
        return [SlotSet(LANGUAGE_SLOT, detected)] if detected else []


class ActionHandoff(Action):
    """Hands the conversation to a person: a text for the visitor, then the signal."""

    def name(self) -> str:
        return "action_handoff"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        handoff = plan_handoff(tracker)
        dispatcher.utter_message(text=handoff_text(handoff["pool"], handoff["language"]))
        dispatcher.utter_message(json_message={"handoff": handoff})
        events: list[EventType] = []
        if normalise_language(tracker.get_slot(LANGUAGE_SLOT)) != handoff["language"]:
            events.append(SlotSet(LANGUAGE_SLOT, handoff["language"]))
        if handoff["skill"]:
            events.append(SlotSet(CATEGORY_SLOT, handoff["skill"]))
        return events
