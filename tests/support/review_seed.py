"""Conversations as the store keeps them, written straight into it, for the review's
tests: visitor messages with the intent and confidence the bot read, bot replies,
and the handoff requests that followed, each at a chosen time."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import insert, update

from handoff.store import open_store
from handoff.store.schema import conversations, handoff_events, messages

NOW = datetime.now(UTC).replace(microsecond=0)


def ago(**delta: float) -> datetime:
    return NOW - timedelta(**delta)


class Seeder:
    """Writes into the database at `database_url`; `close()` when done."""

    def __init__(self, database_url: str) -> None:
        self.database_url = database_url
        self.seqs: dict[str, int] = {}

    async def __aenter__(self) -> Seeder:
        self.store = await open_store(self.database_url)
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.store.close()

    async def conversation(self, language: str = "en", *, at: datetime | None = None,
                           assigned_agent_id: str | None = None, last_agent_id: str | None = None) -> str:
        cid = uuid.uuid4().hex
        at = at or ago(days=1)
        async with self.store.sessions.begin() as session:
            await session.execute(insert(conversations).values(
                id=cid, visitor_id="v-" + cid[:8], visitor_token_hash="x" * 64, language=language,
                status="assigned" if assigned_agent_id else "bot", assigned_agent_id=assigned_agent_id,
                last_agent_id=last_agent_id or assigned_agent_id, last_seq=0, created_at=at, updated_at=at,
            ))
        self.seqs[cid] = 0
        return cid

    async def say(self, cid: str, text: str, *, at: datetime, intent: str | None = None,
                  confidence: float | None = None, sender: str = "visitor") -> int:
        self.seqs[cid] += 1
        seq = self.seqs[cid]
        async with self.store.sessions.begin() as session:
            await session.execute(insert(messages).values(
                conversation_id=cid, seq=seq, sender_kind=sender, text=text, intent=intent,
                confidence=confidence, data={}, created_at=at,
            ))
            await session.execute(update(conversations).where(conversations.c.id == cid).values(last_seq=seq))
        return seq

    async def turn(self, cid: str, text: str, *, at: datetime, intent: str, confidence: float = 0.95) -> int:
        """A visitor message the bot read, and the bot's reply a second later."""
        seq = await self.say(cid, text, at=at, intent=intent, confidence=confidence)
        await self.say(cid, "a vetted answer", at=at + timedelta(seconds=1), sender="bot")
        return seq

    async def handoff(self, cid: str, reason: str, *, at: datetime) -> None:
        async with self.store.sessions.begin() as session:
            await session.execute(insert(handoff_events).values(
                conversation_id=cid, type="requested", agent_id=None,
                data={"pool": "advisor", "skill": None, "reason": reason}, created_at=at,
            ))
