"""The console's desk tools: canned responses and internal notes."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from handoff.api.contract.common import NOT_BLANK, Absent, Answer, Body, Text, bounded
from handoff.canned import MAX_BRAND_LENGTH, MAX_SHORTCUT_LENGTH, MAX_TITLE_LENGTH

MAX_QUERY_LENGTH = 100
MAX_LANGUAGE_LENGTH = 8

Brand = Annotated[str, bounded(MAX_BRAND_LENGTH), NOT_BLANK]
Language = Annotated[str, bounded(MAX_LANGUAGE_LENGTH), NOT_BLANK]
Shortcut = Annotated[str, bounded(MAX_SHORTCUT_LENGTH + 1), NOT_BLANK]  # a leading "/" is allowed
Title = Annotated[str, Field(max_length=MAX_TITLE_LENGTH)]


class CannedSearch(Body):
    """`?q=` (in shortcut, title and text), `?language=`, `?brand=`."""

    q: Annotated[str, Field(max_length=MAX_QUERY_LENGTH)] = ""
    language: Language | Absent = None
    brand: Brand | Absent = None


class NewCanned(Body):
    language: Language
    shortcut: Shortcut
    text: Text
    brand: Brand | Absent = None
    title: Title | Absent = None


class CannedChange(Body):
    """The fields given change; the others stay."""

    brand: Brand | Absent = None
    language: Language | Absent = None
    shortcut: Shortcut | Absent = None
    title: Title | Absent = None
    text: Text | Absent = None


class Canned(Answer):
    id: str
    brand: str
    language: str
    shortcut: str
    title: str
    text: str
    created_by: str | None
    created_at: str
    updated_at: str


class CannedFound(Answer):
    responses: list[Canned]


class CannedAnswer(Answer):
    response: Canned


class NewNote(Body):
    text: Text


class Note(Answer):
    id: int
    conversation_id: str
    author_id: str | None
    author_name: str
    kind: Literal["note", "transfer"]
    text: str
    created_at: str


class Notes(Answer):
    notes: list[Note]


class NoteAnswer(Answer):
    note: Note
