"""The console's HTTP API: agents' session, presence and conversation actions;
bodies in `handoff/api/contract/agents.py`."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from handoff.api.context import bearer_token, client_ip, current_agent, services
from handoff.api.contract import Api, read_body, read_query
from handoff.api.contract import agents as m
from handoff.api.contract import common as c
from handoff.api.contract.agents import MAX_NOTE_LENGTH
from handoff.domain import Agent
from handoff.services.privacy import redact_for

api = Api()
routes = api.routes
CONVERSATION = "/api/conversations/{conversation_id}"

__all__ = ["MAX_NOTE_LENGTH", "api", "routes"]


def answer(request: web.Request, agent: Agent, body: dict[str, Any], status: int = 200) -> web.Response:
    """A JSON answer to this agent: visitors' personal data masked for ambassadors, abusive
    words masked for everyone."""
    return web.json_response(services(request).moderation.for_agents(redact_for(agent, body)), status=status)


@api.route("POST", "/api/agents/login", summary="Agent login", body=m.Login, response=m.LoggedIn, errors=(401, 429))
async def login(request: web.Request) -> web.Response:
    body = await read_body(request, m.Login)
    username = body.username
    limits = services(request).limits
    # Every attempt counts, before the password is checked: concurrent guesses cannot slip
    # through. An account's count starts afresh on success (its owner is not locked out by
    # their own typos); the address's does not (one valid account must not reset it).
    await limits.check("login_per_ip", client_ip(request))
    await limits.check("login_per_username", username.strip().lower())
    token, agent = await services(request).agents.login(username, body.password)
    await limits.forget("login_per_username", username.strip().lower())
    return web.json_response({"token": token, "agent": agent.to_json()})


@api.route("POST", "/api/agents/logout", summary="Agent logout", security="agent", status=204)
async def logout(request: web.Request) -> web.Response:
    agent = await current_agent(request)
    await services(request).desk.logout(agent, bearer_token(request))
    return web.Response(status=204)


@api.route("GET", "/api/agents/me", summary="The logged-in agent", security="agent", response=m.Me)
async def me(request: web.Request) -> web.Response:
    agent = await current_agent(request)
    presence = await services(request).desk.presence(agent)
    return answer(request, agent, {"agent": agent.to_json(), "presence": presence})


@api.route("POST", "/api/agents/me/presence", summary="Set presence", security="agent",
           body=m.SetPresence, response=m.PresenceAnswer)
async def set_presence(request: web.Request) -> web.Response:
    agent = await current_agent(request)
    presence = (await read_body(request, m.SetPresence)).status
    await services(request).desk.set_presence(agent, presence)
    return answer(request, agent, {"presence": presence.value})


@api.route("POST", "/api/agents/me/heartbeat", summary="Keep presence alive", security="agent", status=204)
async def heartbeat(request: web.Request) -> web.Response:
    await services(request).desk.heartbeat(await current_agent(request))
    return web.Response(status=204)


@api.route("GET", "/api/agents/online", summary="Agents online", security="agent", response=m.Online)
async def online(request: web.Request) -> web.Response:
    await current_agent(request)
    return web.json_response({"agents": await services(request).desk.online()})


@api.route("GET", "/api/agents/me/conversations", summary="My conversations and offers", security="agent",
           response=m.MyConversations)
async def my_conversations(request: web.Request) -> web.Response:
    agent = await current_agent(request)
    conversations, offers = await services(request).desk.my_conversations(agent)
    return answer(request, agent, {"conversations": [conv.to_json() for conv in conversations], "offers": offers})


@api.route("GET", "/api/queue", summary="Waiting conversations I may take", security="agent", response=m.Queue)
async def queue(request: web.Request) -> web.Response:
    agent = await current_agent(request)
    return answer(request, agent, {"waiting": await services(request).desk.queue(agent)})


@api.route("POST", CONVERSATION + "/accept", summary="Accept an offer", security="agent",
           response=c.ConversationAnswer, errors=(409,))
async def accept(request: web.Request) -> web.Response:
    agent = await current_agent(request)
    await services(request).conversations.get(request.match_info["conversation_id"])  # 404 when unknown
    conversation = await services(request).handoffs.accept(request.match_info["conversation_id"], agent)
    return answer(request, agent, {"conversation": conversation.to_json()})


@api.route("POST", CONVERSATION + "/decline", summary="Decline an offer", security="agent",
           response=m.Declined, errors=(409,))
async def decline(request: web.Request) -> web.Response:
    agent = await current_agent(request)
    conversation_id = request.match_info["conversation_id"]
    await services(request).conversations.get(conversation_id)
    await services(request).handoffs.decline(conversation_id, agent)
    return answer(request, agent, {"conversation_id": conversation_id, "declined": True})


@api.route("POST", CONVERSATION + "/claim", summary="Claim a waiting conversation (or take over, advisors)",
           security="agent", response=c.ConversationAnswer, errors=(409,))
async def claim(request: web.Request) -> web.Response:
    agent = await current_agent(request)
    conversation = await services(request).handoffs.claim(request.match_info["conversation_id"], agent)
    return answer(request, agent, {"conversation": conversation.to_json()})


@api.route("POST", CONVERSATION + "/transfer", summary="Transfer to a pool or a named agent", security="agent",
           body=m.Transfer, response=c.ConversationAnswer, errors=(409,))
async def transfer(request: web.Request) -> web.Response:
    agent = await current_agent(request)
    body = await read_body(request, m.Transfer)
    conversation = await services(request).handoffs.transfer(
        request.match_info["conversation_id"], agent, pool=body.pool, target_agent_id=body.agent_id, note=body.note
    )
    return answer(request, agent, {"conversation": conversation.to_json()})


@api.route("POST", CONVERSATION + "/close", summary="Close the human chat; back to the bot", security="agent",
           body=m.Close, response=c.ConversationAnswer, errors=(409,))
async def close(request: web.Request) -> web.Response:
    agent = await current_agent(request)
    outcome = (await read_body(request, m.Close)).outcome
    conversation = await services(request).handoffs.close(request.match_info["conversation_id"], agent, outcome)
    return answer(request, agent, {"conversation": conversation.to_json()})


@api.route("POST", CONVERSATION + "/messages", summary="Send an agent message", security="agent",
           body=m.SendMessage, response=m.Sent, status=201, also={200: m.Sent}, errors=(409, 429))
async def send_message(request: web.Request) -> web.Response:
    agent = await current_agent(request)
    body = await read_body(request, m.SendMessage)
    await services(request).limits.check("messages_per_agent", agent.id)
    message, created = await services(request).desk.send(
        agent, request.match_info["conversation_id"], body.text, body.client_msg_id
    )
    return answer(request, agent, {"message": message.to_json()}, status=201 if created else 200)


@api.route("POST", CONVERSATION + "/typing", summary="Agent typing indicator", security="agent",
           body=m.Typing, status=204)
async def agent_typing(request: web.Request) -> web.Response:
    agent = await current_agent(request)
    typing = (await read_body(request, m.Typing)).typing
    await services(request).desk.typing(agent, request.match_info["conversation_id"], typing)
    return web.Response(status=204)


@api.route("GET", CONVERSATION + "/messages", summary="Read a conversation", security="agent",
           query=m.After, response=m.Transcript)
async def read_messages(request: web.Request) -> web.Response:
    agent = await current_agent(request)
    conversation = await services(request).desk.readable(agent, request.match_info["conversation_id"])
    after = read_query(request, m.After).after
    messages = await services(request).conversations.messages(conversation.id, after=after)
    return answer(request, agent, {"messages": [msg.to_json() for msg in messages], "conversation": conversation.to_json()})


@api.route("GET", CONVERSATION + "/transcript", summary="Full transcript with handoff events (advisors)",
           security="agent", response=m.FullTranscript)
async def transcript(request: web.Request) -> web.Response:
    agent = await current_agent(request)
    return answer(request, agent, await services(request).desk.transcript(agent, request.match_info["conversation_id"]))


@api.route("GET", "/api/conversations", summary="Live conversations (supervision, advisors)", security="agent",
           query=m.Live, response=m.LiveConversations)
async def live(request: web.Request) -> web.Response:
    agent = await current_agent(request)
    read_query(request, m.Live)
    conversations = await services(request).desk.live(agent)
    return answer(request, agent, {"conversations": [conv.to_json() for conv in conversations]})


@api.route("GET", CONVERSATION + "/visitor", summary="The visitor panel: pages seen, language, visit start, "
           "previous conversations, offline messages (the agent holding the conversation, or advisors/admins)",
           security="agent", response=m.VisitorPanel)
async def visitor_panel(request: web.Request) -> web.Response:
    agent = await current_agent(request)
    return answer(request, agent, await services(request).desk.visitor_panel(agent, request.match_info["conversation_id"]))


@api.route("GET", CONVERSATION + "/visitor/conversations/{previous_id}",
           summary="One of the visitor's previous conversations, read-only (same access as the visitor panel)",
           security="agent", response=m.PastConversation)
async def previous_conversation(request: web.Request) -> web.Response:
    agent = await current_agent(request)
    body = await services(request).desk.previous_conversation(
        agent, request.match_info["conversation_id"], request.match_info["previous_id"]
    )
    return answer(request, agent, body)


@api.route("GET", "/api/agents/me/ratings", summary="The latest ratings and comments of the chats I answered",
           security="agent", response=m.Ratings)
async def my_ratings(request: web.Request) -> web.Response:
    agent = await current_agent(request)
    return answer(request, agent, {"ratings": await services(request).desk.ratings(agent)})
