"""The admin API: what only an `admin` may do: a visitor's personal data (export it,
or erase it: docs/privacy.md), and the bot's leash (the kill switch and the
per-intent switches: docs/bot.md). Bodies in `handoff/api/contract/admin.py`."""

from __future__ import annotations

from aiohttp import web

from handoff.api.context import current_agent, services
from handoff.api.contract import Api, read_body
from handoff.api.contract import admin as m
from handoff.domain import Agent, AgentRole, Forbidden

api = Api()
routes = api.routes
VISITOR = "/api/admin/visitors/{visitor_id}"


async def current_admin(request: web.Request) -> Agent:
    agent = await current_agent(request)
    if agent.role is not AgentRole.ADMIN:
        raise Forbidden("this is for admins")
    return agent


@api.route("GET", VISITOR, summary="Export everything stored about a visitor (admins)", security="admin",
           response=m.VisitorExport)
async def export_visitor(request: web.Request) -> web.Response:
    await current_admin(request)
    return web.json_response(await services(request).visitor_data.export(request.match_info["visitor_id"]))


@api.route("DELETE", VISITOR, summary="Erase everything stored about a visitor (admins; 409 while a conversation is live)",
           security="admin", response=m.Erased, errors=(409,))
async def erase_visitor(request: web.Request) -> web.Response:
    await current_admin(request)
    erased = await services(request).visitor_data.erase(request.match_info["visitor_id"])
    return web.json_response({"erased_conversations": erased})


@api.route("GET", "/api/admin/bot", summary="The bot's kill switch and per-intent switches (admins)",
           security="admin", response=m.BotSwitch)
async def bot_switch(request: web.Request) -> web.Response:
    await current_admin(request)
    return web.json_response(services(request).leash.current.to_json())


@api.route("PUT", "/api/admin/bot", summary="Switch the bot, or some intents, off or on (admins; a field left out stays)",
           security="admin", body=m.ChangeBotSwitch, response=m.BotSwitch)
async def set_bot_switch(request: web.Request) -> web.Response:
    """Either field may be left out: it stays as it is."""
    await current_admin(request)
    body = await read_body(request, m.ChangeBotSwitch)
    disabled = frozenset(body.disabled_intents) if body.disabled_intents is not None else None
    switch = await services(request).leash.change(enabled=body.enabled, disabled_intents=disabled)
    return web.json_response(switch.to_json())
