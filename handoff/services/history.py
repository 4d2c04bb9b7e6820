"""The history: conversations a person answered and that are no longer live, as
agents may read them, searched and paged.

An ambassador reads the conversations they took part in (they accepted or
claimed it, or were its last agent); advisors and admins read all of them. The
search filters on a text in the transcript (case-insensitive `LIKE`/`ILIKE`),
the visitor's id (a prefix: the console shows short ids), an agent who took
part, the topic (the product category, `skill`) and when the conversation
started (`since` inclusive, `until` exclusive); newest first, one page at a
time. The filters and the order use the indexes of migration 0006; the text
search scans the candidates' messages (no full-text index: PostgreSQL and SQLite
alike). An ambassador's text search matches what they can read: visitors' texts
with personal data masked (`services/privacy.py`), so a search cannot probe an
email or a card number the ambassador never sees.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, exists, func, or_, select

from handoff.conversations import ConversationService, _conversation
from handoff.domain import (
    Agent,
    AgentRole,
    ConversationStatus,
    Forbidden,
    HandoffEventType,
)
from handoff.services.privacy import mask_personal_data, sees_personal_data
from handoff.store.schema import agents, conversations, handoff_events, messages

LIVE = (ConversationStatus.WAITING.value, ConversationStatus.ASSIGNED.value)
TOOK_PART = (HandoffEventType.ACCEPTED.value, HandoffEventType.CLAIMED.value)
MAX_PAGE_SIZE = 100
PREVIEW_LENGTH = 200
MAX_MASKED_CANDIDATES = 5000  # an ambassador's text search is checked on at most this many conversations


@dataclass(frozen=True, slots=True)
class HistoryQuery:
    text: str | None = None
    visitor: str | None = None
    agent_id: str | None = None
    topic: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    limit: int = 20
    offset: int = 0


def _like(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def took_part(agent_id: str) -> ColumnElement[bool]:
    """The conversation's agent `agent_id` answered it (now or before a transfer)."""
    return or_(
        conversations.c.last_agent_id == agent_id,
        exists().where(
            handoff_events.c.agent_id == agent_id,
            handoff_events.c.type.in_(TOOK_PART),
            handoff_events.c.conversation_id == conversations.c.id,
        ),
    )


def _readable(agent: Agent) -> ColumnElement[bool]:
    condition = and_(conversations.c.status.not_in(LIVE), conversations.c.last_agent_id.is_not(None))
    if agent.role is AgentRole.AMBASSADOR:
        condition = and_(condition, took_part(agent.id))
    return condition


class History:
    def __init__(self, conversations_service: ConversationService) -> None:
        self.conversations = conversations_service
        self.store = conversations_service.store

    async def search(self, agent: Agent, query: HistoryQuery) -> tuple[list[dict[str, Any]], bool]:
        """One page of conversations this agent may read (newest first), and whether more follow."""
        where = [_readable(agent)]
        if query.text:
            where.append(
                exists().where(messages.c.conversation_id == conversations.c.id, messages.c.text.ilike(_like(query.text), escape="\\"))
            )
        if query.visitor:
            visitor = query.visitor.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            where.append(conversations.c.visitor_id.like(visitor + "%", escape="\\"))
        if query.agent_id:
            where.append(took_part(query.agent_id))
        if query.topic:
            where.append(conversations.c.skill == query.topic)
        if query.since:
            where.append(conversations.c.created_at >= query.since)
        if query.until:
            where.append(conversations.c.created_at < query.until)
        base = (
            select(conversations, agents.c.display_name.label("agent_name"))
            .select_from(conversations.outerjoin(agents, agents.c.id == conversations.c.last_agent_id))
            .order_by(conversations.c.created_at.desc(), conversations.c.id.desc())
        )
        async with self.store.sessions() as session:
            if query.text and not sees_personal_data(agent):
                # What an ambassador finds must be what they can read: the visitor's texts masked.
                found = await self._masked_matches(session, where, query.text)
                more = len(found) > query.offset + query.limit
                page_ids = found[query.offset : query.offset + query.limit]
                page = (await session.execute(base.where(conversations.c.id.in_(page_ids)))).all()
            else:
                rows = (await session.execute(base.where(*where).limit(query.limit + 1).offset(query.offset))).all()
                page, more = rows[: query.limit], len(rows) > query.limit
            previews = await self._previews(session, [row.id for row in page])
        results = []
        for row in page:
            conversation = _conversation(row)
            results.append(
                {
                    "conversation": conversation.to_json(),
                    "agent_name": row.agent_name,
                    "preview": previews.get(row.id),
                }
            )
        return results, more

    async def _masked_matches(self, session: Any, where: list[ColumnElement[bool]], text: str) -> list[str]:
        """The conversations (in the history's order) whose text contains `text` once the
        visitor's personal data is masked; the SQL match on the stored text comes first."""
        candidates = (
            select(conversations.c.id, conversations.c.created_at)
            .where(*where)
            .order_by(conversations.c.created_at.desc(), conversations.c.id.desc())
            .limit(MAX_MASKED_CANDIDATES)
        )
        ordered = [row.id for row in (await session.execute(candidates)).all()]
        if not ordered:
            return []
        matching = select(messages.c.conversation_id, messages.c.sender_kind, messages.c.text).where(
            messages.c.conversation_id.in_(ordered), messages.c.text.ilike(_like(text), escape="\\")
        )
        wanted = text.casefold()
        kept = {
            row.conversation_id
            for row in (await session.execute(matching)).all()
            if wanted in (mask_personal_data(row.text) if row.sender_kind == "visitor" else row.text).casefold()
        }
        return [cid for cid in ordered if cid in kept]

    async def _previews(self, session: Any, ids: list[str]) -> dict[str, dict[str, Any]]:
        """Each conversation's first visitor message (what the visitor came for)."""
        if not ids:
            return {}
        first = (
            select(messages.c.conversation_id, func.min(messages.c.seq).label("seq"))
            .where(messages.c.conversation_id.in_(ids), messages.c.sender_kind == "visitor")
            .group_by(messages.c.conversation_id)
            .subquery()
        )
        statement = select(messages.c.conversation_id, messages.c.text, messages.c.sender_kind).join(
            first, and_(messages.c.conversation_id == first.c.conversation_id, messages.c.seq == first.c.seq)
        )
        rows = (await session.execute(statement)).all()
        return {
            row.conversation_id: {"sender_kind": row.sender_kind, "text": row.text[:PREVIEW_LENGTH]} for row in rows
        }

    async def read(self, agent: Agent, conversation_id: str) -> dict[str, Any]:
        """One conversation of the history, read-only: the conversation, its transcript
        and the names of the agents who wrote in it."""
        conversation = await self.conversations.get(conversation_id)  # 404 when unknown
        async with self.store.sessions() as session:
            allowed = (
                await session.execute(select(conversations.c.id).where(conversations.c.id == conversation_id, _readable(agent)))
            ).first()
        if allowed is None:
            raise Forbidden("this conversation is not in your history")
        transcript = await self.conversations.messages(conversation_id, limit=100_000)
        writers = {m.sender_id for m in transcript if m.sender_kind.value in ("ambassador", "advisor") and m.sender_id}
        async with self.store.sessions() as session:
            names = dict((await session.execute(select(agents.c.id, agents.c.display_name).where(agents.c.id.in_(writers)))).all())
        return {
            "conversation": conversation.to_json(),
            "messages": [m.to_json() for m in transcript],
            "agents": {str(k): str(v) for k, v in names.items()},
        }

