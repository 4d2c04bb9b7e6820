"""The console's bodies: agents' session, presence and conversation actions."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import model_validator

from handoff.api.contract.common import (
    EMPTY_IS_ABSENT,
    NOT_BLANK,
    Absent,
    Agent,
    Answer,
    Body,
    Conversation,
    Message,
    Offer,
    OptionalId,
    Text,
    bounded,
)
from handoff.api.contract.visitor import After, Transcript, Typing
from handoff.domain import AgentRole, ConversationStatus, Pool, Presence

MAX_NOTE_LENGTH = 1000
MAX_OUTCOME_LENGTH = 64


class Login(Body):
    username: Annotated[str, bounded(64), NOT_BLANK]
    password: Annotated[str, bounded(256), NOT_BLANK]


class LoggedIn(Answer):
    token: str
    agent: Agent


class Me(Answer):
    agent: Agent
    presence: str


class SetPresence(Body):
    status: Presence


class PresenceAnswer(Answer):
    presence: Presence


class OnlineAgent(Answer):
    agent: Agent
    presence: str
    load: int
    capacity: int


class Online(Answer):
    agents: list[OnlineAgent]


class MyConversations(Answer):
    conversations: list[Conversation]
    offers: list[Offer]


class Queue(Answer):
    waiting: list[Offer]


class Declined(Answer):
    conversation_id: str
    declined: bool


class Transfer(Body):
    """To a pool, or to a named agent (one of them at least)."""

    pool: Pool | Absent = None
    agent_id: OptionalId = None
    note: Annotated[Annotated[str, bounded(MAX_NOTE_LENGTH), NOT_BLANK] | Absent, EMPTY_IS_ABSENT] = None

    @model_validator(mode="after")
    def _somewhere(self) -> Transfer:
        if self.pool is None and self.agent_id is None:
            raise ValueError("give a pool or an agent_id to transfer to")
        return self


class Close(Body):
    outcome: Annotated[Annotated[str, bounded(MAX_OUTCOME_LENGTH), NOT_BLANK] | Absent, EMPTY_IS_ABSENT] = None


class SendMessage(Body):
    text: Text
    client_msg_id: OptionalId = None


class Sent(Answer):
    """201: stored now; 200: the same `client_msg_id` again, the message stored before."""

    message: Message


class FullTranscript(Answer):
    conversation: Conversation
    messages: list[Message]
    events: list[dict[str, Any]]


class Live(Body):
    """`?status=live` (the only view there is)."""

    status: Literal["live"] = "live"


class LiveConversations(Answer):
    conversations: list[Conversation]


__all__ = ["After", "Transcript", "Typing"]


# --- the visitor panel and ratings (the console's desk) --------------------------------


class PageSeen(Answer):
    url: str
    at: str


class VisitorRef(Answer):
    id: str
    short_id: str


class Answerer(Answer):
    id: str
    display_name: str
    role: AgentRole


class PreviousConversation(Answer):
    id: str
    created_at: str
    updated_at: str
    status: ConversationStatus
    language: str
    skill: str | None
    agent: Answerer | None
    outcome: str | None
    rating: int | None
    rating_comment: str | None


class OfflineLeft(Answer):
    conversation_id: str
    created_at: str
    sender_kind: str
    text: str
    email: str | Absent = None  # advisors and admins only


class VisitorPanel(Answer):
    conversation_id: str
    visitor: VisitorRef
    language: str
    page_url: str | None
    pages: list[PageSeen]
    conversation_started_at: str
    visit_started_at: str
    previous: list[PreviousConversation]
    offline_messages: list[OfflineLeft]


class PastConversation(Answer):
    conversation: Conversation
    messages: list[Message]


class Rating(Answer):
    conversation_id: str
    visitor_id: str
    rating: int | None
    rating_comment: str | None
    at: str


class Ratings(Answer):
    ratings: list[Rating]
