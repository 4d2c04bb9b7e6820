"""The console's history (closed conversations, searched) and the advisors' inbox of
offline messages (assign, answer by email, done)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from aiohttp import web

from handoff.api.agents import answer
from handoff.api.context import current_agent, services
from handoff.api.payload import MAX_ID_LENGTH, json_body, optional_text, text_field
from handoff.domain import InvalidInput
from handoff.inbox import MAX_PAGE, InboxStatus
from handoff.services.history import MAX_PAGE_SIZE, HistoryQuery

routes = web.RouteTableDef()
MAX_QUERY_LENGTH = 200
MAX_OFFSET = 100_000


def _text(request: web.Request, name: str) -> str | None:
    value = request.query.get(name, "").strip()
    if len(value) > MAX_QUERY_LENGTH:
        raise InvalidInput(f"{name} must be at most {MAX_QUERY_LENGTH} characters", field=name)
    return value or None


def _int(request: web.Request, name: str, default: int, minimum: int, maximum: int) -> int:
    raw = request.query.get(name)
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except ValueError:
        raise InvalidInput(f"{name} must be an integer", field=name) from None
    if not minimum <= value <= maximum:
        raise InvalidInput(f"{name} must be from {minimum} to {maximum}", field=name)
    return value


def _when(request: web.Request, name: str, *, end: bool) -> datetime | None:
    """A date (`2026-12-08`: the whole day, so `until` is the day after) or a date-time."""
    raw = request.query.get(name, "").strip()
    if not raw:
        return None
    try:
        if len(raw) == 10:
            day = date.fromisoformat(raw)
            start = datetime(day.year, day.month, day.day, tzinfo=UTC)
            return start + timedelta(days=1) if end else start
        value = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidInput(f"{name} must be a date (YYYY-MM-DD) or an ISO date-time", field=name) from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


@routes.get("/api/history")
async def history(request: web.Request) -> web.Response:
    agent = await current_agent(request)
    agent_name = _text(request, "agent")
    agent_id = None
    if agent_name:  # a username or an agent id
        known = await services(request).agents.list()
        match = next((a for a in known if agent_name in (a.id, a.username)), None)
        agent_id = match.id if match else agent_name
    page_size = _int(request, "page_size", 20, 1, MAX_PAGE_SIZE)
    page = _int(request, "page", 1, 1, MAX_OFFSET // page_size + 1)
    query = HistoryQuery(
        text=_text(request, "q"),
        visitor=_text(request, "visitor"),
        agent_id=agent_id,
        topic=_text(request, "topic"),
        since=_when(request, "since", end=False),
        until=_when(request, "until", end=True),
        limit=page_size,
        offset=(page - 1) * page_size,
    )
    results, more = await services(request).history.search(agent, query)
    return answer(request, agent, {"conversations": results, "page": page, "page_size": page_size, "has_more": more})


@routes.get("/api/history/{conversation_id}")
async def history_conversation(request: web.Request) -> web.Response:
    agent = await current_agent(request)
    return answer(request, agent, await services(request).history.read(agent, request.match_info["conversation_id"]))


def _item_id(request: web.Request) -> int:
    raw = request.match_info["item_id"]
    if not raw.isdigit() or len(raw) > 12:
        raise InvalidInput("unknown offline message id", field="id")
    return int(raw)


@routes.get("/api/inbox")
async def inbox(request: web.Request) -> web.Response:
    agent = await current_agent(request)
    raw = request.query.get("status", "open,answered")
    try:
        statuses = tuple(InboxStatus(part.strip()) for part in raw.split(",") if part.strip())
    except ValueError:
        raise InvalidInput("status must be open, answered, done or a comma-separated list", field="status") from None
    if not statuses:
        raise InvalidInput("status must not be empty", field="status")
    mine = request.query.get("mine", "") in ("1", "true")
    limit = _int(request, "limit", 50, 1, MAX_PAGE)
    before = _int(request, "before", 0, 0, 2**31 - 1) or None
    items, more = await services(request).inbox.list(agent, statuses, mine=mine, limit=limit, before=before)
    return answer(request, agent, {"items": [item.to_json() for item in items], "has_more": more})


@routes.post("/api/inbox/{item_id}/assign")
async def assign(request: web.Request) -> web.Response:
    agent = await current_agent(request)
    assignee = optional_text(await json_body(request), "agent_id", max_length=MAX_ID_LENGTH)
    item = await services(request).inbox.assign(agent, _item_id(request), assignee)
    return answer(request, agent, {"item": item.to_json()})


@routes.post("/api/inbox/{item_id}/answer")
async def answer_by_email(request: web.Request) -> web.Response:
    agent = await current_agent(request)
    text = text_field(await json_body(request), "text")
    item = await services(request).inbox.answer(agent, _item_id(request), text)
    return answer(request, agent, {"item": item.to_json()})


@routes.post("/api/inbox/{item_id}/done")
async def done(request: web.Request) -> web.Response:
    agent = await current_agent(request)
    item = await services(request).inbox.done(agent, _item_id(request))
    return answer(request, agent, {"item": item.to_json()})
