"""Whether a visitor is on the site: their widget's sockets, counted per conversation.

Each instance counts the visitor sockets it holds; when a conversation's count on
this instance goes from 0 to 1 (the visitor came back) or from 1 to 0 (the visitor
left, or lost the connection) it publishes `VisitorPresence` on the conversation's
channel, which every instance's agent sockets watching that conversation forward.
A visitor with tabs open on two instances can be told gone by one of them while the
other still holds a socket; the console waits a few seconds before saying "left",
so a page reload or a reconnection does not flicker (docs/console.md).
"""

from __future__ import annotations

import contextlib
import logging
from collections import Counter

from handoff.events import VisitorPresence
from handoff.realtime import EventBus, conversation_channel

log = logging.getLogger(__name__)


class VisitorSockets:
    """This instance's open visitor sockets, per conversation."""

    def __init__(self) -> None:
        self.open: Counter[str] = Counter()

    async def opened(self, bus: EventBus, conversation_id: str) -> None:
        self.open[conversation_id] += 1
        if self.open[conversation_id] == 1:
            await bus.publish(conversation_channel(conversation_id), VisitorPresence(conversation_id, True))

    async def closed(self, bus: EventBus, conversation_id: str) -> None:
        self.open[conversation_id] -= 1
        if self.open[conversation_id] > 0:
            return
        del self.open[conversation_id]
        # Told on a best-effort basis: a bus going away (shutdown, outage) must not fail the close.
        with contextlib.suppress(Exception):
            await bus.publish(conversation_channel(conversation_id), VisitorPresence(conversation_id, False))
