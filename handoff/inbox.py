"""The offline messages' inbox in the store.

A visitor who finds nobody to answer leaves an email and a question
(`VisitorService.leave_offline_message`); the question is a visitor message of
the transcript, and `file` adds, in the same unit of work, one inbox row
pointing at it (`offline_messages`: conversation, `seq`, state). Advisors list,
assign, answer (by email, `services/inbox.py`) and close these rows. The row
holds no personal data of its own: the text and the email stay in the message,
so erasing or anonymising a visitor (`visitor_data.py`) covers them.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Row, and_, insert, select, update

from handoff.conversations import UnitOfWork
from handoff.domain import Conflict, NotFound
from handoff.store import Store, as_utc, utcnow
from handoff.store.schema import conversations, messages, offline_messages

MAX_PAGE = 200


class InboxStatus(enum.StrEnum):
    OPEN = "open"  # waiting for an answer
    ANSWERED = "answered"  # answered by email; the answer is in the transcript
    DONE = "done"  # nothing more to do (answered, or closed without an answer)


@dataclass(frozen=True, slots=True)
class InboxItem:
    id: int
    conversation_id: str
    seq: int
    status: InboxStatus
    created_at: datetime
    text: str
    email: str | None
    language: str
    visitor_id: str
    page_url: str | None
    assigned_agent_id: str | None = None
    answered_by: str | None = None
    answered_at: datetime | None = None
    answer_seq: int | None = None
    done_at: datetime | None = None

    def to_json(self) -> dict[str, Any]:
        def when(value: datetime | None) -> str | None:
            return value.isoformat() if value else None

        return {
            "id": self.id,
            "conversation_id": self.conversation_id,
            "seq": self.seq,
            "status": self.status.value,
            "created_at": self.created_at.isoformat(),
            "text": self.text,
            "email": self.email,
            "language": self.language,
            "visitor_id": self.visitor_id,
            "page_url": self.page_url,
            "assigned_agent_id": self.assigned_agent_id,
            "answered_by": self.answered_by,
            "answered_at": when(self.answered_at),
            "answer_seq": self.answer_seq,
            "done_at": when(self.done_at),
        }


def _query() -> Any:
    return select(
        offline_messages,
        messages.c.text,
        messages.c.data,
        conversations.c.language,
        conversations.c.visitor_id,
        conversations.c.page_url,
    ).select_from(
        offline_messages.join(conversations, conversations.c.id == offline_messages.c.conversation_id).join(
            messages,
            and_(messages.c.conversation_id == offline_messages.c.conversation_id, messages.c.seq == offline_messages.c.seq),
        )
    )


def _item(row: Row[Any]) -> InboxItem:
    data = row.data or {}
    email = data.get("email") if isinstance(data, dict) else None
    return InboxItem(
        id=row.id,
        conversation_id=row.conversation_id,
        seq=row.seq,
        status=InboxStatus(row.status),
        created_at=as_utc(row.created_at),
        text=row.text,
        email=str(email) if email else None,
        language=row.language,
        visitor_id=row.visitor_id,
        page_url=row.page_url,
        assigned_agent_id=row.assigned_agent_id,
        answered_by=row.answered_by,
        answered_at=as_utc(row.answered_at) if row.answered_at else None,
        answer_seq=row.answer_seq,
        done_at=as_utc(row.done_at) if row.done_at else None,
    )


async def file(unit: UnitOfWork, conversation_id: str, seq: int) -> None:
    """File the visitor message `seq` in the inbox, in the caller's unit of work."""
    await unit.execute(
        insert(offline_messages).values(
            conversation_id=conversation_id, seq=seq, status=InboxStatus.OPEN.value, created_at=utcnow()
        )
    )


class Inbox:
    def __init__(self, store: Store) -> None:
        self.store = store

    async def list(
        self, statuses: tuple[InboxStatus, ...], *, assigned_to: str | None = None, limit: int = 50, before: int | None = None
    ) -> tuple[list[InboxItem], bool]:
        """Items newest first (ids below `before`), and whether more follow."""
        query = _query().where(offline_messages.c.status.in_([s.value for s in statuses]))
        if assigned_to is not None:
            query = query.where(offline_messages.c.assigned_agent_id == assigned_to)
        if before is not None:
            query = query.where(offline_messages.c.id < before)
        query = query.order_by(offline_messages.c.id.desc()).limit(limit + 1)
        async with self.store.sessions() as session:
            rows = (await session.execute(query)).all()
        return [_item(row) for row in rows[:limit]], len(rows) > limit

    async def get(self, item_id: int, unit: UnitOfWork | None = None) -> InboxItem:
        query = _query().where(offline_messages.c.id == item_id)
        if unit is not None:
            row = (await unit.execute(query)).first()
        else:
            async with self.store.sessions() as session:
                row = (await session.execute(query)).first()
        if row is None:
            raise NotFound("unknown offline message", id=item_id)
        return _item(row)

    async def change(
        self, unit: UnitOfWork, item_id: int, expected: tuple[InboxStatus, ...], **values: Any
    ) -> InboxItem:
        """Compare-and-set on the item's status, in the caller's unit of work."""
        result = await unit.execute(
            update(offline_messages)
            .where(offline_messages.c.id == item_id, offline_messages.c.status.in_([s.value for s in expected]))
            .values(**values)
        )
        item = await self.get(item_id, unit)
        if result.rowcount == 0:  # type: ignore[attr-defined]
            raise Conflict(f"this offline message is {item.status.value}", status=item.status.value)
        return item
