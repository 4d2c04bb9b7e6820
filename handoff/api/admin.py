"""The admin API: what only an `admin` may do: agents' accounts (list, create,
change, reset a password, remove: `services/agent_admin.py`), the effective
settings (secrets redacted), a visitor's personal data (export it, or erase it:
docs/privacy.md), the bot's leash (the kill switch and the per-intent
switches) and its models (promote one into the running Rasa server, roll back:
docs/bot.md). No token: 401; another role: 403."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from handoff.agents import MAX_CAPACITY
from handoff.api.context import current_agent, services
from handoff.api.payload import enum_field, int_field, json_body, optional_text, text_field
from handoff.botswitch import intents
from handoff.config import public_view
from handoff.domain import Agent, AgentRole, Forbidden, InvalidInput
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


MAX_LIST_ITEMS = 50
_CREATE_FIELDS = frozenset({"username", "display_name", "role", "languages", "skills", "capacity", "password"})
_CHANGE_FIELDS = frozenset({"display_name", "role", "languages", "skills", "capacity", "active"})


def _only(body: dict[str, Any], allowed: frozenset[str]) -> None:
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise InvalidInput(f"unknown field(s): {', '.join(unknown)}; expected: {', '.join(sorted(allowed))}",
                           field=unknown[0])


def _strings(body: dict[str, Any], name: str) -> list[str] | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, list) or len(value) > MAX_LIST_ITEMS or not all(
        isinstance(item, str) and len(item) <= 64 for item in value
    ):
        raise InvalidInput(f"{name} must be a list of at most {MAX_LIST_ITEMS} short strings", field=name)
    return value


def _capacity(body: dict[str, Any]) -> int | None:
    if body.get("capacity") is None:
        return None
    return int_field(body, "capacity", minimum=1, maximum=MAX_CAPACITY)


def _agents_answer(agents: list[Agent]) -> web.Response:
    return web.json_response({"agents": [agent.to_json() for agent in agents]})


@routes.get("/api/admin/agents")
async def list_agents(request: web.Request) -> web.Response:
    await current_admin(request)
    return _agents_answer(await services(request).agent_admin.list_agents())


@routes.post("/api/admin/agents")
async def create_agent(request: web.Request) -> web.Response:
    await current_admin(request)
    body = await json_body(request)
    _only(body, _CREATE_FIELDS)
    languages = _strings(body, "languages")
    if languages is None:
        raise InvalidInput("languages is required: a list such as [\"fr\", \"en\"]", field="languages")
    role = enum_field(body, "role", AgentRole)
    assert role is not None
    agent = await services(request).agent_admin.create(
        username=text_field(body, "username", max_length=64),
        password=text_field(body, "password", max_length=256),
        role=role,
        languages=languages,
        skills=_strings(body, "skills") or (),
        capacity=_capacity(body) or services(request).settings.routing.default_capacity,
        display_name=optional_text(body, "display_name", max_length=100),
    )
    return web.json_response({"agent": agent.to_json()}, status=201)


@routes.patch("/api/admin/agents/{agent_id}")
async def change_agent(request: web.Request) -> web.Response:
    """Only the fields given change. A new role or `active: false` ends the agent's sessions."""
    await current_admin(request)
    body = await json_body(request)
    _only(body, _CHANGE_FIELDS)
    if not body:
        raise InvalidInput(f"give at least one of: {', '.join(sorted(_CHANGE_FIELDS))}")
    active = body.get("active")
    if active is not None and not isinstance(active, bool):
        raise InvalidInput("active must be true or false", field="active")
    agent = await services(request).agent_admin.change(
        request.match_info["agent_id"],
        role=enum_field(body, "role", AgentRole, required=False),
        languages=_strings(body, "languages"),
        skills=_strings(body, "skills"),
        capacity=_capacity(body),
        display_name=optional_text(body, "display_name", max_length=100),
        active=active,
    )
    return web.json_response({"agent": agent.to_json()})


@routes.put("/api/admin/agents/{agent_id}/password")
async def reset_password(request: web.Request) -> web.Response:
    """Set a new password; the agent's sessions end (it logs in again with the new one)."""
    await current_admin(request)
    body = await json_body(request)
    _only(body, frozenset({"password"}))
    password = text_field(body, "password", max_length=256)
    agent = await services(request).agent_admin.set_password(request.match_info["agent_id"], password)
    return web.json_response({"agent": agent.to_json()})


@routes.delete("/api/admin/agents/{agent_id}")
async def remove_agent(request: web.Request) -> web.Response:
    await current_admin(request)
    await services(request).agent_admin.remove(request.match_info["agent_id"])
    return web.Response(status=204)


@routes.get("/api/admin/settings")
async def settings(request: web.Request) -> web.Response:
    """The effective configuration (file and environment), secrets redacted."""
    await current_admin(request)
    return web.json_response({"settings": public_view(services(request).settings)})


@routes.get("/api/admin/visitors/{visitor_id}")
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
