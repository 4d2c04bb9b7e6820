"""The typed events: each one round-trips through JSON as the bus and the sockets carry
it, unknown or incomplete frames are refused, and docs/api.md lists exactly these."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from handoff import events as ev
from handoff.domain import InvalidInput

SAMPLES: list[ev.Event] = [
    ev.MessageAdded({"conversation_id": "c1", "seq": 3, "text": "hi"}),
    ev.ConversationChanged({"id": "c1", "status": "waiting"}),
    ev.Typing("c1", "visitor", True),
    ev.QueuePosition("c1", 2),
    ev.QueuePosition("c1", None),
    ev.AvailabilityChanged({"ambassador": {"online": 1, "available": 0, "enough": False}}),
    ev.NoteAdded({"id": 1, "conversation_id": "c1", "kind": "note", "text": "agents only"}),
    ev.OfferMade({"conversation_id": "c1", "expires_in_seconds": 30}),
    ev.OfferRevoked("c1", "timeout"),
    ev.AssignedToAgent({"id": "c1"}),
    ev.Unassigned("c1", "closed"),
    ev.VisitorPresence("c1", False),
    ev.RatingReceived("c1", "v1", 4, None),
    ev.RatingReceived("c1", "v1", 5, "thanks"),
    ev.LiveConversationChanged({"id": "c1", "status": "closed"}),
    ev.QueueSnapshot([{"conversation_id": "c1"}]),
    ev.QueueEntryAdded("c1", {"conversation_id": "c1", "takeable": True}),
    ev.QueueEntryUpdated("c1", {"conversation_id": "c1", "takeable": False}),
    ev.QueueEntryRemoved("c1"),
    ev.PresenceChanged(),
    ev.PresenceList([{"presence": "online"}]),
    ev.SessionEnded("a_1", None),
    ev.SessionEnded("a_1", "0" * 64),
    ev.BotSwitched(False, ["ask_promotions"]),
    ev.Pong(),
    ev.ErrorFrame("nope"),
]


def test_every_event_has_a_sample() -> None:
    assert {type(sample) for sample in SAMPLES} == set(ev.SERVER_EVENTS)


@pytest.mark.parametrize("event", SAMPLES, ids=lambda e: f"{e.type}")
def test_each_event_round_trips_through_its_wire_json(event: ev.Event) -> None:
    wire = json.loads(json.dumps(event.to_json()))
    assert wire["type"] == event.type
    assert ev.event_from_json(wire) == event


def test_the_wire_format_of_the_events_the_widget_reads_is_unchanged() -> None:
    assert ev.QueuePosition("c1", 4, 120).to_json() == {
        "type": "queue_position", "conversation_id": "c1", "position": 4, "estimated_wait_seconds": 120
    }
    assert ev.Typing("c1", "advisor", False).to_json() == {
        "type": "typing", "conversation_id": "c1", "sender_kind": "advisor", "typing": False,
    }
    assert ev.MessageAdded({"seq": 1}).to_json() == {"type": "message", "message": {"seq": 1}}


@pytest.mark.parametrize("bad", [{"type": "nope"}, {"seq": 1}, [], "message", {"type": "offer_revoked", "reason": "x"}])
def test_what_is_not_an_event_is_refused(bad: object) -> None:
    with pytest.raises(ValueError):
        ev.event_from_json(bad)


def test_client_frames_are_read_and_bad_ones_refused() -> None:
    assert ev.client_frame_from_json({"type": "ping"}) == ev.Ping()
    assert ev.client_frame_from_json({"type": "typing", "typing": 1}) == ev.TypingFrame(typing=True)
    assert ev.client_frame_from_json({"type": "watch", "conversation_id": "c1"}) == ev.Watch("c1")
    assert ev.client_frame_from_json({"type": "later-feature"}) is None
    with pytest.raises(InvalidInput):
        ev.client_frame_from_json(["ping"])
    with pytest.raises(InvalidInput):
        ev.client_frame_from_json({"type": "watch", "conversation_id": 12})


def test_docs_api_lists_exactly_the_event_classes() -> None:
    docs = (Path(__file__).resolve().parents[2] / "docs" / "api.md").read_text(encoding="utf-8")
    assert ev.protocol_table() in docs
