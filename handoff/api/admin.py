"""The admin API: what only an `admin` may do: agents' accounts (list, create,
change, reset a password, remove: `services/agent_admin.py`), the effective
settings (secrets redacted), a visitor's personal data (export it, or erase it:
docs/privacy.md), the bot's leash (the kill switch and the per-intent
switches) and its models (promote one into the running Rasa server, roll back:
docs/bot.md). No token: 401; another role: 403."""

from __future__ import annotations

from aiohttp import web

from handoff.api.context import current_agent, services
from handoff.api.contract import Api, read_body
from handoff.api.contract import admin as m
from handoff.config import public_view
from handoff.domain import Agent, AgentRole, Forbidden

api = Api()
routes = api.routes
AGENT = "/api/admin/agents/{agent_id}"
VISITOR = "/api/admin/visitors/{visitor_id}"


async def current_admin(request: web.Request) -> Agent:
    agent = await current_agent(request)
    if agent.role is not AgentRole.ADMIN:
        raise Forbidden("this is for admins")
    return agent


def _agent(agent: Agent) -> web.Response:
    return web.json_response({"agent": agent.to_json()})


@api.route("GET", "/api/admin/agents", summary="Every agent (admins)", security="admin", response=m.AgentList)
async def list_agents(request: web.Request) -> web.Response:
    await current_admin(request)
    agents = await services(request).agent_admin.list_agents()
    return web.json_response({"agents": [agent.to_json() for agent in agents]})


@api.route("POST", "/api/admin/agents", summary="Create an agent (admins; 409 when the username exists)",
           security="admin", body=m.NewAgent, response=m.AgentAnswer, status=201, errors=(409,))
async def create_agent(request: web.Request) -> web.Response:
    await current_admin(request)
    body = await read_body(request, m.NewAgent)
    agent = await services(request).agent_admin.create(
        username=body.username,
        password=body.password,
        role=body.role,
        languages=body.languages,
        skills=body.skills or (),
        capacity=body.capacity or services(request).settings.routing.default_capacity,
        display_name=body.display_name,
    )
    return web.json_response({"agent": agent.to_json()}, status=201)


@api.route("PATCH", AGENT, summary="Change an agent (admins; a new role or active=false ends its sessions; "
           "409 for the last active admin)", security="admin", body=m.ChangeAgent, response=m.AgentAnswer,
           errors=(409,))
async def change_agent(request: web.Request) -> web.Response:
    """Only the fields given change. A new role or `active: false` ends the agent's sessions."""
    await current_admin(request)
    body = await read_body(request, m.ChangeAgent)
    agent = await services(request).agent_admin.change(
        request.match_info["agent_id"],
        role=body.role,
        languages=body.languages,
        skills=body.skills,
        capacity=body.capacity,
        display_name=body.display_name,
        active=body.active,
    )
    return _agent(agent)


@api.route("PUT", AGENT + "/password", summary="Set an agent's password (admins; its sessions end)",
           security="admin", body=m.NewPassword, response=m.AgentAnswer)
async def reset_password(request: web.Request) -> web.Response:
    """Set a new password; the agent's sessions end (it logs in again with the new one)."""
    await current_admin(request)
    body = await read_body(request, m.NewPassword)
    return _agent(await services(request).agent_admin.set_password(request.match_info["agent_id"], body.password))


@api.route("DELETE", AGENT, summary="Remove an agent (admins; its sessions end; 409 for the last active admin)",
           security="admin", status=204, errors=(409,))
async def remove_agent(request: web.Request) -> web.Response:
    await current_admin(request)
    await services(request).agent_admin.remove(request.match_info["agent_id"])
    return web.Response(status=204)


@api.route("GET", "/api/admin/settings", summary="The effective settings, secrets redacted (admins)",
           security="admin", response=m.SettingsAnswer)
async def settings(request: web.Request) -> web.Response:
    """The effective configuration (file and environment), secrets redacted."""
    await current_admin(request)
    return web.json_response({"settings": public_view(services(request).settings)})


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


@api.route("GET", "/api/admin/bot/models", summary="The bot's models, the current one, the one Rasa runs and the "
           "history (admins)", security="admin", response=m.BotModels)
async def bot_models(request: web.Request) -> web.Response:
    await current_admin(request)
    return web.json_response(await services(request).models.describe())


@api.route("POST", "/api/admin/bot/model", summary="Promote a model into the running Rasa server without stopping it "
           "(admins; 404 unknown model, 502 Rasa could not load it)", security="admin", body=m.PromoteModel,
           response=m.ModelChange, errors=(404, 409, 502))
async def promote_bot_model(request: web.Request) -> web.Response:
    """Load a model of the models directory into the running Rasa server."""
    admin = await current_admin(request)
    model = (await read_body(request, m.PromoteModel)).model
    change = await services(request).models.promote(model.strip(), by=f"admin:{admin.username}")
    services(request).bot.forget_model()  # the next bot turn names the new model
    return web.json_response(change.to_json())


@api.route("POST", "/api/admin/bot/rollback", summary="Load the model promoted before the current one (admins; "
           "409 when there is none)", security="admin", response=m.ModelChange, errors=(404, 409, 502))
async def rollback_bot_model(request: web.Request) -> web.Response:
    """Load the model promoted before the current one."""
    admin = await current_admin(request)
    change = await services(request).models.rollback(by=f"admin:{admin.username}")
    services(request).bot.forget_model()
    return web.json_response(change.to_json())
