"""The console's history (closed conversations, searched) and the advisors' inbox of
offline messages (assign, answer by email, done)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from aiohttp import web

from handoff.api.agents import answer
from handoff.api.context import current_agent, services
from handoff.api.contract import Api, read_body, read_query
from handoff.api.contract import records as m
from handoff.domain import InvalidInput
from handoff.inbox import InboxStatus
from handoff.services.history import HistoryQuery

api = Api()
routes = api.routes
ITEM = "/api/inbox/{item_id}"


def _text(value: str | None) -> str | None:
    return (value or "").strip() or None


def _when(raw: str | None, name: str, *, end: bool) -> datetime | None:
    """A date (`2026-12-08`: the whole day, so `until` is the day after) or a date-time."""
    raw = (raw or "").strip()
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


@api.route("GET", "/api/history", summary="Closed conversations this agent may read (ambassadors: their own), "
           "searched", security="agent", query=m.HistorySearch, response=m.HistoryPage)
async def history(request: web.Request) -> web.Response:
    agent = await current_agent(request)
    search = read_query(request, m.HistorySearch)
    agent_name = _text(search.agent)
    agent_id = None
    if agent_name:  # a username or an agent id
        known = await services(request).agents.list()
        match = next((a for a in known if agent_name in (a.id, a.username)), None)
        agent_id = match.id if match else agent_name
    page_size = search.page_size
    if search.page > m.MAX_OFFSET // page_size + 1:
        raise InvalidInput(f"page must be from 1 to {m.MAX_OFFSET // page_size + 1}", field="page")
    query = HistoryQuery(
        text=_text(search.q),
        visitor=_text(search.visitor),
        agent_id=agent_id,
        topic=_text(search.topic),
        since=_when(search.since, "since", end=False),
        until=_when(search.until, "until", end=True),
        limit=page_size,
        offset=(search.page - 1) * page_size,
    )
    results, more = await services(request).history.search(agent, query)
    return answer(request, agent, {"conversations": results, "page": search.page, "page_size": page_size, "has_more": more})


@api.route("GET", "/api/history/{conversation_id}", summary="One conversation of the history, read-only, with its "
           "transcript", security="agent", response=m.HistoryConversation)
async def history_conversation(request: web.Request) -> web.Response:
    agent = await current_agent(request)
    return answer(request, agent, await services(request).history.read(agent, request.match_info["conversation_id"]))


def _item_id(request: web.Request) -> int:
    raw = request.match_info["item_id"]
    if not raw.isdigit() or len(raw) > 12:
        raise InvalidInput("unknown offline message id", field="id")
    return int(raw)


@api.route("GET", "/api/inbox", summary="Offline messages (advisors/admins)", security="agent",
           query=m.InboxQuery, response=m.InboxPage)
async def inbox(request: web.Request) -> web.Response:
    agent = await current_agent(request)
    query = read_query(request, m.InboxQuery)
    try:
        statuses = tuple(InboxStatus(part.strip()) for part in query.status.split(",") if part.strip())
    except ValueError:
        raise InvalidInput("status must be open, answered, done or a comma-separated list", field="status") from None
    if not statuses:
        raise InvalidInput("status must not be empty", field="status")
    items, more = await services(request).inbox.list(agent, statuses, mine=query.mine, limit=query.limit,
                                                     before=query.before or None)
    return answer(request, agent, {"items": [item.to_json() for item in items], "has_more": more})


@api.route("POST", ITEM + "/assign", summary="Assign an offline message to an advisor or admin (the caller by "
           "default)", security="agent", body=m.Assign, response=m.InboxItemAnswer, errors=(409,))
async def assign(request: web.Request) -> web.Response:
    agent = await current_agent(request)
    assignee = (await read_body(request, m.Assign)).agent_id
    item = await services(request).inbox.assign(agent, _item_id(request), assignee)
    return answer(request, agent, {"item": item.to_json()})


@api.route("POST", ITEM + "/answer", summary="Answer an offline message by email; recorded in the conversation "
           "once sent (503 mail_unavailable: nothing recorded)", security="agent", body=m.AnswerByEmail,
           response=m.InboxItemAnswer, errors=(409,))
async def answer_by_email(request: web.Request) -> web.Response:
    agent = await current_agent(request)
    text = (await read_body(request, m.AnswerByEmail)).text
    item = await services(request).inbox.answer(agent, _item_id(request), text)
    return answer(request, agent, {"item": item.to_json()})


@api.route("POST", ITEM + "/done", summary="Mark an offline message done", security="agent",
           response=m.InboxItemAnswer, errors=(409,))
async def done(request: web.Request) -> web.Response:
    agent = await current_agent(request)
    item = await services(request).inbox.done(agent, _item_id(request))
    return answer(request, agent, {"item": item.to_json()})
