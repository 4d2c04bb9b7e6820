"""Build rasa_sdk trackers the way the Rasa server sends them to the action server."""

from __future__ import annotations

import asyncio
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

Event = dict[str, Any]


def user(text: str, intent: str, entities: list[dict[str, Any]] | None = None,
         metadata: dict[str, Any] | None = None) -> Event:
    """A `user` event as it appears in the tracker's event list."""
    return {
        "event": "user",
        "text": text,
        "parse_data": {
            "intent": {"name": intent, "confidence": 0.99},
            "entities": entities or [],
            "text": text,
            "metadata": metadata or {},
        },
        "metadata": metadata or {},
    }


def bot_action(name: str) -> Event:
    return {"event": "action", "name": name}


def category(value: str, text: str | None = None) -> dict[str, Any]:
    return {"entity": "product_category", "value": value, "text": text or value,
            "extractor": "DIETClassifier", "start": 0, "end": len(text or value)}


def tracker(events: list[Event], slots: dict[str, Any] | None = None) -> Tracker:
    """A tracker whose latest message is the last `user` event of `events`."""
    latest = next((e for e in reversed(events) if e["event"] == "user"), None)
    latest_message: dict[str, Any] = {}
    if latest is not None:
        latest_message = {**latest["parse_data"], "metadata": latest["metadata"]}
    return Tracker(
        sender_id="conversation-1",
        slots={"language": None, "product_category": None, "session_started_metadata": None,
               **(slots or {})},
        latest_message=latest_message,
        events=events,
        paused=False,
        followup_action=None,
        active_loop={},
        latest_action_name="action_listen",
    )


def run(action: Action, trk: Tracker) -> tuple[list[dict[str, Any]], CollectingDispatcher]:
    """Run an action as the action server would; return its events and what it said."""
    dispatcher = CollectingDispatcher()
    events = asyncio.run(action.run(dispatcher, trk, {}))
    return [dict(event) for event in events], dispatcher
