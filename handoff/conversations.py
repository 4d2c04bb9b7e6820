"""The one write path of a transcript, and the conversation's durable state.

`ConversationService.append()` is the only code that adds a message: in one
transaction it takes the next per-conversation sequence number, honours
`client_msg_id` idempotency (same id → the same message back, `created=False`),
commits, and only then publishes the message on the bus. Status changes go
through `transition()`, a compare-and-set on the current status, so two
instances can never both move a conversation from the same state.
"""

from __future__ import annotations

import builtins
import hmac
from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import Row, and_, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from handoff.domain import (
    Conflict,
    Conversation,
    ConversationStatus,
    HandoffEvent,
    HandoffEventType,
    InvalidInput,
    Message,
    NotFound,
    Pool,
    SenderKind,
    Unauthorized,
)
from handoff.realtime import EventBus, conversation_channel
from handoff.store import Store, as_utc, utcnow
from handoff.store.schema import conversations, handoff_events, messages
from handoff.tokens import new_id, new_secret, secret_hash

DEFAULT_PAGE = 500
MAX_PAGE = 100_000
UPDATABLE = frozenset(
    {
        "status",
        "page_url",
        "pool",
        "skill",
        "assigned_agent_id",
        "last_agent_id",
        "rating",
        "rating_comment",
        "outcome",
        "offline_email",
    }
)


def _conversation(row: Row[Any]) -> Conversation:
    return Conversation(
        id=row.id,
        visitor_id=row.visitor_id,
        language=row.language,
        page_url=row.page_url,
        status=ConversationStatus(row.status),
        created_at=as_utc(row.created_at),
        updated_at=as_utc(row.updated_at),
        assigned_agent_id=row.assigned_agent_id,
        pool=Pool(row.pool) if row.pool else None,
        skill=row.skill,
        last_agent_id=row.last_agent_id,
        rating=row.rating,
        rating_comment=row.rating_comment,
        outcome=row.outcome,
        offline_email=row.offline_email,
        last_seq=row.last_seq,
    )


def _message(row: Row[Any]) -> Message:
    return Message(
        conversation_id=row.conversation_id,
        seq=row.seq,
        sender_kind=SenderKind(row.sender_kind),
        sender_id=row.sender_id,
        text=row.text,
        created_at=as_utc(row.created_at),
        client_msg_id=row.client_msg_id,
        intent=row.intent,
        confidence=row.confidence,
        data=dict(row.data or {}),
    )


def _event(row: Row[Any]) -> HandoffEvent:
    return HandoffEvent(
        conversation_id=row.conversation_id,
        type=HandoffEventType(row.type),
        created_at=as_utc(row.created_at),
        agent_id=row.agent_id,
        data=dict(row.data or {}),
    )


def _column_values(changes: Mapping[str, Any]) -> dict[str, Any]:
    unknown = set(changes) - UPDATABLE
    if unknown:
        raise ValueError(f"not updatable: {', '.join(sorted(unknown))}")
    return {key: value.value if isinstance(value, Pool | ConversationStatus) else value for key, value in changes.items()}


class ConversationService:
    def __init__(self, store: Store, bus: EventBus) -> None:
        self.store = store
        self.bus = bus

    async def ping(self) -> None:
        await self.store.ping()

    # --- conversations -----------------------------------------------------------

    async def start(self, language: str, page_url: str | None, visitor_id: str | None = None) -> tuple[Conversation, str]:
        """A new conversation held by the bot; returns it and the visitor's secret token."""
        token = new_secret()
        now = utcnow()
        values = {
            "id": new_id("c"),
            "visitor_id": visitor_id or new_id("v"),
            "visitor_token_hash": secret_hash(token),
            "language": language,
            "page_url": page_url,
            "status": ConversationStatus.BOT.value,
            "last_seq": 0,
            "created_at": now,
            "updated_at": now,
        }
        async with self.store.sessions.begin() as session:
            await session.execute(insert(conversations).values(**values))
        return await self.get(str(values["id"])), token

    async def get(self, conversation_id: str) -> Conversation:
        async with self.store.sessions() as session:
            return await self._get(session, conversation_id)

    async def _get(self, session: AsyncSession, conversation_id: str) -> Conversation:
        row = (await session.execute(select(conversations).where(conversations.c.id == conversation_id))).first()
        if row is None:
            raise NotFound("unknown conversation", conversation_id=conversation_id)
        return _conversation(row)

    async def authenticate_visitor(self, conversation_id: str, token: str) -> Conversation:
        """The conversation, if `token` is its visitor's token (404 unknown, 401 wrong token)."""
        async with self.store.sessions() as session:
            row = (await session.execute(select(conversations).where(conversations.c.id == conversation_id))).first()
        if row is None:
            raise NotFound("unknown conversation", conversation_id=conversation_id)
        if not token or not hmac.compare_digest(row.visitor_token_hash, secret_hash(token)):
            raise Unauthorized("wrong visitor token for this conversation")
        return _conversation(row)

    async def list(
        self, *, statuses: Iterable[ConversationStatus] | None = None, agent_id: str | None = None
    ) -> list[Conversation]:
        query = select(conversations).order_by(conversations.c.updated_at, conversations.c.id)
        if statuses is not None:
            query = query.where(conversations.c.status.in_([s.value for s in statuses]))
        if agent_id is not None:
            query = query.where(conversations.c.assigned_agent_id == agent_id)
        async with self.store.sessions() as session:
            return [_conversation(row) for row in (await session.execute(query)).all()]

    async def previous_agent(self, visitor_id: str, exclude_conversation: str | None = None) -> str | None:
        """The last agent who talked with this visitor, for the returning-visitor rule."""
        query = (
            select(conversations.c.last_agent_id)
            .where(conversations.c.visitor_id == visitor_id, conversations.c.last_agent_id.is_not(None))
            .order_by(conversations.c.updated_at.desc())
            .limit(1)
        )
        if exclude_conversation:
            query = query.where(conversations.c.id != exclude_conversation)
        async with self.store.sessions() as session:
            value = (await session.execute(query)).scalar_one_or_none()
        return str(value) if value else None

    async def update(self, conversation_id: str, **changes: Any) -> Conversation:
        """Change fields whatever the current status (page URL, rating …)."""
        return await self._change(conversation_id, None, changes)

    async def transition(
        self, conversation_id: str, expected: Iterable[ConversationStatus], **changes: Any
    ) -> Conversation:
        """Compare-and-set: apply `changes` only if the status is one of `expected`;
        raise Conflict otherwise (NotFound for an unknown conversation)."""
        return await self._change(conversation_id, frozenset(expected), changes)

    async def _change(
        self, conversation_id: str, expected: frozenset[ConversationStatus] | None, changes: Mapping[str, Any]
    ) -> Conversation:
        values = _column_values(changes)
        condition = conversations.c.id == conversation_id
        if expected is not None:
            condition = and_(condition, conversations.c.status.in_([s.value for s in expected]))
        async with self.store.sessions.begin() as session:
            result = await session.execute(update(conversations).where(condition).values(updated_at=utcnow(), **values))
            conversation = await self._get(session, conversation_id)
            if result.rowcount == 0:  # type: ignore[attr-defined]
                raise Conflict(
                    f"conversation is {conversation.status.value}, expected "
                    + " or ".join(sorted(s.value for s in expected or ())),
                    status=conversation.status.value,
                )
        await self.bus.publish(
            conversation_channel(conversation_id), {"type": "conversation", "conversation": conversation.to_json()}
        )
        return conversation

    # --- the transcript -------------------------------------------------------------

    async def append(
        self,
        conversation_id: str,
        sender_kind: SenderKind,
        text: str,
        *,
        sender_id: str | None = None,
        client_msg_id: str | None = None,
        data: Mapping[str, Any] | None = None,
    ) -> tuple[Message, bool]:
        """Commit one transcript entry, then publish it. Returns (message, created)."""
        if client_msg_id is not None and (existing := await self._by_client_id(conversation_id, client_msg_id)):
            return existing, False
        try:
            message = await self._insert(conversation_id, sender_kind, text, sender_id, client_msg_id, data or {})
        except IntegrityError:
            # A concurrent retry with the same client_msg_id committed first.
            if client_msg_id is not None and (existing := await self._by_client_id(conversation_id, client_msg_id)):
                return existing, False
            raise
        await self.bus.publish(conversation_channel(conversation_id), {"type": "message", "message": message.to_json()})
        return message, True

    async def _insert(
        self,
        conversation_id: str,
        sender_kind: SenderKind,
        text: str,
        sender_id: str | None,
        client_msg_id: str | None,
        data: Mapping[str, Any],
    ) -> Message:
        now = utcnow()
        async with self.store.sessions.begin() as session:
            # The UPDATE takes the conversation's row lock (PostgreSQL) or the write
            # lock (SQLite) first, so sequence numbers are dense and never reused.
            seq = (
                await session.execute(
                    update(conversations)
                    .where(conversations.c.id == conversation_id)
                    .values(last_seq=conversations.c.last_seq + 1, updated_at=now)
                    .returning(conversations.c.last_seq)
                )
            ).scalar_one_or_none()
            if seq is None:
                raise NotFound("unknown conversation", conversation_id=conversation_id)
            values = {
                "conversation_id": conversation_id,
                "seq": seq,
                "sender_kind": sender_kind.value,
                "sender_id": sender_id,
                "text": text,
                "client_msg_id": client_msg_id,
                "data": dict(data),
                "created_at": now,
            }
            await session.execute(insert(messages).values(**values))
        return Message(
            conversation_id=conversation_id,
            seq=seq,
            sender_kind=sender_kind,
            sender_id=sender_id,
            text=text,
            created_at=now,
            client_msg_id=client_msg_id,
            data=dict(data),
        )

    async def _by_client_id(self, conversation_id: str, client_msg_id: str) -> Message | None:
        query = select(messages).where(
            messages.c.conversation_id == conversation_id, messages.c.client_msg_id == client_msg_id
        )
        async with self.store.sessions() as session:
            row = (await session.execute(query)).first()
        return _message(row) if row else None

    async def messages(self, conversation_id: str, *, after: int = 0, limit: int = DEFAULT_PAGE) -> builtins.list[Message]:
        """Messages with seq > `after`, in order (at most `limit`)."""
        if limit < 1 or limit > MAX_PAGE:
            raise InvalidInput(f"limit must be between 1 and {MAX_PAGE}", field="limit")
        query = (
            select(messages)
            .where(messages.c.conversation_id == conversation_id, messages.c.seq > after)
            .order_by(messages.c.seq)
            .limit(limit)
        )
        async with self.store.sessions() as session:
            return [_message(row) for row in (await session.execute(query)).all()]

    async def annotate(self, conversation_id: str, seq: int, intent: str, confidence: float | None) -> None:
        """Attach the NLU's reading to a visitor message (for analytics and training)."""
        async with self.store.sessions.begin() as session:
            await session.execute(
                update(messages)
                .where(messages.c.conversation_id == conversation_id, messages.c.seq == seq)
                .values(intent=intent[:64], confidence=confidence)
            )

    # --- handoff events ---------------------------------------------------------------

    async def record_event(
        self,
        conversation_id: str,
        type: HandoffEventType,
        *,
        agent_id: str | None = None,
        data: Mapping[str, Any] | None = None,
    ) -> HandoffEvent:
        event = HandoffEvent(conversation_id, type, utcnow(), agent_id, dict(data or {}))
        async with self.store.sessions.begin() as session:
            await session.execute(
                insert(handoff_events).values(
                    conversation_id=conversation_id,
                    type=type.value,
                    agent_id=agent_id,
                    data=event.data,
                    created_at=event.created_at,
                )
            )
        return event

    async def events(self, conversation_id: str) -> builtins.list[HandoffEvent]:
        query = select(handoff_events).where(handoff_events.c.conversation_id == conversation_id).order_by(handoff_events.c.id)
        async with self.store.sessions() as session:
            return [_event(row) for row in (await session.execute(query)).all()]
