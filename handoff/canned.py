"""Canned responses: answers agents reuse, kept per brand and per language, found by
their shortcut (what follows `/` in the console's message box), title or text."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Row, delete, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from handoff.domain import SUPPORTED_LANGUAGES, Conflict, InvalidInput, NotFound
from handoff.store import Store, as_utc, utcnow
from handoff.store.schema import canned_responses
from handoff.tokens import new_id

MAX_SHORTCUT_LENGTH = 32
MAX_TITLE_LENGTH = 100
MAX_BRAND_LENGTH = 32
MAX_RESULTS = 50
SHORTCUT = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
BRAND = re.compile(r"^[a-z0-9][a-z0-9_-]*$")


@dataclass(frozen=True, slots=True)
class CannedResponse:
    id: str
    brand: str
    language: str
    shortcut: str
    title: str
    text: str
    created_by: str | None
    created_at: datetime
    updated_at: datetime

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "brand": self.brand,
            "language": self.language,
            "shortcut": self.shortcut,
            "title": self.title,
            "text": self.text,
            "created_by": self.created_by,
            "created_at": self.created_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
        }


def _response(row: Row[Any]) -> CannedResponse:
    return CannedResponse(
        id=row.id, brand=row.brand, language=row.language, shortcut=row.shortcut, title=row.title,
        text=row.text, created_by=row.created_by, created_at=as_utc(row.created_at),
        updated_at=as_utc(row.updated_at),
    )


def check_language(language: str) -> str:
    if language not in SUPPORTED_LANGUAGES:
        raise InvalidInput(f"language must be one of: {', '.join(SUPPORTED_LANGUAGES)}", field="language")
    return language


def check_brand(brand: str) -> str:
    brand = brand.strip().lower()
    if not brand or len(brand) > MAX_BRAND_LENGTH or not BRAND.match(brand):
        raise InvalidInput("brand must be lowercase letters, digits, '-' or '_' (at most 32)", field="brand")
    return brand


def check_shortcut(shortcut: str) -> str:
    shortcut = shortcut.strip().lstrip("/").lower()
    if not shortcut or len(shortcut) > MAX_SHORTCUT_LENGTH or not SHORTCUT.match(shortcut):
        raise InvalidInput("shortcut must be lowercase letters, digits, '-' or '_' (at most 32)", field="shortcut")
    return shortcut


def _like(term: str) -> str:
    escaped = term.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


class CannedStore:
    """The canned responses of every brand, in the store."""

    def __init__(self, store: Store) -> None:
        self.store = store

    async def search(
        self, *, brand: str | None, language: str | None, query: str = "", limit: int = MAX_RESULTS
    ) -> list[CannedResponse]:
        """Responses of `brand` and `language` (None: any) whose shortcut, title or text contains
        `query` (case-insensitive); shortcuts that start with it first, then by shortcut."""
        statement = select(canned_responses)
        if brand is not None:
            statement = statement.where(canned_responses.c.brand == brand)
        if language is not None:
            statement = statement.where(canned_responses.c.language == language)
        term = query.strip().lstrip("/").lower()
        if term:
            pattern = _like(term)
            statement = statement.where(
                or_(
                    func.lower(canned_responses.c.shortcut).like(pattern, escape="\\"),
                    func.lower(canned_responses.c.title).like(pattern, escape="\\"),
                    func.lower(canned_responses.c.text).like(pattern, escape="\\"),
                )
            )
        statement = statement.order_by(
            canned_responses.c.shortcut, canned_responses.c.brand, canned_responses.c.language, canned_responses.c.id
        )
        async with self.store.sessions() as session:
            found = [_response(row) for row in (await session.execute(statement)).all()]
        found.sort(key=lambda r: (not r.shortcut.startswith(term), r.shortcut != term))
        return found[:limit]

    async def get(self, response_id: str) -> CannedResponse:
        async with self.store.sessions() as session:
            row = (await session.execute(select(canned_responses).where(canned_responses.c.id == response_id))).first()
        if row is None:
            raise NotFound("unknown canned response", canned_id=response_id)
        return _response(row)

    async def create(
        self, *, brand: str, language: str, shortcut: str, title: str, text: str, created_by: str | None
    ) -> CannedResponse:
        now = utcnow()
        values = {
            "id": new_id("r"), "brand": check_brand(brand), "language": check_language(language),
            "shortcut": check_shortcut(shortcut), "title": title.strip()[:MAX_TITLE_LENGTH], "text": text,
            "created_by": created_by, "created_at": now, "updated_at": now,
        }
        try:
            async with self.store.sessions.begin() as session:
                await session.execute(insert(canned_responses).values(**values))
        except IntegrityError:
            raise Conflict("this shortcut already exists for this brand and language", field="shortcut") from None
        return await self.get(str(values["id"]))

    async def update(self, response_id: str, **changes: str) -> CannedResponse:
        current = await self.get(response_id)
        values: dict[str, Any] = {}
        if "brand" in changes:
            values["brand"] = check_brand(changes["brand"])
        if "language" in changes:
            values["language"] = check_language(changes["language"])
        if "shortcut" in changes:
            values["shortcut"] = check_shortcut(changes["shortcut"])
        if "title" in changes:
            values["title"] = changes["title"].strip()[:MAX_TITLE_LENGTH]
        if "text" in changes:
            values["text"] = changes["text"]
        if not values:
            return current
        try:
            async with self.store.sessions.begin() as session:
                await session.execute(
                    update(canned_responses).where(canned_responses.c.id == response_id).values(updated_at=utcnow(), **values)
                )
        except IntegrityError:
            raise Conflict("this shortcut already exists for this brand and language", field="shortcut") from None
        return await self.get(response_id)

    async def delete(self, response_id: str) -> None:
        async with self.store.sessions.begin() as session:
            result = await session.execute(delete(canned_responses).where(canned_responses.c.id == response_id))
        if result.rowcount == 0:  # type: ignore[attr-defined]
            raise NotFound("unknown canned response", canned_id=response_id)
