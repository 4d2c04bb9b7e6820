"""Shared pieces of the contract: field types, the request base class, and the
objects several answers carry (Error, Message, Conversation, Agent, Offer).

Request models derive from `Body`: unknown fields are ignored, a field given as
`null` is refused unless its type says it may be null, and an optional text left
empty counts as absent. Optional, non-nullable fields are written
`X | Absent = None`: the document shows only `X`.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, model_validator
from pydantic.config import JsonDict
from pydantic.json_schema import SkipJsonSchema

from handoff.domain import MAX_TEXT_LENGTH, AgentRole, ConversationStatus, Pool, SenderKind

MAX_ID_LENGTH = 64
MAX_URL_LENGTH = 2048
MAX_SEQ = 2**31 - 1  # the store keeps seq as INTEGER

Absent = SkipJsonSchema[None]
"""In `X | Absent = None`: the field may be left out, not sent as null."""


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be empty")
    return value


def _http_url(value: str) -> str:
    if not value.startswith(("http://", "https://")):
        raise ValueError("must be an http(s) URL")
    return value


def _empty_is_absent(value: Any) -> Any:
    return None if value == "" else value


NOT_BLANK = AfterValidator(_not_blank)
EMPTY_IS_ABSENT = BeforeValidator(_empty_is_absent)
_SOME_TEXT: JsonDict = {"pattern": r"\S"}  # documented; checked (with a clearer message) by _not_blank

# Text that is not blank, of at most so many characters.
Text = Annotated[str, Field(min_length=1, max_length=MAX_TEXT_LENGTH, json_schema_extra=_SOME_TEXT), NOT_BLANK]
Id = Annotated[str, Field(min_length=1, max_length=MAX_ID_LENGTH, json_schema_extra=_SOME_TEXT), NOT_BLANK]
Url = Annotated[str, Field(min_length=1, max_length=MAX_URL_LENGTH, json_schema_extra={"pattern": "^https?://"}),
                AfterValidator(_http_url)]
# The same, optional: left out, or empty (the same).
OptionalId = Annotated[Id | Absent, EMPTY_IS_ABSENT]
OptionalUrl = Annotated[Url | Absent, EMPTY_IS_ABSENT]


def bounded(max_length: int) -> Any:
    """`Text` of at most `max_length` characters (a field's own limit)."""
    return Field(min_length=1, max_length=max_length, json_schema_extra=_SOME_TEXT)


class Body(BaseModel):
    """A request body or query: unknown fields ignored, `null` only where declared."""

    model_config = ConfigDict(extra="ignore", frozen=True)
    nullable: ClassVar[frozenset[str]] = frozenset()

    @model_validator(mode="before")
    @classmethod
    def _no_null(cls, data: Any) -> Any:
        if isinstance(data, dict):
            for name, value in data.items():
                if value is None and name in cls.model_fields and name not in cls.nullable:
                    raise ValueError(f"{name} must not be null")
        return data


class Answer(BaseModel):
    """A response body (documentation and tests; handlers answer plain JSON)."""

    model_config = ConfigDict(extra="allow")


class ErrorDetail(Answer):
    code: str
    message: str
    details: dict[str, Any] | Absent = None


class Error(Answer):
    """Every 4xx and 503: `{"error": {"code", "message", "details"?}}`."""

    error: ErrorDetail


class Message(Answer):
    """One transcript entry."""

    conversation_id: str
    seq: int = Field(ge=1)
    sender_kind: SenderKind
    sender_id: str | None
    text: str
    created_at: str = Field(json_schema_extra={"format": "date-time"})
    client_msg_id: str | None
    intent: str | None
    confidence: float | None
    data: dict[str, Any]


class Conversation(Answer):
    id: str
    visitor_id: str
    language: str
    page_url: str | None
    status: ConversationStatus
    created_at: str
    updated_at: str
    assigned_agent_id: str | None
    pool: Pool | None
    skill: str | None
    last_agent_id: str | None
    rating: int | None
    rating_comment: str | None
    outcome: str | None
    last_seq: int
    brand: str


class Agent(Answer):
    id: str
    username: str
    display_name: str
    role: AgentRole
    pool: Pool
    languages: list[str]
    skills: list[str]
    capacity: int


class Offer(Answer):
    """An offer to an agent, or an entry of the queue it sees (`takeable`)."""

    conversation_id: str
    pool: Pool | None
    language: str
    skill: str | None
    page_url: str | None
    waited_seconds: float
    expires_in_seconds: float | None
    reason: str | None
    note: str | None
    offered: bool
    preview: list[Message]
    takeable: bool | Absent = None


class ConversationAnswer(Answer):
    conversation: Conversation
