"""The maintainers' review over HTTP (docs/maintainers.md): an agent flags a visitor
message of their conversation; admins list what the bot did not handle well, label
it, and read the containment per intent and week. The page is `/console/review`."""

from __future__ import annotations

from datetime import UTC, datetime

from aiohttp import web

from handoff.api.admin import current_admin
from handoff.api.context import current_agent, services
from handoff.api.payload import MAX_SEQ, json_body
from handoff.domain import InvalidInput
from handoff.services.review import DEFAULT_DAYS, Filters, domain_intents

routes = web.RouteTableDef()
MAX_ROWS = 500


def _seq(raw: str) -> int:
    try:
        seq = int(raw)
    except ValueError:
        raise InvalidInput("seq must be a sequence number", field="seq") from None
    if not 1 <= seq <= MAX_SEQ:
        raise InvalidInput("seq must be a sequence number", field="seq")
    return seq


def _int_param(request: web.Request, name: str, default: int, maximum: int) -> int:
    raw = request.query.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise InvalidInput(f"{name} must be an integer", field=name) from None
    if not 1 <= value <= maximum:
        raise InvalidInput(f"{name} must be from 1 to {maximum}", field=name)
    return value


def _moment(request: web.Request, name: str) -> datetime | None:
    raw = request.query.get(name)
    if not raw:
        return None
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError:
        raise InvalidInput(f"{name} must be an ISO date or time", field=name) from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def filters(request: web.Request) -> Filters:
    return Filters(
        language=request.query.get("language") or None,
        intent=request.query.get("intent") or None,
        since=_moment(request, "since"),
        until=_moment(request, "until"),
    )


@routes.post("/api/conversations/{conversation_id}/messages/{seq}/flag")
async def flag(request: web.Request) -> web.Response:
    agent = await current_agent(request)
    seq = _seq(request.match_info["seq"])
    flagged = await services(request).review.flag(agent, request.match_info["conversation_id"], seq)
    return web.json_response(flagged)


@routes.get("/api/admin/review")
async def review(request: web.Request) -> web.Response:
    await current_admin(request)
    limit = _int_param(request, "limit", 100, MAX_ROWS)
    groups = await services(request).review.groups(filters(request))
    return web.json_response({
        "groups": [g.to_json() for g in groups[:limit]],
        "total": len(groups),
        "default_days": DEFAULT_DAYS,
    })


@routes.get("/api/admin/review/intents")
async def intents(request: web.Request) -> web.Response:
    await current_admin(request)
    return web.json_response({"intents": domain_intents(services(request).settings.review.bot_dir)})


@routes.get("/api/admin/review/labels")
async def labels(request: web.Request) -> web.Response:
    await current_admin(request)
    action = request.query.get("action") or None
    return web.json_response({"labels": await services(request).review.labels(action=action)})


@routes.post("/api/admin/review/labels")
async def label(request: web.Request) -> web.Response:
    admin = await current_admin(request)
    body = await json_body(request)
    conversation_id, seq = body.get("conversation_id"), body.get("seq")
    if not isinstance(conversation_id, str) or not conversation_id:
        raise InvalidInput("conversation_id is required", field="conversation_id")
    if isinstance(seq, bool) or not isinstance(seq, int):
        raise InvalidInput("seq must be a sequence number", field="seq")
    members = body.get("members") or []
    if not isinstance(members, list):
        raise InvalidInput("members must be a list of [conversation_id, seq]", field="members")
    labelled = await services(request).review.label(
        conversation_id, seq,
        action=str(body.get("action") or ""),
        intent=body.get("intent") if isinstance(body.get("intent"), str) else None,
        candidate=body.get("candidate") if isinstance(body.get("candidate"), str) else None,
        entities=body.get("entities"),
        members=members,
        labelled_by=admin.id,
    )
    return web.json_response(labelled, status=201)


@routes.delete("/api/admin/review/labels/{conversation_id}/{seq}")
async def unlabel(request: web.Request) -> web.Response:
    await current_admin(request)
    await services(request).review.unlabel(request.match_info["conversation_id"], _seq(request.match_info["seq"]))
    return web.Response(status=204)


@routes.get("/api/admin/review/stats")
async def stats(request: web.Request) -> web.Response:
    await current_admin(request)
    weeks = _int_param(request, "weeks", 8, 104)
    rows = await services(request).review.stats(weeks=weeks, language=request.query.get("language") or None)
    return web.json_response({"weeks": weeks, "rows": rows})
