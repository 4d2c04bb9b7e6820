"""The maintainers' review: the visitor messages the bot did not handle well,
grouped, ranked, labelled, and counted (docs/maintainers.md).

A visitor message is worth a maintainer's time (its *reasons*) when the bot fell
back (`nlu_fallback`), read it below `review.confidence_threshold`, read
`out_of_scope`, escalated after it (a handoff the bot asked for), when the
visitor asked for a person right after it (the next message read `request_human`,
or the "talk to a person" button), or when an agent flagged it ("the bot should
have answered this").

Near-duplicates are one row: messages of one language whose normalised texts
are at least `review.similarity` alike (rapidfuzz's ratio) join the
group of the newest such message. Rows are ranked by how many messages they
hold, then by their newest message. A labelled message (and the group it was
labelled with) leaves the list.

Labels confirm or correct the intent (`action="intent"`, with `product_category`
spans as character offsets), or park the message as a candidate for a new
intent (`action="candidate"`). `review_export.py` turns intent labels into Rasa
NLU data.

`stats` counts, per week and intent, the visitor messages the bot read and how
many of them ended in a handoff before the visitor's next message (escalated)
or not (contained).
"""

from __future__ import annotations

import asyncio
import re
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml
from rapidfuzz import fuzz, process
from sqlalchemy import and_, delete, func, insert, or_, select, tuple_
from sqlalchemy.exc import IntegrityError

from handoff.config import ReviewSettings
from handoff.domain import Agent, AgentRole, Conflict, Forbidden, InvalidInput, NotFound, SenderKind
from handoff.store import Store, as_utc, utcnow
from handoff.store.schema import (
    conversations,
    handoff_events,
    messages,
    review_flags,
    review_labels,
)

FALLBACK_INTENT = "nlu_fallback"
OUT_OF_SCOPE = "out_of_scope"
ASKED_FOR_PERSON_INTENT = "request_human"
BOT_ESCALATIONS = ("fallback", "intent")  # HandoffReason values the bot decides
VISITOR_ESCALATION = "requested"  # the visitor pressed "talk to a person"
REASONS = ("fallback", "low_confidence", "out_of_scope", "escalated", "asked_for_person", "flagged")
ACTIONS = ("intent", "candidate")
DEFAULT_DAYS = 30
MAX_CANDIDATES = 5000  # the newest; older ones wait for a narrower period
MAX_EXAMPLES = 5
MAX_NAME_LENGTH = 64
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_SPACES = re.compile(r"\s+")
_PUNCTUATION = re.compile(r"[^\w\s']")

Key = tuple[str, int]  # (conversation_id, seq)


def normalise(text: str) -> str:
    """For comparisons: lower case, no accents, no punctuation, single spaces."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return _SPACES.sub(" ", _PUNCTUATION.sub(" ", plain)).strip()


def domain_intents(bot_dir: Path) -> list[str]:
    """The intents of the bot's domain (what a label may name)."""
    document = yaml.safe_load((bot_dir / "domain.yml").read_text(encoding="utf-8")) or {}
    names = [item if isinstance(item, str) else next(iter(item)) for item in document.get("intents") or []]
    return [str(name) for name in names]


@dataclass(frozen=True, slots=True)
class Filters:
    language: str | None = None
    intent: str | None = None  # the intent the bot read
    since: datetime | None = None
    until: datetime | None = None

    def period(self, now: datetime) -> tuple[datetime, datetime]:
        until = self.until or now
        return self.since or until - timedelta(days=DEFAULT_DAYS), until


@dataclass(slots=True)
class Candidate:
    conversation_id: str
    seq: int
    text: str
    language: str
    intent: str | None
    confidence: float | None
    created_at: datetime
    reasons: set[str] = field(default_factory=set)

    @property
    def key(self) -> Key:
        return (self.conversation_id, self.seq)


@dataclass(slots=True)
class Group:
    """One row of the review: near-duplicate messages, the newest first."""

    members: list[Candidate]

    @property
    def head(self) -> Candidate:
        return self.members[0]

    def to_json(self) -> dict[str, Any]:
        head = self.head
        reasons = Counter(reason for member in self.members for reason in member.reasons)
        intents = Counter(member.intent for member in self.members if member.intent)
        examples: list[str] = []
        seen = {normalise(head.text)}
        for member in self.members[1:]:
            if normalise(member.text) not in seen and len(examples) < MAX_EXAMPLES:
                seen.add(normalise(member.text))
                examples.append(member.text)
        confidences = [m.confidence for m in self.members if m.confidence is not None]
        return {
            "id": f"{head.conversation_id}:{head.seq}",
            "conversation_id": head.conversation_id,
            "seq": head.seq,
            "text": head.text,
            "language": head.language,
            "count": len(self.members),
            "intent": intents.most_common(1)[0][0] if intents else None,
            "confidence": min(confidences) if confidences else None,
            "reasons": dict(sorted(reasons.items())),
            "first_seen": min(m.created_at for m in self.members).isoformat(),
            "last_seen": head.created_at.isoformat(),
            "examples": examples,
            "members": [[m.conversation_id, m.seq] for m in self.members],
        }


def group(candidates: Iterable[Candidate], similarity: float) -> list[Group]:
    """Near-duplicates together (per language), ranked by size then by newest message."""
    cutoff = similarity * 100
    groups: list[Group] = []
    heads: dict[str, list[str]] = defaultdict(list)  # language → normalised head texts
    owners: dict[str, list[Group]] = defaultdict(list)
    for candidate in sorted(candidates, key=lambda c: (c.created_at, c.seq), reverse=True):
        text = normalise(candidate.text)
        found = process.extractOne(text, heads[candidate.language], scorer=fuzz.ratio,
                                   score_cutoff=cutoff) if heads[candidate.language] else None
        if found is not None:
            owners[candidate.language][found[2]].members.append(candidate)
            continue
        created = Group([candidate])
        groups.append(created)
        heads[candidate.language].append(text)
        owners[candidate.language].append(created)
    groups.sort(key=lambda g: (len(g.members), g.head.created_at), reverse=True)
    return groups


def _spans(raw: Any, text: str) -> list[dict[str, int]]:
    if raw is None:
        return []
    if not isinstance(raw, list) or len(raw) > 20:
        raise InvalidInput("entities must be a list of {start, end}", field="entities")
    spans: list[dict[str, int]] = []
    for item in raw:
        start, end = (item.get("start"), item.get("end")) if isinstance(item, dict) else (None, None)
        if not (isinstance(start, int) and isinstance(end, int) and 0 <= start < end <= len(text)):
            raise InvalidInput("each entity needs 0 <= start < end <= the text's length", field="entities")
        if text[start:end] != text[start:end].strip() or any(ch in text[start:end] for ch in "[](){}"):
            raise InvalidInput("an entity span must not start or end with a space", field="entities")
        spans.append({"start": start, "end": end})
    spans.sort(key=lambda s: s["start"])
    if any(a["end"] > b["start"] for a, b in zip(spans, spans[1:], strict=False)):
        raise InvalidInput("entity spans must not overlap", field="entities")
    return spans


class ReviewService:
    def __init__(self, store: Store, settings: ReviewSettings) -> None:
        self.store = store
        self.settings = settings

    # --- listing -------------------------------------------------------------------------

    async def groups(self, filters: Filters, *, now: datetime | None = None) -> list[Group]:
        candidates = await self.candidates(filters, now=now or utcnow())
        # thousands of candidates take seconds to compare: not on the event loop
        return await asyncio.to_thread(group, candidates, self.settings.similarity)

    async def candidates(self, filters: Filters, *, now: datetime) -> list[Candidate]:
        since, until = filters.period(now)
        found: dict[Key, Candidate] = {}
        visitor = and_(
            messages.c.sender_kind == SenderKind.VISITOR.value,
            messages.c.created_at >= since,
            messages.c.created_at < until,
            messages.c.text != "",
        )
        columns = (messages.c.conversation_id, messages.c.seq, messages.c.text, messages.c.intent,
                   messages.c.confidence, messages.c.created_at, conversations.c.language)
        joined = messages.join(conversations, conversations.c.id == messages.c.conversation_id)
        async with self.store.sessions() as session:
            # what the bot read badly
            bad = or_(
                messages.c.intent.in_((FALLBACK_INTENT, OUT_OF_SCOPE)),
                messages.c.confidence < self.settings.confidence_threshold,
            )
            rows = (await session.execute(
                select(*columns).select_from(joined).where(visitor, bad)
                .order_by(messages.c.created_at.desc()).limit(MAX_CANDIDATES)
            )).all()
            for row in rows:
                candidate = self._candidate(found, row)
                if row.intent == FALLBACK_INTENT:
                    candidate.reasons.add("fallback")
                elif row.intent == OUT_OF_SCOPE:
                    candidate.reasons.add("out_of_scope")
                if row.confidence is not None and row.confidence < self.settings.confidence_threshold \
                        and row.intent != FALLBACK_INTENT:
                    candidate.reasons.add("low_confidence")
            # handoffs, and "a person please" in words: the visitor message before them
            requests = (await session.execute(
                select(handoff_events.c.conversation_id, handoff_events.c.created_at, handoff_events.c.data)
                .where(handoff_events.c.type == "requested", handoff_events.c.created_at >= since,
                       handoff_events.c.created_at < until + timedelta(minutes=5))
                .order_by(handoff_events.c.created_at.desc()).limit(MAX_CANDIDATES)
            )).all()
            asked = (await session.execute(
                select(messages.c.conversation_id).where(visitor, messages.c.intent == ASKED_FOR_PERSON_INTENT)
                .order_by(messages.c.created_at.desc()).limit(MAX_CANDIDATES)
            )).scalars().all()
            involved = sorted({r.conversation_id for r in requests} | set(asked))
            transcripts: dict[str, list[Any]] = defaultdict(list)
            for start in range(0, len(involved), 500):
                chunk = involved[start:start + 500]
                for row in (await session.execute(
                    select(*columns).select_from(joined)
                    .where(messages.c.sender_kind == SenderKind.VISITOR.value, messages.c.conversation_id.in_(chunk))
                    .order_by(messages.c.conversation_id, messages.c.seq)
                )).all():
                    transcripts[row.conversation_id].append(row)
            for request in requests:
                reason = str((request.data or {}).get("reason") or "")
                before = [m for m in transcripts[request.conversation_id]
                          if as_utc(m.created_at) <= as_utc(request.created_at)]
                if not before:
                    continue
                last = before[-1]
                if last.intent == ASKED_FOR_PERSON_INTENT:
                    continue  # the message before it is the one (below)
                if reason == VISITOR_ESCALATION:
                    self._add(found, last, "asked_for_person", since, until)
                elif reason in BOT_ESCALATIONS:
                    self._add(found, last, "escalated", since, until)
            for rows_of in transcripts.values():
                for previous, current in zip(rows_of, rows_of[1:], strict=False):
                    if current.intent == ASKED_FOR_PERSON_INTENT and previous.intent != ASKED_FOR_PERSON_INTENT:
                        self._add(found, previous, "asked_for_person", since, until)
            # flagged by agents
            for row in (await session.execute(
                select(*columns).select_from(
                    joined.join(review_flags, and_(review_flags.c.conversation_id == messages.c.conversation_id,
                                                   review_flags.c.seq == messages.c.seq)))
                .where(visitor).limit(MAX_CANDIDATES)
            )).all():
                self._add(found, row, "flagged", since, until)
            labelled = await self._labelled(session)
        return [
            c for c in found.values()
            if c.key not in labelled[0] and normalise(c.text) not in labelled[1]
            and (filters.language is None or c.language == filters.language)
            and (filters.intent is None or c.intent == filters.intent)
        ]

    def _candidate(self, found: dict[Key, Candidate], row: Any) -> Candidate:
        key = (row.conversation_id, row.seq)
        if key not in found:
            found[key] = Candidate(row.conversation_id, row.seq, row.text, row.language, row.intent,
                                   row.confidence, as_utc(row.created_at))
        return found[key]

    def _add(self, found: dict[Key, Candidate], row: Any, reason: str, since: datetime, until: datetime) -> None:
        if row.text and since <= as_utc(row.created_at) < until:
            self._candidate(found, row).reasons.add(reason)

    async def _labelled(self, session: Any) -> tuple[set[Key], set[str]]:
        keys: set[Key] = set()
        texts: set[str] = set()
        for row in (await session.execute(select(review_labels.c.text, review_labels.c.members))).all():
            texts.add(normalise(row.text))
            keys.update((str(cid), int(seq)) for cid, seq in row.members or [])
        return keys, texts

    # --- flags ----------------------------------------------------------------------------

    async def flag(self, agent: Agent, conversation_id: str, seq: int) -> dict[str, Any]:
        """An agent of the conversation says the bot should have answered this visitor message."""
        async with self.store.sessions.begin() as session:
            conversation = (await session.execute(
                select(conversations.c.assigned_agent_id, conversations.c.last_agent_id)
                .where(conversations.c.id == conversation_id)
            )).first()
            if conversation is None:
                raise NotFound("unknown conversation", conversation_id=conversation_id)
            if agent.role is not AgentRole.ADMIN and agent.id not in (
                conversation.assigned_agent_id, conversation.last_agent_id
            ):
                raise Forbidden("only the agent of this conversation may flag its messages")
            message = (await session.execute(
                select(messages.c.sender_kind).where(messages.c.conversation_id == conversation_id,
                                                     messages.c.seq == seq)
            )).first()
            if message is None:
                raise NotFound("unknown message", conversation_id=conversation_id, seq=seq)
            if message.sender_kind != SenderKind.VISITOR.value:
                raise InvalidInput("only a visitor's message can be flagged", field="seq")
            exists = (await session.execute(
                select(review_flags.c.created_at).where(review_flags.c.conversation_id == conversation_id,
                                                        review_flags.c.seq == seq)
            )).first()
            if exists is None:
                await session.execute(insert(review_flags).values(
                    conversation_id=conversation_id, seq=seq, agent_id=agent.id, created_at=utcnow()))
        return {"conversation_id": conversation_id, "seq": seq, "flagged": True}

    # --- labels ---------------------------------------------------------------------------

    async def label(
        self,
        conversation_id: str,
        seq: int,
        *,
        action: str,
        intent: str | None = None,
        candidate: str | None = None,
        entities: Any = None,
        members: Sequence[Sequence[Any]] = (),
        labelled_by: str | None = None,
    ) -> dict[str, Any]:
        if action not in ACTIONS:
            raise InvalidInput("action must be intent or candidate", field="action")
        if action == "intent":
            if intent not in domain_intents(self.settings.bot_dir):
                raise InvalidInput("intent must be one of the bot's domain intents", field="intent")
            candidate = None
        else:
            if not candidate or len(candidate) > MAX_NAME_LENGTH or not _NAME.match(candidate):
                raise InvalidInput("candidate must be a name like ask_gift_card", field="candidate")
            intent = None
        keys = {(conversation_id, seq)}
        for member in members[:MAX_CANDIDATES]:
            if not (isinstance(member, list | tuple) and len(member) == 2 and isinstance(member[0], str)
                    and isinstance(member[1], int)):
                raise InvalidInput("members must be [conversation_id, seq] pairs", field="members")
            keys.add((member[0], member[1]))
        async with self.store.sessions.begin() as session:
            row = (await session.execute(
                select(messages.c.text, messages.c.sender_kind, conversations.c.language)
                .select_from(messages.join(conversations, conversations.c.id == messages.c.conversation_id))
                .where(messages.c.conversation_id == conversation_id, messages.c.seq == seq)
            )).first()
            if row is None:
                raise NotFound("unknown message", conversation_id=conversation_id, seq=seq)
            if row.sender_kind != SenderKind.VISITOR.value or not row.text:
                raise InvalidInput("only a visitor's message can be labelled", field="seq")
            spans = _spans(entities, row.text) if action == "intent" else []
            found = (await session.execute(
                select(messages.c.conversation_id, messages.c.seq).where(
                    tuple_(messages.c.conversation_id, messages.c.seq).in_(sorted(keys)),
                    messages.c.sender_kind == SenderKind.VISITOR.value)
            )).all()
            valid = sorted({(r.conversation_id, r.seq) for r in found})
            values = {
                "conversation_id": conversation_id, "seq": seq, "language": row.language, "text": row.text,
                "action": action, "intent": intent, "candidate": candidate, "entities": spans,
                "members": [list(k) for k in valid], "labelled_by": labelled_by, "created_at": utcnow(),
            }
            await session.execute(delete(review_labels).where(review_labels.c.conversation_id == conversation_id,
                                                             review_labels.c.seq == seq))
            try:
                await session.execute(insert(review_labels).values(**values))
            except IntegrityError:  # pragma: no cover - two maintainers at once
                raise Conflict("this message was labelled meanwhile") from None
        return _label_json(values)

    async def labels(self, *, action: str | None = None) -> list[dict[str, Any]]:
        query = select(review_labels).order_by(review_labels.c.created_at.desc(), review_labels.c.id.desc())
        if action:
            query = query.where(review_labels.c.action == action)
        async with self.store.sessions() as session:
            return [_label_json(dict(row._mapping)) for row in (await session.execute(query)).all()]

    async def unlabel(self, conversation_id: str, seq: int) -> None:
        async with self.store.sessions.begin() as session:
            result = await session.execute(delete(review_labels).where(
                review_labels.c.conversation_id == conversation_id, review_labels.c.seq == seq))
            if not getattr(result, "rowcount", 0):
                raise NotFound("no label on this message", conversation_id=conversation_id, seq=seq)

    # --- containment ---------------------------------------------------------------------

    async def stats(self, *, weeks: int = 8, language: str | None = None,
                    now: datetime | None = None) -> list[dict[str, Any]]:
        """Per week (Monday) and intent: visitor messages the bot read, contained and escalated.

        Counted in SQL, one week at a time: a handoff request counts against the last
        visitor message before it in its conversation (so against the message it followed,
        before the visitor's next one); a message followed by several counts once."""
        now = now or utcnow()
        start_day = (now - timedelta(weeks=max(weeks, 1) - 1)).date()
        monday = datetime.combine(start_day - timedelta(days=start_day.weekday()), datetime.min.time(), tzinfo=UTC)
        read = [messages.c.sender_kind == SenderKind.VISITOR.value, messages.c.intent.is_not(None)]
        if language:
            read.append(conversations.c.language == language)
        joined = messages.join(conversations, conversations.c.id == messages.c.conversation_id)
        earlier = messages.alias("earlier")
        last_before = (
            select(func.max(earlier.c.seq))
            .where(earlier.c.conversation_id == handoff_events.c.conversation_id,
                   earlier.c.sender_kind == SenderKind.VISITOR.value,
                   earlier.c.created_at <= handoff_events.c.created_at)
            .scalar_subquery()
        )
        rows: list[dict[str, Any]] = []
        async with self.store.sessions() as session:
            while monday <= now:
                end = monday + timedelta(days=7)
                period = [messages.c.created_at >= monday, messages.c.created_at < end]
                totals: dict[str, int] = {row[0]: int(row[1]) for row in (await session.execute(
                    select(messages.c.intent, func.count()).select_from(joined)
                    .where(*read, *period).group_by(messages.c.intent)
                )).all()}
                escalated: dict[str, int] = {row[0]: int(row[1]) for row in (await session.execute(
                    select(messages.c.intent, func.count(func.distinct(messages.c.id)))
                    .select_from(handoff_events.join(messages, and_(
                        messages.c.conversation_id == handoff_events.c.conversation_id,
                        messages.c.seq == last_before)).join(
                        conversations, conversations.c.id == messages.c.conversation_id))
                    .where(handoff_events.c.type == "requested", *read, *period)
                    .group_by(messages.c.intent)
                )).all()}
                for intent in sorted(totals):
                    total, up = int(totals[intent]), int(escalated.get(intent, 0))
                    rows.append({"week": monday.date().isoformat(), "intent": intent, "messages": total,
                                 "contained": total - up, "escalated": up,
                                 "containment": round((total - up) / total, 3)})
                monday = end
        return rows


def _label_json(values: dict[str, Any]) -> dict[str, Any]:
    out = {key: value for key, value in values.items() if key != "id"}
    for key in ("created_at", "exported_at"):
        if isinstance(out.get(key), datetime):
            out[key] = as_utc(out[key]).isoformat()
    return out
