"""Reading a bus subscription in tests."""

from __future__ import annotations

import asyncio

from handoff.events import Event
from handoff.realtime import Subscription


async def delivered(subscription: Subscription, *, quiet_seconds: float = 0.2) -> list[Event]:
    """Every event delivered so far: read until nothing more comes for `quiet_seconds`
    (the in-memory bus delivers during `publish`, so nothing is still on its way)."""
    events: list[Event] = []
    while True:
        try:
            events.append(await asyncio.wait_for(anext(aiter(subscription)), timeout=quiet_seconds))
        except TimeoutError:
            return events
