"""The estimated wait of a visitor in line: how long the last handoffs of the pool took
to be taken (the median of the last `SAMPLE` queued → accepted times, from the handoff
events), times the visitor's position. No history, no estimate: the widget then says
nothing rather than guess.

One store read per call; the position publisher calls it once per pool and publication,
not once per visitor.
"""

from __future__ import annotations

import statistics

from handoff.conversations import ConversationService
from handoff.domain import Pool

SAMPLE = 20  # the last N handoffs of the pool: recent enough to follow the day's pace


class WaitEstimator:
    def __init__(self, conversations: ConversationService, sample: int = SAMPLE) -> None:
        self._conversations = conversations
        self._sample = sample

    async def typical_wait(self, pool: Pool) -> float | None:
        """The median time (seconds) a conversation of `pool` waited lately; None without history."""
        waits = await self._conversations.recent_waits(pool, self._sample)
        return statistics.median(waits) if waits else None


def estimated_wait(typical: float | None, position: int | None) -> int | None:
    """Seconds a visitor at `position` may expect to wait (at least 1), or None."""
    if typical is None or position is None or position < 1:
        return None
    return max(1, round(typical * position))
