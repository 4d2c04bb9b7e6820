"""The maintainers' review over HTTP (docs/maintainers.md): an agent flags a visitor
message of their conversation; admins list what the bot did not handle well, label
it, and read the containment per intent and week. The page is `/console/review`."""

from __future__ import annotations

from datetime import UTC, datetime

from aiohttp import web

from handoff.api.admin import current_admin
from handoff.api.context import current_agent, services
from handoff.api.contract import Api, read_body, read_query
from handoff.api.contract import review as m
from handoff.api.contract.common import MAX_SEQ
from handoff.domain import InvalidInput
from handoff.services.review import DEFAULT_DAYS, Filters, domain_intents

api = Api()
routes = api.routes
MESSAGE = "/api/conversations/{conversation_id}/messages/{seq}"
LABEL = "/api/admin/review/labels/{conversation_id}/{seq}"


def _seq(raw: str) -> int:
    try:
        seq = int(raw)
    except ValueError:
        raise InvalidInput("seq must be a sequence number", field="seq") from None
    if not 1 <= seq <= MAX_SEQ:
        raise InvalidInput("seq must be a sequence number", field="seq")
    return seq


def _moment(raw: str | None, name: str) -> datetime | None:
    if not raw:
        return None
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError:
        raise InvalidInput(f"{name} must be an ISO date or time", field=name) from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def filters(query: m.ReviewQuery) -> Filters:
    return Filters(
        language=query.language or None,
        intent=query.intent or None,
        since=_moment(query.since, "since"),
        until=_moment(query.until, "until"),
    )


@api.route("POST", MESSAGE + "/flag", summary="Flag a visitor message: the bot should have answered this "
           "(the conversation's agent)", security="agent", response=m.Flagged)
async def flag(request: web.Request) -> web.Response:
    agent = await current_agent(request)
    seq = _seq(request.match_info["seq"])
    flagged = await services(request).review.flag(agent, request.match_info["conversation_id"], seq)
    return web.json_response(flagged)


@api.route("GET", "/api/admin/review", summary="Visitor messages the bot did not handle well, grouped (admins)",
           security="admin", query=m.ReviewQuery, response=m.ReviewGroups)
async def review(request: web.Request) -> web.Response:
    await current_admin(request)
    query = read_query(request, m.ReviewQuery)
    groups = await services(request).review.groups(filters(query))
    return web.json_response({
        "groups": [g.to_json() for g in groups[:query.limit]],
        "total": len(groups),
        "default_days": DEFAULT_DAYS,
    })


@api.route("GET", "/api/admin/review/intents", summary="The bot's domain intents a label may name (admins)",
           security="admin", response=m.Intents)
async def intents(request: web.Request) -> web.Response:
    await current_admin(request)
    return web.json_response({"intents": domain_intents(services(request).settings.review.bot_dir)})


@api.route("GET", "/api/admin/review/labels", summary="The review's labels, newest first (admins)",
           security="admin", query=m.LabelsQuery, response=m.Labels)
async def labels(request: web.Request) -> web.Response:
    await current_admin(request)
    action = read_query(request, m.LabelsQuery).action
    return web.json_response({"labels": await services(request).review.labels(action=action)})


@api.route("POST", "/api/admin/review/labels", summary="Label a message and its group: an intent with "
           "product_category spans, or a candidate (admins)", security="admin", body=m.NewLabel,
           response=m.Label, status=201, errors=(404, 409))
async def label(request: web.Request) -> web.Response:
    admin = await current_admin(request)
    body = await read_body(request, m.NewLabel)
    labelled = await services(request).review.label(
        body.conversation_id, body.seq,
        action=body.action,
        intent=body.intent,
        candidate=body.candidate,
        entities=[entity.model_dump() for entity in body.entities] if body.entities is not None else None,
        members=[list(member) for member in body.members or ()],
        labelled_by=admin.id,
    )
    return web.json_response(labelled, status=201)


@api.route("DELETE", LABEL, summary="Remove a label (admins)", security="admin", status=204)
async def unlabel(request: web.Request) -> web.Response:
    await current_admin(request)
    await services(request).review.unlabel(request.match_info["conversation_id"], _seq(request.match_info["seq"]))
    return web.Response(status=204)


@api.route("GET", "/api/admin/review/stats", summary="Contained vs escalated per intent and week (admins)",
           security="admin", query=m.StatsQuery, response=m.Stats)
async def stats(request: web.Request) -> web.Response:
    await current_admin(request)
    query = read_query(request, m.StatsQuery)
    rows = await services(request).review.stats(weeks=query.weeks, language=query.language or None)
    return web.json_response({"weeks": query.weeks, "rows": rows})
