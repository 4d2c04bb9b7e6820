"""Run by test_production_stores.py in the BOT's environment (it imports rasa).

`save SENDER`: build Rasa's stores from bot/endpoints.production.yml exactly as
`rasa run --endpoints` does, and save a short dialogue under SENDER.
`check SENDER`: in a new process (a restarted Rasa, or another replica), read the
dialogue back from the tracker store, then show that the lock store serialises one
conversation across two replicas. Prints one JSON object; exits non-zero on failure.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

from rasa.core.lock_store import LockStore
from rasa.core.tracker_store import TrackerStore
from rasa.core.utils import AvailableEndpoints
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, BotUttered, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

ENDPOINTS = Path(__file__).resolve().parents[2] / "bot" / "endpoints.production.yml"
DIALOGUE = ["how long does delivery take?", "Delivery takes 2 to 4 working days."]


def _inner(store: object) -> object:
    """The concrete store under Rasa's wrappers (AwaitableTrackerStore, FailSafe…)."""
    while hasattr(store, "_tracker_store"):
        store = store._tracker_store
    return store


async def save(sender: str) -> dict[str, object]:
    endpoints = AvailableEndpoints.read_endpoints(str(ENDPOINTS))
    domain = Domain.empty()
    store = TrackerStore.create(endpoints.tracker_store, domain)
    tracker = DialogueStateTracker(sender, domain.slots)
    tracker.update(UserUttered(DIALOGUE[0], {"name": "ask_shipping", "confidence": 0.93}))
    tracker.update(ActionExecuted("utter_shipping"))
    tracker.update(BotUttered(DIALOGUE[1]))
    await store.save(tracker)
    return {"tracker_store": type(_inner(store)).__name__}


async def check(sender: str) -> dict[str, object]:
    endpoints = AvailableEndpoints.read_endpoints(str(ENDPOINTS))
    store = TrackerStore.create(endpoints.tracker_store, Domain.empty())
    tracker = await store.retrieve(sender)
    texts = [e.text for e in tracker.events if isinstance(e, UserUttered | BotUttered)] if tracker else []
    first, second = LockStore.create(endpoints.lock_store), LockStore.create(endpoints.lock_store)
    async with first.lock(sender, lock_lifetime=60):
        waiting = second.issue_ticket(sender, 60)  # replica two gets a message for the same conversation
        blocked = second.get_or_create_lock(sender).is_locked(waiting)
    served = not second.get_or_create_lock(sender).is_locked(waiting)  # replica one done: two's turn
    second.cleanup(sender, waiting)
    return {
        "tracker_store": type(_inner(store)).__name__,
        "texts": texts,
        "lock_store": type(first).__name__,
        "second_replica_waited": blocked,
        "second_replica_served_after": served,
        "lock_left": second.get_lock(sender) is not None,
    }


if __name__ == "__main__":
    mode, sender = sys.argv[1], sys.argv[2]
    print(json.dumps(asyncio.run(save(sender) if mode == "save" else check(sender))))
