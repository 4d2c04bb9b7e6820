"""Reading and validating JSON request bodies and query parameters."""

from __future__ import annotations

import enum
from typing import Any, TypeVar

from aiohttp import web
from aiohttp.typedefs import Handler

from handoff.api import safe_json
from handoff.domain import MAX_TEXT_LENGTH, InvalidInput

E = TypeVar("E", bound=enum.Enum)
MAX_ID_LENGTH = 64
MAX_URL_LENGTH = 2048
MAX_SEQ = 2**31 - 1  # the store keeps seq as INTEGER


async def json_body(request: web.Request) -> dict[str, Any]:
    """The request's JSON object; an empty body counts as `{}`."""
    raw = await request.read()
    if not raw.strip():
        return {}
    body = safe_json.loads(raw)
    if not isinstance(body, dict):
        raise InvalidInput("body must be a JSON object")
    return body


def text_field(body: dict[str, Any], name: str, *, max_length: int = MAX_TEXT_LENGTH) -> str:
    value = body.get(name)
    if not isinstance(value, str):
        raise InvalidInput(f"{name} is required and must be a string", field=name)
    if not value.strip():
        raise InvalidInput(f"{name} must not be empty", field=name)
    if len(value) > max_length:
        raise InvalidInput(f"{name} must be at most {max_length} characters", field=name)
    return value


def optional_text(body: dict[str, Any], name: str, *, max_length: int) -> str | None:
    if body.get(name) in (None, ""):
        return None
    return text_field(body, name, max_length=max_length)


def optional_url(body: dict[str, Any], name: str) -> str | None:
    value = optional_text(body, name, max_length=MAX_URL_LENGTH)
    if value is not None and not value.startswith(("http://", "https://")):
        raise InvalidInput(f"{name} must be an http(s) URL", field=name)
    return value


def enum_field(body: dict[str, Any], name: str, kind: type[E], *, required: bool = True) -> E | None:
    value = body.get(name)
    if value is None and not required:
        return None
    try:
        return kind(value)
    except ValueError:
        allowed = ", ".join(str(member.value) for member in kind)
        raise InvalidInput(f"{name} must be one of: {allowed}", field=name) from None


def bool_field(body: dict[str, Any], name: str) -> bool:
    value = body.get(name)
    if not isinstance(value, bool):
        raise InvalidInput(f"{name} is required and must be true or false", field=name)
    return value


def int_field(body: dict[str, Any], name: str, *, minimum: int, maximum: int) -> int:
    value = body.get(name)
    if isinstance(value, bool) or not isinstance(value, int) or not minimum <= value <= maximum:
        raise InvalidInput(f"{name} must be an integer from {minimum} to {maximum}", field=name)
    return value


def after_param(request: web.Request) -> int:
    raw = request.query.get("after", "0")
    try:
        after = int(raw)
    except ValueError:
        raise InvalidInput("after must be a sequence number", field="after") from None
    if not 0 <= after <= MAX_SEQ:
        raise InvalidInput(f"after must be a sequence number from 0 to {MAX_SEQ}", field="after")
    return after


@web.middleware
async def storable_params_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Path and query values reach the store as they are: refuse what it cannot hold
    (a `%00` in a conversation id would otherwise fail deep in PostgreSQL)."""
    for value in (*request.match_info.values(), *request.query.values()):
        safe_json.check_text(value)
    return await handler(request)
