"""The review's bodies and queries: a flag on a visitor message, the groups of what
the bot missed, labels, and the containment per intent and week (docs/maintainers.md)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field

from handoff.api.contract.common import EMPTY_IS_ABSENT, MAX_SEQ, Absent, Answer, Body, Id

MAX_ROWS = 500
MAX_WEEKS = 104
MAX_MEMBERS = 5000
MAX_ENTITIES = 20
MAX_QUERY_LENGTH = 64

QueryText = Annotated[Annotated[str, Field(max_length=MAX_QUERY_LENGTH)] | Absent, EMPTY_IS_ABSENT]
Seq = Annotated[int, Field(ge=1, le=MAX_SEQ)]
Action = Literal["intent", "candidate"]


def _pair(value: Any) -> Any:
    """A JSON array read as the tuple strict mode wants (its items stay strict)."""
    return tuple(value) if isinstance(value, list) else value


Member = Annotated[tuple[Id, Seq], BeforeValidator(_pair)]  # [conversation_id, seq]


class Flagged(Answer):
    conversation_id: str
    seq: int
    flagged: bool


class ReviewQuery(Body):
    """Filters (since/until: an ISO date or date-time; by default the last `default_days` days)."""

    language: QueryText = None
    intent: QueryText = None
    since: QueryText = None
    until: QueryText = None
    limit: Annotated[int, Field(ge=1, le=MAX_ROWS)] = 100


class ReviewGroups(Answer):
    """Groups of near-duplicate visitor messages, the most frequent first."""

    groups: list[dict[str, Any]]
    total: int
    default_days: int


class Intents(Answer):
    intents: list[str]


class LabelsQuery(Body):
    action: Annotated[Action | Absent, EMPTY_IS_ABSENT] = None


class Entity(Body):
    start: Annotated[int, Field(ge=0, le=MAX_SEQ)]
    end: Annotated[int, Field(ge=0, le=MAX_SEQ)]


class NewLabel(Body):
    """An intent of the bot's domain (with `product_category` spans), or a candidate's name."""

    conversation_id: Id
    seq: Seq
    action: Action
    intent: Annotated[Id | Absent, EMPTY_IS_ABSENT] = None
    candidate: Annotated[Id | Absent, EMPTY_IS_ABSENT] = None
    entities: Annotated[list[Entity], Field(max_length=MAX_ENTITIES)] | Absent = None
    members: Annotated[list[Member], Field(max_length=MAX_MEMBERS)] | Absent = None


class Label(Answer):
    conversation_id: str
    seq: int
    action: Action
    intent: str | None
    candidate: str | None
    entities: list[dict[str, int]]
    members: list[list[Any]]


class Labels(Answer):
    labels: list[Label]


class StatsQuery(Body):
    weeks: Annotated[int, Field(ge=1, le=MAX_WEEKS)] = 8
    language: QueryText = None


class Stats(Answer):
    weeks: int
    rows: list[dict[str, Any]]
