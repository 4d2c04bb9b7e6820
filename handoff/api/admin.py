"""The admin API: what only an `admin` may do. For now a visitor's personal data:
export it, or erase it (docs/privacy.md)."""

from __future__ import annotations

from aiohttp import web

from handoff.api.context import current_agent, services
from handoff.domain import Agent, AgentRole, Forbidden

routes = web.RouteTableDef()


async def current_admin(request: web.Request) -> Agent:
    agent = await current_agent(request)
    if agent.role is not AgentRole.ADMIN:
        raise Forbidden("this is for admins")
    return agent


@routes.get("/api/admin/visitors/{visitor_id}")
async def export_visitor(request: web.Request) -> web.Response:
    await current_admin(request)
    return web.json_response(await services(request).visitor_data.export(request.match_info["visitor_id"]))


@routes.delete("/api/admin/visitors/{visitor_id}")
async def erase_visitor(request: web.Request) -> web.Response:
    await current_admin(request)
    erased = await services(request).visitor_data.erase(request.match_info["visitor_id"])
    return web.json_response({"erased_conversations": erased})
