"""The console's HTTP API: agents' session, presence and conversation actions."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from handoff.api.context import bearer_token, client_ip, current_agent, services
from handoff.api.payload import (
    MAX_ID_LENGTH,
    after_param,
    bool_field,
    enum_field,
    json_body,
    optional_text,
    text_field,
)
from handoff.domain import Agent, InvalidInput, Pool, Presence
from handoff.services.privacy import redact_for

routes = web.RouteTableDef()


def answer(request: web.Request, agent: Agent, body: dict[str, Any], status: int = 200) -> web.Response:
    """A JSON answer to this agent: visitors' personal data masked for ambassadors, abusive
    words masked for everyone."""
    return web.json_response(services(request).moderation.for_agents(redact_for(agent, body)), status=status)

MAX_NOTE_LENGTH = 1000


@routes.post("/api/agents/login")
async def login(request: web.Request) -> web.Response:
    body = await json_body(request)
    username = text_field(body, "username", max_length=64)
    password = text_field(body, "password", max_length=256)
    limits = services(request).limits
    # Every attempt counts, before the password is checked: concurrent guesses cannot slip
    # through. An account's count starts afresh on success (its owner is not locked out by
    # their own typos); the address's does not (one valid account must not reset it).
    await limits.check("login_per_ip", client_ip(request))
    await limits.check("login_per_username", username.strip().lower())
    token, agent = await services(request).agents.login(username, password)
    await limits.forget("login_per_username", username.strip().lower())
    return web.json_response({"token": token, "agent": agent.to_json()})


@routes.post("/api/agents/logout")
async def logout(request: web.Request) -> web.Response:
    agent = await current_agent(request)
    await services(request).desk.logout(agent, bearer_token(request))
    return web.Response(status=204)


@routes.get("/api/agents/me")
async def me(request: web.Request) -> web.Response:
    agent = await current_agent(request)
    presence = await services(request).desk.presence(agent)
    return answer(request, agent, {"agent": agent.to_json(), "presence": presence})


@routes.post("/api/agents/me/presence")
async def set_presence(request: web.Request) -> web.Response:
    agent = await current_agent(request)
    presence = enum_field(await json_body(request), "status", Presence)
    assert presence is not None
    await services(request).desk.set_presence(agent, presence)
    return answer(request, agent, {"presence": presence.value})


@routes.post("/api/agents/me/heartbeat")
async def heartbeat(request: web.Request) -> web.Response:
    await services(request).desk.heartbeat(await current_agent(request))
    return web.Response(status=204)


@routes.get("/api/agents/online")
async def online(request: web.Request) -> web.Response:
    await current_agent(request)
    return web.json_response({"agents": await services(request).desk.online()})


@routes.get("/api/agents/me/conversations")
async def my_conversations(request: web.Request) -> web.Response:
    agent = await current_agent(request)
    conversations, offers = await services(request).desk.my_conversations(agent)
    return answer(request, agent, {"conversations": [c.to_json() for c in conversations], "offers": offers})


@routes.get("/api/queue")
async def queue(request: web.Request) -> web.Response:
    agent = await current_agent(request)
    return answer(request, agent, {"waiting": await services(request).desk.queue(agent)})


@routes.post("/api/conversations/{conversation_id}/accept")
async def accept(request: web.Request) -> web.Response:
    agent = await current_agent(request)
    await services(request).conversations.get(request.match_info["conversation_id"])  # 404 when unknown
    conversation = await services(request).handoffs.accept(request.match_info["conversation_id"], agent)
    return answer(request, agent, {"conversation": conversation.to_json()})


@routes.post("/api/conversations/{conversation_id}/decline")
async def decline(request: web.Request) -> web.Response:
    agent = await current_agent(request)
    conversation_id = request.match_info["conversation_id"]
    await services(request).conversations.get(conversation_id)
    await services(request).handoffs.decline(conversation_id, agent)
    return answer(request, agent, {"conversation_id": conversation_id, "declined": True})


@routes.post("/api/conversations/{conversation_id}/claim")
async def claim(request: web.Request) -> web.Response:
    agent = await current_agent(request)
    conversation = await services(request).handoffs.claim(request.match_info["conversation_id"], agent)
    return answer(request, agent, {"conversation": conversation.to_json()})


@routes.post("/api/conversations/{conversation_id}/transfer")
async def transfer(request: web.Request) -> web.Response:
    agent = await current_agent(request)
    body = await json_body(request)
    pool = enum_field(body, "pool", Pool, required=False)
    target = optional_text(body, "agent_id", max_length=MAX_ID_LENGTH)
    if pool is None and target is None:
        raise InvalidInput("give a pool or an agent_id to transfer to", field="pool")
    note = optional_text(body, "note", max_length=MAX_NOTE_LENGTH)
    conversation = await services(request).handoffs.transfer(
        request.match_info["conversation_id"], agent, pool=pool, target_agent_id=target, note=note
    )
    return answer(request, agent, {"conversation": conversation.to_json()})


@routes.post("/api/conversations/{conversation_id}/close")
async def close(request: web.Request) -> web.Response:
    agent = await current_agent(request)
    outcome = optional_text(await json_body(request), "outcome", max_length=64)
    conversation = await services(request).handoffs.close(request.match_info["conversation_id"], agent, outcome)
    return answer(request, agent, {"conversation": conversation.to_json()})


@routes.post("/api/conversations/{conversation_id}/messages")
async def send_message(request: web.Request) -> web.Response:
    agent = await current_agent(request)
    body = await json_body(request)
    text = text_field(body, "text")
    client_msg_id = optional_text(body, "client_msg_id", max_length=MAX_ID_LENGTH)
    await services(request).limits.check("messages_per_agent", agent.id)
    message, created = await services(request).desk.send(
        agent, request.match_info["conversation_id"], text, client_msg_id
    )
    return answer(request, agent, {"message": message.to_json()}, status=201 if created else 200)


@routes.post("/api/conversations/{conversation_id}/typing")
async def agent_typing(request: web.Request) -> web.Response:
    agent = await current_agent(request)
    typing = bool_field(await json_body(request), "typing")
    await services(request).desk.typing(agent, request.match_info["conversation_id"], typing)
    return web.Response(status=204)


@routes.get("/api/conversations/{conversation_id}/messages")
async def read_messages(request: web.Request) -> web.Response:
    agent = await current_agent(request)
    conversation = await services(request).desk.readable(agent, request.match_info["conversation_id"])
    messages = await services(request).conversations.messages(conversation.id, after=after_param(request))
    return answer(request, agent, {"messages": [m.to_json() for m in messages], "conversation": conversation.to_json()})


@routes.get("/api/conversations/{conversation_id}/transcript")
async def transcript(request: web.Request) -> web.Response:
    agent = await current_agent(request)
    return answer(request, agent, await services(request).desk.transcript(agent, request.match_info["conversation_id"]))


@routes.get("/api/conversations")
async def live(request: web.Request) -> web.Response:
    agent = await current_agent(request)
    if request.query.get("status", "live") != "live":
        raise InvalidInput("status must be live", field="status")
    conversations = await services(request).desk.live(agent)
    return answer(request, agent, {"conversations": [c.to_json() for c in conversations]})


@routes.get("/api/conversations/{conversation_id}/visitor")
async def visitor_panel(request: web.Request) -> web.Response:
    agent = await current_agent(request)
    return answer(request, agent, await services(request).desk.visitor_panel(agent, request.match_info["conversation_id"]))


@routes.get("/api/conversations/{conversation_id}/visitor/conversations/{previous_id}")
async def previous_conversation(request: web.Request) -> web.Response:
    agent = await current_agent(request)
    body = await services(request).desk.previous_conversation(
        agent, request.match_info["conversation_id"], request.match_info["previous_id"]
    )
    return answer(request, agent, body)


@routes.get("/api/agents/me/ratings")
async def my_ratings(request: web.Request) -> web.Response:
    agent = await current_agent(request)
    return answer(request, agent, {"ratings": await services(request).desk.ratings(agent)})
