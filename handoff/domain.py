"""Plain data shared by every layer: enums, value objects and domain errors.

Nothing here performs I/O or imports another module of the project, so every
layer (store, routing, bot bridge, API) can depend on it without cycles.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

MAX_TEXT_LENGTH = 4000
DEFAULT_BRAND = "default"  # the one brand until brands are configured; routing keys already carry it
SUPPORTED_LANGUAGES = ("fr", "en")
PRODUCT_CATEGORIES = ("awning", "solar", "bike_rack", "heating", "fridge", "sanitation")


class SenderKind(enum.StrEnum):
    """Who wrote a transcript entry."""

    VISITOR = "visitor"
    BOT = "bot"
    AMBASSADOR = "ambassador"
    ADVISOR = "advisor"
    SYSTEM = "system"


class Pool(enum.StrEnum):
    """A group of humans a conversation can be routed to."""

    AMBASSADOR = "ambassador"
    ADVISOR = "advisor"


class AgentRole(enum.StrEnum):
    """An agent's role; admins are advisors who may also manage agents."""

    AMBASSADOR = "ambassador"
    ADVISOR = "advisor"
    ADMIN = "admin"

    @property
    def pool(self) -> Pool:
        return Pool.AMBASSADOR if self is AgentRole.AMBASSADOR else Pool.ADVISOR

    @property
    def sender_kind(self) -> SenderKind:
        return SenderKind.AMBASSADOR if self is AgentRole.AMBASSADOR else SenderKind.ADVISOR


class Presence(enum.StrEnum):
    ONLINE = "online"
    AWAY = "away"
    OFFLINE = "offline"


class ConversationStatus(enum.StrEnum):
    """Who holds a conversation right now."""

    BOT = "bot"  # the bot answers
    WAITING = "waiting"  # in the queue or offered to an agent
    ASSIGNED = "assigned"  # a human holds it
    OFFLINE_MESSAGE = "offline_message"  # nobody was available; an email + question was left
    CLOSED = "closed"  # ended by a visitor; a later message reopens it with the bot


class HandoffEventType(enum.StrEnum):
    """Timestamped milestones of a handoff, kept for wait/response analytics."""

    REQUESTED = "requested"
    QUEUED = "queued"
    OFFERED = "offered"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    TIMED_OUT = "timed_out"
    CLAIMED = "claimed"
    OVERFLOWED = "overflowed"
    TRANSFERRED = "transferred"
    REQUEUED = "requeued"  # agent lost past the grace period
    WAITED_TOO_LONG = "waited_too_long"  # told so and offered the offline form; still queued
    NO_AGENT = "no_agent"
    OFFLINE_MESSAGE = "offline_message"
    RELEASED = "released"  # back to the bot after a human closed
    CLOSED = "closed"
    RATED = "rated"
    PAGE_VIEWED = "page_viewed"  # the page the visitor was on (data: url), for the visitor panel


class HandoffReason(enum.StrEnum):
    REQUESTED = "requested"
    FALLBACK = "fallback"
    INTENT = "intent"
    BOT_UNAVAILABLE = "bot_unavailable"
    BOT_OFF = "bot_off"  # an admin switched the bot off (docs/bot.md)
    INTENT_OFF = "intent_off"  # an admin switched off the intent the bot read
    TRANSFER = "transfer"


@dataclass(frozen=True, slots=True)
class Message:
    """One committed transcript entry."""

    conversation_id: str
    seq: int
    sender_kind: SenderKind
    sender_id: str | None
    text: str
    created_at: datetime
    client_msg_id: str | None = None
    intent: str | None = None
    confidence: float | None = None
    data: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "conversation_id": self.conversation_id,
            "seq": self.seq,
            "sender_kind": self.sender_kind.value,
            "sender_id": self.sender_id,
            "text": self.text,
            "created_at": self.created_at.isoformat(),
            "client_msg_id": self.client_msg_id,
            "intent": self.intent,
            "confidence": self.confidence,
            "data": self.data,
        }


@dataclass(frozen=True, slots=True)
class Conversation:
    id: str
    visitor_id: str
    language: str
    page_url: str | None
    status: ConversationStatus
    created_at: datetime
    updated_at: datetime
    assigned_agent_id: str | None = None
    pool: Pool | None = None
    skill: str | None = None
    last_agent_id: str | None = None
    rating: int | None = None
    rating_comment: str | None = None
    outcome: str | None = None
    offline_email: str | None = None
    last_seq: int = 0
    brand: str = DEFAULT_BRAND

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "visitor_id": self.visitor_id,
            "language": self.language,
            "page_url": self.page_url,
            "status": self.status.value,
            "created_at": self.created_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
            "assigned_agent_id": self.assigned_agent_id,
            "pool": self.pool.value if self.pool else None,
            "skill": self.skill,
            "last_agent_id": self.last_agent_id,
            "rating": self.rating,
            "rating_comment": self.rating_comment,
            "outcome": self.outcome,
            "last_seq": self.last_seq,
            "brand": self.brand,
        }


@dataclass(frozen=True, slots=True)
class HandoffEvent:
    """A timestamped handoff milestone (wait and response times are computed from these)."""

    conversation_id: str
    type: HandoffEventType
    created_at: datetime
    agent_id: str | None = None
    data: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "conversation_id": self.conversation_id,
            "type": self.type.value,
            "created_at": self.created_at.isoformat(),
            "agent_id": self.agent_id,
            "data": self.data,
        }


@dataclass(frozen=True, slots=True)
class Agent:
    """An ambassador, advisor or admin as stored (no secrets)."""

    id: str
    username: str
    display_name: str
    role: AgentRole
    languages: tuple[str, ...]
    skills: tuple[str, ...]
    capacity: int = 3
    active: bool = True  # false: deactivated by an admin (cannot log in)

    @property
    def pool(self) -> Pool:
        return self.role.pool

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "username": self.username,
            "display_name": self.display_name,
            "role": self.role.value,
            "pool": self.pool.value,
            "languages": list(self.languages),
            "skills": list(self.skills),
            "capacity": self.capacity,
            "active": self.active,
        }


@dataclass(frozen=True, slots=True)
class InternalNote:
    """A note agents leave in a conversation (`kind`: note, or transfer for a transfer's note).
    Agents only: never in the visitor's API, socket or widget."""

    id: int
    conversation_id: str
    author_id: str | None
    author_name: str
    kind: str
    text: str
    created_at: datetime

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "conversation_id": self.conversation_id,
            "author_id": self.author_id,
            "author_name": self.author_name,
            "kind": self.kind,
            "text": self.text,
            "created_at": self.created_at.isoformat(),
        }


@dataclass(frozen=True, slots=True)
class HandoffRequest:
    """What the bot (or a visitor, or a transfer) asks of the router."""

    pool: Pool
    language: str
    skill: str | None
    reason: HandoffReason
    note: str | None = None
    target_agent_id: str | None = None


@dataclass(frozen=True, slots=True)
class BotReply:
    """One answer from the bot, and the handoff it asks for, if any."""

    text: str | None
    buttons: tuple[dict[str, str], ...] = ()
    handoff: HandoffRequest | None = None
    intent: str | None = None
    confidence: float | None = None


# --- Domain errors: the API turns each into a JSON 4xx in one middleware. ---


class DomainError(Exception):
    """Base of the errors a client can cause; `status` is the HTTP status to answer with."""

    status = 400
    code = "bad_request"

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class InvalidInput(DomainError):
    status = 400
    code = "invalid_input"


class Unauthorized(DomainError):
    status = 401
    code = "unauthorized"


class Forbidden(DomainError):
    status = 403
    code = "forbidden"


class NotFound(DomainError):
    status = 404
    code = "not_found"


class RateLimited(DomainError):
    """An abuse limit is exceeded; try again after `retry_after` seconds (the Retry-After header)."""

    status = 429
    code = "rate_limited"

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message, retry_after=retry_after)
        self.retry_after = retry_after


class Conflict(DomainError):
    status = 409
    code = "conflict"
