"""A visitor's personal data in the store: export it, erase it, and let it expire.

Everything the store keeps about a visitor hangs off their conversations (the
conversation row, its messages, its handoff events, its offline messages' inbox rows), found by `visitor_id`.
`export` returns all of it as JSON; `erase` deletes all of it (a live
conversation — waiting or held by an agent — must end first, so the router is
never left holding a conversation the store forgot). `anonymise_older_than` is
the retention rule: a conversation untouched for the retention period keeps
what analytics need (times, statuses, intents, handoff events, rating, outcome)
and loses what identifies or quotes the visitor (texts, notes, page, email,
comment);
its visitor token stops working. Logs are outside the store and not covered.

The maintainers' review (docs/maintainers.md) hangs off conversations too: `erase`
deletes its flags and labels with the conversations (foreign keys, ON DELETE
CASCADE); the retention rule deletes the flags and masks the personal data left in
a label's copy of the message (the label stays: it is training data, and the
export drops any example with personal data anyway).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select, update

from handoff.domain import Conflict, ConversationStatus, NotFound
from handoff.services.privacy import mask_personal_data
from handoff.store import Store, as_utc, utcnow
from handoff.store.schema import (
    conversations,
    handoff_events,
    internal_notes,
    messages,
    offline_messages,
    review_flags,
    review_labels,
)
from handoff.tokens import new_secret, secret_hash

LIVE = (ConversationStatus.WAITING.value, ConversationStatus.ASSIGNED.value)
ERASED_TEXT = ""
ANONYMOUS_VISITOR = "anonymised"


def _json(row: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in row._mapping.items():
        out[key] = as_utc(value).isoformat() if isinstance(value, datetime) else value
    return out


class VisitorData:
    def __init__(self, store: Store) -> None:
        self.store = store

    async def export(self, visitor_id: str) -> dict[str, Any]:
        """Every row the store holds about this visitor (the visitor token's hash left out)."""
        async with self.store.sessions() as session:
            rows = (
                await session.execute(
                    select(conversations).where(conversations.c.visitor_id == visitor_id).order_by(conversations.c.created_at)
                )
            ).all()
            if not rows:
                raise NotFound("no data for this visitor", visitor_id=visitor_id)
            exported = []
            for row in rows:
                conversation = {k: v for k, v in _json(row).items() if k != "visitor_token_hash"}
                transcript = await session.execute(
                    select(messages).where(messages.c.conversation_id == row.id).order_by(messages.c.seq)
                )
                events = await session.execute(
                    select(handoff_events).where(handoff_events.c.conversation_id == row.id).order_by(handoff_events.c.id)
                )
                conversation["messages"] = [_json(m) for m in transcript]
                conversation["handoff_events"] = [_json(e) for e in events]
                filed = await session.execute(
                    select(offline_messages).where(offline_messages.c.conversation_id == row.id).order_by(offline_messages.c.id)
                )
                conversation["offline_messages"] = [_json(f) for f in filed]
                notes = await session.execute(
                    select(internal_notes).where(internal_notes.c.conversation_id == row.id).order_by(internal_notes.c.id)
                )
                conversation["internal_notes"] = [_json(n) for n in notes]
                exported.append(conversation)
        return {"visitor_id": visitor_id, "conversations": exported}

    async def erase(self, visitor_id: str) -> int:
        """Delete everything about this visitor; the number of conversations deleted."""
        async with self.store.sessions.begin() as session:
            rows = (
                await session.execute(
                    select(conversations.c.id, conversations.c.status).where(conversations.c.visitor_id == visitor_id)
                )
            ).all()
            if not rows:
                raise NotFound("no data for this visitor", visitor_id=visitor_id)
            live = sorted(row.id for row in rows if row.status in LIVE)
            if live:
                raise Conflict("end the visitor's live conversations first", conversation_ids=live)
            ids = [row.id for row in rows]
            await session.execute(delete(offline_messages).where(offline_messages.c.conversation_id.in_(ids)))
            await session.execute(delete(messages).where(messages.c.conversation_id.in_(ids)))
            await session.execute(delete(handoff_events).where(handoff_events.c.conversation_id.in_(ids)))
            await session.execute(delete(internal_notes).where(internal_notes.c.conversation_id.in_(ids)))
            await session.execute(delete(conversations).where(conversations.c.id.in_(ids)))
        return len(ids)

    async def apply_retention(self, retention_days: float) -> int:
        """The periodic step: anonymise what the retention period has passed."""
        return await self.anonymise_older_than(utcnow() - timedelta(days=retention_days))

    async def anonymise_older_than(self, cutoff: datetime) -> int:
        """Apply the retention rule to conversations untouched since `cutoff`; how many."""
        async with self.store.sessions.begin() as session:
            ids = (
                await session.execute(
                    select(conversations.c.id).where(
                        conversations.c.updated_at < cutoff,
                        conversations.c.status.not_in(LIVE),
                        conversations.c.visitor_id != ANONYMOUS_VISITOR,
                    )
                )
            ).scalars().all()
            if not ids:
                return 0
            await session.execute(
                update(messages)
                .where(messages.c.conversation_id.in_(ids))
                .values(text=ERASED_TEXT, data={}, client_msg_id=None)
            )
            await session.execute(  # a transfer note may quote the visitor
                update(handoff_events).where(handoff_events.c.conversation_id.in_(ids)).values(data={})
            )
            await session.execute(delete(review_flags).where(review_flags.c.conversation_id.in_(ids)))
            labels = (await session.execute(
                select(review_labels.c.id, review_labels.c.text).where(review_labels.c.conversation_id.in_(ids))
            )).all()
            for label in labels:
                masked = mask_personal_data(label.text)
                if masked != label.text:
                    await session.execute(update(review_labels).where(review_labels.c.id == label.id).values(text=masked))
            await session.execute(  # internal notes may quote the visitor too
                update(internal_notes).where(internal_notes.c.conversation_id.in_(ids)).values(text=ERASED_TEXT)
            )
            for conversation_id in ids:  # each its own unusable token
                await session.execute(
                    update(conversations)
                    .where(conversations.c.id == conversation_id)
                    .values(
                        visitor_id=ANONYMOUS_VISITOR, visitor_token_hash=secret_hash(new_secret()),
                        page_url=None, offline_email=None, rating_comment=None,
                    )
                )
        return len(ids)
