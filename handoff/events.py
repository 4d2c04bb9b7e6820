"""Every event of the realtime protocol, as one frozen dataclass each.

The bus carries these objects (serialised with `to_json` on Redis and read back
with `event_from_json`), and the WebSockets send their `to_json()` to the widget
and the console. A class's `type` is its wire name; its fields are the JSON
fields next to `"type"`; `audience` and the docstring feed the table of
docs/api.md (`protocol_table()`, checked by tests/realtime/test_events.py), so
the list of events lives here and only here. Frames the clients send are the
`ClientFrame` classes at the end, read with `client_frame_from_json`.

Payloads that are domain objects (a message, a conversation, a queue entry) are
carried in their JSON form, exactly as the HTTP API returns them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from handoff.domain import Conversation, InternalNote, InvalidInput, Message

JsonObject = dict[str, Any]

VISITOR = "visitor"
AGENT = "agent"
BUS_ONLY = "bus only"


class Event:
    """Base of the server's events; subclasses are frozen dataclasses."""

    type: ClassVar[str]
    audience: ClassVar[str]

    def to_json(self) -> JsonObject:
        data: JsonObject = {"type": self.type}
        for field in dataclasses.fields(self):  # type: ignore[arg-type]
            data[field.name] = getattr(self, field.name)
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Event:
        try:
            values = {field.name: data[field.name] for field in dataclasses.fields(cls)}  # type: ignore[arg-type]
        except KeyError as missing:
            raise ValueError(f"{cls.type} event without {missing}") from None
        return cls(**values)


# --- a conversation: visitor and agents ------------------------------------------------


@dataclass(frozen=True, slots=True)
class MessageAdded(Event):
    """A committed transcript entry (`message`: Message)."""

    type: ClassVar[str] = "message"
    audience: ClassVar[str] = "visitor, agent"
    message: JsonObject

    @classmethod
    def of(cls, message: Message) -> MessageAdded:
        return cls(message.to_json())


@dataclass(frozen=True, slots=True)
class ConversationChanged(Event):
    """The conversation's status, assignment or page changed (`conversation`: Conversation)."""

    type: ClassVar[str] = "conversation"
    audience: ClassVar[str] = "visitor, agent"
    conversation: JsonObject

    @classmethod
    def of(cls, conversation: Conversation) -> ConversationChanged:
        return cls(conversation.to_json())


@dataclass(frozen=True, slots=True)
class Typing(Event):
    """Someone is typing (`sender_kind`: visitor, ambassador or advisor)."""

    type: ClassVar[str] = "typing"
    audience: ClassVar[str] = "visitor, agent"
    conversation_id: str
    sender_kind: str
    typing: bool


@dataclass(frozen=True, slots=True)
class QueuePosition(Event):
    """The waiting visitor's place in line (sent when it changes; null: no longer waiting), and
    `estimated_wait_seconds`: the pool's recent median wait times the position (null without history)."""

    type: ClassVar[str] = "queue_position"
    audience: ClassVar[str] = VISITOR
    conversation_id: str
    position: int | None
    estimated_wait_seconds: int | None = None


@dataclass(frozen=True, slots=True)
class AvailabilityChanged(Event):
    """Who can answer changed (an agent's presence): `pools` as in `GET /api/availability`.
    Computed once per change, sent to every visitor socket."""

    type: ClassVar[str] = "availability"
    audience: ClassVar[str] = VISITOR
    pools: JsonObject


@dataclass(frozen=True, slots=True)
class VisitorPresence(Event):
    """The visitor's widget opened (`present`: true) or lost (false) its last socket on an
    instance: the visitor left the site or came back (docs/console.md)."""

    type: ClassVar[str] = "visitor_presence"
    audience: ClassVar[str] = AGENT
    conversation_id: str
    present: bool


@dataclass(frozen=True, slots=True)
class NoteAdded(Event):
    """An internal note was left in a conversation this agent holds or watches (`note`: Note).
    Published on the conversation's notes channel, which no visitor socket subscribes to."""

    type: ClassVar[str] = "note"
    audience: ClassVar[str] = AGENT
    note: JsonObject

    @classmethod
    def of(cls, note: InternalNote) -> NoteAdded:
        return cls(note.to_json())


# --- one agent ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OfferMade(Event):
    """A conversation is offered to this agent (`offer`: Offer, with `expires_in_seconds`)."""

    type: ClassVar[str] = "offer"
    audience: ClassVar[str] = AGENT
    offer: JsonObject


@dataclass(frozen=True, slots=True)
class OfferRevoked(Event):
    """The offer ended (`reason`: `timeout` — expired, or the agent went away)."""

    type: ClassVar[str] = "offer_revoked"
    audience: ClassVar[str] = AGENT
    conversation_id: str
    reason: str


@dataclass(frozen=True, slots=True)
class AssignedToAgent(Event):
    """This agent now holds the conversation (`conversation`: Conversation)."""

    type: ClassVar[str] = "assigned"
    audience: ClassVar[str] = AGENT
    conversation: JsonObject


@dataclass(frozen=True, slots=True)
class Unassigned(Event):
    """This agent no longer holds the conversation (`reason`: `closed`, `transferred`,
    `taken_over`, `disconnected`)."""

    type: ClassVar[str] = "unassigned"
    audience: ClassVar[str] = AGENT
    conversation_id: str
    reason: str


@dataclass(frozen=True, slots=True)
class RatingReceived(Event):
    """The visitor rated a chat this agent held last (`rating` 1–5, `rating_comment` or null)."""

    type: ClassVar[str] = "rating"
    audience: ClassVar[str] = AGENT
    conversation_id: str
    visitor_id: str
    rating: int
    rating_comment: str | None


@dataclass(frozen=True, slots=True)
class LiveConversationChanged(Event):
    """Supervision: a conversation entered, changed in or left the live list (`conversation`:
    Conversation; a status other than waiting or assigned means it left)."""

    type: ClassVar[str] = "live_conversation"
    audience: ClassVar[str] = AGENT
    conversation: JsonObject

    @classmethod
    def of(cls, conversation: Conversation) -> LiveConversationChanged:
        return cls(conversation.to_json())


# --- the queue, for consoles ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class QueueSnapshot(Event):
    """The whole queue this agent sees, once when the socket opens (`waiting`: QueueEntry list)."""

    type: ClassVar[str] = "queue"
    audience: ClassVar[str] = AGENT
    waiting: list[JsonObject]


@dataclass(frozen=True, slots=True)
class QueueEntryAdded(Event):
    """A conversation entered this agent's view of the queue (`entry`: QueueEntry)."""

    type: ClassVar[str] = "queue_entry_added"
    audience: ClassVar[str] = AGENT
    conversation_id: str
    entry: JsonObject


@dataclass(frozen=True, slots=True)
class QueueEntryUpdated(Event):
    """An entry of the queue changed (offered, passed on, overflowed, became takeable …)."""

    type: ClassVar[str] = "queue_entry_updated"
    audience: ClassVar[str] = AGENT
    conversation_id: str
    entry: JsonObject


@dataclass(frozen=True, slots=True)
class QueueEntryRemoved(Event):
    """A conversation left this agent's view of the queue (taken, withdrawn, no longer takeable)."""

    type: ClassVar[str] = "queue_entry_removed"
    audience: ClassVar[str] = AGENT
    conversation_id: str


# --- presence ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PresenceChanged(Event):
    """Someone's presence changed; each agent socket answers it with a `presence` frame."""

    type: ClassVar[str] = "presence_changed"
    audience: ClassVar[str] = BUS_ONLY


@dataclass(frozen=True, slots=True)
class PresenceList(Event):
    """The agents online or away (`agents`: as `GET /api/agents/online`)."""

    type: ClassVar[str] = "presence"
    audience: ClassVar[str] = AGENT
    agents: list[JsonObject]


@dataclass(frozen=True, slots=True)
class SessionEnded(Event):
    """An agent's session ended (logout, new password or role, agent removed): its sockets
    close with code 4401 (`token_hash`: that session only, or null for all of the agent's)."""

    type: ClassVar[str] = "session_ended"
    audience: ClassVar[str] = BUS_ONLY
    agent_id: str
    token_hash: str | None


@dataclass(frozen=True, slots=True)
class BotSwitched(Event):
    """An admin switched the bot on or off, or changed the intents it hands off instead of
    answering; every instance reads the switches again (docs/bot.md)."""

    type: ClassVar[str] = "bot_switched"
    audience: ClassVar[str] = BUS_ONLY
    enabled: bool
    disabled_intents: list[str]


# --- socket housekeeping -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Pong(Event):
    """The answer to a client `ping`."""

    type: ClassVar[str] = "pong"
    audience: ClassVar[str] = "visitor, agent"


@dataclass(frozen=True, slots=True)
class ErrorFrame(Event):
    """A client frame was refused (`message` says why); the socket stays open."""

    type: ClassVar[str] = "error"
    audience: ClassVar[str] = "visitor, agent"
    message: str


SERVER_EVENTS: tuple[type[Event], ...] = (
    MessageAdded,
    ConversationChanged,
    Typing,
    QueuePosition,
    AvailabilityChanged,
    VisitorPresence,
    NoteAdded,
    OfferMade,
    OfferRevoked,
    AssignedToAgent,
    Unassigned,
    RatingReceived,
    LiveConversationChanged,
    QueueSnapshot,
    QueueEntryAdded,
    QueueEntryUpdated,
    QueueEntryRemoved,
    PresenceChanged,
    PresenceList,
    SessionEnded,
    BotSwitched,
    Pong,
    ErrorFrame,
)
_BY_TYPE: dict[str, type[Event]] = {cls.type: cls for cls in SERVER_EVENTS}


def event_from_json(data: Any) -> Event:
    """The event a JSON object describes (ValueError if it describes none)."""
    if not isinstance(data, Mapping) or data.get("type") not in _BY_TYPE:
        raise ValueError(f"not an event: {data!r:.80}")
    return _BY_TYPE[data["type"]].from_json(data)


# --- frames the clients send -------------------------------------------------------------------


class ClientFrame:
    """Base of what a widget or console sends on its socket."""

    type: ClassVar[str]
    audience: ClassVar[str]


@dataclass(frozen=True, slots=True)
class Ping(ClientFrame):
    """Keep-alive; for an agent it is also a heartbeat. Answered with `pong`."""

    type: ClassVar[str] = "ping"
    audience: ClassVar[str] = "visitor, agent"


@dataclass(frozen=True, slots=True)
class TypingFrame(ClientFrame):
    """The client's user is typing (`conversation_id` required from agents only)."""

    type: ClassVar[str] = "typing"
    audience: ClassVar[str] = "visitor, agent"
    typing: bool
    conversation_id: str | None = None


@dataclass(frozen=True, slots=True)
class Watch(ClientFrame):
    """Follow a conversation this agent may read (supervision, an offer's context)."""

    type: ClassVar[str] = "watch"
    audience: ClassVar[str] = AGENT
    conversation_id: str


@dataclass(frozen=True, slots=True)
class Unwatch(ClientFrame):
    """Stop following a conversation."""

    type: ClassVar[str] = "unwatch"
    audience: ClassVar[str] = AGENT
    conversation_id: str


CLIENT_FRAMES: tuple[type[ClientFrame], ...] = (Ping, TypingFrame, Watch, Unwatch)


def client_frame_from_json(data: Any) -> ClientFrame | None:
    """The frame a client sent; None for an unknown type (ignored, for forward compatibility)."""
    if not isinstance(data, Mapping):
        raise InvalidInput("frames must be JSON objects")
    kind = data.get("type")
    conversation_id = data.get("conversation_id")
    if conversation_id is not None and not isinstance(conversation_id, str):
        raise InvalidInput("conversation_id must be a string", field="conversation_id")
    if kind == Ping.type:
        return Ping()
    if kind == TypingFrame.type:
        return TypingFrame(typing=bool(data.get("typing")), conversation_id=conversation_id)
    if kind in (Watch.type, Unwatch.type):
        frame_class = Watch if kind == Watch.type else Unwatch
        return frame_class(conversation_id=conversation_id or "")
    return None


# --- documentation ----------------------------------------------------------------------------------


def _doc(cls: type) -> str:
    return " ".join((cls.__doc__ or "").split())


def _fields(cls: type) -> str:
    names = [f.name for f in dataclasses.fields(cls)]
    return ", ".join(f"`{name}`" for name in names) or "—"


def protocol_table() -> str:
    """The Markdown tables of docs/api.md (server events, then client frames)."""
    lines = ["| type | to | fields | meaning |", "|---|---|---|---|"]
    lines += [f"| `{c.type}` | {c.audience} | {_fields(c)} | {_doc(c)} |" for c in SERVER_EVENTS]
    lines += ["", "| client frame | from | fields | meaning |", "|---|---|---|---|"]
    lines += [f"| `{c.type}` | {c.audience} | {_fields(c)} | {_doc(c)} |" for c in CLIENT_FRAMES]
    return "\n".join(lines)
