"""The one write path of a transcript, and the conversation's durable state.

Every write is a **unit of work** (`ConversationService.unit_of_work()`): one store
transaction in which a use case changes a conversation's status through a
compare-and-set (`transition`), adds transcript entries (`append`: the next
per-conversation sequence number, `client_msg_id` idempotency) and handoff events
(`record_event`), while the events to tell (`publish`) are collected; they go on
the bus only after the commit, and are dropped if anything fails — so nothing is
relayed that was not committed, and a failed use case changes nothing.
`ConversationService.append()` is the one-message unit of work, and stays the way
a single message is written (idempotent retries return the first message,
`created=False`).
"""

from __future__ import annotations

import builtins
import contextlib
import hmac
import time
from collections.abc import AsyncIterator, Iterable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Executable, Result, Row, and_, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from handoff.domain import (
    DEFAULT_BRAND,
    Conflict,
    Conversation,
    ConversationStatus,
    HandoffEvent,
    HandoffEventType,
    InternalNote,
    InvalidInput,
    Message,
    NotFound,
    Pool,
    SenderKind,
    Unauthorized,
)
from handoff.events import (
    ConversationChanged,
    Event,
    LiveConversationChanged,
    MessageAdded,
    NoteAdded,
)
from handoff.observability.metrics import Metrics
from handoff.realtime import SUPERVISION_CHANNEL, EventBus, conversation_channel, notes_channel
from handoff.store import Store, as_utc, utcnow
from handoff.store.schema import conversations, handoff_events, internal_notes, messages
from handoff.tokens import new_id, new_secret, secret_hash

LIVE_STATUSES = frozenset({ConversationStatus.WAITING, ConversationStatus.ASSIGNED})

DEFAULT_PAGE = 500
# Where a wait for a person begins (the pool is in the event's data, a requeue keeps the last one).
WAIT_STARTS = (HandoffEventType.QUEUED, HandoffEventType.REQUEUED, HandoffEventType.TRANSFERRED)
WAIT_SAMPLE_MARGIN = 4
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
        brand=row.brand,
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


def _note(row: Row[Any]) -> InternalNote:
    return InternalNote(
        id=row.id,
        conversation_id=row.conversation_id,
        author_id=row.author_id,
        author_name=row.author_name,
        kind=row.kind,
        text=row.text,
        created_at=as_utc(row.created_at),
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


async def _get(session: AsyncSession, conversation_id: str) -> Conversation:
    row = (await session.execute(select(conversations).where(conversations.c.id == conversation_id))).first()
    if row is None:
        raise NotFound("unknown conversation", conversation_id=conversation_id)
    return _conversation(row)


async def _by_client_id(session: AsyncSession, conversation_id: str, client_msg_id: str) -> Message | None:
    query = select(messages).where(
        messages.c.conversation_id == conversation_id, messages.c.client_msg_id == client_msg_id
    )
    row = (await session.execute(query)).first()
    return _message(row) if row else None


class UnitOfWork:
    """One store transaction of one use case, and the events to publish once it commits.

    Reads inside a unit of work go through it (`get`): the transaction holds the
    connection (on SQLite, the only one), so a read through the service would wait
    for it to end.
    """

    def __init__(self, session: AsyncSession) -> None:
        self._session = session
        self.pending: list[tuple[str, Event]] = []
        # When each message was appended (by index in `pending`): the relay latency's start.
        self.appended_at: dict[int, float] = {}
        self.latest: dict[str, Conversation] = {}  # each conversation as this unit last read or wrote it

    def publish(self, channel: str, event: Event) -> None:
        """Publish `event` on `channel` after the commit (never if the unit fails)."""
        self.pending.append((channel, event))

    async def execute(self, statement: Executable) -> Result[Any]:
        """Another statement of this use case, in the unit's transaction (a table beside
        the transcript, e.g. the offline messages' inbox: `handoff/inbox.py`)."""
        return await self._session.execute(statement)

    async def get(self, conversation_id: str) -> Conversation:
        conversation = self.latest[conversation_id] = await _get(self._session, conversation_id)
        return conversation

    async def transition(
        self, conversation_id: str, expected: Iterable[ConversationStatus], **changes: Any
    ) -> Conversation:
        """Compare-and-set: apply `changes` only if the status is one of `expected`;
        raise Conflict otherwise (NotFound for an unknown conversation)."""
        return await self._change(conversation_id, frozenset(expected), changes)

    async def update(self, conversation_id: str, **changes: Any) -> Conversation:
        """Change fields whatever the current status (page URL, rating …)."""
        return await self._change(conversation_id, None, changes)

    async def _change(
        self, conversation_id: str, expected: frozenset[ConversationStatus] | None, changes: Mapping[str, Any]
    ) -> Conversation:
        values = _column_values(changes)
        before = self.latest.get(conversation_id)
        condition = conversations.c.id == conversation_id
        if expected is not None:
            condition = and_(condition, conversations.c.status.in_([s.value for s in expected]))
        result = await self._session.execute(update(conversations).where(condition).values(updated_at=utcnow(), **values))
        conversation = await self.get(conversation_id)
        if result.rowcount == 0:  # type: ignore[attr-defined]
            raise Conflict(
                f"conversation is {conversation.status.value}, expected "
                + " or ".join(sorted(s.value for s in expected or ())),
                status=conversation.status.value,
            )
        self.publish(conversation_channel(conversation_id), ConversationChanged.of(conversation))
        # Supervision's live list: every change of a live conversation, and a conversation
        # leaving the list (closed, back to the bot …), pushed at once.
        was_live = before is None or before.status in LIVE_STATUSES
        if conversation.status in LIVE_STATUSES or ("status" in changes and was_live):
            self.publish(SUPERVISION_CHANNEL, LiveConversationChanged.of(conversation))
        return conversation

    async def append(
        self,
        conversation_id: str,
        sender_kind: SenderKind,
        text: str,
        *,
        sender_id: str | None = None,
        client_msg_id: str | None = None,
        data: Mapping[str, Any] | None = None,
    ) -> Message:
        """Add one transcript entry with the next sequence number; published after the commit."""
        now = utcnow()
        # The UPDATE takes the conversation's row lock (PostgreSQL) or the write
        # lock (SQLite) first, so sequence numbers are dense and never reused.
        # RETURNING the whole row: the unit knows the conversation after the write without reading it again.
        row = (
            await self._session.execute(
                update(conversations)
                .where(conversations.c.id == conversation_id)
                .values(last_seq=conversations.c.last_seq + 1, updated_at=now)
                .returning(*conversations.c)
            )
        ).first()
        if row is None:
            raise NotFound("unknown conversation", conversation_id=conversation_id)
        self.latest[conversation_id] = _conversation(row)
        seq = row.last_seq
        values = {
            "conversation_id": conversation_id,
            "seq": seq,
            "sender_kind": sender_kind.value,
            "sender_id": sender_id,
            "text": text,
            "client_msg_id": client_msg_id,
            "data": dict(data or {}),
            "created_at": now,
        }
        await self._session.execute(insert(messages).values(**values))
        message = Message(
            conversation_id=conversation_id,
            seq=seq,
            sender_kind=sender_kind,
            sender_id=sender_id,
            text=text,
            created_at=now,
            client_msg_id=client_msg_id,
            data=dict(data or {}),
        )
        self.appended_at[len(self.pending)] = time.perf_counter()
        self.publish(conversation_channel(conversation_id), MessageAdded.of(message))
        return message

    async def annotate(self, conversation_id: str, seq: int, intent: str, confidence: float | None) -> None:
        """Attach the NLU's reading to a visitor message (for analytics and training)."""
        await self._session.execute(
            update(messages)
            .where(messages.c.conversation_id == conversation_id, messages.c.seq == seq)
            .values(intent=intent[:64], confidence=confidence)
        )

    async def record_event(
        self,
        conversation_id: str,
        type: HandoffEventType,
        *,
        agent_id: str | None = None,
        data: Mapping[str, Any] | None = None,
    ) -> HandoffEvent:
        """Keep a timestamped handoff milestone (for analytics)."""
        event = HandoffEvent(conversation_id, type, utcnow(), agent_id, dict(data or {}))
        await self._session.execute(
            insert(handoff_events).values(
                conversation_id=conversation_id,
                type=type.value,
                agent_id=agent_id,
                data=event.data,
                created_at=event.created_at,
            )
        )
        return event

    async def add_note(
        self, conversation_id: str, text: str, *, author_id: str | None, author_name: str, kind: str = "note"
    ) -> InternalNote:
        """Keep an internal note (agents only); published on the notes channel after the commit,
        never on the conversation's channel that the visitor's socket follows."""
        now = utcnow()
        result = await self._session.execute(
            insert(internal_notes)
            .values(conversation_id=conversation_id, author_id=author_id, author_name=author_name[:100],
                    kind=kind, text=text, created_at=now)
            .returning(internal_notes.c.id)
        )
        note = InternalNote(int(result.scalar_one()), conversation_id, author_id, author_name[:100], kind, text, now)
        self.publish(notes_channel(conversation_id), NoteAdded.of(note))
        return note


class ConversationService:
    def __init__(self, store: Store, bus: EventBus, metrics: Metrics | None = None) -> None:
        self.store = store
        self.bus = bus
        self.metrics = metrics or Metrics()

    async def ping(self) -> None:
        await self.store.ping()

    @contextlib.asynccontextmanager
    async def unit_of_work(self) -> AsyncIterator[UnitOfWork]:
        """One transaction; its collected events are published after it commits."""
        with self.metrics.store_transaction():
            async with self.store.sessions.begin() as session:
                unit = UnitOfWork(session)
                yield unit
        for index, (channel, event) in enumerate(unit.pending):
            await self.bus.publish(channel, event)
            if index in unit.appended_at:
                self.metrics.relayed(time.perf_counter() - unit.appended_at[index])

    # --- conversations -----------------------------------------------------------

    async def start(
        self, language: str, page_url: str | None, visitor_id: str | None = None, *, brand: str = DEFAULT_BRAND
    ) -> tuple[Conversation, str]:
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
            "brand": brand,
            "last_seq": 0,
            "created_at": now,
            "updated_at": now,
        }
        async with self.store.sessions.begin() as session:
            await session.execute(insert(conversations).values(**values))
            if page_url:  # the first page seen, for the visitor panel
                await session.execute(insert(handoff_events).values(
                    conversation_id=values["id"], type=HandoffEventType.PAGE_VIEWED.value, agent_id=None,
                    data={"url": page_url}, created_at=now,
                ))
            return await _get(session, str(values["id"])), token

    async def get(self, conversation_id: str) -> Conversation:
        async with self.store.sessions() as session:
            return await _get(session, conversation_id)

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
    ) -> builtins.list[Conversation]:
        query = select(conversations).order_by(conversations.c.updated_at, conversations.c.id)
        if statuses is not None:
            query = query.where(conversations.c.status.in_([s.value for s in statuses]))
        if agent_id is not None:
            query = query.where(conversations.c.assigned_agent_id == agent_id)
        async with self.store.sessions() as session:
            return [_conversation(row) for row in (await session.execute(query)).all()]

    async def of_visitor(self, visitor_id: str, *, limit: int = 50) -> builtins.list[Conversation]:
        """This visitor's conversations, newest first."""
        query = (
            select(conversations)
            .where(conversations.c.visitor_id == visitor_id)
            .order_by(conversations.c.created_at.desc(), conversations.c.id.desc())
            .limit(limit)
        )
        async with self.store.sessions() as session:
            return [_conversation(row) for row in (await session.execute(query)).all()]

    async def rated_for(self, agent_id: str, *, limit: int = 20) -> builtins.list[Conversation]:
        """The conversations this agent held last that the visitor rated, latest first."""
        query = (
            select(conversations)
            .where(conversations.c.last_agent_id == agent_id, conversations.c.rating.is_not(None))
            .order_by(conversations.c.updated_at.desc(), conversations.c.id.desc())
            .limit(limit)
        )
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
        """Change fields whatever the current status (page URL, rating …), as one unit of work."""
        async with self.unit_of_work() as unit:
            return await unit.update(conversation_id, **changes)

    async def transition(
        self, conversation_id: str, expected: Iterable[ConversationStatus], **changes: Any
    ) -> Conversation:
        """`UnitOfWork.transition` as a unit of work of its own."""
        async with self.unit_of_work() as unit:
            return await unit.transition(conversation_id, expected, **changes)

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
            async with self.unit_of_work() as unit:
                message = await unit.append(
                    conversation_id, sender_kind, text, sender_id=sender_id, client_msg_id=client_msg_id, data=data
                )
        except IntegrityError:
            # A concurrent retry with the same client_msg_id committed first.
            if client_msg_id is not None and (existing := await self._by_client_id(conversation_id, client_msg_id)):
                return existing, False
            raise
        return message, True

    async def _by_client_id(self, conversation_id: str, client_msg_id: str) -> Message | None:
        async with self.store.sessions() as session:
            return await _by_client_id(session, conversation_id, client_msg_id)

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

    async def last_messages(self, conversation_id: str, count: int) -> builtins.list[Message]:
        """The last `count` messages, in order (a queue entry's preview of a long chat)."""
        query = (
            select(messages)
            .where(messages.c.conversation_id == conversation_id)
            .order_by(messages.c.seq.desc())
            .limit(count)
        )
        async with self.store.sessions() as session:
            rows = (await session.execute(query)).all()
        return [_message(row) for row in reversed(rows)]

    async def annotate(self, conversation_id: str, seq: int, intent: str, confidence: float | None) -> None:
        """`UnitOfWork.annotate` as a unit of work of its own."""
        async with self.unit_of_work() as unit:
            await unit.annotate(conversation_id, seq, intent, confidence)

    # --- handoff events ---------------------------------------------------------------

    async def record_event(
        self,
        conversation_id: str,
        type: HandoffEventType,
        *,
        agent_id: str | None = None,
        data: Mapping[str, Any] | None = None,
    ) -> HandoffEvent:
        """`UnitOfWork.record_event` as a unit of work of its own."""
        async with self.unit_of_work() as unit:
            return await unit.record_event(conversation_id, type, agent_id=agent_id, data=data)

    async def last_event_times(
        self, conversation_ids: Iterable[str], types: Iterable[HandoffEventType]
    ) -> dict[str, datetime]:
        """For each conversation, when it last had a handoff event of one of `types`."""
        ids = builtins.list(conversation_ids)
        if not ids:
            return {}
        query = (
            select(handoff_events.c.conversation_id, func.max(handoff_events.c.created_at))
            .where(handoff_events.c.conversation_id.in_(ids), handoff_events.c.type.in_([t.value for t in types]))
            .group_by(handoff_events.c.conversation_id)
        )
        async with self.store.sessions() as session:
            return {str(cid): as_utc(at) for cid, at in (await session.execute(query)).all()}

    async def recent_waits(self, pool: Pool, count: int) -> builtins.list[float]:
        """How long (seconds) the last `count` conversations taken from `pool`'s queue
        waited, newest first: from their last (re)queueing or transfer to the accept or claim."""
        taken_types = [HandoffEventType.ACCEPTED.value, HandoffEventType.CLAIMED.value]
        taken_query = (
            select(handoff_events.c.id, handoff_events.c.conversation_id, handoff_events.c.created_at)
            .where(handoff_events.c.type.in_(taken_types))
            .order_by(handoff_events.c.id.desc())
            .limit(count * WAIT_SAMPLE_MARGIN)  # some of them were taken from the other pool
        )
        async with self.store.sessions() as session:
            taken = (await session.execute(taken_query)).all()
            if not taken:
                return []
            starts_query = (
                select(handoff_events.c.id, handoff_events.c.conversation_id, handoff_events.c.type,
                       handoff_events.c.data, handoff_events.c.created_at)
                .where(handoff_events.c.conversation_id.in_({row.conversation_id for row in taken}),
                       handoff_events.c.type.in_([t.value for t in WAIT_STARTS]))
                .order_by(handoff_events.c.id)
            )
            starts = (await session.execute(starts_query)).all()
        waits: builtins.list[float] = []
        for row in taken:
            begun, begun_in = None, None
            for start in starts:
                if start.conversation_id != row.conversation_id or start.id > row.id or (start.data or {}).get("takeover"):
                    continue  # a take-over is not a wait
                begun = as_utc(start.created_at)
                begun_in = (start.data or {}).get("pool", begun_in)  # a requeue keeps its pool
            if begun is not None and begun_in == pool.value:
                waits.append(max(0.0, (as_utc(row.created_at) - begun).total_seconds()))
                if len(waits) == count:
                    break
        return waits

    # --- internal notes (agents only) ---------------------------------------------------

    async def add_note(
        self, conversation_id: str, text: str, *, author_id: str | None, author_name: str, kind: str = "note"
    ) -> InternalNote:
        """`UnitOfWork.add_note` as a unit of work of its own (NotFound for an unknown conversation)."""
        await self.get(conversation_id)
        async with self.unit_of_work() as unit:
            return await unit.add_note(conversation_id, text, author_id=author_id, author_name=author_name, kind=kind)

    async def notes(self, conversation_id: str) -> builtins.list[InternalNote]:
        """A conversation's internal notes, oldest first."""
        query = (
            select(internal_notes)
            .where(internal_notes.c.conversation_id == conversation_id)
            .order_by(internal_notes.c.id)
        )
        async with self.store.sessions() as session:
            return [_note(row) for row in (await session.execute(query)).all()]

    async def events(self, conversation_id: str) -> builtins.list[HandoffEvent]:
        query = select(handoff_events).where(handoff_events.c.conversation_id == conversation_id).order_by(handoff_events.c.id)
        async with self.store.sessions() as session:
            return [_event(row) for row in (await session.execute(query)).all()]
