"""The console's records: the history of closed conversations (searched) and the
advisors' inbox of offline messages (assign, answer by email, done)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field

from handoff.api.contract.common import (
    EMPTY_IS_ABSENT,
    MAX_SEQ,
    Absent,
    Answer,
    Body,
    OptionalId,
    Text,
)
from handoff.inbox import MAX_PAGE
from handoff.services.history import MAX_PAGE_SIZE

MAX_QUERY_LENGTH = 200  # the words searched
MAX_FILTER_LENGTH = 64  # an id, a username, a topic
MAX_MOMENT_LENGTH = 32  # a date or an ISO date-time
MAX_OFFSET = 100_000

# Optional query values (empty: absent). Their bounds keep the whole query within aiohttp's
# 8190-byte request line, even percent-encoded.
Words = Annotated[Annotated[str, Field(max_length=MAX_QUERY_LENGTH)] | Absent, EMPTY_IS_ABSENT]
Filter = Annotated[Annotated[str, Field(max_length=MAX_FILTER_LENGTH)] | Absent, EMPTY_IS_ABSENT]
Moment = Annotated[Annotated[str, Field(max_length=MAX_MOMENT_LENGTH)] | Absent, EMPTY_IS_ABSENT]


class HistorySearch(Body):
    """q: words of the transcript; visitor: an id's start; agent: a username or an id; since/until:
    a date (YYYY-MM-DD, the whole day) or an ISO date-time; page from 1."""

    q: Words = None
    visitor: Filter = None
    agent: Filter = None
    topic: Filter = None
    since: Moment = None
    until: Moment = None
    page: Annotated[int, Field(ge=1, le=MAX_OFFSET + 1)] = 1
    page_size: Annotated[int, Field(ge=1, le=MAX_PAGE_SIZE)] = 20


class HistoryPage(Answer):
    """Closed conversations this agent may read, newest first."""

    conversations: list[dict[str, Any]]
    page: int
    page_size: int
    has_more: bool


class HistoryConversation(Answer):
    """One closed conversation, read-only, with its transcript."""

    conversation: dict[str, Any]
    messages: list[dict[str, Any]]


class InboxQuery(Body):
    """status: open, answered, done or a comma-separated list; mine: only those assigned to me;
    before: an item id (the next page)."""

    status: Annotated[str, Field(min_length=1, max_length=64)] = "open,answered"
    mine: bool = False
    limit: Annotated[int, Field(ge=1, le=MAX_PAGE)] = 50
    before: Annotated[int, Field(ge=0, le=MAX_SEQ)] = 0


class InboxItem(Answer):
    """An offline message a visitor left (its email masked for ambassadors)."""

    id: int
    conversation_id: str
    status: str


class InboxPage(Answer):
    items: list[InboxItem]
    has_more: bool


class InboxItemAnswer(Answer):
    item: InboxItem


class Assign(Body):
    """To an advisor or admin; the caller when left out."""

    agent_id: OptionalId = None


class AnswerByEmail(Body):
    text: Text
