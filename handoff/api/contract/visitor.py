"""The widget's bodies: `/api/visitor/...` and `/api/availability`."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from handoff.api.contract.common import (
    EMPTY_IS_ABSENT,
    MAX_SEQ,
    NOT_BLANK,
    Absent,
    Answer,
    Body,
    Conversation,
    Message,
    OptionalId,
    OptionalUrl,
    Text,
    Url,
    bounded,
)
from handoff.domain import Pool

MAX_EMAIL_LENGTH = 254
MAX_COMMENT_LENGTH = 2000


class StartConversation(Body):
    language: Literal["fr", "en"]
    page_url: OptionalUrl = None
    visitor_id: OptionalId = None


class Started(Answer):
    conversation_id: str
    visitor_id: str
    visitor_token: str
    conversation: Conversation


class PostMessage(Body):
    text: Text
    client_msg_id: OptionalId = None


class Posted(Answer):
    """201: stored now; 200: the same `client_msg_id` again, the message stored before."""

    message: Message
    replies: list[Message]
    conversation: Conversation


class After(Body):
    """`?after=SEQ`: only the messages after this sequence number."""

    after: int = Field(0, ge=0, le=MAX_SEQ)


class Transcript(Answer):
    messages: list[Message]
    conversation: Conversation


class AskForHuman(Body):
    pool: Pool | Absent = None


class Queued(Answer):
    conversation: Conversation
    position: int | None
    estimated_wait_seconds: float | None


class SetPage(Body):
    page_url: Url


class Typing(Body):
    typing: bool


class OfflineMessage(Body):
    email: Annotated[str, bounded(MAX_EMAIL_LENGTH), NOT_BLANK]
    text: Text


class Left(Answer):
    message: Message
    conversation: Conversation


class Rate(Body):
    rating: int = Field(ge=1, le=5)
    comment: Annotated[Annotated[str, bounded(MAX_COMMENT_LENGTH), NOT_BLANK] | Absent, EMPTY_IS_ABSENT] = None


class PoolAvailability(Answer):
    online: int
    available: int
    enough: bool


class Availability(Answer):
    pools: dict[str, PoolAvailability]
    min_available: dict[str, int]
