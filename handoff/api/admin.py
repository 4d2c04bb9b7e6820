"""The admin API: what only an `admin` may do: a visitor's personal data (export it,
or erase it: docs/privacy.md), the bot's leash (the kill switch and the
per-intent switches) and its models (promote one into the running Rasa server,
roll back: docs/bot.md)."""

from __future__ import annotations

from aiohttp import web

from handoff.api.context import current_agent, services
from handoff.api.payload import json_body
from handoff.botswitch import intents
from handoff.domain import Agent, AgentRole, Forbidden, InvalidInput

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


@routes.get("/api/admin/bot")
async def bot_switch(request: web.Request) -> web.Response:
    await current_admin(request)
    return web.json_response(services(request).leash.current.to_json())


@routes.put("/api/admin/bot")
async def set_bot_switch(request: web.Request) -> web.Response:
    """Either field may be left out: it stays as it is."""
    await current_admin(request)
    body = await json_body(request)
    enabled = body.get("enabled")
    if enabled is not None and not isinstance(enabled, bool):
        raise InvalidInput("enabled must be true or false", field="enabled")
    if enabled is None and "disabled_intents" not in body:
        raise InvalidInput("give enabled, disabled_intents or both")
    disabled = intents(body["disabled_intents"]) if "disabled_intents" in body else None
    switch = await services(request).leash.change(enabled=enabled, disabled_intents=disabled)
    return web.json_response(switch.to_json())


@routes.get("/api/admin/bot/models")
async def bot_models(request: web.Request) -> web.Response:
    await current_admin(request)
    return web.json_response(await services(request).models.describe())


@routes.post("/api/admin/bot/model")
async def promote_bot_model(request: web.Request) -> web.Response:
    """Load a model of the models directory into the running Rasa server."""
    admin = await current_admin(request)
    body = await json_body(request)
    model = body.get("model")
    if not isinstance(model, str) or not model.strip() or "/" in model:
        raise InvalidInput("model must be a model's file name (relais-<sha12>.tar.gz) or the start of its hash",
                           field="model")
    change = await services(request).models.promote(model.strip(), by=f"admin:{admin.username}")
    services(request).bot.forget_model()  # the next bot turn names the new model
    return web.json_response(change.to_json())


@routes.post("/api/admin/bot/rollback")
async def rollback_bot_model(request: web.Request) -> web.Response:
    """Load the model promoted before the current one."""
    admin = await current_admin(request)
    change = await services(request).models.rollback(by=f"admin:{admin.username}")
    services(request).bot.forget_model()
    return web.json_response(change.to_json())
