"""The widget's HTTP API (`/api/visitor/...`, `/api/availability`); bodies in
`handoff/api/contract/visitor.py`."""

from __future__ import annotations

from aiohttp import web

from handoff.api.context import client_ip, current_visitor_conversation, services
from handoff.api.contract import Api, read_body, read_query
from handoff.api.contract import common as c
from handoff.api.contract import visitor as m

api = Api()
routes = api.routes
CONVERSATION = "/api/visitor/conversations/{conversation_id}"


@api.route("POST", "/api/visitor/conversations", summary="Start a conversation", body=m.StartConversation,
           response=m.Started, status=201, errors=(429,))
async def start_conversation(request: web.Request) -> web.Response:
    body = await read_body(request, m.StartConversation)
    await services(request).limits.check("conversations_per_ip", client_ip(request))
    conversation, token = await services(request).conversations.start(body.language, body.page_url, body.visitor_id)
    return web.json_response(
        {
            "conversation_id": conversation.id,
            "visitor_id": conversation.visitor_id,
            "visitor_token": token,
            "conversation": conversation.to_json(),
        },
        status=201,
    )


@api.route("POST", CONVERSATION + "/messages", summary="Send a visitor message", security="visitor",
           body=m.PostMessage, response=m.Posted, status=201, also={200: m.Posted}, errors=(409, 429))
async def post_message(request: web.Request) -> web.Response:
    conversation = await current_visitor_conversation(request)
    body = await read_body(request, m.PostMessage)
    await services(request).limits.check("messages_per_conversation", conversation.id)
    posted = await services(request).visitors.post_message(conversation, body.text, body.client_msg_id)
    return web.json_response(
        services(request).moderation.for_visitors({
            "message": posted.message.to_json(),
            "replies": [reply.to_json() for reply in posted.replies],
            "conversation": posted.conversation.to_json(),
        }),
        status=201 if posted.created else 200,
    )


@api.route("GET", CONVERSATION + "/messages", summary="Read the transcript after a sequence number",
           security="visitor", query=m.After, response=m.Transcript)
async def list_messages(request: web.Request) -> web.Response:
    conversation = await current_visitor_conversation(request)
    after = read_query(request, m.After).after
    svc = services(request)
    messages = await svc.conversations.messages(conversation.id, after=after)
    return web.json_response(svc.moderation.for_visitors(  # agents' abusive words masked
        {"messages": [msg.to_json() for msg in messages], "conversation": conversation.to_json()}
    ))


@api.route("POST", CONVERSATION + "/handoff", summary="Ask for a person", security="visitor",
           body=m.AskForHuman, response=m.Queued, errors=(409,))
async def ask_for_human(request: web.Request) -> web.Response:
    conversation = await current_visitor_conversation(request)
    pool = (await read_body(request, m.AskForHuman)).pool
    svc = services(request)
    position = await svc.visitors.ask_for_human(conversation, pool)
    current = await svc.conversations.get(conversation.id)
    estimate = await svc.handoffs.estimated_wait(current, position)
    return web.json_response({"conversation": current.to_json(), "position": position, "estimated_wait_seconds": estimate})


@api.route("POST", CONVERSATION + "/page", summary="Report the page the visitor is on", security="visitor",
           body=m.SetPage, response=c.ConversationAnswer)
async def set_page(request: web.Request) -> web.Response:
    conversation = await current_visitor_conversation(request)
    page_url = (await read_body(request, m.SetPage)).page_url
    updated = await services(request).visitors.set_page(conversation, page_url)
    return web.json_response({"conversation": updated.to_json()})


@api.route("POST", CONVERSATION + "/typing", summary="Visitor typing indicator", security="visitor",
           body=m.Typing, status=204)
async def typing(request: web.Request) -> web.Response:
    conversation = await current_visitor_conversation(request)
    await services(request).visitors.typing(conversation, (await read_body(request, m.Typing)).typing)
    return web.Response(status=204)


@api.route("POST", CONVERSATION + "/offline-message", summary="Leave an email and a question", security="visitor",
           body=m.OfflineMessage, response=m.Left, status=201, errors=(409,))
async def offline_message(request: web.Request) -> web.Response:
    conversation = await current_visitor_conversation(request)
    body = await read_body(request, m.OfflineMessage)
    message, updated = await services(request).visitors.leave_offline_message(conversation, body.email, body.text)
    return web.json_response({"message": message.to_json(), "conversation": updated.to_json()}, status=201)


@api.route("POST", CONVERSATION + "/rating", summary="Rate the human chat", security="visitor",
           body=m.Rate, response=c.ConversationAnswer, errors=(409,))
async def rate(request: web.Request) -> web.Response:
    conversation = await current_visitor_conversation(request)
    body = await read_body(request, m.Rate)
    updated = await services(request).visitors.rate(conversation, body.rating, body.comment)
    return web.json_response({"conversation": updated.to_json()})


@api.route("GET", "/api/availability", summary="Agents online and free per pool", response=m.Availability)
async def availability(request: web.Request) -> web.Response:
    svc = services(request)
    pools = await svc.handoffs.availability.pools()
    return web.json_response(
        {"pools": pools, "min_available": {p.value: n for p, n in svc.settings.min_available.items()}},
        headers={"Cache-Control": "no-store"},
    )
